/**
 * Sources whose blobs lie in a folder: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/`),
 * read in place, and addonix's cache (the same shape, images known by manifest digest).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../util/errors.js';
import type { Digest } from './digest.js';
import { MAX_DOCUMENT_BYTES } from './image.js';
import { readManifestAt, walkIndex, type FetchDocument } from './index-walk.js';
import { blobImage, type ImageSource, type LayerConsumer, type LayerFacts, type SourceContents, type SourceImage } from './model.js';
import type { BlobStore } from './store.js';
import { Annotation, type Descriptor } from './types.js';

/** A blob of a store as a stream, once its presence and size are checked; stopped by `signal`. */
async function* storedBlob(store: BlobStore, descriptor: Descriptor, what: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  if (!(await store.has(descriptor.digest, descriptor.size))) throw new UserError('image-invalid', `${what}: layer ${descriptor.digest} is missing or has the wrong size`);
  for await (const chunk of store.open(descriptor.digest) as AsyncIterable<Buffer>) {
    signal?.throwIfAborted();
    yield chunk;
  }
}

/** An OCI image layout folder, read in place. */
export class LayoutSource implements ImageSource {
  constructor(
    readonly name: string,
    readonly store: BlobStore,
    private readonly signal?: AbortSignal,
  ) {}

  async open<L extends LayerFacts>(consumer: LayerConsumer<L>): Promise<SourceContents<L>> {
    let indexBytes: Buffer;
    try {
      indexBytes = await readFile(path.join(this.store.dir, 'index.json'));
    } catch {
      throw new UserError('image-invalid', `${this.name} is not an OCI layout: it has no index.json`);
    }
    const fetch: FetchDocument = (digest) => this.store.readVerified(digest, MAX_DOCUMENT_BYTES, this.name);
    const { images, artifacts } = await walkIndex(indexBytes, fetch, this.name);
    if (images.length === 0) throw new UserError('image-invalid', `${this.name} holds no image`);
    return {
      images: images.map((entry) => {
        const refName = entry.descriptor.annotations?.[Annotation.refName];
        return blobImage(entry, this.name, refName ? [refName] : [], consumer, (descriptor) => storedBlob(this.store, descriptor, this.name, this.signal));
      }),
      artifacts: artifacts.map((artifact) => ({ ...artifact, openBlob: (descriptor: Descriptor) => storedBlob(this.store, descriptor, this.name, this.signal) })),
    };
  }
}

/** Images of addonix's cache (or any store), known by their manifest digests. */
export class StoreSource implements ImageSource {
  constructor(
    readonly name: string,
    readonly store: BlobStore,
    private readonly manifests: { digest: Digest; mediaType: string; names: string[] }[],
  ) {}

  async open<L extends LayerFacts>(consumer: LayerConsumer<L>): Promise<SourceContents<L>> {
    const fetch: FetchDocument = (digest) => this.store.readVerified(digest, MAX_DOCUMENT_BYTES, this.name);
    const images: SourceImage<L>[] = [];
    for (const { digest, mediaType, names } of this.manifests) {
      const bytes = await fetch(digest, 'manifest');
      const entry = await readManifestAt({ digest, mediaType, size: bytes.length }, fetch, this.name, bytes);
      images.push(blobImage(entry, this.name, names, consumer, (descriptor) => storedBlob(this.store, descriptor, this.name)));
    }
    return { images, artifacts: [] };
  }
}
