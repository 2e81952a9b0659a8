/**
 * Image inputs as users name them: a `result` link, a docker-archive tarball (plain or gzip), a
 * streamLayeredImage script (run by addonix, its stdout read as it comes), or an OCI layout (directory
 * or tarball). Tar inputs are imported into a cache (content-addressed blobs plus one record per input
 * file, keyed by its identity and the compression), so pushing the same build again reads nothing.
 */
import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, homedir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { BuildArch } from '../addon/arch.js';
import { UserError } from '../util/errors.js';
import { sha256, type Digest } from './digest.js';
import { compressorId, sniffCompression } from './compression.js';
import { MAX_DOCUMENT_BYTES, checkConfig, imagePlatform, parseJson, resolveArch, type LocalImage } from './image.js';
import type { LayerPolicy } from './layer.js';
import { readImageArchive, readLayoutDirectory, type ReadImage } from './read.js';
import { BlobStore } from './store.js';
import type { Descriptor, ImageManifest } from './types.js';
import { splitArchPrefix } from './platform.js';
import { readTar, readTarFile } from './tar.js';

export type InputKind = 'layout-directory' | 'tar' | 'tar.gz' | 'stream-script';

/** Where addonix keeps imported blobs: $ADDONIX_CACHE_DIR, else $XDG_CACHE_HOME/addonix, else ~/.cache/addonix. */
export function cacheDir(): string {
  const explicit = process.env['ADDONIX_CACHE_DIR'];
  if (explicit) return explicit;
  return path.join(process.env['XDG_CACHE_HOME'] || path.join(homedir(), '.cache'), 'addonix');
}

export function cacheStore(): BlobStore {
  return new BlobStore(path.join(cacheDir(), 'oci'));
}

const RECORD_VERSION = 1;

/** One image of an imported input: what the cache keeps to find it again. */
interface RecordEntry {
  manifest: Digest;
  names: string[];
}

interface ImportRecord {
  version: number;
  images: RecordEntry[];
}

export interface ReadOptions {
  /** Told of each layer as soon as it is in the cache, while the rest of the input is still being read. */
  onLayer?: (descriptor: Descriptor, store: BlobStore) => void;
  /** Stops an import (its blobs are removed, as on any failure). */
  signal?: AbortSignal;
  /** How many gzip blocks an import may deflate at once (default: one per core). */
  deflateThreads?: number;
}

/** The worker's side of ReadOptions (the store is the worker's own). */
interface ImportOptions {
  signal?: AbortSignal | undefined;
  onLayer?: ((descriptor: Descriptor) => void) | undefined;
  deflateThreads?: number | undefined;
}

/** What an import worker is asked to do (import-worker.ts). */
export interface ImportRequest {
  file: string;
  kind: Exclude<InputKind, 'layout-directory'>;
  display: string;
  policy: LayerPolicy;
  storeDir: string;
  deflateThreads: number;
}

/** What an import worker answers: layers as they are stored, then the images or the failure. */
export type WorkerMessage =
  | { layer: Descriptor }
  | { images: RecordEntry[] }
  | { error: { message: string; stack: string; user: boolean; exitCode: 1 | 2 } };

export async function detectInput(file: string, display: string): Promise<InputKind> {
  let info;
  try {
    info = await stat(file);
  } catch {
    throw new UserError(`${display} does not exist`);
  }
  if (info.isDirectory()) {
    try {
      await stat(path.join(file, 'oci-layout'));
    } catch {
      throw new UserError(`${display} is a folder but not an OCI image layout (it has no oci-layout file)`);
    }
    return 'layout-directory';
  }
  if (!info.isFile()) throw new UserError(`${display} is neither a file nor a folder`);
  const handle = await open(file, 'r');
  const head = Buffer.alloc(512);
  let length;
  try {
    ({ bytesRead: length } = await handle.read(head, 0, 512, 0));
  } finally {
    await handle.close();
  }
  const start = head.subarray(0, length);
  if (start.subarray(0, 2).toString('latin1') === '#!') {
    if ((info.mode & 0o111) === 0) throw new UserError(`${display} looks like a stream script (it starts with #!) but is not executable`);
    return 'stream-script';
  }
  const compression = sniffCompression(start);
  if (compression === 'gzip') return 'tar.gz';
  if (compression === 'zstd') throw new UserError(`${display} is zstd-compressed; decompress it first (zstd -d) or use a plain or gzip tarball`);
  if (length < 512 || start.subarray(257, 262).toString('latin1') !== 'ustar') {
    throw new UserError(`${display} is not an image: expected a tarball (docker save, dockerTools), a gzip-compressed one, a stream script or an OCI layout folder`);
  }
  return 'tar';
}

/** Runs a streamLayeredImage script; its stdout is the image tar. Fails with the script's own words. */
async function readStreamScript(script: string, display: string, policy: LayerPolicy, store: BlobStore, options: ImportOptions): Promise<ReadImage[]> {
  const child = spawn(script, [], { stdio: ['ignore', 'pipe', 'pipe'], ...(options.signal ? { signal: options.signal } : {}) });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  // Awaited once the image is read; failing before then (stopped by options.signal) is no crash.
  exited.catch(() => undefined);
  const failed = (code: number | null) =>
    new UserError(`the stream script ${display} failed (exit ${code ?? 'by signal'})${stderr.trim() ? `:\n${stderr.trim().split('\n').slice(-10).join('\n')}` : ''}`);
  try {
    const images = await readImageArchive(readTar(child.stdout, display), display, policy, store, options);
    const code = await exited;
    if (code !== 0) throw failed(code);
    return images;
  } catch (error) {
    // The script's failure explains a broken stream better than the broken stream does.
    if (child.exitCode === null && child.signalCode === null) child.kill();
    const code = await exited.catch(() => null);
    if (code !== 0 && code !== null) throw failed(code);
    throw error;
  }
}

/** Reads a tar input into the store (on an import worker: see importOnWorker). */
export async function importFile(file: string, kind: ImportRequest['kind'], display: string, policy: LayerPolicy, store: BlobStore, options: ImportOptions = {}): Promise<ReadImage[]> {
  const signal = options.signal ? { signal: options.signal } : {};
  switch (kind) {
    case 'stream-script':
      return readStreamScript(file, display, policy, store, options);
    case 'tar.gz': {
      const gunzip = zlib.createGunzip({ chunkSize: 1 << 20 });
      const input = createReadStream(file, { highWaterMark: 1 << 20, ...signal });
      input.on('error', (error) => gunzip.destroy(error));
      gunzip.on('error', () => input.destroy());
      return readImageArchive(readTar(input.pipe(gunzip), display), display, policy, store, options);
    }
    case 'tar':
      return readImageArchive(readTarFile(file, display, { signal: options.signal }), display, policy, store, options);
  }
}

/**
 * Imports a tar input on a worker thread: inputs read in parallel then use a core each (reading, tar
 * parsing, hashing, compressing and writing all happen on it). Answers the record entries.
 */
function importOnWorker(request: Omit<ImportRequest, 'storeDir'>, store: BlobStore, options: ReadOptions): Promise<RecordEntry[]> {
  return new Promise((resolve, reject) => {
    const workerData: ImportRequest = { ...request, storeDir: store.dir };
    const worker = new Worker(new URL('./import-worker.js', import.meta.url), { workerData });
    const abort = () => worker.postMessage('abort');
    if (options.signal?.aborted) abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    let answer: Exclude<WorkerMessage, { layer: Descriptor }> | undefined;
    worker.on('message', (message: WorkerMessage) => {
      if ('layer' in message) options.onLayer?.(message.layer, store);
      else answer = message;
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      options.signal?.removeEventListener('abort', abort);
      if (answer && 'images' in answer) return resolve(answer.images);
      if (answer && 'error' in answer) {
        const { message, stack, user, exitCode } = answer.error;
        return reject(user ? new UserError(message, exitCode) : Object.assign(new Error(message), { stack }));
      }
      reject(new Error(`importing ${request.display}: the import worker stopped with exit code ${code} and no answer`));
    });
  });
}

async function cacheKey(file: string, policy: LayerPolicy): Promise<string> {
  const info = await stat(file, { bigint: true });
  const identity = [RECORD_VERSION, file, info.dev, info.ino, info.size, info.mtimeNs, info.ctimeNs, compressorId(policy.compression), policy.keepCompressed];
  return sha256(identity.map(String).join('\n')).slice('sha256:'.length);
}

async function readRecord(recordFile: string): Promise<RecordEntry[] | undefined> {
  try {
    const record = JSON.parse(await readFile(recordFile, 'utf8')) as ImportRecord;
    return record.version === RECORD_VERSION ? record.images : undefined;
  } catch {
    return undefined;
  }
}

async function writeRecord(recordFile: string, images: RecordEntry[]): Promise<void> {
  const record: ImportRecord = { version: RECORD_VERSION, images };
  await mkdir(path.dirname(recordFile), { recursive: true });
  const temp = `${recordFile}.${process.pid}.partial`;
  await writeFile(temp, JSON.stringify(record));
  await rename(temp, recordFile);
}

/** The images of an import record, from the store; undefined when a blob has gone from it. */
async function recordedImages(entries: RecordEntry[], store: BlobStore, display: string): Promise<ReadImage[] | undefined> {
  const images: ReadImage[] = [];
  try {
    for (const entry of entries) {
      const manifestBytes = await store.readVerified(entry.manifest, MAX_DOCUMENT_BYTES, display);
      const manifest = JSON.parse(manifestBytes.toString('utf8')) as ImageManifest;
      const configBytes = await store.readVerified(manifest.config.digest, MAX_DOCUMENT_BYTES, display);
      for (const layer of manifest.layers) if (!(await store.has(layer.digest, layer.size))) return undefined;
      const config = checkConfig(parseJson(configBytes, display), display);
      const origin = { mediaType: manifest.mediaType, digest: entry.manifest, size: manifestBytes.length };
      images.push({ names: entry.names, manifest, manifestBytes, manifestDigest: entry.manifest, config, configBytes, store, origin });
    }
  } catch {
    return undefined;
  }
  return images;
}

/** Reads one input, from the cache when this very file was imported before with the same compression. */
export async function readInput(argument: string, policy: LayerPolicy, options: ReadOptions = {}): Promise<LocalImage[]> {
  const { arch, path: given } = splitArchPrefix(argument);
  const display = given;
  const kind = await detectInput(given, display);
  const file = await realpath(given);
  const store = cacheStore();
  let images: ReadImage[] | undefined;
  if (kind === 'layout-directory') {
    images = await readLayoutDirectory(new BlobStore(file), display, policy, store);
  } else {
    const recordFile = path.join(cacheDir(), 'imports', `${await cacheKey(file, policy)}.json`);
    const recorded = await readRecord(recordFile);
    images = recorded && (await recordedImages(recorded, store, display));
    if (!images) {
      const entries = await importOnWorker({ file, kind, display, policy, deflateThreads: options.deflateThreads ?? availableParallelism() }, store, options);
      images = await recordedImages(entries, store, display);
      // Only a cache emptied by someone else at this very moment gets here.
      if (!images) throw new UserError(`${display}: the blobs just imported into ${store.dir} are gone; run addonix again`);
      await writeRecord(recordFile, entries);
    }
  }
  if (arch && images.length > 1) throw new UserError(`${display} holds ${images.length} images; ${arch}= names the arch of an input with one image`);
  return images.map((image) => {
    const imageArch: BuildArch = resolveArch(image.config, arch, display);
    return { ...image, arch: imageArch, platform: imagePlatform(image.config, imageArch), source: display };
  });
}

/**
 * Reads every input, in parallel (each import on a worker thread of its own). The first failure stops the
 * other imports and is the one reported, once they have cleaned up.
 */
export async function readInputs(argumentsList: string[], policy: LayerPolicy, options: Pick<ReadOptions, 'onLayer'> = {}): Promise<LocalImage[]> {
  const stop = new AbortController();
  let failure: { error: unknown } | undefined;
  // The cores shared out: an input on a worker of its own, and its blocks deflated on more threads when
  // there are fewer inputs than cores (one arch's big layer would otherwise use one core of many).
  const deflateThreads = Math.max(1, Math.floor(availableParallelism() / Math.max(1, argumentsList.length)));
  const lists = await Promise.all(
    argumentsList.map((argument) =>
      readInput(argument, policy, { ...options, signal: stop.signal, deflateThreads }).catch((error: unknown) => {
        failure ??= { error };
        stop.abort();
        return [];
      }),
    ),
  );
  if (failure) throw failure.error;
  const images = lists.flat();
  const seen = new Map<string, LocalImage>();
  for (const image of images) {
    const other = seen.get(image.arch);
    if (other && other.manifestDigest !== image.manifestDigest) {
      throw new UserError(`two images for ${image.arch}: ${other.source} and ${image.source}; give one image per arch`);
    }
    seen.set(image.arch, image);
  }
  return [...seen.values()];
}
