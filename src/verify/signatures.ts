/**
 * Checking a published image's cosign signatures and attestations, as `cosign verify` and `cosign
 * verify-attestation` do: the reference's manifest, and for an index every image manifest it names, must
 * each have a signature layer that verifies (with a public key, without the transparency log, as `cosign
 * verify --key`; or keyless, with an identity and a trusted root, as `cosign verify
 * --certificate-identity`: registry/keyless.ts) and whose claim names that very digest. One such layer is
 * enough (cosign's rule); the others are reported. Attestations, where there are any and the trust checks
 * them, must verify the same way (a DSSE signature over the statement, the statement about that digest).
 */
import { UserError } from '../util/errors.js';
import type { Digest } from '../oci/digest.js';
import { MAX_DOCUMENT_BYTES } from '../oci/image.js';
import { imageEntries } from '../oci/index-walk.js';
import { isIndexType } from '../oci/media-types.js';
import { RegistryClient, type ClientOptions } from '../registry/client.js';
import { checkCosignLayers, referrerBundles, type LayerVerdict, type SignatureTrust } from '../registry/cosign.js';
import { lookupCredentials } from '../registry/credentials.js';
import { formatReference, parseReference } from '../registry/reference.js';

export interface SignedManifest {
  digest: Digest;
  /** The index, or an image manifest (its platform, as the index lists it). */
  role: 'index' | 'manifest';
  platform: string | null;
  signature: { verified: boolean; reason: string; layers: LayerVerdict[] };
  /** null: no attestations at all. */
  attestations: { verified: string[]; refused: LayerVerdict[] } | null;
}

export interface SignatureReport {
  reference: string;
  /** What the signatures were checked with: `key` (the public key file) or `identity` (keyless). */
  key?: string;
  identity?: { subject: string; issuer: string; trustedRoot: string };
  verified: boolean;
  manifests: SignedManifest[];
}

/** The verdict on one manifest's signature layers: verified when one of them is; else the reasons. */
function signatureVerdict(layers: LayerVerdict[] | null): SignedManifest['signature'] {
  if (layers === null || layers.length === 0) return { verified: false, reason: 'no signatures found', layers: [] };
  const good = layers.find((layer) => layer.valid);
  if (good) return { verified: true, reason: good.reason, layers };
  return { verified: false, reason: `no matching signatures: ${[...new Set(layers.map((l) => l.reason))].join('; ')}`, layers };
}

/** Checks the reference's signatures and attestations with the trust (see the module comment). */
export async function checkSignatures(referenceText: string, trust: SignatureTrust, options: Pick<ClientOptions, 'insecure' | 'timeoutMs' | 'retryForMs'>): Promise<SignatureReport> {
  const ref = parseReference(referenceText);
  const client = new RegistryClient({ registry: ref.registry, credentials: await lookupCredentials(ref.registry), ...options });
  client.addScope(ref.repository, 'pull');
  const top = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest', MAX_DOCUMENT_BYTES);
  const subjects: { digest: Digest; role: SignedManifest['role']; platform: string | null }[] = [{ digest: top.digest, role: isIndexType(top.mediaType) ? 'index' : 'manifest', platform: null }];
  if (subjects[0]!.role === 'index') {
    const fetch = async (digest: Digest, kind: 'manifest' | 'blob') =>
      kind === 'manifest' ? (await client.getManifest(ref.repository, digest, MAX_DOCUMENT_BYTES)).bytes : client.getBlob(ref.repository, digest, MAX_DOCUMENT_BYTES);
    for (const entry of await imageEntries(top.bytes, fetch, referenceText)) {
      const platform = entry.platform ? [entry.platform.os, entry.platform.architecture, entry.platform.variant].filter(Boolean).join('/') : null;
      subjects.push({ digest: entry.digest, role: 'manifest', platform });
    }
  }
  const manifests: SignedManifest[] = [];
  for (const subject of subjects) {
    const classic = (await checkCosignLayers(client, ref.repository, subject.digest, 'sig', trust.signature)).layers;
    const bundles: LayerVerdict[] = [];
    if (trust.bundle) {
      for (const { blob } of await referrerBundles(client, ref.repository, subject.digest)) {
        const verdict = trust.bundle(blob, subject.digest);
        if (verdict) bundles.push(verdict);
      }
    }
    const signature = signatureVerdict(classic === null && bundles.length === 0 ? null : [...(classic ?? []), ...bundles]);
    const attestationLayers = trust.attestation ? (await checkCosignLayers(client, ref.repository, subject.digest, 'att', trust.attestation)).layers : null;
    const attestations =
      attestationLayers === null
        ? null
        : { verified: [...new Set(attestationLayers.filter((l) => l.valid).map((l) => l.predicateType ?? 'unknown'))], refused: attestationLayers.filter((l) => !l.valid) };
    manifests.push({ ...subject, signature, attestations });
  }
  const verified = manifests.every((m) => m.signature.verified && (m.attestations === null || m.attestations.verified.length > 0));
  return { reference: formatReference(ref), ...trust.report, verified, manifests };
}

/** The report as lines for a terminal. */
export function renderSignatures(report: SignatureReport, trust: SignatureTrust): string {
  const lines = [`signatures of ${report.reference} with ${trust.label}:`];
  for (const m of report.manifests) {
    const what = m.role === 'index' ? 'index' : (m.platform ?? 'manifest');
    lines.push(`  ${what.padEnd(16)} ${m.digest}: ${m.signature.verified ? 'signed' : 'NOT signed'} (${m.signature.reason})`);
    if (m.attestations) {
      if (m.attestations.verified.length > 0) lines.push(`  ${''.padEnd(16)} attestations verified: ${m.attestations.verified.join(', ')}`);
      for (const refused of m.attestations.refused) lines.push(`  ${''.padEnd(16)} attestation refused${refused.predicateType ? ` (${refused.predicateType})` : ''}: ${refused.reason}`);
    }
  }
  lines.push(report.verified ? `verified: every manifest is signed ${'key' in trust.report ? 'with the key' : 'by the identity'}` : 'not verified: see above');
  return lines.join('\n') + '\n';
}

/** Throws the refusal when the report is not verified (verify stops before building anything). */
export function refuseUnsigned(report: SignatureReport, trust: SignatureTrust): void {
  if (report.verified) return;
  const failed = report.manifests.filter((m) => !m.signature.verified || (m.attestations !== null && m.attestations.verified.length === 0));
  const reasons = failed.map((m) => `${m.role === 'index' ? 'index' : (m.platform ?? 'manifest')} ${m.digest}: ${m.signature.verified ? `no attestation verifies (${m.attestations!.refused.map((r) => r.reason).join('; ')})` : m.signature.reason}`);
  throw new UserError('signature-invalid', `${report.reference} is not signed with ${trust.label}:\n  ${reasons.join('\n  ')}`, { hint: trust.hint });
}
