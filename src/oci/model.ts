/**
 * The one image model: every kind of input (a docker-archive as a tar, a tar.gz or a stream script; an OCI
 * layout folder or tarball; a registry; addonix's cache) is an ImageSource, which offers its images with
 * their documents (manifest, config) and hands their layers to a LayerConsumer. Two consumers exist:
 * the importer (import.ts: push, load, assemble, inspect-image), which stores layers in the cache, and the
 * scanner (scan.ts: diff, verify), which lists their files. Whatever the source, what a consumer read of
 * a layer is checked here against what the manifest and the config say of it, so every command refuses
 * the same images. (The shape follows go-containerregistry's v1 Image/Layer with one package per source.)
 */
import { UserError } from '../util/errors.js';
import { isDigest, type Digest } from './digest.js';
import { archOfConfig } from './platform.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from './types.js';
import type { BuildArch } from '../addon/arch.js';
import { resolveArch } from './image.js';

/** One layer as a source offers it, before its bytes are read. */
export interface LayerHandle {
  /** For messages: the input and where the layer is in it. */
  where: string;
  /** The archive entry holding it (archives only), to read it again later. */
  entry?: string;
  /** The layer as a manifest lists it (blob sources: layout, registry, cache); the consumer must make it true. */
  descriptor?: Descriptor;
  /**
   * A digest the layer's name in an archive claims, unverified: `blobs/sha256/<hex>` names the stored
   * digest, `<hex>/layer.tar` the diff_id when nixpkgs' streamLayeredImage wrote it (docker save writes
   * other ids there). Lets an importer know a layer before reading it.
   */
  claimed?: Digest;
  /** The diff_id the image's config gives the layer (blob sources, whose documents come first); unverified. */
  diffId?: Digest;
  /** The stored bytes: for a one-pass source once, while the consumer handles the layer; else any time. */
  open(): AsyncIterable<Buffer>;
  /**
   * Where the stored bytes lie in a plain file (a layer inside an uncompressed archive), for a consumer
   * that reads them from there instead of through `open` (which it then leaves unread).
   */
  range?: { file: string; offset: number; size: number };
  /** The chunks are views of a buffer the source reuses once the next is asked for. */
  transient: boolean;
}

/** What a consumer learnt of a layer; left out when it did not read the layer (checked by what is given). */
export interface LayerFacts {
  digest?: Digest | undefined;
  size?: number | undefined;
  diffId?: Digest | undefined;
}

export interface LayerConsumer<L extends LayerFacts> {
  /** Reads (or recognizes) one layer. A one-pass source waits for this before it reads on. */
  layer(handle: LayerHandle): Promise<L>;
}

/** A manifest as the source stores it. */
export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
  document: ImageManifest;
}

/** One single-arch image of a source. */
export interface SourceImage<L extends LayerFacts> {
  /** The input as the user named it. */
  source: string;
  /** Names the input gives it (docker-archive RepoTags, layout ref.name). */
  names: string[];
  /** The manifest as the source holds it; null for docker-archives, which have none. */
  manifest: StoredManifest | null;
  /** The platform an index entry gives it. */
  indexPlatform: Platform | undefined;
  configBytes: Buffer;
  configDigest: Digest;
  config: ImageConfig;
  layerCount: number;
  /** Reads the layers (once; later calls answer the same), checked against the manifest and the config. */
  layers(): Promise<L[]>;
  /** The stored bytes of layer `index` (0-based) again, to take files out of it. */
  openLayer(index: number): AsyncIterable<Buffer>;
  /** The archive entry of each layer (archives only). */
  layerEntries?: string[];
}

/**
 * An artifact an index holds beside its images (an attestation, a signature, an SBOM): carried through
 * as it is, its manifest and blobs unchanged, never read as an image.
 */
export interface SourceArtifact {
  /** The entry as the index lists it (platform, annotations, artifactType). */
  descriptor: Descriptor;
  /** Its manifest's bytes. */
  bytes: Buffer;
  /** The blobs its manifest names (config and layers). */
  blobs: Descriptor[];
  /** A blob's bytes, checked against its digest by whoever reads them. */
  openBlob(descriptor: Descriptor): AsyncIterable<Buffer>;
}

/** What a source holds: its images, and the artifacts beside them. */
export interface SourceContents<L extends LayerFacts> {
  images: SourceImage<L>[];
  artifacts: SourceArtifact[];
}

export interface ImageSource {
  /** The input as the user named it. */
  readonly name: string;
  /**
   * The images (and artifacts). A one-pass source (an archive) reads itself whole to answer, handing
   * every layer to the consumer on the way; the others read documents only, and layers when `layers()`
   * is called.
   */
  open<L extends LayerFacts>(consumer: LayerConsumer<L>): Promise<SourceContents<L>>;
}

/** Checks layers read against the manifest (digests, sizes) and the config (diff_ids, count). */
export function checkLayers(image: Pick<SourceImage<LayerFacts>, 'source' | 'manifest' | 'config'>, layers: LayerFacts[], names: string[]): void {
  const what = image.source;
  const listed = image.manifest?.document.layers;
  layers.forEach((layer, i) => {
    const descriptor = listed?.[i];
    if (descriptor && layer.digest !== undefined && layer.digest !== descriptor.digest) {
      throw new UserError('image-invalid', `${what}: layer ${i + 1} hashes to ${layer.digest}, but the manifest says ${descriptor.digest}`);
    }
    if (descriptor && layer.size !== undefined && layer.size !== descriptor.size) {
      throw new UserError('image-invalid', `${what}: layer ${descriptor.digest} is ${layer.size} bytes, the manifest says ${descriptor.size}`);
    }
  });
  const diffIds = image.config.rootfs.diff_ids;
  if (diffIds.length !== layers.length) {
    throw new UserError('image-invalid', `${what}: the config lists ${diffIds.length} layers (rootfs.diff_ids) but the ${image.manifest ? 'manifest' : 'archive'} has ${layers.length}`);
  }
  layers.forEach((layer, i) => {
    if (layer.diffId !== undefined && layer.diffId !== diffIds[i]) {
      throw new UserError('image-invalid', `${what}: layer ${i + 1} (${names[i]}) has diff_id ${layer.diffId}, but the config says ${diffIds[i]}: the image is damaged or was altered`);
    }
  });
}

/** Checks the parts of a manifest addonix relies on. */
export function checkManifest(manifest: unknown, what: string): ImageManifest {
  const m = manifest as Partial<ImageManifest> | null;
  if (!m || typeof m !== 'object' || !m.config || !isDigest(m.config.digest) || !Array.isArray(m.layers) || !m.layers.every((l) => isDigest(l?.digest) && Number.isSafeInteger(l.size) && l.size >= 0)) {
    throw new UserError('image-invalid', `${what} has no valid config or layers`);
  }
  return m as ImageManifest;
}

/** The Home Assistant arch of an image: the one named on the command line (checked), else its config's, else null. */
export function archOf(config: ImageConfig, given: BuildArch | undefined, what: string): BuildArch | null {
  if (given) return resolveArch(config, given, what);
  try {
    return archOfConfig(config, what);
  } catch {
    return null;
  }
}

/** A platform from a config: os, architecture, variant. */
export function platformOfConfig(config: ImageConfig): Platform {
  return { architecture: config.architecture, os: config.os, ...(config.variant ? { variant: config.variant } : {}) };
}

/** Layers of a blob source read at once (see blobImage). */
const LAYERS_AT_ONCE = 2;

/**
 * An image whose layers are blobs read on demand (a layout folder, a registry, addonix's cache): its
 * documents now, its layers handed to the consumer when `layers()` is first called.
 */
export function blobImage<L extends LayerFacts>(
  entry: { descriptor: Descriptor; bytes: Buffer; manifest: ImageManifest; configBytes: Buffer; config: ImageConfig },
  source: string,
  names: string[],
  consumer: LayerConsumer<L>,
  openBlob: (descriptor: Descriptor) => AsyncIterable<Buffer>,
): SourceImage<L> {
  let read: Promise<L[]> | undefined;
  const image: SourceImage<L> = {
    source,
    names,
    manifest: { digest: entry.descriptor.digest, mediaType: entry.manifest.mediaType, bytes: entry.bytes, document: entry.manifest },
    indexPlatform: entry.descriptor.platform,
    configBytes: entry.configBytes,
    configDigest: entry.manifest.config.digest,
    config: entry.config,
    layerCount: entry.manifest.layers.length,
    layers: () =>
      (read ??= (async () => {
        // Two layers at a time: each is decompressed on a thread of zlib's while it is hashed and read
        // as tar here, and one layer alone leaves both waiting on each other.
        const descriptors = entry.manifest.layers;
        const layers: L[] = new Array(descriptors.length);
        let next = 0;
        let failed = false;
        const reader = async () => {
          while (next < descriptors.length && !failed) {
            const i = next++;
            const descriptor = descriptors[i]!;
            const diffId = entry.config.rootfs.diff_ids[i];
            try {
              layers[i] = await consumer.layer({ where: `${source}: layer ${i + 1} (${descriptor.digest})`, descriptor, ...(diffId ? { diffId } : {}), open: () => openBlob(descriptor), transient: false });
            } catch (error) {
              failed = true;
              throw error;
            }
          }
        };
        const readers = await Promise.allSettled(Array.from({ length: Math.min(LAYERS_AT_ONCE, descriptors.length) }, reader));
        const failure = readers.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failure) throw failure.reason;
        checkLayers(image, layers, descriptors.map((l) => l.digest));
        return layers;
      })()),
    openLayer: (index) => openBlob(entry.manifest.layers[index]!),
  };
  return image;
}
