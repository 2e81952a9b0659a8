/**
 * The documents of the OCI image-spec v1.1 (descriptor, manifest, index, config, layout) and the Docker
 * equivalents addonix reads. Written from the spec; the tests validate what addonix writes against the
 * official JSON Schemas.
 */
import type { Digest } from './digest.js';

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

/** OCI image manifest; a Docker schema 2 manifest has the same shape with Docker media types. */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** OCI image index; a Docker manifest list has the same shape with Docker media types. */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** The image configuration (application/vnd.oci.image.config.v1+json); Docker's is a superset. */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: {
    User?: string;
    ExposedPorts?: Record<string, object>;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Volumes?: Record<string, object>;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
  };
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: { created?: string; created_by?: string; author?: string; comment?: string; empty_layer?: boolean }[];
}

/** The `oci-layout` file of an image layout. */
export interface ImageLayoutMarker {
  imageLayoutVersion: '1.0.0';
}

/** One entry of a docker-archive's `manifest.json` (docker save, dockerTools). */
export interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
  LayerSources?: Record<string, Descriptor>;
}

/** Annotation keys of the image-spec that addonix writes. */
export const Annotation = {
  version: 'org.opencontainers.image.version',
  created: 'org.opencontainers.image.created',
  source: 'org.opencontainers.image.source',
  revision: 'org.opencontainers.image.revision',
  refName: 'org.opencontainers.image.ref.name',
  /** addonix's record of the compressor and its settings, on each layer it compressed. */
  compressor: 'io.addonix.layer.compressor',
} as const;
