/**
 * addonix's cache ($ADDONIX_CACHE_DIR, else $XDG_CACHE_HOME/addonix, else ~/.cache/addonix):
 *
 * - `oci/blobs/sha256/<hex>`: blobs, each verified against its digest before it is renamed into place;
 * - `imports/<key>.json`: per input file (keyed by its identity, the compression and the layer rules),
 *   the manifests its import made, so pushing the same build again reads nothing;
 * - `layers/<diff_id hex>.json`: per layer addonix has read whole, its forms in the cache (as received,
 *   or compressed by a named compressor) and what the rules found; `layers/by-digest/<hex>` gives the
 *   diff_id of a stored form. A rebuilt image whose layers the cache knows (an archive names its layers
 *   by digest) then needs them hashed and checked, not compressed or uploaded again.
 *
 * Records are written only once what they describe is verified and in place. Delete the folder freely.
 */
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { removeStaleTemporariesBelow, writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { digestHex, isDigest, type Digest } from './digest.js';
import type { Compression } from './media-types.js';
import type { Descriptor } from './types.js';
import type { ImportResult } from './import.js';
import { BlobStore } from './store.js';

/** Where addonix keeps its cache. */
export function cacheDir(): string {
  const explicit = process.env['ADDONIX_CACHE_DIR'];
  if (explicit) return path.resolve(explicit);
  return path.join(process.env['XDG_CACHE_HOME'] || path.join(homedir(), '.cache'), 'addonix');
}

/** The cache's folder, or a file in it, went away while addonix was using it (someone deleted it). */
export function cacheGone(cache: { dir: string }): UserError {
  return new UserError('cache-gone', `addonix's cache ${cache.dir} was removed while addonix was using it; run the command again (it will fill the cache anew)`);
}

/** What the user is told when the cache's folder cannot be written. */
export function cacheAdvice(): string {
  return `it is addonix's cache: free some space there, or set ADDONIX_CACHE_DIR to a folder with room that this user may write (the cache may be deleted at any time)`;
}

const RECORD_VERSION = 3;

/** One form of a layer in the cache. */
export interface LayerForm {
  digest: Digest;
  size: number;
  compression: Compression;
  /** The compressor that made it (compressorId), or null for the bytes as an input held them. */
  compressor: string | null;
  /** The annotations its descriptor carries (the compressor record). */
  annotations?: Record<string, string>;
}

export interface LayerRecord {
  version: number;
  diffId: Digest;
  uncompressedSize: number;
  entries: number;
  /** Device nodes in it: a layer with some is usable only where the rules allow devices. */
  devices: number;
  forms: LayerForm[];
}

/**
 * A blob an import left where it was, in the input's own store (a layout folder read in place), with
 * the identity of its file then: a file changed since is read again.
 */
export interface InPlaceBlob {
  digest: Digest;
  /** Device, inode, size, modification and change times of the file. */
  identity: string;
}

/** One image of an imported input: what the cache keeps to find it again. */
export interface ImportedImageRecord {
  manifest: Digest;
  mediaType: string;
  names: string[];
  /** Where its manifest and config are: the cache (the default) or the input's store. */
  documents?: 'cache' | 'input';
  /** Its blobs kept in the input's store (the others are in the cache). */
  inPlace?: InPlaceBlob[];
}

/** An artifact carried by an import: its entry, its blobs, and whether they stayed in the input's store. */
export interface CarriedArtifactRecord {
  descriptor: Descriptor;
  blobs: Descriptor[];
  inPlace?: InPlaceBlob[];
}

export interface ImportRecord {
  images: ImportedImageRecord[];
  artifacts: CarriedArtifactRecord[];
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export class Cache {
  readonly store: BlobStore;
  private static cleaned = new Set<string>();

  constructor(readonly dir: string = cacheDir()) {
    this.store = new BlobStore(path.join(dir, 'oci'), () => cacheGone(this));
  }

  /** Removes what killed runs left behind, in every folder of the cache, once per process. */
  async removeStale(): Promise<void> {
    if (Cache.cleaned.has(this.dir)) return;
    Cache.cleaned.add(this.dir);
    // oci/blobs/sha256 is the deepest folder.
    await removeStaleTemporariesBelow(this.dir, 3);
  }

  private importFile(key: string): string {
    return path.join(this.dir, 'imports', `${key}.json`);
  }

  async importRecord(key: string): Promise<ImportRecord | undefined> {
    const record = await readJson<ImportRecord & { version: number }>(this.importFile(key));
    return record?.version === RECORD_VERSION && Array.isArray(record.images) && Array.isArray(record.artifacts) ? record : undefined;
  }

  async writeImportRecord(key: string, record: ImportRecord): Promise<void> {
    await this.write(this.importFile(key), JSON.stringify({ version: RECORD_VERSION, ...record }));
  }

  /** Writes a record; a cache folder removed meanwhile is said to be (a missing folder is made first). */
  private async write(file: string, content: string): Promise<void> {
    try {
      await writeFileAtomic(file, content);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw cacheGone(this);
      throw error;
    }
  }

  private layerFile(diffId: Digest): string {
    return path.join(this.dir, 'layers', `${digestHex(diffId)}.json`);
  }

  private byDigestFile(digest: Digest): string {
    return path.join(this.dir, 'layers', 'by-digest', digestHex(digest));
  }

  /** The record of a layer by diff_id. */
  async layer(diffId: Digest): Promise<LayerRecord | undefined> {
    const record = await readJson<LayerRecord>(this.layerFile(diffId));
    return record?.version === RECORD_VERSION && record.diffId === diffId && Array.isArray(record.forms) ? record : undefined;
  }

  /** The diff_id of a stored form (a compressed blob's digest), when the cache has read it. */
  async diffIdOf(digest: Digest): Promise<Digest | undefined> {
    try {
      const text = (await readFile(this.byDigestFile(digest), 'utf8')).trim();
      return isDigest(text) ? text : undefined;
    } catch {
      return undefined;
    }
  }

  /** Records a verified form of a layer (merged with what is recorded of it). */
  async recordLayer(facts: Omit<LayerRecord, 'version' | 'forms'>, form: LayerForm): Promise<void> {
    const known = await this.layer(facts.diffId);
    const forms = [...(known?.forms ?? []).filter((f) => f.digest !== form.digest || f.compressor !== form.compressor), form];
    await this.write(this.layerFile(facts.diffId), JSON.stringify({ version: RECORD_VERSION, ...facts, forms } satisfies LayerRecord));
    if (form.digest !== facts.diffId) await this.write(this.byDigestFile(form.digest), facts.diffId);
  }
}

/** The identity of a blob file: a blob read in place is trusted again only while its file is the same. */
export async function blobIdentity(store: BlobStore, digest: Digest): Promise<string> {
  const info = await stat(store.path(digest), { bigint: true });
  return [info.dev, info.ino, info.size, info.mtimeNs, info.ctimeNs].join(':');
}

async function inPlaceBlobs(store: BlobStore, digests: Digest[]): Promise<InPlaceBlob[]> {
  return Promise.all([...new Set(digests)].map(async (digest) => ({ digest, identity: await blobIdentity(store, digest) })));
}

/** What a layout folder's import leaves for the next run: where each blob is, and the files read in place. */
export async function layoutRecord(result: ImportResult, layout: BlobStore): Promise<ImportRecord> {
  const images: ImportedImageRecord[] = [];
  for (const image of result.images) {
    const documents = image.store === layout ? 'input' : 'cache';
    const kept = documents === 'input' ? [image.manifestDigest, image.manifest.config.digest, ...image.manifest.layers.map((l) => l.digest)] : [...(image.layerStores?.keys() ?? [])];
    images.push({ manifest: image.manifestDigest, mediaType: image.manifest.mediaType, names: image.names, documents, inPlace: await inPlaceBlobs(layout, kept) });
  }
  const artifacts: CarriedArtifactRecord[] = [];
  for (const artifact of result.artifacts) {
    const inPlace = artifact.store === layout ? await inPlaceBlobs(layout, [artifact.descriptor.digest, ...artifact.blobs.map((b) => b.digest)]) : undefined;
    artifacts.push({ descriptor: artifact.descriptor, blobs: artifact.blobs, ...(inPlace ? { inPlace } : {}) });
  }
  return { images, artifacts };
}

