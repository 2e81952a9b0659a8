/**
 * Keyless cosign signatures checked offline, as `cosign verify --certificate-identity …
 * --certificate-oidc-issuer … --offline` does (cosign 2.5's pkg/cosign/verify.go, verifyInternal and
 * VerifyBundle), with the trust given as a file in sigstore's trusted_root.json format
 * (sigstore/protobuf-specs' TrustedRoot: Fulcio's CA chains, Rekor's keys, the CT logs' keys) instead of
 * cosign's TUF root, so nothing is fetched. A signature layer written by keyless `cosign sign` carries:
 *
 * - `dev.sigstore.cosign/certificate`: the Fulcio certificate (PEM) of the signing key, its SAN the
 *   identity (a workflow's URL for GitHub Actions) and Fulcio's extensions the OIDC issuer
 *   (1.3.6.1.4.1.57264.1.8, a DER UTF8String; 1.3.6.1.4.1.57264.1.1, the raw text, which cosign 2.5 reads;
 *   Fulcio writes both);
 *   `dev.sigstore.cosign/chain`: the CA certificates above it;
 * - `dev.sigstore.cosign/bundle`: Rekor's offline bundle, the log entry (a hashedrekord of the signature,
 *   the certificate and the payload's SHA-256) with its integration time and the log's signature over
 *   them (the SignedEntryTimestamp).
 *
 * A layer is accepted when, as for cosign: the bundle's entry is of this very signature, certificate and
 * payload, and its SignedEntryTimestamp verifies with a log key of the trusted root; the certificate
 * chains to a CA of the trusted root, every certificate of the chain valid at the entry's integration time
 * (a Fulcio certificate lives ten minutes; the log proves the signature was made within them), the leaf
 * for code signing; it has an SCT of a CT log of the trusted root (unless `--insecure-ignore-sct`); its
 * identity and issuer match; the signature verifies over the payload with its key; the payload's claim
 * names the digest. The log, SCT and chain checks are sigstore-js's own (`@sigstore/verify`, the
 * verifier npm uses for package provenance), given a bundle made from the annotations; the identity is
 * matched here with cosign's rules (exact text, or a regular expression found anywhere in it, against
 * every SAN). A signature without a bundle is refused: cosign accepts one offline only with
 * `--insecure-ignore-tlog`, which addonix does not offer.
 *
 * cosign 3 signs by default into a Sigstore bundle attached as an OCI referrer instead
 * (checkKeylessBundle): the same checks, on the bundle as it is.
 */
import { createHash, X509Certificate as NodeCertificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { bundleFromJSON } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { PolicyError, toSignedEntity, toTrustMaterial, VerificationError, Verifier, type TrustMaterial } from '@sigstore/verify';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import { UserError } from '../util/errors.js';
import { checkClaim, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_TYPE, type LayerVerdict, type SignatureTrust } from './cosign.js';

export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
export const BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';
const TRUSTED_ROOT_MEDIA_TYPE = /^application\/vnd\.dev\.sigstore\.trustedroot(\.v[0-9.]+)?\+json(;version=[0-9.]+)?$/;
const OID_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const OID_SAN = '2.5.29.17';
/** Fulcio's username SAN (an otherName), which cosign lists among the subjects. */
const OID_FULCIO_USERNAME = '1.3.6.1.4.1.57264.1.7';

/** Who must have signed: cosign's --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]. */
export interface CertificateIdentity {
  subject?: string;
  subjectRegExp?: string;
  issuer?: string;
  issuerRegExp?: string;
}

export interface KeylessOptions {
  identity: CertificateIdentity;
  /** The trusted_root.json file. */
  trustedRoot: string;
  /** cosign's --insecure-ignore-sct: no SCT required of the certificate. */
  ignoreSct: boolean;
}

/** Cosign's matching: Go's regexp.MatchString finds the pattern anywhere; JavaScript's test() does the same. */
function compile(pattern: string, option: string): RegExp {
  try {
    return new RegExp(pattern, 'u');
  } catch (error) {
    throw new UserError('usage', `--${option} ${pattern}: not a regular expression (${(error as Error).message})`);
  }
}

/** Reads a sigstore trusted_root.json into the trust material sigstore-js verifies with. */
export async function readTrustedRoot(file: string): Promise<TrustMaterial> {
  const bad = (why: string) =>
    new UserError('trusted-root', `${file}: ${why}`, {
      file,
      hint: "give sigstore's trusted_root.json (the public-good instance's is in sigstore/root-signing, targets/trusted_root.json; cosign trusted-root create writes one for a private instance)",
    });
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError('not-found', `${file}: no such trusted root file`, { file });
    throw new UserError('trusted-root', `${file}: cannot read the trusted root (${(error as Error).message})`, { file });
  }
  let json: { mediaType?: unknown; certificateAuthorities?: unknown; tlogs?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (error) {
    throw bad(`not JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || typeof json.mediaType !== 'string' || !TRUSTED_ROOT_MEDIA_TYPE.test(json.mediaType)) {
    throw bad(`not a sigstore trusted root: its mediaType is ${JSON.stringify((json as { mediaType?: unknown } | null)?.mediaType ?? null)}, not application/vnd.dev.sigstore.trustedroot+json;version=0.1`);
  }
  let material: TrustMaterial;
  try {
    material = toTrustMaterial(TrustedRoot.fromJSON(json));
  } catch (error) {
    throw bad(`a certificate or key in it does not parse (${(error as Error).message})`);
  }
  if (material.certificateAuthorities.length === 0) throw bad('it names no certificate authority (certificateAuthorities): no Fulcio certificate can chain to it');
  if (material.tlogs.length === 0) throw bad('it names no transparency log (tlogs): no Rekor bundle can be checked with it');
  return material;
}

/** Checks the options (as cosign does: an identity and an issuer, each exact or a pattern) and reads the root. */
export async function keylessTrust(options: KeylessOptions): Promise<SignatureTrust> {
  const { identity } = options;
  const subject = identity.subject !== undefined ? { exact: identity.subject } : { pattern: compile(identity.subjectRegExp!, 'certificate-identity-regexp') };
  const issuer = identity.issuer !== undefined ? { exact: identity.issuer } : { pattern: compile(identity.issuerRegExp!, 'certificate-oidc-issuer-regexp') };
  const material = await readTrustedRoot(options.trustedRoot);
  const verifier = new Verifier(material, { tlogThreshold: 1, ctlogThreshold: options.ignoreSct ? 0 : 1, timestampThreshold: 1 });
  const subjectText = identity.subject ?? `/${identity.subjectRegExp}/`;
  const issuerText = identity.issuer ?? `/${identity.issuerRegExp}/`;
  // cosign's CheckCertificatePolicy: the issuer, and any one of the subjects.
  const matches: IdentityMatch = (sans, oidcIssuer) =>
    ('exact' in issuer ? oidcIssuer === issuer.exact : issuer.pattern.test(oidcIssuer)) && sans.some((san) => ('exact' in subject ? san === subject.exact : subject.pattern.test(san)));
  return {
    label: `the identity ${subjectText} (issuer ${issuerText}, trusted root ${options.trustedRoot})`,
    report: { identity: { subject: subjectText, issuer: issuerText, trustedRoot: options.trustedRoot } },
    signature: (layer, blob, digest) => checkKeylessSignatureLayer(layer, blob, digest, verifier, matches),
    bundle: (blob, digest) => checkKeylessBundle(blob, digest, verifier, matches),
    attestation: null,
    hint: 'check the identity and issuer (cosign verify prints the certificate\'s as Subject and Issuer) and that the trusted root holds the CA and the transparency log that signed',
  };
}

/** The certificate's subjects as cosign lists them (cryptoutils.GetSubjectAlternateNames): e-mails, DNS names, URIs, Fulcio's username. */
function subjectsOf(cert: X509Certificate): string[] {
  const san = cert.extension(OID_SAN);
  if (!san) return [];
  const names: string[] = [];
  for (const name of san.valueObj.subs[0]?.subs ?? []) {
    // GeneralName: [1] rfc822Name, [2] dNSName, [6] uniformResourceIdentifier (IA5String, implicit).
    if ([1, 2, 6].includes(name.tag.number) && name.tag.isContextSpecific()) names.push(name.value.toString('ascii'));
  }
  const username = cert.extSubjectAltName?.otherName(OID_FULCIO_USERNAME);
  if (username) names.push(username);
  return names;
}

/**
 * Fulcio's OIDC issuer: the v2 extension (a DER UTF8String) where present, else the v1 one (raw text).
 * Fulcio writes both, alike; cosign 2.5 reads v1, sigstore-go v2, so a certificate where they differ is
 * refused (null) rather than judged by one of them.
 */
function issuerOf(cert: X509Certificate): string | null {
  const v2 = cert.extension('1.3.6.1.4.1.57264.1.8');
  const v1 = cert.extension('1.3.6.1.4.1.57264.1.1')?.value.toString('utf8');
  const issuer = v2 ? (v2.valueObj.subs[0]?.value.toString('utf8') ?? '') : (v1 ?? '');
  return v1 !== undefined && v1 !== issuer ? null : issuer;
}

interface RekorBundle {
  SignedEntryTimestamp?: unknown;
  Payload?: { body?: unknown; integratedTime?: unknown; logIndex?: unknown; logID?: unknown };
}

interface HashedRekord {
  kind?: unknown;
  apiVersion?: unknown;
  spec?: { signature?: { content?: unknown; publicKey?: { content?: unknown } } };
}

function pemBlocks(text: string): Buffer[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

/** Why a sigstore-js refusal happened, in words close to cosign's. */
function refusal(error: unknown): string {
  if (error instanceof VerificationError || error instanceof PolicyError) {
    const cause = (error as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    switch (error.code) {
      case 'CERTIFICATE_ERROR':
        // The SCT count is checked after the chain, with the same code.
        if (/SCT/.test(error.message)) return `certificate does not include required embedded SCT of a CT log of the trusted root (${error.message})`;
        return `cert verification failed: ${error.message}${detail} (no CA of the trusted root, valid at the log's time, issued it; or a certificate of its chain was not valid then)`;
      case 'TLOG_INCLUSION_PROMISE_ERROR':
        return `unable to verify SET: ${error.message} (no log key of the trusted root signed this bundle)`;
      case 'TLOG_BODY_ERROR':
        if (error.message === 'digest mismatch') return "error verifying bundle: matching bundle to payload: the payload's SHA-256 is not the one logged";
        if (error.message === 'signature mismatch') return 'error verifying bundle: signature in bundle does not match signature being verified';
        return `error verifying bundle: the log entry is not of this signature: ${error.message}`;
      case 'SIGNATURE_ERROR':
        return 'invalid signature when validating ASN.1 encoded signature';
      default:
        return `${error.message}${detail}`;
    }
  }
  return (error as Error).message;
}

type IdentityMatch = (subjects: string[], issuer: string) => boolean;

/** Checks one keyless signature layer (see the module comment). */
export function checkKeylessSignatureLayer(layer: Descriptor, payload: Buffer, digest: Digest, verifier: Verifier, matches: IdentityMatch): LayerVerdict {
  if (layer.mediaType !== SIMPLE_SIGNING_TYPE) return { valid: false, reason: `a layer of type ${layer.mediaType}, not a simple-signing payload` };
  const annotations = layer.annotations ?? {};
  // cosign's order: the bundle first (offline, none is a refusal), then the certificate.
  const bundleText = annotations[BUNDLE_ANNOTATION];
  if (!bundleText) return { valid: false, reason: 'offline verification failed: the signature has no transparency log bundle (dev.sigstore.cosign/bundle)' };
  const certificatePem = annotations[CERTIFICATE_ANNOTATION];
  if (!certificatePem) return { valid: false, reason: 'no certificate found on signature (a signature made with a key, not keyless)' };
  const signature = annotations[SIGNATURE_ANNOTATION] ?? '';
  const [leafDer, ...chainDer] = [...pemBlocks(certificatePem), ...pemBlocks(annotations[CHAIN_ANNOTATION] ?? '')];
  if (!leafDer) return { valid: false, reason: 'the certificate annotation holds no PEM certificate' };

  let rekor: RekorBundle;
  let body: HashedRekord;
  try {
    rekor = JSON.parse(bundleText) as RekorBundle;
    body = JSON.parse(Buffer.from(String(rekor.Payload?.body ?? ''), 'base64').toString('utf8')) as HashedRekord;
  } catch {
    return { valid: false, reason: 'error verifying bundle: the bundle or its entry is not JSON' };
  }
  const entry = rekor.Payload;
  if (!entry || typeof entry.body !== 'string' || typeof entry.integratedTime !== 'number' || typeof entry.logIndex !== 'number' || typeof entry.logID !== 'string' || typeof rekor.SignedEntryTimestamp !== 'string') {
    return { valid: false, reason: 'error verifying bundle: it lacks the entry, its time, index, log ID or SignedEntryTimestamp' };
  }
  if (body.kind !== 'hashedrekord' || typeof body.apiVersion !== 'string') return { valid: false, reason: `error verifying bundle: a ${String(body.kind)} entry, not hashedrekord (what cosign sign logs)` };
  // cosign's comparePublicKey: the log entry names this very certificate.
  const loggedKey = Buffer.from(String(body.spec?.signature?.publicKey?.content ?? ''), 'base64').toString('utf8');
  if (!pemBlocks(loggedKey)[0]?.equals(leafDer)) return { valid: false, reason: 'error verifying bundle: the log entry names another certificate than the signature\'s' };

  let leaf: X509Certificate;
  try {
    leaf = X509Certificate.parse(Buffer.from(leafDer));
  } catch {
    return { valid: false, reason: 'the certificate annotation does not hold an X.509 certificate' };
  }
  const bundle = {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      x509CertificateChain: { certificates: [leafDer, ...chainDer].map((der) => ({ rawBytes: der.toString('base64') })) },
      tlogEntries: [
        {
          logIndex: String(entry.logIndex),
          logId: { keyId: Buffer.from(entry.logID, 'hex').toString('base64') },
          kindVersion: { kind: body.kind, version: body.apiVersion },
          integratedTime: String(entry.integratedTime),
          inclusionPromise: { signedEntryTimestamp: rekor.SignedEntryTimestamp },
          canonicalizedBody: entry.body,
        },
      ],
    },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') }, signature },
  };
  try {
    verifier.verify(toSignedEntity(bundleFromJSON(bundle), Buffer.from(payload)));
  } catch (error) {
    // cosign's CheckExpiry words for a certificate not valid when the log integrated the signature.
    const logged = new Date(entry.integratedTime * 1000);
    const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');
    if (error instanceof VerificationError && error.code === 'CERTIFICATE_ERROR' && leaf.notAfter < logged) {
      return { valid: false, reason: `certificate expired before signatures were entered in log: ${iso(leaf.notAfter)} is before ${iso(logged)}` };
    }
    if (error instanceof VerificationError && error.code === 'CERTIFICATE_ERROR' && leaf.notBefore > logged) {
      return { valid: false, reason: `certificate was issued after signatures were entered in log: ${iso(leaf.notBefore)} is after ${iso(logged)}` };
    }
    return { valid: false, reason: refusal(error) };
  }
  const identity = checkIdentity(leaf, leafDer, matches);
  if (typeof identity !== 'string') return identity;
  return checkClaim(payload, digest) ?? { valid: true, reason: `certificate of ${identity} valid when the log integrated the signature; the claim names this digest` };
}

/** The leaf's use and identity (after its chain verified): a refusal, or the identity as text for the verdict. */
function checkIdentity(leaf: X509Certificate, leafDer: Buffer, matches: IdentityMatch): LayerVerdict | string {
  // Go's x509 Verify in cosign's TrustedCert asks for code signing; sigstore-js does not look.
  if (!(new NodeCertificate(leafDer).keyUsage ?? []).includes(OID_CODE_SIGNING)) return { valid: false, reason: 'cert verification failed: the certificate is not for code signing (extended key usage)' };
  const subjects = subjectsOf(leaf);
  const oidcIssuer = issuerOf(leaf);
  if (oidcIssuer === null) return { valid: false, reason: "the certificate names two different OIDC issuers (Fulcio's extensions 1.3.6.1.4.1.57264.1.1 and .1.8)" };
  if (!matches(subjects, oidcIssuer)) {
    return { valid: false, reason: `none of the expected identities matched what was in the certificate, got subjects [${subjects.join(', ')}] with issuer ${oidcIssuer}` };
  }
  return `${subjects.join(', ')} (issuer ${oidcIssuer})`;
}

/** The predicate type of the statement cosign 3's `sign` puts in its bundle: a signature, not an attestation. */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

/**
 * Checks a Sigstore bundle attached as an OCI referrer, cosign 3's default form of a keyless signature
 * (cosign's signDigestBundle: a DSSE envelope of an in-toto statement, predicate type
 * COSIGN_SIGN_PREDICATE, about the manifest's digest; its certificate, log entries and timestamps in the
 * bundle), as cosign 3's verify checks it with sigstore-go: the bundle verified by sigstore-js against the
 * trusted root (log inclusion, the certificate's chain at the log's time, SCTs, the DSSE signature), then
 * the identity and the statement's subject. null: a bundle of another predicate (an attestation).
 */
export function checkKeylessBundle(blob: Buffer, digest: Digest, verifier: Verifier, matches: IdentityMatch): LayerVerdict | null {
  let json: { dsseEnvelope?: { payload?: unknown; payloadType?: unknown } };
  try {
    json = JSON.parse(blob.toString('utf8')) as typeof json;
  } catch {
    return { valid: false, reason: 'a Sigstore bundle that is not JSON' };
  }
  const envelope = json.dsseEnvelope;
  if (!envelope || typeof envelope.payload !== 'string') return null;
  let statement: { predicateType?: unknown; subject?: { digest?: { sha256?: unknown } }[] };
  try {
    statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as typeof statement;
  } catch {
    return { valid: false, reason: 'the bundle\'s DSSE payload is not JSON' };
  }
  if (statement.predicateType !== COSIGN_SIGN_PREDICATE) return null;
  let leafDer: Buffer;
  try {
    const bundle = bundleFromJSON(json);
    const material = bundle.verificationMaterial.content;
    const raw = material.$case === 'certificate' ? material.certificate.rawBytes : material.$case === 'x509CertificateChain' ? material.x509CertificateChain.certificates[0]?.rawBytes : undefined;
    if (!raw) return { valid: false, reason: 'no certificate found on signature (a bundle of a key, not keyless)' };
    leafDer = Buffer.from(raw);
    verifier.verify(toSignedEntity(bundle));
  } catch (error) {
    return { valid: false, reason: refusal(error) };
  }
  const identity = checkIdentity(X509Certificate.parse(Buffer.from(leafDer)), leafDer, matches);
  if (typeof identity !== 'string') return identity;
  if (envelope.payloadType !== 'application/vnd.in-toto+json') return { valid: false, reason: `the bundle's payload type is ${String(envelope.payloadType)}, not an in-toto statement` };
  if (!(statement.subject ?? []).some((s) => s?.digest?.sha256 === digest.slice('sha256:'.length))) return { valid: false, reason: `no matching subject digest found: the signed statement is not about ${digest}` };
  return { valid: true, reason: `Sigstore bundle (an OCI referrer) of ${identity}, valid when the log integrated it; its statement is about this digest` };
}
