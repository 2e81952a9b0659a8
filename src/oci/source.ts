/**
 * Image inputs as users name them: a `result` link, a docker-archive tarball (plain or gzip), a
 * streamLayeredImage script (run by addonix, its stdout read as it comes), or an OCI layout (directory
 * or tarball). Tar inputs are imported into a cache (content-addressed blobs plus one record per input
 * file, keyed by its identity and the compression), so pushing the same build again reads nothing.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
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
import type { ImageManifest } from './types.js';
import { splitArchPrefix } from './platform.js';

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

interface ImportRecord {
  version: number;
  images: { manifest: Digest; names: string[] }[];
}

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
async function readStreamScript(script: string, display: string, policy: LayerPolicy, store: BlobStore): Promise<ReadImage[]> {
  const child = spawn(script, [], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const failed = (code: number | null) =>
    new UserError(`the stream script ${display} failed (exit ${code ?? 'by signal'})${stderr.trim() ? `:\n${stderr.trim().split('\n').slice(-10).join('\n')}` : ''}`);
  try {
    const images = await readImageArchive(child.stdout, display, policy, store);
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

async function importFile(file: string, kind: InputKind, display: string, policy: LayerPolicy, store: BlobStore): Promise<ReadImage[]> {
  switch (kind) {
    case 'stream-script':
      return readStreamScript(file, display, policy, store);
    case 'tar.gz': {
      const gunzip = zlib.createGunzip({ chunkSize: 1 << 20 });
      const input = createReadStream(file, { highWaterMark: 1 << 20 });
      input.on('error', (error) => gunzip.destroy(error));
      gunzip.on('error', () => input.destroy());
      return readImageArchive(input.pipe(gunzip), display, policy, store);
    }
    default: {
      const { size } = await stat(file);
      return readImageArchive(createReadStream(file, { highWaterMark: 1 << 20 }), display, policy, store, { totalBytes: size });
    }
  }
}

async function cacheKey(file: string, policy: LayerPolicy): Promise<string> {
  const info = await stat(file, { bigint: true });
  const identity = [RECORD_VERSION, file, info.dev, info.ino, info.size, info.mtimeNs, info.ctimeNs, compressorId(policy.compression), policy.keepCompressed];
  return sha256(identity.map(String).join('\n')).slice('sha256:'.length);
}

async function loadRecord(recordFile: string, store: BlobStore, display: string): Promise<ReadImage[] | undefined> {
  let record: ImportRecord;
  try {
    record = JSON.parse(await readFile(recordFile, 'utf8')) as ImportRecord;
  } catch {
    return undefined;
  }
  if (record.version !== RECORD_VERSION) return undefined;
  const images: ReadImage[] = [];
  try {
    for (const entry of record.images) {
      const manifestBytes = await store.readVerified(entry.manifest, MAX_DOCUMENT_BYTES, display);
      const manifest = JSON.parse(manifestBytes.toString('utf8')) as ImageManifest;
      const configBytes = await store.readVerified(manifest.config.digest, MAX_DOCUMENT_BYTES, display);
      for (const layer of manifest.layers) if (!(await store.has(layer.digest, layer.size))) return undefined;
      const config = checkConfig(parseJson(configBytes, display), display);
      const origin = { mediaType: manifest.mediaType, digest: entry.manifest, size: manifestBytes.length };
      images.push({ names: entry.names, manifest, manifestBytes, manifestDigest: entry.manifest, config, configBytes, store, origin });
    }
  } catch {
    return undefined; // Blobs went missing from the cache: import again.
  }
  return images;
}

/** Reads one input, from the cache when this very file was imported before with the same compression. */
export async function readInput(argument: string, policy: LayerPolicy): Promise<LocalImage[]> {
  const { arch, path: given } = splitArchPrefix(argument);
  const display = given;
  const kind = await detectInput(given, display);
  const file = await realpath(given);
  const store = cacheStore();
  let images: ReadImage[];
  if (kind === 'layout-directory') {
    images = await readLayoutDirectory(new BlobStore(file), display, policy, store);
  } else {
    const recordFile = path.join(cacheDir(), 'imports', `${await cacheKey(file, policy)}.json`);
    images = (await loadRecord(recordFile, store, display)) ?? [];
    if (images.length === 0) {
      images = await importFile(file, kind, display, policy, store);
      const record: ImportRecord = { version: RECORD_VERSION, images: images.map((image) => ({ manifest: image.manifestDigest, names: image.names })) };
      await mkdir(path.dirname(recordFile), { recursive: true });
      const temp = `${recordFile}.${process.pid}.partial`;
      await writeFile(temp, JSON.stringify(record));
      await rename(temp, recordFile);
    }
  }
  if (arch && images.length > 1) throw new UserError(`${display} holds ${images.length} images; ${arch}= names the arch of an input with one image`);
  return images.map((image) => {
    const imageArch: BuildArch = resolveArch(image.config, arch, display);
    return { ...image, arch: imageArch, platform: imagePlatform(image.config, imageArch), source: display };
  });
}

/** Reads every input (in parallel: compression runs on Node's thread pool) and checks one image per arch. */
export async function readInputs(argumentsList: string[], policy: LayerPolicy): Promise<LocalImage[]> {
  const lists = await Promise.all(argumentsList.map((argument) => readInput(argument, policy)));
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
