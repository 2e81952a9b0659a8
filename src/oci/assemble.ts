/**
 * Assembly: single-arch images into one OCI image index (platform per arch, annotations from the add-on
 * and git), written as an OCI image layout or handed to a pusher as the list of blobs to send.
 */
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AddonModel } from '../addon/model.js';
import { UserError } from '../util/errors.js';
import { isDigest, sha256, type Digest } from './digest.js';
import type { CarriedArtifact } from './import.js';
import { writeDirectoryAtomic } from '../util/atomic.js';
import { documentBytes, imageBlobs, storeOf, type LocalImage } from './image.js';
import { MediaType } from './media-types.js';
import { BUILD_ARCHES } from './platform.js';
import { BlobStore } from './store.js';
import { Annotation, type Descriptor, type ImageIndex, type ImageLayoutMarker } from './types.js';

export interface AssembledIndex {
  /** The images in a fixed order (the arch table's), so the index digest does not depend on argument order. */
  images: LocalImage[];
  /** The artifacts the index carries after the images, as the inputs listed them. */
  artifacts: CarriedArtifact[];
  /** Artifacts left out: they refer to an image this index does not hold (one whose manifest changed). */
  dropped: { artifact: CarriedArtifact; refersTo: Digest }[];
  index: ImageIndex;
  bytes: Buffer;
  digest: Digest;
}

/** The image manifest an artifact is about: its manifest's subject, or buildx's reference annotation. */
function referenceOf(artifact: CarriedArtifact): Digest | undefined {
  const annotated = artifact.descriptor.annotations?.['vnd.docker.reference.digest'];
  if (isDigest(annotated)) return annotated;
  try {
    const subject = (JSON.parse(artifact.bytes.toString('utf8')) as { subject?: { digest?: unknown } }).subject?.digest;
    return isDigest(subject) ? subject : undefined;
  } catch {
    return undefined;
  }
}

const INDEX_ANNOTATIONS = [Annotation.version, Annotation.created, Annotation.source, Annotation.revision] as const;

/** The git commit of a folder's checkout, or undefined outside git. */
export async function gitRevision(dir: string): Promise<string | undefined> {
  try {
    const [{ execFile }, { promisify }] = await Promise.all([import('node:child_process'), import('node:util')]);
    const { stdout } = await promisify(execFile)('git', ['-C', dir, 'rev-parse', '--verify', 'HEAD'], { encoding: 'utf8' });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The index annotations: from the add-on model (version, created, source) and its git checkout
 * (revision) when given; otherwise the org.opencontainers.image.* labels all images agree on.
 */
export function indexAnnotations(images: LocalImage[], addon?: { model: AddonModel; revision?: string | undefined }): Record<string, string> {
  const annotations: Record<string, string> = {};
  if (addon) {
    const labels = addon.model.arches[0]?.labels ?? {};
    annotations[Annotation.version] = addon.model.version;
    const created = labels[Annotation.created];
    if (created) annotations[Annotation.created] = created;
    const source = labels[Annotation.source];
    if (source) annotations[Annotation.source] = source;
    if (addon.revision) annotations[Annotation.revision] = addon.revision;
    return annotations;
  }
  for (const key of INDEX_ANNOTATIONS) {
    const values = new Set(images.map((image) => image.config.config?.Labels?.[key]));
    const [value] = values;
    if (values.size === 1 && typeof value === 'string' && value !== '') annotations[key] = value;
  }
  return annotations;
}

export function assembleIndex(images: LocalImage[], annotations: Record<string, string>, carried: CarriedArtifact[] = []): AssembledIndex {
  if (images.length === 0) throw new UserError('usage', 'no image to assemble');
  const ordered = [...images].sort((a, b) => BUILD_ARCHES.indexOf(a.arch) - BUILD_ARCHES.indexOf(b.arch));
  for (let i = 1; i < ordered.length; i++) {
    if (ordered[i]!.arch === ordered[i - 1]!.arch) throw new UserError('usage', `two images for ${ordered[i]!.arch}: ${ordered[i - 1]!.source} and ${ordered[i]!.source}`);
  }
  const manifests = new Set(ordered.map((image) => image.manifestDigest));
  const artifacts: CarriedArtifact[] = [];
  const dropped: AssembledIndex['dropped'] = [];
  for (const artifact of carried) {
    const refersTo = referenceOf(artifact);
    if (refersTo !== undefined && !manifests.has(refersTo)) dropped.push({ artifact, refersTo });
    else artifacts.push(artifact);
  }
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      ...ordered.map((image) => ({
        mediaType: image.manifest.mediaType,
        digest: image.manifestDigest,
        size: image.manifestBytes.length,
        platform: image.platform,
      })),
      // Carried untouched: the entry as the input's index listed it.
      ...artifacts.map((artifact) => artifact.descriptor),
    ],
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const bytes = documentBytes(index);
  return { images: ordered, artifacts, dropped, index, bytes, digest: sha256(bytes) };
}

/** Every blob a push of these images (and artifacts) sends (configs and layers), each once, with the store holding it. */
export function pushBlobs(images: LocalImage[], artifacts: CarriedArtifact[] = []): { descriptor: Descriptor; store: BlobStore }[] {
  const seen = new Map<string, { descriptor: Descriptor; store: BlobStore }>();
  for (const image of images) {
    for (const descriptor of imageBlobs(image)) if (!seen.has(descriptor.digest)) seen.set(descriptor.digest, { descriptor, store: storeOf(image, descriptor.digest) });
  }
  for (const artifact of artifacts) for (const descriptor of artifact.blobs) if (!seen.has(descriptor.digest)) seen.set(descriptor.digest, { descriptor, store: artifact.store });
  return [...seen.values()];
}

/**
 * Writes an OCI image layout: the blobs (hard-linked where possible), the index as a blob, and
 * index.json naming it with `ref`. Built in a temporary folder beside `dir`, then renamed into place.
 */
export async function writeLayout(dir: string, assembled: AssembledIndex, ref: string): Promise<void> {
  await writeDirectoryAtomic(
    dir,
    async (temp) => {
      const store = new BlobStore(temp);
      for (const { descriptor, store: from } of pushBlobs(assembled.images, assembled.artifacts)) await store.adopt(from, descriptor.digest);
      for (const image of assembled.images) await store.putBytes(image.manifestBytes);
      for (const artifact of assembled.artifacts) await store.putBytes(artifact.bytes);
      await store.putBytes(assembled.bytes);
      const marker: ImageLayoutMarker = { imageLayoutVersion: '1.0.0' };
      await writeFile(path.join(temp, 'oci-layout'), JSON.stringify(marker));
      const top: ImageIndex = {
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: [{ mediaType: MediaType.ociIndex, digest: assembled.digest, size: assembled.bytes.length, annotations: { [Annotation.refName]: ref } }],
      };
      await writeFile(path.join(temp, 'index.json'), documentBytes(top));
    },
    {
      // Only a layout addonix could have written is replaced.
      mayReplace: async (existing) => (await stat(existing)).isDirectory() && (await stat(path.join(existing, 'oci-layout')).then(() => true, () => false)),
      refuse: () => new UserError('exists', `${dir} exists and is not an OCI layout; addonix replaces only a layout it could have written. Remove it or choose another --out`),
    },
  );
}
