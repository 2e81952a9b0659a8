/**
 * Writes one image as a tar stream that `docker load` (legacy and >= 25) and `podman load` accept: a
 * docker-archive `manifest.json` beside an OCI layout (`oci-layout`, `index.json`, `blobs/sha256/`), the
 * shape Docker 25 itself writes. Layers go in as stored (compressed); both engines decompress them.
 */
import type { Readable } from 'node:stream';
import { blobPath } from './archive.js';
import { documentBytes, storeOf, type LocalImage } from './image.js';
import { MediaType } from './media-types.js';
import { writeTar, type TarWriteEntry } from './tar.js';
import { Annotation, type DockerArchiveEntry, type ImageIndex } from './types.js';

export function dockerArchive(image: LocalImage, repoTag: string): Readable {
  const manifestJson: DockerArchiveEntry[] = [
    { Config: blobPath(image.manifest.config.digest), RepoTags: [repoTag], Layers: image.manifest.layers.map((layer) => blobPath(layer.digest)) },
  ];
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      {
        mediaType: image.manifest.mediaType,
        digest: image.manifestDigest,
        size: image.manifestBytes.length,
        annotations: { [Annotation.refName]: repoTag.slice(repoTag.lastIndexOf(':') + 1), 'io.containerd.image.name': repoTag },
      },
    ],
  };
  const entries = function* (): Generator<TarWriteEntry> {
    yield { path: 'oci-layout', body: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) };
    yield { path: 'index.json', body: documentBytes(index) };
    yield { path: 'manifest.json', body: documentBytes(manifestJson) };
    yield { path: 'blobs/', type: 'directory' };
    yield { path: 'blobs/sha256/', type: 'directory' };
    yield { path: blobPath(image.manifestDigest), body: image.manifestBytes };
    yield { path: blobPath(image.manifest.config.digest), body: image.configBytes };
    const written = new Set<string>();
    for (const layer of image.manifest.layers) {
      if (written.has(layer.digest)) continue;
      written.add(layer.digest);
      yield { path: blobPath(layer.digest), size: layer.size, body: () => storeOf(image, layer.digest).open(layer.digest) };
    }
  };
  return writeTar(entries());
}
