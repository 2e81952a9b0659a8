/**
 * Signatures and attestations as cosign stores them in a registry (read from cosign 2.5's own output and
 * sigstore/cosign's pkg/oci and pkg/cosign), so that `cosign verify` and `cosign verify-attestation` take
 * what addonix writes and addonix checks what cosign writes:
 *
 * - a signature of manifest `sha256:H` is a layer of the OCI manifest tagged `sha256-H.sig` in the same
 *   repository: media type `application/vnd.dev.cosign.simplesigning.v1+json`, its blob the simple-signing
 *   payload (the claim: this repository, this manifest digest), its annotation
 *   `dev.cosignproject.cosign/signature` the base64 ECDSA signature (ASN.1 DER) of those payload bytes;
 * - an attestation is a layer of the manifest tagged `sha256-H.att`: a DSSE envelope
 *   (`application/vnd.dsse.envelope.v1+json`) around an in-toto statement about `sha256:H`, signed over
 *   DSSE's pre-authentication encoding, annotated with its `predicateType`;
 * - the manifests' config is an empty image config whose diff_ids are the layers, one history entry each;
 * - a manifest signed again keeps its older layers; a layer is added unless one with the same payload
 *   already verifies with the key (cosign's duplicate detector), so pushing twice adds nothing.
 *
 * No transparency log entry is written (cosign's `--tlog-upload=false`): verify with
 * `cosign verify --key cosign.pub --insecure-ignore-tlog`.
 */
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { digestHex, sha256, type Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor } from '../oci/types.js';
import { bufferUploadSource, RegistryClient, RegistryError } from './client.js';
import type { SigningKey } from './cosign-keys.js';

export const SIMPLE_SIGNING_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const DSSE_TYPE = 'application/vnd.dsse.envelope.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const CLAIM_TYPE = 'cosign container image signature';
/** Signature and attestation manifests are small; a registry answering more is refused. */
const MAX_SIGNATURE_DOCUMENT = 4 * 1024 * 1024;

/** The predicate types `cosign attest --type` and `verify-attestation --type` name. */
export const PREDICATE_TYPES = {
  cyclonedx: 'https://cyclonedx.org/bom',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
} as const;

/** The tag cosign keeps a manifest's signatures (`sig`) or attestations (`att`) under. */
export function cosignTag(digest: Digest, kind: 'sig' | 'att'): string {
  return `sha256-${digestHex(digest)}.${kind}`;
}

/** The repository as cosign's claim names it (go-containerregistry's name: Docker Hub is index.docker.io). */
export function claimedRepository(registry: string, repository: string): string {
  return `${registry === 'docker.io' ? 'index.docker.io' : registry}/${repository}`;
}

/** The simple-signing payload cosign signs for an image: its repository and manifest digest. */
export function simpleSigningPayload(repository: string, digest: Digest): Buffer {
  return Buffer.from(
    JSON.stringify({ critical: { identity: { 'docker-reference': repository }, image: { 'docker-manifest-digest': digest }, type: CLAIM_TYPE }, optional: null }),
  );
}

/** DSSE's pre-authentication encoding: what a DSSE signature signs. */
export function dssePae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType);
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/** An in-toto statement (v0.1, as cosign attest writes) about one manifest. */
export function statementFor(subjectName: string, digest: Digest, predicateType: string, predicate: unknown): Buffer {
  return Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType, subject: [{ name: subjectName, digest: { sha256: digestHex(digest) } }], predicate }));
}

export function signBytes(key: KeyObject, data: Buffer): string {
  return cryptoSign('sha256', data, key).toString('base64');
}

export function verifyBytes(key: KeyObject, data: Buffer, signature: string): boolean {
  try {
    return cryptoVerify('sha256', data, key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** A DSSE envelope of a statement, signed with the key. */
export function dsseEnvelope(key: KeyObject, statement: Buffer): Buffer {
  const sig = signBytes(key, dssePae(IN_TOTO_PAYLOAD_TYPE, statement));
  return Buffer.from(JSON.stringify({ payloadType: IN_TOTO_PAYLOAD_TYPE, payload: statement.toString('base64'), signatures: [{ keyid: '', sig }] }));
}

/** A layer to store: its blob, media type and annotations. */
export interface CosignLayer {
  blob: Buffer;
  mediaType: string;
  annotations: Record<string, string>;
}

/** The config of a signature or attestation manifest: empty, its diff_ids the layers (as cosign writes it). */
export function cosignConfig(layers: Descriptor[]): Buffer {
  const created = '0001-01-01T00:00:00Z';
  return Buffer.from(
    JSON.stringify({ architecture: '', created, history: layers.map(() => ({ created })), os: '', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {} }),
  );
}

export function cosignManifest(config: Buffer, layers: Descriptor[]): Buffer {
  return Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: { mediaType: MediaType.ociConfig, size: config.length, digest: sha256(config) }, layers }),
  );
}

interface StoredManifest {
  layers?: Descriptor[];
}

/** What signing one manifest did: the tag written, whether a layer was added (false: it was there). */
export interface SignOutcome {
  digest: Digest;
  tag: string;
  added: number;
}

/** Writes signatures and attestations of manifests into a repository; existing layers are kept, duplicates not added. */
export class CosignWriter {
  constructor(
    private readonly client: RegistryClient,
    private readonly repository: string,
    private readonly key: SigningKey,
  ) {}

  /** Signs a manifest: a simple-signing layer under `sha256-H.sig`. */
  async sign(claimed: string, digest: Digest): Promise<SignOutcome> {
    const payload = simpleSigningPayload(claimed, digest);
    const layer = { blob: payload, mediaType: SIMPLE_SIGNING_TYPE, annotations: { [SIGNATURE_ANNOTATION]: signBytes(this.key.privateKey, payload) } };
    // The same payload (its bytes are fixed) with a signature this key made already.
    return this.append(digest, 'sig', [layer], async (existing) => existing.digest === sha256(payload) && verifyBytes(this.key.publicKey, payload, existing.annotations?.[SIGNATURE_ANNOTATION] ?? ''));
  }

  /** Attests statements about a manifest: DSSE layers under `sha256-H.att`. */
  async attest(digest: Digest, statements: { predicateType: string; statement: Buffer }[]): Promise<SignOutcome> {
    const layers = statements.map(({ predicateType, statement }) => ({
      blob: dsseEnvelope(this.key.privateKey, statement),
      mediaType: DSSE_TYPE,
      annotations: { [SIGNATURE_ANNOTATION]: '', predicateType },
      statement,
    }));
    return this.append(digest, 'att', layers, async (existing, fetch, layer) => {
      // The same statement signed by this key already: the envelope differs (ECDSA signatures are random).
      if (existing.annotations?.['predicateType'] !== layer.annotations['predicateType']) return false;
      const envelope = parseEnvelope(await fetch());
      const statement = (layer as (typeof layers)[number]).statement;
      return envelope !== null && envelope.payload.equals(statement) && envelope.signatures.some((s) => verifyBytes(this.key.publicKey, dssePae(envelope.payloadType, envelope.payload), s));
    });
  }

  private async append(
    digest: Digest,
    kind: 'sig' | 'att',
    fresh: CosignLayer[],
    duplicate: (existing: Descriptor, fetch: () => Promise<Buffer>, layer: CosignLayer) => Promise<boolean>,
  ): Promise<SignOutcome> {
    const { client, repository } = this;
    const tag = cosignTag(digest, kind);
    let layers: Descriptor[] = [];
    if ((await client.tagDigest(repository, tag)) !== null) {
      const stored = JSON.parse((await client.getManifest(repository, tag, MAX_SIGNATURE_DOCUMENT)).bytes.toString('utf8')) as StoredManifest;
      layers = Array.isArray(stored.layers) ? stored.layers : [];
    }
    let added = 0;
    for (const layer of fresh) {
      let known = false;
      for (const existing of layers) {
        if (existing.mediaType !== layer.mediaType || existing.size > MAX_SIGNATURE_DOCUMENT) continue;
        known = await duplicate(existing, () => client.getBlob(repository, existing.digest, MAX_SIGNATURE_DOCUMENT), layer);
        if (known) break;
      }
      if (known) continue;
      const descriptor: Descriptor = { mediaType: layer.mediaType, size: layer.blob.length, digest: sha256(layer.blob), annotations: layer.annotations };
      await this.putBlob(layer.blob);
      layers.push(descriptor);
      added++;
    }
    if (added > 0) {
      const config = cosignConfig(layers);
      await this.putBlob(config);
      await client.putManifest(repository, tag, cosignManifest(config, layers), MediaType.ociManifest);
    }
    return { digest, tag, added };
  }

  private async putBlob(blob: Buffer): Promise<void> {
    const digest = sha256(blob);
    if (await this.client.hasBlob(this.repository, digest)) return;
    await this.client.uploadBlob(this.repository, bufferUploadSource(blob), () => undefined);
  }
}

export interface Envelope {
  payloadType: string;
  payload: Buffer;
  signatures: string[];
}

export function parseEnvelope(blob: Buffer): Envelope | null {
  try {
    const value = JSON.parse(blob.toString('utf8')) as { payloadType?: unknown; payload?: unknown; signatures?: { sig?: unknown }[] };
    if (typeof value.payloadType !== 'string' || typeof value.payload !== 'string' || !Array.isArray(value.signatures)) return null;
    return { payloadType: value.payloadType, payload: Buffer.from(value.payload, 'base64'), signatures: value.signatures.map((s) => (typeof s?.sig === 'string' ? s.sig : '')) };
  } catch {
    return null;
  }
}

/** One layer's verdict: valid, or why not (the words cosign's refusals use where it has one). */
export interface LayerVerdict {
  valid: boolean;
  reason: string;
  /** Attestations: the statement's predicate type (from the verified payload). */
  predicateType?: string;
}

/** Checks the simple-signing claim of a payload whose signature verified: its type, and that it names `digest`. */
export function checkClaim(payload: Buffer, digest: Digest): LayerVerdict | null {
  let claim: { critical?: { image?: { 'docker-manifest-digest'?: unknown }; type?: unknown } };
  try {
    claim = JSON.parse(payload.toString('utf8')) as typeof claim;
  } catch {
    return { valid: false, reason: 'the signed payload is not JSON' };
  }
  if (claim.critical?.type !== CLAIM_TYPE) return { valid: false, reason: `the signed payload's type is ${JSON.stringify(claim.critical?.type ?? null)}, not "${CLAIM_TYPE}"` };
  const claimed = claim.critical?.image?.['docker-manifest-digest'];
  if (claimed !== digest) return { valid: false, reason: `invalid or missing digest in claim: signed for ${String(claimed)}, not ${digest}` };
  return null;
}

/** Checks a signature layer: its signature over the payload bytes with the key, then the payload's claim. */
export function checkSignatureLayer(key: KeyObject, layer: Descriptor, payload: Buffer, digest: Digest): LayerVerdict {
  if (layer.mediaType !== SIMPLE_SIGNING_TYPE) return { valid: false, reason: `a layer of type ${layer.mediaType}, not a simple-signing payload` };
  if (!verifyBytes(key, payload, layer.annotations?.[SIGNATURE_ANNOTATION] ?? '')) return { valid: false, reason: 'invalid signature when validating ASN.1 encoded signature' };
  return checkClaim(payload, digest) ?? { valid: true, reason: 'signature verified with the key; the claim names this digest' };
}

/** Checks an attestation layer: the DSSE signature with the key, then that the statement is about `digest`. */
export function checkAttestationLayer(key: KeyObject, layer: Descriptor, blob: Buffer, digest: Digest): LayerVerdict {
  if (layer.mediaType !== DSSE_TYPE) return { valid: false, reason: `a layer of type ${layer.mediaType}, not a DSSE envelope` };
  const envelope = parseEnvelope(blob);
  if (!envelope) return { valid: false, reason: 'not a DSSE envelope' };
  if (!envelope.signatures.some((sig) => verifyBytes(key, dssePae(envelope.payloadType, envelope.payload), sig))) return { valid: false, reason: 'invalid signature when validating ASN.1 encoded signature' };
  let statement: { predicateType?: unknown; subject?: { digest?: { sha256?: unknown } }[] };
  try {
    statement = JSON.parse(envelope.payload.toString('utf8')) as typeof statement;
  } catch {
    return { valid: false, reason: 'the signed statement is not JSON' };
  }
  const predicateType = typeof statement.predicateType === 'string' ? statement.predicateType : undefined;
  const about = (statement.subject ?? []).some((s) => s?.digest?.sha256 === digestHex(digest));
  if (!about) return { valid: false, reason: `no matching subject digest found: the statement is not about ${digest}`, ...(predicateType ? { predicateType } : {}) };
  return { valid: true, reason: 'attestation verified with the key; its subject is this digest', ...(predicateType ? { predicateType } : {}) };
}

/** What a manifest's signatures (or attestations) say under a key. */
export interface ManifestVerdict {
  digest: Digest;
  kind: 'sig' | 'att';
  /** null: no such tag (no signature or attestation at all). */
  layers: LayerVerdict[] | null;
}

/** Checks one layer of a signature (or attestation) manifest: its blob (already checked against its digest) about `digest`. */
export type LayerCheck = (layer: Descriptor, blob: Buffer, digest: Digest) => LayerVerdict;

/** Reads the signatures (`sig`) or attestations (`att`) of a manifest in a repository and checks each layer. */
export async function checkCosignLayers(client: RegistryClient, repository: string, digest: Digest, kind: 'sig' | 'att', check: LayerCheck): Promise<ManifestVerdict> {
  const tag = cosignTag(digest, kind);
  if ((await client.tagDigest(repository, tag)) === null) return { digest, kind, layers: null };
  const stored = JSON.parse((await client.getManifest(repository, tag, MAX_SIGNATURE_DOCUMENT)).bytes.toString('utf8')) as StoredManifest;
  const verdicts: LayerVerdict[] = [];
  for (const layer of Array.isArray(stored.layers) ? stored.layers : []) {
    if (layer.size > MAX_SIGNATURE_DOCUMENT) {
      verdicts.push({ valid: false, reason: `a layer of ${layer.size} bytes, too large for a signature` });
      continue;
    }
    // getBlob checks the bytes against the layer's digest: a payload changed in the registry is refused there.
    const blob = await client.getBlob(repository, layer.digest, MAX_SIGNATURE_DOCUMENT);
    verdicts.push(check(layer, blob, digest));
  }
  return { digest, kind, layers: verdicts };
}

/**
 * What signatures are checked against, one model for `verify` and `pin-base`: a public key (`cosign
 * verify --key`, here) or a keyless identity with a trusted root (`cosign verify --certificate-identity`,
 * keyless.ts).
 */
export interface SignatureTrust {
  /** How messages name it: the key file, or the identity and its issuer. */
  label: string;
  /** For the JSON report: the key file, or the identity checked. */
  report: { key: string } | { identity: { subject: string; issuer: string; trustedRoot: string } };
  signature: LayerCheck;
  /**
   * Sigstore bundles attached as OCI referrers (cosign 3's default form of a signature): the verdict on
   * one, or null when it is not a signature (an attestation's bundle). Absent: not looked for.
   */
  bundle?: (blob: Buffer, digest: Digest) => LayerVerdict | null;
  /** null: attestations are not checked with this trust (keyless: only signatures are). */
  attestation: LayerCheck | null;
  /** What to do when a manifest has no signature that verifies. */
  hint: string;
}

/** Signatures and attestations checked with a public key (cosign.pub). */
export function keyTrust(key: KeyObject, file: string): SignatureTrust {
  return {
    label: file,
    report: { key: file },
    signature: (layer, blob, digest) => checkSignatureLayer(key, layer, blob, digest),
    attestation: (layer, blob, digest) => checkAttestationLayer(key, layer, blob, digest),
    hint: 'check the key (cosign.pub of the key the image was signed with), or sign the image: addonix push --sign cosign.key',
  };
}

/** The media type of a Sigstore bundle (v0.3) stored as an OCI artifact, as cosign 3 signs by default. */
export const SIGSTORE_BUNDLE_TYPE_PREFIX = 'application/vnd.dev.sigstore.bundle';

/**
 * The Sigstore bundles attached to a manifest as OCI referrers (cosign 3's `sign`, and `attest
 * --new-bundle-format`): the registry's referrers API, else the fallback tag `sha256-<hex>` that
 * go-containerregistry writes where there is none (an index of the referring manifests). Each is a
 * manifest of one layer, the bundle's JSON.
 */
export async function referrerBundles(client: RegistryClient, repository: string, digest: Digest): Promise<{ annotations: Record<string, string>; blob: Buffer }[]> {
  // A registry without the API answers 404 (or refuses the path otherwise): then the fallback tag, as go-containerregistry does.
  const answer = await client
    .request('GET', `/v2/${repository}/referrers/${digest}`, { expect: [200, 400, 404, 405], headers: { accept: MediaType.ociIndex }, what: `listing the referrers of ${digest}` })
    .catch((error: unknown) => {
      if (error instanceof RegistryError && error.status !== undefined) return null;
      throw error;
    });
  let index: { manifests?: Descriptor[] } | null = null;
  if (answer !== null && answer.status === 200 && (answer.header('content-type') ?? '').startsWith(MediaType.ociIndex)) {
    index = JSON.parse(await answer.text(MAX_SIGNATURE_DOCUMENT)) as { manifests?: Descriptor[] };
  } else {
    answer?.discard();
    const tag = `sha256-${digestHex(digest)}`;
    if ((await client.tagDigest(repository, tag)) !== null) index = JSON.parse((await client.getManifest(repository, tag, MAX_SIGNATURE_DOCUMENT)).bytes.toString('utf8')) as { manifests?: Descriptor[] };
  }
  const bundles: { annotations: Record<string, string>; blob: Buffer }[] = [];
  for (const entry of Array.isArray(index?.manifests) ? index.manifests : []) {
    if (entry.mediaType !== MediaType.ociManifest || entry.size > MAX_SIGNATURE_DOCUMENT) continue;
    const manifest = JSON.parse((await client.getManifest(repository, entry.digest, MAX_SIGNATURE_DOCUMENT)).bytes.toString('utf8')) as StoredManifest & { annotations?: Record<string, string> };
    const layer = Array.isArray(manifest.layers) && manifest.layers.length === 1 ? manifest.layers[0]! : null;
    if (!layer || !layer.mediaType.startsWith(SIGSTORE_BUNDLE_TYPE_PREFIX) || layer.size > MAX_SIGNATURE_DOCUMENT) continue;
    bundles.push({ annotations: manifest.annotations ?? {}, blob: await client.getBlob(repository, layer.digest, MAX_SIGNATURE_DOCUMENT) });
  }
  return bundles;
}
