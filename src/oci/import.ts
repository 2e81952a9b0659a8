/**
 * The importer: one of the two consumers of the image model (the scanner is the other). It turns any
 * ImageSource into single-arch images whose blobs sit in a local store, for push, load, assemble and
 * inspect-image: each layer read once, hashed, checked by the layer rules and compressed as the policy
 * says into addonix's cache (or, for a layout folder whose layers stay as they are, verified in place).
 *
 * A layer the cache already holds in the wanted form (an archive names its layers by digest, a layout
 * lists them) is only hashed and checked, not compressed again; its blob is announced at once, so that a
 * pusher sends it while the rest is read. A layer being compressed is announced too, its blob growing in
 * a temporary file a pusher may upload from as it grows.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UserError } from '../util/errors.js';
import { peek } from './bytes.js';
import { Cache, type LayerForm, type LayerRecord } from './cache.js';
import { compressorId, compressorRecord, GzipBlocks, sniffCompression, zstdCompressor } from './compression.js';
import { Hasher, type Digest } from './digest.js';
import { buildManifest, type LocalImage } from './image.js';
import { readLayer, type LayerRead } from './layer.js';
import type { LayerRules } from './layer-rules.js';
import { layerCompression, MediaType, ociLayerType, type Compression } from './media-types.js';
import type { ImageSource, LayerConsumer, LayerFacts, LayerHandle, SourceArtifact, SourceImage } from './model.js';
import type { BlobStore, PendingBlob } from './store.js';
import { Annotation, type Descriptor } from './types.js';

export interface LayerPolicy {
  /** The compression of layers addonix compresses. */
  compression: Compression;
  /** Keep layers that arrive compressed as they are (their digests stay those of the source). */
  keepCompressed: boolean;
}

/** The compression a layer will end up with under a policy. */
export function targetCompression(source: Compression, policy: LayerPolicy): Compression {
  return policy.keepCompressed && source !== 'none' ? source : policy.compression;
}

/** What an import tells as it goes (a pusher sends blobs meanwhile). */
export interface ImportEvents {
  /**
   * A layer whose blob is complete already, in the cache or (`inPlace`) in the layout folder being read:
   * sendable now, while the layer itself is still being checked (a push fails before any manifest when
   * the check does).
   */
  known?(descriptor: Descriptor, inPlace?: boolean): void;
  /** A blob begins: `temporary` grows until `stored` (renamed to its digest) or `failed` names the same id. */
  started?(id: number, temporary: string): void;
  /** The blob has this many bytes now. */
  written?(id: number, bytes: number): void;
  stored?(id: number, descriptor: Descriptor): void;
  failed?(id: number): void;
}

export interface ImportOptions {
  policy: LayerPolicy;
  rules: LayerRules;
  /** How many cores the gzip blocks of a layer may use (see GzipBlocks; a function is asked as it goes). */
  deflateThreads?: number | (() => number) | undefined;
  events?: ImportEvents | undefined;
}

/**
 * A layer blob of a layout read in place that an import takes as it is (its compression is the one the
 * policy keeps), as the image will list it; undefined when it is recompressed (or no layer).
 */
function keptInPlace(descriptor: Descriptor, policy: LayerPolicy): Descriptor | undefined {
  const declared = layerCompression(descriptor.mediaType);
  if (declared === undefined || targetCompression(declared, policy) !== declared) return undefined;
  return { ...descriptor, mediaType: ociLayerType(declared) };
}

/**
 * The blobs of a layout's image that an import leaves where they are: its config (read and verified
 * already) and the layers it takes as they are. A push sends them as soon as they are known, while the
 * layers are checked (two at a time), since waiting for each check before its upload starts would keep
 * the uploads behind the checks. A blob the check then refuses was sent for nothing, and no manifest
 * names it.
 */
export function keptLayoutBlobs(image: SourceImage<LayerFacts>, policy: LayerPolicy): Descriptor[] {
  if (!image.manifest) return [];
  const config = { mediaType: image.manifest.document.config.mediaType, digest: image.configDigest, size: image.configBytes.length };
  return [config, ...image.manifest.document.layers.flatMap((descriptor) => keptInPlace(descriptor, policy) ?? [])];
}

/** A layer as imported. */
export interface ImportedLayer {
  /** Digest and size of the layer as the source holds it. */
  digest: Digest;
  size: number;
  diffId: Digest;
  /** The blob the image will list, and where it is. */
  descriptor: Descriptor;
  store: BlobStore;
}

/** An image read from a source, before its arch is decided. */
export interface ImportedImage {
  names: string[];
  source: string;
  manifest: LocalImage['manifest'];
  manifestBytes: Buffer;
  manifestDigest: Digest;
  config: LocalImage['config'];
  configBytes: Buffer;
  store: BlobStore;
  layerStores?: Map<Digest, BlobStore>;
  /** The platform an index gave it. */
  indexPlatform: SourceImage<ImportedLayer>['indexPlatform'];
}

/** Announces a blob's growth in steps of this many bytes (a pusher waits for whole chunks anyway). */
const WRITTEN_STEP = 1 << 20;

let nextBlobId = 1;

/**
 * The importer's LayerConsumer; `written` lists the blobs it put in the cache, with the inode of each file,
 * so that a failed import removes what it wrote, and only that (not a file another run put there since).
 */
export class LayerImporter implements LayerConsumer<ImportedLayer> {
  readonly written: { digest: Digest; ino: number }[] = [];

  constructor(
    private readonly cache: Cache,
    private readonly options: ImportOptions,
    /** The store whose blobs may stay where they are (a layout folder read in place). */
    private readonly inPlace?: BlobStore,
  ) {}

  async layer(handle: LayerHandle): Promise<ImportedLayer> {
    const { policy } = this.options;
    const declared = handle.descriptor ? layerCompression(handle.descriptor.mediaType) : undefined;
    if (handle.descriptor && declared === undefined) throw new UserError('image-invalid', `${handle.where}: media type ${handle.descriptor.mediaType} is not an image layer`);

    // A layout's blob that stays as it is: verified where it lies, and sent meanwhile.
    const inPlace = this.inPlace;
    const descriptor = inPlace && handle.descriptor && keptInPlace(handle.descriptor, policy);
    if (inPlace && descriptor) {
      this.options.events?.known?.(descriptor, true);
      const known = await this.readBefore(descriptor.digest, declared!);
      if (known) {
        // Bytes addonix has read whole before (a layout it assembled, a layout pushed before): that they
        // hash to the digest it read them under is proof enough; nothing is decompressed or read as tar.
        const hashed = new Hasher();
        for await (const chunk of handle.open()) hashed.update(chunk);
        if (hashed.digest() !== descriptor.digest) {
          throw new UserError('image-invalid', `${handle.where}: it hashes to ${hashed.digest()}, but the manifest says ${descriptor.digest}: the layout is damaged`);
        }
        return { digest: hashed.digest(), size: hashed.bytes, diffId: known.diffId, descriptor, store: inPlace };
      }
      const read = await readLayer(handle.open(), handle.where, { rules: this.options.rules, transient: handle.transient });
      if (read.compression === declared) {
        // Recorded as a form the cache has read (its blob stays in the layout): the next import of it only hashes it.
        await this.cache.recordLayer(
          { diffId: read.diffId, uncompressedSize: read.uncompressedSize, entries: read.entries, devices: read.devices },
          { digest: read.digest, size: read.size, compression: read.compression, compressor: null },
        );
        return { digest: read.digest, size: read.size, diffId: read.diffId, descriptor, store: inPlace };
      }
      // Declared one compression, holds another: read again below and stored as what it is.
    }
    const recognized = await this.recognize(handle);
    if (recognized) {
      this.options.events?.known?.(recognized.descriptor);
      const { head, all } = await peek(handle.open(), 4);
      // Stored as the form the cache has read (and checked) before: its bytes hashing to that form's digest
      // is proof enough, nothing is decompressed or read as tar again. Stored otherwise: read and compared.
      if (sniffCompression(head) === recognized.source) {
        const hashed = new Hasher();
        for await (const chunk of all) hashed.update(chunk);
        if (hashed.digest() !== recognized.via) {
          throw new UserError('image-invalid', `${handle.where}: it claims to be ${recognized.via}, a layer addonix has read before, but it hashes to ${hashed.digest()}: the input is damaged or hostile`);
        }
        return { digest: hashed.digest(), size: hashed.bytes, diffId: recognized.diffId, descriptor: recognized.descriptor, store: this.cache.store };
      }
      const read = await readLayer(all, handle.where, { rules: this.options.rules, transient: handle.transient });
      if (read.diffId !== recognized.diffId) {
        throw new UserError('image-invalid', 
          `${handle.where}: it claims to be ${recognized.via}, a layer addonix has read before (diff_id ${recognized.diffId}), but its content has diff_id ${read.diffId}: the input is damaged or hostile`,
        );
      }
      return { digest: read.digest, size: read.size, diffId: read.diffId, descriptor: recognized.descriptor, store: this.cache.store };
    }

    return this.store(handle);
  }

  /**
   * What the cache recorded of a blob it has read whole before, in this compression (its diff_id, and
   * that the rules found nothing against it: a record is written only after that); undefined when it
   * has not, or the record holds devices the rules now refuse.
   */
  private async readBefore(digest: Digest, compression: Compression): Promise<LayerRecord | undefined> {
    const diffId = compression === 'none' ? digest : await this.cache.diffIdOf(digest);
    const record = diffId ? await this.cache.layer(diffId) : undefined;
    if (!record || (record.devices > 0 && !this.options.rules.allowDevices)) return undefined;
    return record.forms.some((form) => form.digest === digest && form.compression === compression) ? record : undefined;
  }

  /** The cache's form of a layer, when the handle says which layer it is and the cache has that form. */
  private async recognize(handle: LayerHandle): Promise<{ descriptor: Descriptor; diffId: Digest; via: Digest; source: Compression } | undefined> {
    const { policy, rules } = this.options;
    for (const claimed of [handle.descriptor?.digest, handle.claimed]) {
      if (!claimed) continue;
      // The digest is a diff_id (an uncompressed layer's own digest), or a compressed form's.
      let record: LayerRecord | undefined = await this.cache.layer(claimed);
      let source: Compression = 'none';
      if (!record) {
        const diffId = await this.cache.diffIdOf(claimed);
        record = diffId ? await this.cache.layer(diffId) : undefined;
        const received = record?.forms.find((form) => form.digest === claimed);
        if (!received) continue;
        source = received.compression;
      }
      if (!record || (record.devices > 0 && !rules.allowDevices)) continue;
      const target = targetCompression(source, policy);
      const wanted: (form: LayerForm) => boolean =
        target === source ? (form) => form.digest === claimed : (form) => form.compression === target && form.compressor === compressorId(target);
      const form = record.forms.find(wanted);
      if (!form || !(await this.cache.store.has(form.digest, form.size))) continue;
      const descriptor: Descriptor = { mediaType: ociLayerType(form.compression), digest: form.digest, size: form.size, ...(form.annotations ? { annotations: form.annotations } : {}) };
      return { descriptor, diffId: record.diffId, via: claimed, source };
    }
    return undefined;
  }

  /** Reads a layer into the cache: as it is, or compressed as the policy says; records it. */
  private async store(handle: LayerHandle): Promise<ImportedLayer> {
    const { head, all } = await peek(handle.open(), 4);
    const source = sniffCompression(head);
    const target = targetCompression(source, this.options.policy);
    const blob = await this.cache.store.create();
    const id = nextBlobId++;
    const events = this.options.events;
    events?.started?.(id, blob.temporary);
    const stored = new Hasher();
    let announced = 0;
    const write = (pieces: readonly Buffer[]) => {
      for (const piece of pieces) stored.update(piece);
      blob.write(pieces);
      if (events?.written && blob.written - announced >= WRITTEN_STEP) {
        announced = blob.written;
        events.written(id, announced);
      }
    };
    let read: LayerRead;
    try {
      if (target === source) {
        read = await readLayer(all, handle.where, { rules: this.options.rules, transient: handle.transient, onStored: (chunk) => write([chunk]) });
      } else {
        const compressor = compressorFor(target, write, this.options.deflateThreads ?? 1);
        read = await readLayer(all, handle.where, { rules: this.options.rules, transient: handle.transient, onTar: compressor.write });
        await compressor.end();
      }
    } catch (error) {
      await blob.abort();
      events?.failed?.(id);
      throw error;
    }
    const descriptor = await this.commit(blob, stored, target, target === source ? null : compressorId(target), read);
    events?.written?.(id, stored.bytes);
    events?.stored?.(id, descriptor);
    return { digest: read.digest, size: read.size, diffId: read.diffId, descriptor, store: this.cache.store };
  }

  private async commit(blob: PendingBlob, stored: Hasher, compression: Compression, compressor: string | null, read: LayerRead): Promise<Descriptor> {
    const digest = stored.digest();
    this.written.push({ digest, ino: await blob.commit(digest) });
    const record = compressor !== null ? compressorRecord(compression) : undefined;
    const annotations = record ? { [Annotation.compressor]: record } : undefined;
    await this.cache.recordLayer(
      { diffId: read.diffId, uncompressedSize: read.uncompressedSize, entries: read.entries, devices: read.devices },
      { digest, size: stored.bytes, compression, compressor, ...(annotations ? { annotations } : {}) },
    );
    return { mediaType: ociLayerType(compression), digest, size: stored.bytes, ...(annotations ? { annotations } : {}) };
  }
}

/** Compresses tar chunks into `write`; each chunk is used up before `write` returns (chunks may be transient). */
function compressorFor(target: Compression, write: (pieces: readonly Buffer[]) => void, deflateThreads: number | (() => number)): { write: (chunk: Buffer) => void | Promise<void>; end: () => Promise<void> } {
  if (target === 'gzip') {
    const gzip = new GzipBlocks(write, deflateThreads);
    return { write: (chunk) => gzip.write(chunk), end: () => gzip.end() };
  }
  if (target === 'none') return { write: (chunk) => write([chunk]), end: async () => undefined };
  // zstd: Node's zlib has no synchronous streaming zstd; chunks are copied into the stream.
  const input = new Readable({ read() {} });
  const done = pipeline(input, zstdCompressor(), async (compressed: AsyncIterable<Buffer>) => {
    for await (const chunk of compressed) write([chunk]);
  });
  done.catch(() => undefined);
  return {
    write: (chunk) => {
      input.push(Buffer.from(chunk));
    },
    end: async () => {
      input.push(null);
      await done;
    },
  };
}

/** The manifest an imported image gets: the source's own when nothing changed, else one built for its blobs. */
function finishImage(image: SourceImage<ImportedLayer>, layers: ImportedLayer[], cacheStore: BlobStore): ImportedImage {
  const unchanged = image.manifest !== null && image.manifest.mediaType === MediaType.ociManifest && layers.every((l, i) => l.descriptor.digest === image.manifest!.document.layers[i]!.digest);
  const inPlace = unchanged && layers.every((l) => l.store === layers[0]!.store) && layers[0] !== undefined && layers[0].store !== cacheStore;
  const layerStores = new Map<Digest, BlobStore>();
  for (const layer of layers) if (layer.store !== cacheStore) layerStores.set(layer.descriptor.digest, layer.store);
  const common = { names: image.names, source: image.source, config: image.config, configBytes: image.configBytes, indexPlatform: image.indexPlatform };
  if (unchanged) {
    return {
      ...common,
      manifest: image.manifest!.document,
      manifestBytes: image.manifest!.bytes,
      manifestDigest: image.manifest!.digest,
      store: inPlace ? layers[0]!.store : cacheStore,
      ...(!inPlace && layerStores.size > 0 ? { layerStores } : {}),
    };
  }
  const built = buildManifest(image.configBytes, layers.map((l) => l.descriptor));
  return { ...common, manifest: built.manifest, manifestBytes: built.bytes, manifestDigest: built.digest, store: cacheStore, ...(layerStores.size > 0 ? { layerStores } : {}) };
}

/** An artifact carried through as it is (an attestation, a signature): its manifest and blobs in a store. */
export interface CarriedArtifact {
  /** The entry as the input's index lists it. */
  descriptor: Descriptor;
  /** Its manifest's bytes. */
  bytes: Buffer;
  /** The blobs its manifest names (config and layers). */
  blobs: Descriptor[];
  /** Where its manifest and blobs are: the input's own store (a layout folder) or the cache. */
  store: BlobStore;
}

export interface ImportResult {
  images: ImportedImage[];
  artifacts: CarriedArtifact[];
}

/** Puts an artifact's manifest and blobs in the cache, or checks them where they are (a layout folder read in place). */
async function carryArtifact(artifact: SourceArtifact, cache: Cache, inPlace: BlobStore | undefined, what: string): Promise<CarriedArtifact> {
  if (inPlace) {
    for (const blob of artifact.blobs) {
      if (!(await inPlace.has(blob.digest, blob.size)) || !(await inPlace.verify(blob.digest))) {
        throw new UserError('image-invalid', `${what}: blob ${blob.digest} of the artifact ${artifact.descriptor.digest} is missing or does not match its digest`);
      }
    }
    return { descriptor: artifact.descriptor, bytes: artifact.bytes, blobs: artifact.blobs, store: inPlace };
  }
  for (const blob of artifact.blobs) {
    const chunks: Buffer[] = [];
    for await (const chunk of artifact.openBlob(blob)) chunks.push(Buffer.from(chunk));
    const bytes = Buffer.concat(chunks);
    if (bytes.length !== blob.size || (await cache.store.putBytes(bytes)) !== blob.digest) {
      throw new UserError('image-invalid', `${what}: blob ${blob.digest} of the artifact ${artifact.descriptor.digest} does not match its descriptor`);
    }
  }
  await cache.store.putBytes(artifact.bytes);
  return { descriptor: artifact.descriptor, bytes: artifact.bytes, blobs: artifact.blobs, store: cache.store };
}

/**
 * Imports every image of a source, and carries its artifacts. Blobs it adds to the cache are removed
 * again when the source turns out to be bad (and records naming them then name nothing).
 */
export async function importSource(source: ImageSource, cache: Cache, options: ImportOptions, inPlace?: BlobStore): Promise<ImportResult> {
  await cache.removeStale();
  const importer = new LayerImporter(cache, options, inPlace);
  try {
    const images: ImportedImage[] = [];
    const contents = await source.open(importer);
    for (const image of contents.images) {
      const imported = finishImage(image, await image.layers(), cache.store);
      if (imported.store === cache.store) {
        for (const bytes of [imported.configBytes, imported.manifestBytes]) await cache.store.putBytes(bytes);
      }
      images.push(imported);
    }
    const artifacts: CarriedArtifact[] = [];
    for (const artifact of contents.artifacts) artifacts.push(await carryArtifact(artifact, cache, inPlace, source.name));
    return { images, artifacts };
  } catch (error) {
    await Promise.all(importer.written.map(({ digest, ino }) => cache.store.removeOwn(digest, ino)));
    throw error;
  }
}

