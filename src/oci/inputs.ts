/**
 * Reading the images the user names for push, load, assemble and inspect-image: each input imported
 * (import.ts), archives on a worker thread of their own so that inputs read in parallel use a core each,
 * and every archive import recorded in the cache by the identity of the file, so that the same build is
 * read again from the cache alone.
 */
import { availableParallelism } from 'node:os';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { UserError, type ErrorJson } from '../util/errors.js';
import { fileSystemUserError } from '../util/fs-errors.js';
import { blobIdentity, Cache, cacheAdvice, cacheGone, type ImportRecord, type InPlaceBlob } from './cache.js';
import { compressorId } from './compression.js';
import { sha256, type Digest } from './digest.js';
import { checkConfig, localImage, MAX_DOCUMENT_BYTES, parseJson, type LocalImage } from './image.js';
import type { CarriedArtifact, ImportResult, LayerPolicy } from './import.js';
import { detectInput, type InputKind } from './input-kind.js';
import { splitArchPrefix } from './platform.js';
import { rulesKey, type LayerRules } from './layer-rules.js';
import { checkManifest } from './model.js';
import { BlobStore } from './store.js';
import type { Descriptor } from './types.js';

/** What an import says as it goes, on the main thread: see ImportEvents (ids are unique per process). */
export interface InputEvents {
  known?(descriptor: Descriptor, store: BlobStore): void;
  started?(id: number, temporary: string): void;
  written?(id: number, bytes: number): void;
  stored?(id: number, descriptor: Descriptor, store: BlobStore): void;
  failed?(id: number): void;
}

export interface ReadOptions {
  policy: LayerPolicy;
  rules: LayerRules;
  events?: InputEvents | undefined;
  /** Stops an import (its blobs are removed, as on any failure). */
  signal?: AbortSignal | undefined;
  /** How many cores an import's gzip blocks may use (default: every core). */
  deflateThreads?: number | undefined;
  /** The imports running at once, which share the cores out (readInputs). */
  share?: CoreShare | undefined;
}

/**
 * The cores shared out among imports running at once, each on a worker of its own: with fewer inputs
 * than cores an input's blocks are deflated on several threads, and when an import is done the others
 * get its cores (one arch finishing early otherwise leaves a core idle while the other goes on alone).
 */
export class CoreShare {
  private readonly running = new Set<Worker>();
  private remaining: number;

  constructor(
    private readonly cores: number,
    inputs: number,
  ) {
    this.remaining = Math.max(1, inputs);
  }

  /** The threads an import may use now: the cores shared among the inputs not done yet. */
  threads(): number {
    return Math.max(1, Math.floor(this.cores / Math.max(1, this.remaining)));
  }

  join(worker: Worker): void {
    this.running.add(worker);
  }

  leave(worker: Worker): void {
    this.running.delete(worker);
  }

  /** An input is done (imported, read from the cache, or failed): the imports still running get its cores. */
  done(): void {
    this.remaining--;
    const threads = this.threads();
    for (const worker of this.running) worker.postMessage({ deflateThreads: threads });
  }
}

/** What an import worker is asked to do (import-worker.ts). */
export interface ImportRequest {
  file: string;
  kind: InputKind;
  display: string;
  policy: LayerPolicy;
  rules: LayerRules;
  cacheDir: string;
  deflateThreads: number;
  /** Whether to tell of blobs as they are written (a push uploads them meanwhile). */
  events: boolean;
}

/** What an import worker answers: events as they happen, then the images or the failure. */
export type WorkerMessage =
  | { event: 'known'; descriptor: Descriptor; inPlace: boolean }
  | { event: 'started'; id: number; temporary: string }
  | { event: 'written'; id: number; bytes: number }
  | { event: 'stored'; id: number; descriptor: Descriptor }
  | { event: 'failed'; id: number }
  | { record: ImportRecord }
  | { error: { message: string; stack: string; user: ErrorJson | null } };

let nextId = 1;

/** Maps the blob ids of one import (a worker's, or this thread's) to ids unique in this process. */
function uniqueIds(): (id: number) => number {
  const ids = new Map<number, number>();
  return (id) => {
    let mine = ids.get(id);
    if (mine === undefined) ids.set(id, (mine = nextId++));
    return mine;
  };
}

/** Imports an archive on a worker thread; answers the record of the images it made. */
async function importOnWorker(request: ImportRequest, cache: Cache, options: ReadOptions): Promise<ImportRecord> {
  // Loaded when an input is read at all: one found in the cache's records needs no worker.
  const { Worker } = await import('node:worker_threads');
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./import-worker.js', import.meta.url), { workerData: request });
    options.share?.join(worker);
    const abort = () => worker.postMessage('abort');
    if (options.signal?.aborted) abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    const idOf = uniqueIds();
    let answer: Extract<WorkerMessage, { record: unknown } | { error: unknown }> | undefined;
    const events = options.events;
    worker.on('message', (message: WorkerMessage) => {
      if ('event' in message) {
        switch (message.event) {
          case 'known':
            return events?.known?.(message.descriptor, message.inPlace ? new BlobStore(request.file) : cache.store);
          case 'started':
            return events?.started?.(idOf(message.id), message.temporary);
          case 'written':
            return events?.written?.(idOf(message.id), message.bytes);
          case 'stored':
            return events?.stored?.(idOf(message.id), message.descriptor, cache.store);
          case 'failed':
            return events?.failed?.(idOf(message.id));
        }
      }
      answer = message;
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      options.share?.leave(worker);
      options.signal?.removeEventListener('abort', abort);
      if (answer && 'record' in answer) return resolve(answer.record);
      if (answer && 'error' in answer) {
        const { message, stack, user } = answer.error;
        // A user error keeps its code across the worker boundary.
        return reject(user ? UserError.fromJSON(user) : Object.assign(new Error(message), { stack }));
      }
      reject(new Error(`importing ${request.display}: the import worker stopped with exit code ${code} and no answer`));
    });
  });
}

/** The key of an input's import record: its identity (a file's, or a layout's index.json's), the compression and the rules. */
async function recordKey(file: string, options: ReadOptions, identityFile = file): Promise<string> {
  const info = await stat(identityFile, { bigint: true });
  const identity = [file, info.dev, info.ino, info.size, info.mtimeNs, info.ctimeNs, compressorId(options.policy.compression), options.policy.keepCompressed, rulesKey(options.rules)];
  return sha256(identity.map(String).join('\n')).slice('sha256:'.length);
}

/** Whether blobs read in place are still the files they were. */
async function unchanged(store: BlobStore | undefined, blobs: InPlaceBlob[] | undefined): Promise<boolean> {
  if (!blobs || blobs.length === 0) return true;
  if (!store) return false;
  for (const blob of blobs) if ((await blobIdentity(store, blob.digest).catch(() => '')) !== blob.identity) return false;
  return true;
}

/**
 * The images and artifacts of an import record, from the cache and the input's store; undefined when a
 * blob has gone or a file read in place has changed.
 */
async function recordedImages(record: ImportRecord, cache: Cache, display: string, input?: BlobStore): Promise<ImportResult | undefined> {
  const result: ImportResult = { images: [], artifacts: [] };
  try {
    for (const image of record.images) {
      if (!(await unchanged(input, image.inPlace))) return undefined;
      const kept = new Set(image.inPlace?.map((blob) => blob.digest));
      const store = image.documents === 'input' ? input! : cache.store;
      const manifestBytes = await store.readVerified(image.manifest, MAX_DOCUMENT_BYTES, display);
      const manifest = checkManifest(parseJson(manifestBytes, display), display);
      const configBytes = await store.readVerified(manifest.config.digest, MAX_DOCUMENT_BYTES, display);
      const layerStores = new Map<Digest, BlobStore>();
      for (const layer of manifest.layers) {
        if (kept.has(layer.digest)) {
          if (store !== input) layerStores.set(layer.digest, input!);
        } else if (!(await cache.store.has(layer.digest, layer.size))) {
          return undefined;
        }
      }
      const config = checkConfig(parseJson(configBytes, display), display);
      result.images.push({ names: image.names, source: display, manifest, manifestBytes, manifestDigest: image.manifest, config, configBytes, store, ...(layerStores.size > 0 ? { layerStores } : {}), indexPlatform: undefined });
    }
    for (const artifact of record.artifacts) {
      if (!(await unchanged(input, artifact.inPlace))) return undefined;
      const store = artifact.inPlace ? input! : cache.store;
      const bytes = await store.readVerified(artifact.descriptor.digest, MAX_DOCUMENT_BYTES, display);
      for (const blob of artifact.blobs) if (!(await store.has(blob.digest, blob.size))) return undefined;
      result.artifacts.push({ descriptor: artifact.descriptor, bytes, blobs: artifact.blobs, store });
    }
  } catch {
    return undefined;
  }
  return result;
}

/** The images of an input and the artifacts beside them. */
export interface LocalImages {
  images: LocalImage[];
  artifacts: CarriedArtifact[];
}

/**
 * Tells of a layout's blobs that its import leaves in place (keptLayoutBlobs), read here while the import's
 * worker starts: a push sends them some 0.1 s sooner than the worker would tell of them (it tells of each
 * layer only as it checks it). When reading them fails, the worker, which reads them again, says why.
 */
async function announceLayout(layout: BlobStore, display: string, options: ReadOptions): Promise<void> {
  const known = options.events?.known;
  if (!known) return;
  try {
    const [{ keptLayoutBlobs }, { LayoutSource }] = await Promise.all([import('./import.js'), import('./layout.js')]);
    const { images } = await new LayoutSource(display, layout, options.signal).open({
      layer: () => Promise.reject(new Error('announceLayout reads no layer')),
    });
    for (const image of images) for (const descriptor of keptLayoutBlobs(image, options.policy)) known(descriptor, layout);
  } catch {
    // The worker reads the layout again and says what is wrong with it.
  }
}

/**
 * Reads one input: from the cache when this very file (or layout folder, its index.json and the blobs
 * read in place unchanged) was imported before with the same settings.
 */
export async function readInput(argument: string, options: ReadOptions): Promise<LocalImages> {
  const { arch, path: given } = splitArchPrefix(argument);
  const kind = await detectInput(given, given);
  const input = { kind, file: path.resolve(given), arch, ...(kind === 'layout-directory' ? { layout: new BlobStore(path.resolve(given)) } : {}) };
  const cache = new Cache();
  const display = given;
  let found: ImportResult | undefined;
  try {
    const file = await realpath(input.file);
    // A layout folder is known by its index.json; its blobs read in place are checked by their own identities.
    const key = await recordKey(file, options, input.kind === 'layout-directory' ? path.join(file, 'index.json') : file);
    const recorded = await cache.importRecord(key);
    found = recorded && (await recordedImages(recorded, cache, display, input.layout));
    if (!found) {
      {
        const request: ImportRequest = {
          file,
          kind: input.kind,
          display,
          policy: options.policy,
          rules: options.rules,
          cacheDir: cache.dir,
          deflateThreads: options.share?.threads() ?? options.deflateThreads ?? availableParallelism(),
          events: options.events !== undefined,
        };
        if (input.layout) void announceLayout(input.layout, display, options);
        const record = await importOnWorker(request, cache, options);
        found = await recordedImages(record, cache, display, input.layout);
        // Only a cache emptied by someone else at this very moment gets here.
        if (!found) throw cacheGone(cache);
        await cache.writeImportRecord(key, record);
      }
    }
  } catch (error) {
    throw fileSystemUserError(error, { places: [{ dir: cache.dir, advice: cacheAdvice() }] }) ?? error;
  }
  const images = found.images;
  if (input.arch && images.length > 1) throw new UserError('usage', `${display} holds ${images.length} images; ${input.arch}= names the arch of an input with one image`);
  return { images: images.map((image) => localImage(image, input.arch)), artifacts: found.artifacts };
}

/**
 * Reads every input, in parallel (each archive import on a worker thread of its own). The first failure
 * stops the other imports and is the one reported, once they have cleaned up.
 */
export async function readInputs(argumentsList: string[], options: ReadOptions): Promise<LocalImages> {
  const stop = new AbortController();
  const outer = options.signal;
  const forward = () => stop.abort(outer?.reason);
  if (outer?.aborted) forward();
  outer?.addEventListener('abort', forward, { once: true });
  let failure: { error: unknown } | undefined;
  const share = new CoreShare(availableParallelism(), argumentsList.length);
  try {
    const lists = await Promise.all(
      argumentsList.map((argument) =>
        readInput(argument, { ...options, signal: stop.signal, share })
          .catch((error: unknown): LocalImages => {
            failure ??= { error };
            stop.abort();
            return { images: [], artifacts: [] };
          })
          .finally(() => share.done()),
      ),
    );
    if (failure) throw failure.error;
    const seen = new Map<string, LocalImage>();
    for (const image of lists.flatMap((list) => list.images)) {
      const other = seen.get(image.arch);
      if (other && other.manifestDigest !== image.manifestDigest) {
        throw new UserError('usage', `two images for ${image.arch}: ${other.source} and ${image.source}; give one image per arch`);
      }
      seen.set(image.arch, image);
    }
    const artifacts = new Map<Digest, CarriedArtifact>();
    for (const artifact of lists.flatMap((list) => list.artifacts)) if (!artifacts.has(artifact.descriptor.digest)) artifacts.set(artifact.descriptor.digest, artifact);
    return { images: [...seen.values()], artifacts: [...artifacts.values()] };
  } finally {
    outer?.removeEventListener('abort', forward);
  }
}
