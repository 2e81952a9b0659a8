/**
 * The one walk of an image index, for every source that has one (an OCI layout, folder or tarball; a
 * registry; Docker >= 25 archives): nested indexes followed; each entry fetched, checked against its
 * digest (by the source's `fetch`) and its size, and told apart as an image (a manifest whose config is
 * an image config) or an artifact (an attestation, as buildx writes them with platform unknown/unknown;
 * a manifest with an artifactType or a config of another type), which is carried as it is and never
 * taken for an arch. An index naming one manifest twice, descriptors that do not match what they name
 * (size, media type), and a config descriptor of a layer's or a manifest's media type are refused.
 */
import { UserError } from '../util/errors.js';
import { isDigest, type Digest } from './digest.js';
import { checkConfig, parseJson } from './image.js';
import { isConfigType, isIndexType, isManifestType, layerCompression } from './media-types.js';
import { checkManifest } from './model.js';
import { formatPlatform } from './platform.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from './types.js';

/** Reads a document by digest, checked against it: a manifest or index, or a blob (a config). */
export type FetchDocument = (digest: Digest, kind: 'manifest' | 'blob') => Promise<Buffer>;

/** An image manifest an index names, with its config. */
export interface IndexedManifest {
  /** The entry as the index lists it (platform, annotations). */
  descriptor: Descriptor;
  bytes: Buffer;
  manifest: ImageManifest;
  configBytes: Buffer;
  config: ImageConfig;
}

/** An artifact an index names: its manifest as it is, and the blobs it names (config and layers). */
export interface IndexedArtifact {
  descriptor: Descriptor;
  bytes: Buffer;
  blobs: Descriptor[];
}

export interface IndexContents {
  images: IndexedManifest[];
  artifacts: IndexedArtifact[];
}

const MAX_INDEX_DEPTH = 4;
/** The annotation buildx puts on attestation manifests (with platform unknown/unknown). */
const REFERENCE_TYPE = 'vnd.docker.reference.type';

/** A descriptor's fields addonix relies on, or a UserError naming what is wrong. */
export function checkDescriptor(descriptor: Partial<Descriptor> | null | undefined, what: string): Descriptor {
  if (!descriptor || typeof descriptor !== 'object') throw new UserError('image-invalid', `${what} is not a descriptor`);
  if (!isDigest(descriptor.digest)) throw new UserError('image-invalid', `${what} has an invalid digest ${JSON.stringify(descriptor.digest)}`);
  if (!Number.isSafeInteger(descriptor.size) || descriptor.size! < 0) throw new UserError('image-invalid', `${what} (${descriptor.digest}) has an invalid size ${JSON.stringify(descriptor.size)}`);
  if (typeof descriptor.mediaType !== 'string' || descriptor.mediaType === '') throw new UserError('image-invalid', `${what} (${descriptor.digest}) has no media type`);
  return descriptor as Descriptor;
}

/** Whether an index entry is an attestation rather than an image (buildx: platform unknown/unknown, a reference type). */
function isAttestation(descriptor: Descriptor): boolean {
  return descriptor.platform?.os === 'unknown' || descriptor.annotations?.[REFERENCE_TYPE] !== undefined;
}

/** One document an index names, fetched and checked: an image or an artifact. */
export async function readEntry(descriptor: Descriptor, fetch: FetchDocument, what: string, given?: Buffer): Promise<({ kind: 'image' } & IndexedManifest) | ({ kind: 'artifact' } & IndexedArtifact)> {
  const bytes = given ?? (await fetch(descriptor.digest, 'manifest'));
  if (bytes.length !== descriptor.size) {
    throw new UserError('image-invalid', `${what}: ${descriptor.digest} is ${bytes.length} bytes, but its descriptor says ${descriptor.size}`);
  }
  const document = parseJson<Partial<ImageManifest> | null>(bytes, `${what}: manifest ${descriptor.digest}`);
  const declared = document && typeof document === 'object' ? document.mediaType : undefined;
  if (declared !== undefined && declared !== descriptor.mediaType) {
    throw new UserError('image-invalid', `${what}: ${descriptor.digest} says it is a ${declared}, but its descriptor says ${descriptor.mediaType}`);
  }
  const manifest = checkManifest(document, `${what}: manifest ${descriptor.digest}`);
  const config = checkDescriptor(manifest.config, `${what}: the config of ${descriptor.digest}`);
  if (layerCompression(config.mediaType) !== undefined || isManifestType(config.mediaType) || isIndexType(config.mediaType)) {
    throw new UserError('image-invalid', `${what}: the config of ${descriptor.digest} has the media type ${config.mediaType}, which is no config`);
  }
  manifest.layers.forEach((layer, i) => checkDescriptor(layer, `${what}: layer ${i + 1} of ${descriptor.digest}`));
  if (isAttestation(descriptor) || descriptor.artifactType !== undefined || manifest.artifactType !== undefined || !isConfigType(config.mediaType)) {
    return { kind: 'artifact', descriptor, bytes, blobs: [config, ...manifest.layers] };
  }
  manifest.layers.forEach((layer, i) => {
    if (layerCompression(layer.mediaType) === undefined) throw new UserError('image-invalid', `${what}: layer ${i + 1} (${layer.digest}) of ${descriptor.digest} has media type ${layer.mediaType}, which is not an image layer`);
  });
  const configBytes = await fetch(config.digest, 'blob');
  if (configBytes.length !== config.size) throw new UserError('image-invalid', `${what}: the config ${config.digest} is ${configBytes.length} bytes, but the manifest says ${config.size}`);
  const parsed = checkConfig(parseJson(configBytes, `${what}: config ${config.digest}`), what);
  return { kind: 'image', descriptor, bytes, manifest: { ...manifest, mediaType: manifest.mediaType ?? descriptor.mediaType }, configBytes, config: parsed };
}

/** Reads the image manifest an entry names (fetched, or given when the caller has it) and its config. */
export async function readManifestAt(descriptor: Descriptor, fetch: FetchDocument, what: string, bytes?: Buffer): Promise<IndexedManifest> {
  const entry = await readEntry(descriptor, fetch, what, bytes);
  if (entry.kind === 'artifact') throw new UserError('image-unsupported', `${what}: ${descriptor.digest} is an artifact (${descriptor.artifactType ?? entry.blobs[0]!.mediaType}), not an image`);
  const { kind: _kind, ...image } = entry;
  return image;
}

/** Every image and artifact of an index, read and checked (see the module comment). */
export async function walkIndex(indexBytes: Buffer, fetch: FetchDocument, what: string): Promise<IndexContents> {
  const found: IndexContents = { images: [], artifacts: [] };
  const seen = new Set<Digest>();
  const platforms = new Map<string, Digest>();
  const walk = async (bytes: Buffer, depth: number) => {
    const index = parseJson<ImageIndex>(bytes, `${what}: index`);
    if (!index || typeof index !== 'object' || !Array.isArray(index.manifests)) throw new UserError('image-invalid', `${what}: the index has no manifests list`);
    for (const [i, entry] of index.manifests.entries()) {
      const descriptor = checkDescriptor(entry, `${what}: entry ${i + 1} of the index`);
      if (seen.has(descriptor.digest)) throw new UserError('image-invalid', `${what}: the index names ${descriptor.digest} twice; which entry is meant is ambiguous`);
      seen.add(descriptor.digest);
      if (isIndexType(descriptor.mediaType)) {
        if (depth >= MAX_INDEX_DEPTH) throw new UserError('image-invalid', `${what}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
        const nested = await fetch(descriptor.digest, 'manifest');
        if (nested.length !== descriptor.size) throw new UserError('image-invalid', `${what}: ${descriptor.digest} is ${nested.length} bytes, but its descriptor says ${descriptor.size}`);
        await walk(nested, depth + 1);
        continue;
      }
      if (!isManifestType(descriptor.mediaType)) throw new UserError('image-invalid', `${what}: the index names ${descriptor.digest} of media type ${descriptor.mediaType}, which is neither a manifest nor an index`);
      const read = await readEntry(descriptor, fetch, what);
      if (read.kind === 'artifact') {
        const { kind: _kind, ...artifact } = read;
        found.artifacts.push(artifact);
        continue;
      }
      const { kind: _kind, ...image } = read;
      if (descriptor.platform) {
        const platform = formatPlatform(descriptor.platform);
        const other = platforms.get(platform);
        if (other) throw new UserError('image-invalid', `${what}: the index lists two images for ${platform} (${other} and ${descriptor.digest}); which one is meant is ambiguous`);
        platforms.set(platform, descriptor.digest);
      }
      found.images.push(image);
    }
  };
  await walk(indexBytes, 0);
  return found;
}

/** The entries of an index that may be images (platform matching, without reading them): attestations left out. */
export async function imageEntries(indexBytes: Buffer, fetch: FetchDocument, what: string, depth = 0): Promise<Descriptor[]> {
  const index = parseJson<ImageIndex>(indexBytes, `${what}: index`);
  if (!index || typeof index !== 'object' || !Array.isArray(index.manifests)) throw new UserError('image-invalid', `${what}: the index has no manifests list`);
  const found: Descriptor[] = [];
  for (const [i, entry] of index.manifests.entries()) {
    const descriptor = checkDescriptor(entry, `${what}: entry ${i + 1} of the index`);
    if (isAttestation(descriptor) || descriptor.artifactType !== undefined) continue;
    if (isIndexType(descriptor.mediaType)) {
      if (depth >= MAX_INDEX_DEPTH) throw new UserError('image-invalid', `${what}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
      found.push(...(await imageEntries(await fetch(descriptor.digest, 'manifest'), fetch, what, depth + 1)));
    } else if (isManifestType(descriptor.mediaType)) {
      found.push(descriptor);
    }
  }
  return found;
}
