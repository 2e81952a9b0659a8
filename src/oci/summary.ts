/** What `addonix inspect-image` shows of an image, local or in a registry: the same shape for both. */
import type { Digest } from './digest.js';
import { archOfConfig } from './platform.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from './types.js';

export interface LayerSummary {
  digest: Digest;
  size: number;
  mediaType: string;
  diffId: Digest | null;
}

export interface ImageSummary {
  platform: Platform;
  /** The Home Assistant arch, or null for a platform addonix does not build. */
  arch: string | null;
  digest: Digest;
  mediaType: string;
  config: { digest: Digest; size: number };
  created: string | null;
  labels: Record<string, string>;
  layers: LayerSummary[];
  /** Sum of the layers' sizes as stored (compressed). */
  size: number;
}

/** An artifact beside the images of an index (an attestation, a signature): what the index says of it. */
export interface ArtifactSummary {
  digest: Digest;
  mediaType: string;
  size: number;
  artifactType: string | null;
  platform: Platform | null;
  annotations: Record<string, string>;
}

export interface InspectResult {
  source: string;
  kind: 'index' | 'manifest';
  digest: Digest;
  mediaType: string;
  annotations: Record<string, string>;
  images: ImageSummary[];
  artifacts: ArtifactSummary[];
}

export function summarizeArtifact(descriptor: Descriptor): ArtifactSummary {
  return {
    digest: descriptor.digest,
    mediaType: descriptor.mediaType,
    size: descriptor.size,
    artifactType: descriptor.artifactType ?? null,
    platform: descriptor.platform ?? null,
    annotations: descriptor.annotations ?? {},
  };
}

export function summarizeImage(manifest: ImageManifest, digest: Digest, config: ImageConfig, platform?: Platform): ImageSummary {
  let arch: string | null;
  try {
    arch = archOfConfig(config, digest);
  } catch {
    arch = null;
  }
  const variant = platform?.variant ?? config.variant;
  return {
    platform: platform ?? { architecture: config.architecture, os: config.os, ...(variant ? { variant } : {}) },
    arch,
    digest,
    mediaType: manifest.mediaType,
    config: { digest: manifest.config.digest, size: manifest.config.size },
    created: config.created ?? null,
    labels: config.config?.Labels ?? {},
    layers: manifest.layers.map((layer, i) => ({ digest: layer.digest, size: layer.size, mediaType: layer.mediaType, diffId: config.rootfs.diff_ids[i] ?? null })),
    size: manifest.layers.reduce((sum, layer) => sum + layer.size, 0),
  };
}
