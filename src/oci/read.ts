/**
 * Readers: turn an image input into single-arch images whose blobs sit in a local store.
 *
 * Tar inputs (docker save, legacy or Docker >= 25; dockerTools' tarball or stream; OCI layout tarballs)
 * are read in one streaming pass whatever the order of their entries: layers go straight into the store
 * (hashed, decompressed and hashed, compressed), small JSON entries are kept in memory, and the
 * `manifest.json` or `index.json` found along the way decides at the end which is which, checking every
 * digest and diff_id. OCI layout directories are read in place.
 */
import path from 'node:path';
import { readFile, rm } from 'node:fs/promises';
import { UserError } from '../util/errors.js';
import { isDigest, sha256, type Digest } from './digest.js';
import { blobPath, readArchiveEntries } from './archive.js';
import { buildManifest, checkConfig, MAX_DOCUMENT_BYTES, parseJson } from './image.js';
import { processLayer, targetCompression, type LayerPolicy, type ProcessedLayer } from './layer.js';
import { isIndexType, isManifestType, layerCompression, MediaType, ociLayerType, type Compression } from './media-types.js';
import type { BlobStore } from './store.js';
import type { TarEntry } from './tar.js';
import { Annotation, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from './types.js';

/** A single-arch image read from an input, before its arch is decided. */
export interface ReadImage {
  names: string[];
  manifest: ImageManifest;
  manifestBytes: Buffer;
  manifestDigest: Digest;
  config: ImageConfig;
  configBytes: Buffer;
  store: BlobStore;
  /** The manifest as the input lists it (for docker-archives: the one built for it). */
  origin: Descriptor;
}

/** How a walk over an OCI index reaches documents and layers. */
interface BlobAccess {
  document(digest: Digest, what: string): Promise<Buffer>;
  /** The layer as the image will list it, and its diff_id when it was read (undefined when trusted as is). */
  layer(descriptor: Descriptor, what: string): Promise<{ descriptor: Descriptor; diffId?: Digest }>;
}

const MAX_INDEX_DEPTH = 4;

export function checkDiffIds(config: ImageConfig, diffIds: (Digest | undefined)[], what: string, layerNames: string[]): void {
  const listed = config.rootfs.diff_ids;
  if (listed.length !== diffIds.length) {
    throw new UserError(`${what}: the config lists ${listed.length} layers (rootfs.diff_ids) but the manifest has ${diffIds.length}`);
  }
  diffIds.forEach((diffId, i) => {
    if (diffId !== undefined && diffId !== listed[i]) {
      throw new UserError(`${what}: layer ${i + 1} (${layerNames[i]}) has diff_id ${diffId}, but the config says ${listed[i]}: the image is damaged or was altered`);
    }
  });
}

/** Walks an OCI index (index.json or a nested index), yielding its image manifests. */
async function walkIndex(indexBytes: Buffer, access: BlobAccess, what: string, store: BlobStore, depth = 0): Promise<ReadImage[]> {
  const index = parseJson<ImageIndex>(indexBytes, `${what}: index`);
  if (!index || !Array.isArray(index.manifests)) throw new UserError(`${what}: the index has no manifests list`);
  const images: ReadImage[] = [];
  for (const descriptor of index.manifests) {
    if (!isDigest(descriptor.digest)) throw new UserError(`${what}: the index names a manifest with an invalid digest ${JSON.stringify(descriptor.digest)}`);
    // Attestation manifests (platform unknown/unknown, as buildx writes them) are not images to run.
    if (descriptor.platform?.os === 'unknown') continue;
    if (isIndexType(descriptor.mediaType)) {
      if (depth >= MAX_INDEX_DEPTH) throw new UserError(`${what}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
      images.push(...(await walkIndex(await access.document(descriptor.digest, what), access, what, store, depth + 1)));
    } else if (isManifestType(descriptor.mediaType)) {
      images.push(await readManifest(descriptor, access, what, store));
    }
  }
  return images;
}

/** Reads one image manifest and its config; writes nothing (the caller stores what it keeps). */
async function readManifest(descriptor: Descriptor, access: BlobAccess, what: string, store: BlobStore): Promise<ReadImage> {
  const manifestBytes = await access.document(descriptor.digest, what);
  const manifest = parseJson<ImageManifest>(manifestBytes, `${what}: manifest ${descriptor.digest}`);
  if (!manifest?.config || !isDigest(manifest.config.digest) || !Array.isArray(manifest.layers)) {
    throw new UserError(`${what}: manifest ${descriptor.digest} has no valid config or layers`);
  }
  const configBytes = await access.document(manifest.config.digest, what);
  const config = checkConfig(parseJson(configBytes, `${what}: config ${manifest.config.digest}`), what);
  const layers = [];
  for (const layer of manifest.layers) {
    if (!isDigest(layer.digest)) throw new UserError(`${what}: a layer of manifest ${descriptor.digest} has an invalid digest`);
    layers.push(await access.layer(layer, what));
  }
  checkDiffIds(config, layers.map((l) => l.diffId), what, manifest.layers.map((l) => l.digest));
  const refName = descriptor.annotations?.[Annotation.refName];
  const names = refName ? [refName] : [];
  const unchanged = manifest.mediaType === MediaType.ociManifest && layers.every((l, i) => l.descriptor.digest === manifest.layers[i]!.digest);
  // Same blobs: keep the manifest as it is, so its digest stays the one the input has.
  if (unchanged) return { names, manifest, manifestBytes, manifestDigest: descriptor.digest, config, configBytes, store, origin: descriptor };
  const built = buildManifest(configBytes, layers.map((l) => l.descriptor));
  return { names, manifest: built.manifest, manifestBytes: built.bytes, manifestDigest: built.digest, config, configBytes, store, origin: descriptor };
}

/** Stores an image's config and manifest (no-ops for blobs the store has); answers the new ones. */
async function storeDocuments(image: ReadImage): Promise<Digest[]> {
  const created: Digest[] = [];
  for (const bytes of [image.configBytes, image.manifestBytes]) {
    const digest = sha256(bytes);
    if (!(await image.store.has(digest))) created.push(digest);
    await image.store.putBytes(bytes);
  }
  return created;
}

/**
 * Reads the entries of a tar (readTar of a stream, or readTarFile) holding a docker-archive or an OCI
 * layout. Blobs it creates in `store` are removed again when the archive turns out to be bad.
 */
export async function readImageArchive(
  entries: AsyncIterable<TarEntry>,
  what: string,
  policy: LayerPolicy,
  store: BlobStore,
  options: {
    /** Told of each layer as soon as it is in the store. */
    onLayer?: ((descriptor: Descriptor) => void) | undefined;
    /** How many gzip blocks may be deflated at once (see GzipBlocks). */
    deflateThreads?: number | undefined;
  } = {},
): Promise<ReadImage[]> {
  const created: Digest[] = [];
  const storeLayer = async (body: AsyncIterable<Buffer>, where: string): Promise<ProcessedLayer> => {
    const layer = await processLayer(body, policy, store, where, options.deflateThreads);
    if (layer.created) created.push(layer.descriptor.digest);
    options.onLayer?.(layer.descriptor);
    return layer;
  };
  try {
    const archive = await readArchiveEntries(entries, what, {
      read: storeLayer,
      digestOf: (layer) => layer.rawDigest,
      // processLayer uses each chunk up before asking for the next.
      transient: true,
    });
    const { documents, documentAt } = archive;
    const layerAt = async (entryPath: string, purpose: string) => (await archive.layerAt(entryPath, purpose)).layer;

    const images: ReadImage[] = [];
    if (documents.has('manifest.json')) {
      for (const { names, configBytes, config, layerPaths } of archive.dockerImages()) {
        const processed = [];
        for (const layerPath of layerPaths) processed.push(await layerAt(layerPath, 'manifest.json names the layer'));
        checkDiffIds(config, processed.map((l) => l.diffId), what, layerPaths);
        const built = buildManifest(configBytes, processed.map((l) => l.descriptor));
        const origin = { mediaType: MediaType.ociManifest, digest: built.digest, size: built.bytes.length };
        images.push({ names, manifest: built.manifest, manifestBytes: built.bytes, manifestDigest: built.digest, config, configBytes, store, origin });
      }
    } else if (documents.has('index.json')) {
      const access: BlobAccess = {
        document: async (digest) => documentAt(blobPath(digest), `blob ${digest}, named by the index,`),
        layer: async (descriptor) => {
          const layer = await layerAt(blobPath(descriptor.digest), 'the layer');
          if (layer.rawSize !== descriptor.size) throw new UserError(`${what}: layer ${descriptor.digest} is ${layer.rawSize} bytes, the manifest says ${descriptor.size}`);
          return { descriptor: layer.descriptor, diffId: layer.diffId };
        },
      };
      images.push(...(await walkIndex(documents.get('index.json')!, access, what, store)));
    } else {
      throw new UserError(`${what} holds neither manifest.json (docker-archive) nor index.json (OCI layout): it is not an image archive`);
    }
    if (images.length === 0) throw new UserError(`${what} holds no image`);
    for (const image of images) created.push(...(await storeDocuments(image)));
    return images;
  } catch (error) {
    await Promise.all(created.map((digest) => rm(store.path(digest), { force: true })));
    throw error;
  }
}

/**
 * Reads an OCI layout directory in place. Layers are trusted as they are (a registry or engine checks them
 * when they arrive). An image whose layers the policy wants in another compression, or whose manifest is
 * not an OCI one, is converted into `cache`, and then lives there whole.
 */
export async function readLayoutDirectory(layout: BlobStore, what: string, policy: LayerPolicy, cache: BlobStore): Promise<ReadImage[]> {
  let indexBytes: Buffer;
  try {
    indexBytes = await readFile(path.join(layout.dir, 'index.json'));
  } catch {
    throw new UserError(`${what} is not an OCI layout: it has no index.json`);
  }
  const compressionOf = (descriptor: Descriptor, where: string): Compression => {
    const compression = layerCompression(descriptor.mediaType);
    if (compression === undefined) throw new UserError(`${where}: layer ${descriptor.digest} has media type ${descriptor.mediaType}, which addonix cannot push as an image layer`);
    return compression;
  };
  const inPlace: BlobAccess = {
    document: (digest, where) => layout.readVerified(digest, MAX_DOCUMENT_BYTES, where),
    layer: async (descriptor, where) => {
      compressionOf(descriptor, where);
      if (!(await layout.has(descriptor.digest, descriptor.size))) throw new UserError(`${where}: layer ${descriptor.digest} is missing or has the wrong size`);
      return { descriptor };
    },
  };
  const convert: BlobAccess = {
    document: inPlace.document,
    layer: async (descriptor, where) => {
      const compression = compressionOf(descriptor, where);
      if (targetCompression(compression, policy) === compression) {
        await cache.adopt(layout, descriptor.digest);
        return { descriptor: { ...descriptor, mediaType: ociLayerType(compression) } };
      }
      const layer = await processLayer(layout.open(descriptor.digest), policy, cache, `${where}: layer ${descriptor.digest}`);
      if (layer.rawDigest !== descriptor.digest) throw new UserError(`${where}: layer ${descriptor.digest} does not match its digest`);
      return { descriptor: layer.descriptor, diffId: layer.diffId };
    },
  };
  const images: ReadImage[] = [];
  for (const image of await walkIndex(indexBytes, inPlace, what, layout)) {
    const kept = image.manifestDigest === image.origin.digest;
    if (kept && !image.manifest.layers.some((layer) => targetCompression(compressionOf(layer, what), policy) !== compressionOf(layer, what))) {
      images.push(image);
      continue;
    }
    const converted = await readManifest(image.origin, convert, what, cache);
    await storeDocuments(converted);
    images.push(converted);
  }
  return images;
}
