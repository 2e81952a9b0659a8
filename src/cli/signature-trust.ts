/**
 * The trust `verify` and `pin-base` check cosign signatures with, from their options: a public key
 * (`--key` / `--verify-key`), or a keyless identity with its issuer and a trusted root (cosign's option
 * names). The keyless module, and sigstore-js with it, is loaded only when an identity is given.
 */
import { readPublicKey } from '../registry/cosign-keys.js';
import { keyTrust, type SignatureTrust } from '../registry/cosign.js';
import { UsageError } from '../util/errors.js';
import type { OptionName } from './options.js';

/** The keyless options, cosign's names, which both commands take (withOptions) beside their key option. */
export const KEYLESS_OPTIONS = [
  'certificate-identity',
  'certificate-identity-regexp',
  'certificate-oidc-issuer',
  'certificate-oidc-issuer-regexp',
  'trusted-root',
  'insecure-ignore-sct',
] as const satisfies readonly OptionName[];

export interface TrustArgs {
  'certificate-identity'?: string;
  'certificate-identity-regexp'?: string;
  'certificate-oidc-issuer'?: string;
  'certificate-oidc-issuer-regexp'?: string;
  'trusted-root'?: string;
  'insecure-ignore-sct': boolean;
}

/** The trust the options name, or undefined when they name none; a half-given identity is a usage error. */
export async function trustFromArgs(args: TrustArgs, keyOption: 'key' | 'verify-key', keyFile: string | undefined): Promise<SignatureTrust | undefined> {
  const subject = args['certificate-identity'];
  const subjectRegExp = args['certificate-identity-regexp'];
  const issuer = args['certificate-oidc-issuer'];
  const issuerRegExp = args['certificate-oidc-issuer-regexp'];
  const keyless = [subject, subjectRegExp, issuer, issuerRegExp, args['trusted-root']].some((value) => value !== undefined) || args['insecure-ignore-sct'];
  if (!keyless) return keyFile !== undefined ? keyTrust(await readPublicKey(keyFile), keyFile) : undefined;
  if (keyFile !== undefined) throw new UsageError(`--${keyOption} checks signatures made with a key; --certificate-identity and its kin check keyless ones: give one or the other`);
  if (subject !== undefined && subjectRegExp !== undefined) throw new UsageError('give --certificate-identity or --certificate-identity-regexp, not both');
  if (issuer !== undefined && issuerRegExp !== undefined) throw new UsageError('give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both');
  if (subject === undefined && subjectRegExp === undefined) throw new UsageError('keyless checking needs the identity that signed: --certificate-identity (or --certificate-identity-regexp)');
  if (issuer === undefined && issuerRegExp === undefined) {
    throw new UsageError('keyless checking needs the OIDC issuer of the identity: --certificate-oidc-issuer (GitHub Actions: https://token.actions.githubusercontent.com)');
  }
  if (args['trusted-root'] === undefined) {
    throw new UsageError("keyless checking needs --trusted-root trusted_root.json: sigstore's trusted root (addonix fetches nothing; the public-good instance's is targets/trusted_root.json of sigstore/root-signing)");
  }
  const { keylessTrust } = await import('../registry/keyless.js');
  return keylessTrust({
    identity: { ...(subject !== undefined ? { subject } : { subjectRegExp: subjectRegExp! }), ...(issuer !== undefined ? { issuer } : { issuerRegExp: issuerRegExp! }) },
    trustedRoot: args['trusted-root'],
    ignoreSct: args['insecure-ignore-sct'],
  });
}
