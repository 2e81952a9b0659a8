/** A single-arch image whose blobs are in a local store: what readers produce and pushers consume. */
import type { BuildArch } from '../addon/arch.js';
import { UserError } from '../util/errors.js';
import { isDigest, sha256, type Digest } from './digest.js';
import { MediaType } from './media-types.js';
import { archOfConfig, platformOf } from './platform.js';
import type { BlobStore } from './store.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from './types.js';
import type { ImportedImage } from './import.js';

/** Manifests, configs and indexes are small; anything bigger is refused rather than read into memory. */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

export interface LocalImage {
  arch: BuildArch;
  /** The platform the index gives it: os and architecture from the config, variant from the arch table. */
  platform: Platform;
  /** Where it came from, for messages. */
  source: string;
  /** Names the input gave it (docker-archive RepoTags, layout ref.name). */
  names: string[];
  /** Where its manifest, config and (unless layerStores says otherwise) layers are. */
  store: BlobStore;
  /** Layers kept in another store (a layout's, read in place) by digest. */
  layerStores?: Map<Digest, BlobStore>;
  manifest: ImageManifest;
  manifestBytes: Buffer;
  manifestDigest: Digest;
  config: ImageConfig;
  configBytes: Buffer;
}

/** The canonical bytes addonix writes for a JSON document: compact, keys in the order built. */
export function documentBytes(document: object): Buffer {
  return Buffer.from(JSON.stringify(document), 'utf8');
}

export function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (error) {
    throw new UserError('image-invalid', `${what} is not valid JSON (${(error as Error).message})`);
  }
}

/** Checks the parts of an image config addonix relies on. */
export function checkConfig(config: unknown, what: string): ImageConfig {
  const c = config as Partial<ImageConfig> | null;
  if (!c || typeof c !== 'object') throw new UserError('image-invalid', `${what}: the image config is not a JSON object`);
  if (typeof c.architecture !== 'string' || typeof c.os !== 'string') throw new UserError('image-invalid', `${what}: the image config has no architecture or os`);
  const diffIds = c.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || !diffIds.every(isDigest)) throw new UserError('image-invalid', `${what}: the image config has no valid rootfs.diff_ids`);
  return c as ImageConfig;
}

/** An OCI manifest for a config and layers already in a store. */
export function buildManifest(configBytes: Buffer, layers: Descriptor[]): { manifest: ImageManifest; bytes: Buffer; digest: Digest } {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: sha256(configBytes), size: configBytes.length },
    layers,
  };
  const bytes = documentBytes(manifest);
  return { manifest, bytes, digest: sha256(bytes) };
}

/** The platform for an image: what its config says, plus the variant of its arch when the config has none. */
export function imagePlatform(config: ImageConfig, arch: BuildArch): Platform {
  const variant = config.variant ?? platformOf(arch).variant;
  return { architecture: config.architecture, os: config.os, ...(variant ? { variant } : {}) };
}

/** Decides the arch (a name given on the command line wins over what the config says). */
export function resolveArch(config: ImageConfig, given: BuildArch | undefined, where: string): BuildArch {
  if (!given) return archOfConfig(config, where);
  const expected = platformOf(given).architecture;
  if (config.architecture !== expected) {
    throw new UserError('usage', `${where} was named ${given}, but its config says architecture '${config.architecture}' (${given} is '${expected}')`);
  }
  return given;
}

/** Lists what a push of these images needs: config and layers, each once. */
export function imageBlobs(image: LocalImage): Descriptor[] {
  return [image.manifest.config, ...image.manifest.layers];
}

/** The store holding one blob of an image. */
export function storeOf(image: LocalImage, digest: Digest): BlobStore {
  return image.layerStores?.get(digest) ?? image.store;
}

/** An imported image with its arch decided (a name given on the command line wins over its config). */
export function localImage(image: ImportedImage, given: LocalImage['arch'] | undefined): LocalImage {
  const arch = resolveArch(image.config, given, image.source);
  return {
    arch,
    platform: imagePlatform(image.config, arch),
    source: image.source,
    names: image.names,
    store: image.store,
    ...(image.layerStores ? { layerStores: image.layerStores } : {}),
    manifest: image.manifest,
    manifestBytes: image.manifestBytes,
    manifestDigest: image.manifestDigest,
    config: image.config,
    configBytes: image.configBytes,
  };
}
