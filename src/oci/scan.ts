/**
 * The scanner: the second consumer of the image model (the importer is the first). It reads every layer
 * of an image through the same layer reading and rules as imports do; of the layers it is asked about,
 * it lists each entry with what its tar header says and the SHA-256 of its content (in a packed
 * FileTable). Nothing is written anywhere, which is what `diff` needs (it may write only its
 * --diff-report) and what a summary of a build result needs (no cache to fill).
 *
 * `diff` asks only about the layers the other image lacks: a layer both have (the same diff_id) is
 * hashed and checked, its files neither hashed nor kept. Plain archives are read in two passes for
 * that: their small documents first (their layers skipped, not read), then their layers, once the other
 * side's diff_ids are known. Archives are scanned on a worker thread each, so two inputs use two cores;
 * two plain archives are read on this thread, and the hashing of their layers is shared with one worker
 * (RangeHasher in scan-pool.ts).
 */
import type { BuildArch } from '../addon/arch.js';
import { UserError, type ErrorJson } from '../util/errors.js';
import type { Digest } from './digest.js';
import { FileTable } from './file-table.js';
import { PathFlags } from './path-flags.js';
import { takeScanWorker, type RangeHasher, type RangeHashing } from './scan-pool.js';
import { detectInput, fileSource, type InputKind } from './input.js';
import { readLayer } from './layer.js';
import type { LayerRules } from './layer-rules.js';
import { LayoutSource } from './layout.js';
import type { Compression } from './media-types.js';
import { archOf, platformOfConfig, type LayerConsumer, type LayerHandle, type SourceImage } from './model.js';
import { splitArchPrefix } from './platform.js';
import { sniffCompression } from './compression.js';
import { readHead } from './tar.js';
import { BlobStore } from './store.js';
import type { TarEntry, TarEntryType } from './tar.js';
import type { ImageConfig, ImageManifest, Platform } from './types.js';
import { statSync } from 'node:fs';
import path from 'node:path';

export { FileTable, type FileFacts } from './file-table.js';

export type FileKind = TarEntryType;

export interface ScannedLayer {
  /** Digest and size of the bytes as the input stores them (compressed or not). */
  digest: Digest;
  size: number;
  compression: Compression;
  /** Digest and size of the uncompressed tar. */
  diffId: Digest;
  uncompressedSize: number;
  /** Entries in the layer. */
  entries: number;
  /** The entries in archive order, with their content hashes; null for a layer not asked about. */
  files: FileTable | null;
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
  /**
   * Asks for the files of the layers with these diff_ids (before `scan`; calls add up). Without it every
   * layer's files are listed. An input read whole when opened has them all anyway.
   */
  want(diffIds: Iterable<Digest>): void;
  /** Reads every layer (once; later calls answer the same result). */
  scan(): Promise<ScannedImage>;
  /** The stored bytes of layer `index` (0-based) again, for taking files out of it. */
  openLayer(index: number): AsyncIterable<Buffer>;
}

/** The diff_ids whose layers' files are wanted: null for all of them (until someone asks for some). */
export class Wanted {
  private chosen: Set<Digest> | null = null;

  add(diffIds: Iterable<Digest>): void {
    this.chosen ??= new Set();
    for (const diffId of diffIds) this.chosen.add(diffId);
  }

  /** Whether the layer of this diff_id (undefined: not known before reading it) is wanted. */
  has(diffId: Digest | undefined): boolean {
    return this.chosen === null || diffId === undefined || this.chosen.has(diffId);
  }

  list(): Digest[] | null {
    return this.chosen && [...this.chosen];
  }
}

/** Reads one layer with the rules; with `listed`, hashes the content of each file and lists them all. */
async function scanLayer(stored: AsyncIterable<Buffer>, what: string, rules: LayerRules, transient: boolean, listed: boolean, range: LayerHandle['range'], hasher: RangeHashing | undefined): Promise<Omit<ScannedLayer, 'entry'>> {
  // The layer rules' record of each path is the start of the file's record in the table.
  const paths = new PathFlags();
  const files = listed ? new FileTable(paths.records) : null;
  const onEntry = files ? async (entry: TarEntry, path: string) => files.addEntry(entry, path, entry.type === 'file' ? await entry.sha256() : null, paths) : undefined;
  const read = await readLayer(stored, what, { rules, paths, transient, range, ...(onEntry ? { onEntry } : {}), ...(hasher && range ? { hashRange: (r) => hasher.take(r), reached: (offset) => hasher.reached?.(range.file, offset) } : {}) });
  return { digest: read.digest, size: read.size, compression: read.compression, diffId: read.diffId, uncompressedSize: read.uncompressedSize, entries: read.entries, files };
}

/**
 * The scanner's LayerConsumer: `wanted` says which layers' files to list, by the diff_id a layer is
 * known to have before it is read (its config's, or its archive entry's as `entryDiffIds` gives it).
 */
export class LayerScanner implements LayerConsumer<ScannedLayer> {
  constructor(
    private readonly rules: LayerRules,
    readonly wanted: Wanted = new Wanted(),
    private readonly entryDiffIds: ReadonlyMap<string, Digest> = new Map(),
    /** Hashes the ranges of uncompressed layers in plain files on another thread. */
    private readonly hasher?: RangeHashing,
  ) {}

  async layer(handle: LayerHandle): Promise<ScannedLayer> {
    const diffId = handle.diffId ?? (handle.entry !== undefined ? this.entryDiffIds.get(handle.entry) : undefined);
    return { ...(await scanLayer(handle.open(), handle.where, this.rules, handle.transient, this.wanted.has(diffId), handle.range, this.hasher)), entry: handle.entry };
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

/** The candidates of a source's images, scanned when asked, through `scanner`. */
export function candidatesOf(images: SourceImage<ScannedLayer>[], given: BuildArch | undefined, scanner?: LayerScanner): ImageCandidate[] {
  return images.map((image) => {
    const facts = imageFacts(image, given);
    let scanned: Promise<ScannedImage> | undefined;
    return {
      facts,
      want: (diffIds) => scanner?.wanted.add(diffIds),
      openLayer: (index) => image.openLayer(index),
      scan: () => (scanned ??= image.layers().then((layers) => ({ ...facts, layers }))),
    };
  });
}

/** A scanned layer as a worker sends it: its file table's buffers, transferred. */
type LayerMessage = Omit<ScannedLayer, 'files'> & { files: ReturnType<FileTable['export']> | null };

/** What a scan worker is asked, and answers (scan-worker.ts). */
export interface ScanRequest {
  file: string;
  kind: Exclude<InputKind, 'layout-directory'>;
  display: string;
  rules: LayerRules;
  /** The diff_ids whose layers' files to list (null: all), and the diff_id of each archive entry that is a layer. */
  wanted: Digest[] | null;
  entryDiffIds: [string, Digest][];
}

export type ScanAnswer =
  | { images: (Omit<ImageFacts, 'arch' | 'platform'> & { indexPlatform: Platform | undefined; layers: LayerMessage[] })[] }
  | { error: { message: string; stack: string; user: ErrorJson | null } };

/** A scanned layer ready to post: its table exported (the buffers to transfer are added to `transfer`). */
export function layerMessage(layer: ScannedLayer, transfer: ArrayBuffer[]): LayerMessage {
  if (!layer.files) return { ...layer, files: null };
  const files = layer.files.export();
  transfer.push(...FileTable.transferList(files));
  return { ...layer, files };
}

type ScannedArchive = (Omit<ImageFacts, 'arch' | 'platform'> & { indexPlatform: Platform | undefined; layers: ScannedLayer[] })[];

/**
 * Scans an archive (one pass): what a scan worker does, or this thread for one of diff's two inputs;
 * with `hasher`, its uncompressed layers are hashed by it.
 */
export async function scanArchive(request: ScanRequest, hasher?: RangeHashing): Promise<ScannedArchive> {
  const wanted = new Wanted();
  if (request.wanted) wanted.add(request.wanted);
  const scanner = new LayerScanner(request.rules, wanted, new Map(request.entryDiffIds), hasher);
  const { images } = await fileSource(request.file, request.kind, request.display).open(scanner);
  const out: ScannedArchive = [];
  for (const image of images) {
    out.push({
      source: image.source,
      manifest: image.manifest && { digest: image.manifest.digest, mediaType: image.manifest.mediaType, document: image.manifest.document },
      configDigest: image.configDigest,
      config: image.config,
      indexPlatform: image.indexPlatform,
      layerCount: image.layerCount,
      layers: await image.layers(),
    });
  }
  return out;
}

/** A worker's answer as the scan it gives, or its error thrown. */
function scannedArchive(answer: ScanAnswer): ScannedArchive {
  if ('images' in answer) return answer.images.map((image) => ({ ...image, layers: image.layers.map((layer) => ({ ...layer, files: layer.files && FileTable.import(layer.files) })) }));
  const { message, stack, user } = answer.error;
  // A user error keeps its code across the worker boundary.
  throw user ? UserError.fromJSON(user) : Object.assign(new Error(message), { stack });
}

/** Scans an archive on a worker thread (one pass). */
async function scanOnWorker(request: ScanRequest): Promise<ScannedArchive> {
  const worker = await takeScanWorker();
  worker.postMessage(request);
  return new Promise((resolve, reject) => {
    let answer: ScanAnswer | undefined;
    worker.on('message', (message: ScanAnswer) => (answer = message));
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (answer) {
        try {
          return resolve(scannedArchive(answer));
        } catch (error) {
          return reject(error);
        }
      }
      reject(new Error(`scanning ${request.display}: the scan worker stopped with exit code ${code} and no answer`));
    });
  });
}

/**
 * The images of a local input: a result link, a docker-archive tarball (plain or gzip), a stream
 * script, an OCI layout folder or tarball; `ARCH=PATH` names the arch of an image that does not say it.
 * A plain archive's documents are read at once (its layers skipped), its layers on a worker when asked;
 * a compressed archive or a stream script, which can be read only from its start, is scanned whole at
 * once, every layer's files listed; a layout folder's layers are read when asked.
 */
export async function openLocalImages(argument: string, rules: LayerRules, options: { inProcess?: boolean; whole?: boolean; hasher?: RangeHasher } = {}): Promise<ImageCandidate[]> {
  // One of diff's inputs is read on this thread, which has nothing else to do meanwhile: a worker fewer to
  // start. With a hasher, a plain archive is read here and its layers hashed by the hasher.
  const hasher = options.hasher;
  const scan = hasher
    ? (request: ScanRequest) =>
        hasher.turn(
          request.file,
          () => scanArchive(request, hasher),
          async () => scannedArchive(await hasher.scanThere(request)),
        )
    : options.inProcess
      ? scanArchive
      : scanOnWorker;
  const { arch: given, path: file } = splitArchPrefix(argument);
  const display = file;
  const kind = await detectInput(file, display);
  if (kind === 'layout-directory') {
    const scanner = new LayerScanner(rules);
    return candidatesOf((await new LayoutSource(display, new BlobStore(file)).open(scanner)).images, given, scanner);
  }
  const absolute = path.resolve(file);
  const archive = fileSource(absolute, kind, display);
  if (kind === 'tar') {
    // The first pass: documents only. Which entry holds which layer (diff_id) comes with them.
    // With a hasher, the uncompressed layers are sent to it now: hashed while this thread reads entries.
    // The hashing reads the file again, apart from the reading of its entries: the file must be the same
    // file, unchanged (its times change with any write), from before its documents are read until both
    // are done.
    const identity = () => {
      const { ino, size, mtimeMs, ctimeMs } = statSync(absolute);
      return `${ino}:${size}:${mtimeMs}:${ctimeMs}`;
    };
    const before = hasher ? identity() : undefined;
    const skipping: LayerConsumer<{ diffId?: undefined }> = {
      layer: async ({ range }) => {
        if (hasher && range && sniffCompression(readHead(range.file, range.offset, 4)) === 'none') void hasher.hash(range).catch(() => undefined);
        return {};
      },
    };
    const { images: documents } = await archive.open(skipping);
    const entryDiffIds = new Map<string, Digest>();
    for (const image of documents) image.layerEntries?.forEach((entry, i) => entryDiffIds.set(entry, image.config.rootfs.diff_ids[i]!));
    const wanted = new Wanted();
    let scanned: Promise<ScannedArchive> | undefined;
    const scanAll = () =>
      (scanned ??= scan({ file: absolute, kind, display, rules, wanted: wanted.list(), entryDiffIds: [...entryDiffIds] }).then((images) => {
        if (before !== undefined && identity() !== before) throw new UserError('image-invalid', `${display} changed while it was read`);
        return images;
      }));
    // Read whole at once when asked (verify checks a reference before it builds anything).
    if (options.whole) await scanAll();
    return documents.map((document, index) => {
      const facts = imageFacts(document, given);
      return {
        facts,
        want: (diffIds) => wanted.add(diffIds),
        scan: async () => {
          const images = await scanAll();
          const image = images[index];
          if (!image || image.configDigest !== facts.configDigest) throw new UserError('image-invalid', `${display} changed while it was read`);
          return { ...facts, layers: image.layers };
        },
        openLayer: (layer: number) => archive.openEntry(document.layerEntries![layer]!),
      };
    });
  }
  const images = await scan({ file: absolute, kind, display, rules, wanted: null, entryDiffIds: [] });
  return images.map((image) => {
    const facts = imageFacts(image, given);
    const scanned: ScannedImage = { ...facts, layers: image.layers };
    return {
      facts,
      want: () => undefined,
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
