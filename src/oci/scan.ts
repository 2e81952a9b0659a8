/**
 * The scanner: the second consumer of the image model (the importer is the first). It reads every layer
 * of an image through the same layer reading and rules as imports do, and lists each entry with what its
 * tar header says and the SHA-256 of its content. Nothing is written anywhere, which is what `diff` needs
 * (it may write only its --diff-report) and what a summary of a build result needs (no cache to fill).
 * Archives are scanned on a worker thread each (scan-worker.ts), so two inputs use two cores.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { BuildArch } from '../addon/arch.js';
import { UserError, type ErrorJson } from '../util/errors.js';
import type { Digest } from './digest.js';
import { detectInput, fileSource, type InputKind } from './input.js';
import { readLayer } from './layer.js';
import type { LayerRules } from './layer-rules.js';
import { LayoutSource } from './layout.js';
import type { Compression } from './media-types.js';
import { archOf, platformOfConfig, type LayerConsumer, type LayerHandle, type SourceImage } from './model.js';
import { splitArchPrefix } from './platform.js';
import { BlobStore } from './store.js';
import type { TarEntry, TarEntryType } from './tar.js';
import type { ImageConfig, ImageManifest, Platform } from './types.js';
import path from 'node:path';

export type FileKind = TarEntryType;

/** One entry of a layer, as its tar header and content describe it. */
export interface FileFacts {
  /** Absolute path in the image (`/app/main.js`; the root is `/`), a byte string (util/names.ts). */
  path: string;
  kind: FileKind;
  /** Permission bits, with setuid, setgid and sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Owner names, byte strings. */
  uname: string;
  gname: string;
  /** Seconds since the epoch, null when the header has none. */
  mtime: number | null;
  size: number;
  /** SHA-256 of a regular file's content; null for everything else. */
  sha256: Digest | null;
  /** Target of a symlink or hardlink, a byte string. */
  linkTarget: string | null;
  /** `major:minor` of a device node. */
  device: string | null;
  /** Extended attributes (pax `SCHILY.xattr.*`): names and values as byte strings, sorted by name. */
  xattrs: [string, string][];
}

export interface ScannedLayer {
  /** Digest and size of the bytes as the input stores them (compressed or not). */
  digest: Digest;
  size: number;
  compression: Compression;
  /** Digest and size of the uncompressed tar. */
  diffId: Digest;
  uncompressedSize: number;
  /** The entries in archive order (a path written twice appears twice; the later one wins on extraction). */
  files: FileFacts[];
  /** The archive entry holding it (archives only). */
  entry?: string | undefined;
}

/** What is known of one image of an input before its layers are read. */
export interface ImageFacts {
  /** The input as the user named it. */
  source: string;
  /** The image manifest as the input holds it; null for docker-archives, which have none of their own. */
  manifest: { digest: Digest; mediaType: string; document: ImageManifest } | null;
  configDigest: Digest;
  config: ImageConfig;
  /** The platform the input gives it (index entry), else os/architecture/variant of the config. */
  platform: Platform;
  /** The Home Assistant arch, or null when the image does not say (32-bit ARM without a label or name). */
  arch: BuildArch | null;
  layerCount: number;
}

export interface ScannedImage extends ImageFacts {
  layers: ScannedLayer[];
}

/** One image of an input: its facts now, its layers on demand. */
export interface ImageCandidate {
  facts: ImageFacts;
  /** Reads every layer (once; later calls answer the same result). */
  scan(): Promise<ScannedImage>;
  /** The stored bytes of layer `index` (0-based) again, for taking files out of it. */
  openLayer(index: number): AsyncIterable<Buffer>;
}

/** Reads one layer with the rules and hashes the content of each file. */
async function scanLayer(stored: AsyncIterable<Buffer>, what: string, rules: LayerRules, transient = false): Promise<Omit<ScannedLayer, 'entry'>> {
  const files: FileFacts[] = [];
  const onEntry = async (entry: TarEntry, path: string) => {
    let contentHash: Digest | null = null;
    if (entry.type === 'file') {
      const hash = createHash('sha256');
      for await (const chunk of entry.body()) hash.update(chunk);
      contentHash = `sha256:${hash.digest('hex')}`;
    }
    files.push({
      path,
      kind: entry.type,
      mode: entry.mode & 0o7777,
      uid: entry.uid,
      gid: entry.gid,
      uname: entry.uname,
      gname: entry.gname,
      mtime: entry.mtime,
      size: entry.size,
      sha256: contentHash,
      linkTarget: entry.type === 'symlink' || entry.type === 'hardlink' ? (entry.linkpath ?? '') : null,
      device: entry.type === 'char-device' || entry.type === 'block-device' ? `${entry.devmajor}:${entry.devminor}` : null,
      xattrs: entry.xattrs,
    });
  };
  const read = await readLayer(stored, what, { rules, transient, onEntry });
  return { digest: read.digest, size: read.size, compression: read.compression, diffId: read.diffId, uncompressedSize: read.uncompressedSize, files };
}

/** The scanner's LayerConsumer. */
export class LayerScanner implements LayerConsumer<ScannedLayer> {
  constructor(private readonly rules: LayerRules) {}

  async layer(handle: LayerHandle): Promise<ScannedLayer> {
    return { ...(await scanLayer(handle.open(), handle.where, this.rules, handle.transient)), entry: handle.entry };
  }
}

type FactsOf = Pick<ImageFacts, 'source' | 'manifest' | 'configDigest' | 'config' | 'layerCount'> & { indexPlatform: Platform | undefined };

function imageFacts(image: FactsOf, given: BuildArch | undefined): ImageFacts {
  return {
    source: image.source,
    manifest: image.manifest && { digest: image.manifest.digest, mediaType: image.manifest.mediaType, document: image.manifest.document },
    configDigest: image.configDigest,
    config: image.config,
    platform: image.indexPlatform ?? platformOfConfig(image.config),
    arch: archOf(image.config, given, image.source),
    layerCount: image.layerCount,
  };
}

/** The candidates of a source's images, scanned when asked. */
export function candidatesOf(images: SourceImage<ScannedLayer>[], given: BuildArch | undefined): ImageCandidate[] {
  return images.map((image) => {
    const facts = imageFacts(image, given);
    let scanned: Promise<ScannedImage> | undefined;
    return { facts, openLayer: (index) => image.openLayer(index), scan: () => (scanned ??= image.layers().then((layers) => ({ ...facts, layers }))) };
  });
}

/** What a scan worker is asked, and answers (scan-worker.ts). */
export interface ScanRequest {
  file: string;
  kind: Exclude<InputKind, 'layout-directory'>;
  display: string;
  rules: LayerRules;
}

export type ScanAnswer =
  | { images: (Omit<ImageFacts, 'arch' | 'platform'> & { indexPlatform: Platform | undefined; layers: ScannedLayer[] })[] }
  | { error: { message: string; stack: string; user: ErrorJson | null } };

/** Scans an archive on a worker thread (one pass). */
function scanOnWorker(request: ScanRequest): Promise<Extract<ScanAnswer, { images: unknown }>['images']> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./scan-worker.js', import.meta.url), { workerData: request });
    let answer: ScanAnswer | undefined;
    worker.on('message', (message: ScanAnswer) => (answer = message));
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (answer && 'images' in answer) return resolve(answer.images);
      if (answer && 'error' in answer) {
        const { message, stack, user } = answer.error;
        // A user error keeps its code across the worker boundary.
        return reject(user ? UserError.fromJSON(user) : Object.assign(new Error(message), { stack }));
      }
      reject(new Error(`scanning ${request.display}: the scan worker stopped with exit code ${code} and no answer`));
    });
  });
}

/**
 * The images of a local input: a result link, a docker-archive tarball (plain or gzip), a stream
 * script, an OCI layout folder or tarball; `ARCH=PATH` names the arch of an image that does not say it.
 * Archives are scanned whole right away (one pass, on a worker thread); layout folders when asked.
 */
export async function openLocalImages(argument: string, rules: LayerRules): Promise<ImageCandidate[]> {
  const { arch: given, path: file } = splitArchPrefix(argument);
  const display = file;
  const kind = await detectInput(file, display);
  if (kind === 'layout-directory') {
    return candidatesOf((await new LayoutSource(display, new BlobStore(file)).open(new LayerScanner(rules))).images, given);
  }
  const absolute = path.resolve(file);
  const images = await scanOnWorker({ file: absolute, kind, display, rules });
  const archive = fileSource(absolute, kind, display);
  return images.map((image) => {
    const facts = imageFacts(image, given);
    const scanned: ScannedImage = { ...facts, layers: image.layers };
    return {
      facts,
      scan: async () => scanned,
      openLayer: (index: number) => archive.openEntry(image.layers[index]!.entry!),
    };
  });
}

export interface ArchiveSummary {
  configDigest: Digest;
  /** Layers, from the config's diff_ids. */
  layers: number;
  architecture: string;
}

/**
 * A quick look at an image archive (a build result): its config digest and layer count, reading its
 * small documents only (layers are skipped, not read). Null for inputs that are not archives: a stream
 * script is not run for it.
 */
export async function summarizeArchive(file: string): Promise<ArchiveSummary | null> {
  const kind = await detectInput(file, file).catch(() => undefined);
  if (kind !== 'tar' && kind !== 'tar.gz') return null;
  // Layers are left unread: the archive reader skips them (a plain file's are not even read).
  const skipping: LayerConsumer<{ diffId?: undefined }> = { layer: async () => ({}) };
  const [image] = (await fileSource(path.resolve(file), kind, file).open(skipping)).images;
  if (!image) return null;
  return { configDigest: image.configDigest, layers: image.config.rootfs.diff_ids.length, architecture: image.config.architecture };
}
