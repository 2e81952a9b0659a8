/**
 * The one walk of an image index, for every source that has one (an OCI layout, folder or tarball; a
 * registry; Docker >= 25 archives): the image manifests it names, nested indexes followed, attestation
 * entries (platform unknown/unknown, as buildx writes them) skipped; each manifest and its config
 * fetched and checked against its digest by the source's `fetch`.
 */
import { UserError } from '../util/errors.js';
import { isDigest, type Digest } from './digest.js';
import { checkConfig, parseJson } from './image.js';
import { isIndexType, isManifestType } from './media-types.js';
import { checkManifest } from './model.js';
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

const MAX_INDEX_DEPTH = 4;

/** The entries of an index that are image manifests, nested indexes followed, attestations skipped. */
export async function indexEntries(indexBytes: Buffer, fetch: FetchDocument, what: string, depth = 0): Promise<Descriptor[]> {
  const index = parseJson<ImageIndex>(indexBytes, `${what}: index`);
  if (!index || typeof index !== 'object' || !Array.isArray(index.manifests)) throw new UserError('image-invalid', `${what}: the index has no manifests list`);
  const found: Descriptor[] = [];
  for (const descriptor of index.manifests) {
    if (!isDigest(descriptor?.digest)) throw new UserError('image-invalid', `${what}: the index names a manifest with an invalid digest ${JSON.stringify(descriptor?.digest)}`);
    if (descriptor.platform?.os === 'unknown') continue;
    if (isIndexType(descriptor.mediaType)) {
      if (depth >= MAX_INDEX_DEPTH) throw new UserError('image-invalid', `${what}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
      found.push(...(await indexEntries(await fetch(descriptor.digest, 'manifest'), fetch, what, depth + 1)));
    } else if (isManifestType(descriptor.mediaType)) {
      found.push(descriptor);
    }
  }
  return found;
}

/** Reads the manifest an entry names (fetched, or given when the caller has it) and its config. */
export async function readManifestAt(descriptor: Descriptor, fetch: FetchDocument, what: string, bytes?: Buffer): Promise<IndexedManifest> {
  const manifestBytes = bytes ?? (await fetch(descriptor.digest, 'manifest'));
  const manifest = checkManifest(parseJson(manifestBytes, `${what}: manifest ${descriptor.digest}`), `${what}: manifest ${descriptor.digest}`);
  const configBytes = await fetch(manifest.config.digest, 'blob');
  const config = checkConfig(parseJson(configBytes, `${what}: config ${manifest.config.digest}`), what);
  return { descriptor, bytes: manifestBytes, manifest: { ...manifest, mediaType: manifest.mediaType ?? descriptor.mediaType }, configBytes, config };
}

/** Every image manifest of an index, read with its config. */
export async function walkIndex(indexBytes: Buffer, fetch: FetchDocument, what: string): Promise<IndexedManifest[]> {
  const found: IndexedManifest[] = [];
  for (const descriptor of await indexEntries(indexBytes, fetch, what)) found.push(await readManifestAt(descriptor, fetch, what));
  return found;
}
