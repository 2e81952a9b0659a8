/**
 * Scanning images without importing them: one streaming pass over an input hashes every layer (as stored,
 * and uncompressed: the diff_id) and lists every file of every layer with what its tar header says and
 * the SHA-256 of its content. Nothing is written anywhere, which is what `diff` needs (it may write only
 * its --report) and what a summary of a build result needs (no cache to fill).
 *
 * The importing readers (read.ts) store layers for a push; this module shares their hostile-input rules:
 * entry names and links that leave the archive, digests and diff_ids that do not match, sizes beyond the
 * archive, documents over MAX_DOCUMENT_BYTES are all refused.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import type { BuildArch } from '../addon/arch.js';
import { UserError } from '../util/errors.js';
import { isDigest, sha256, type Digest } from './digest.js';
import { decompressor, looksLikeTar, sniffCompression } from './compression.js';
import { checkConfig, MAX_DOCUMENT_BYTES, parseJson, resolveArch } from './image.js';
import { isIndexType, isManifestType, layerCompression, type Compression } from './media-types.js';
import { archOfConfig, splitArchPrefix } from './platform.js';
import { blobPath, peek, readArchiveEntries } from './archive.js';
import { checkDiffIds } from './read.js';
import { detectInput } from './source.js';
import { BlobStore } from './store.js';
import { readTar, type TarEntry } from './tar.js';
import type { Descriptor, DockerArchiveEntry, ImageConfig, ImageIndex, ImageManifest, Platform } from './types.js';

export type FileKind = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo' | 'other';

/** One entry of a layer, as its tar header and content describe it. */
export interface FileFacts {
  /** Absolute path in the image (`/app/main.js`; the root is `/`). */
  path: string;
  kind: FileKind;
  /** Permission bits, with setuid, setgid and sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Seconds since the epoch, null when the header has none. */
  mtime: number | null;
  size: number;
  /** SHA-256 of a regular file's content; null for everything else. */
  sha256: Digest | null;
  /** Target of a symlink or hardlink. */
  linkTarget: string | null;
  /** `major:minor` of a device node. */
  device: string | null;
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
  /** The stored bytes of layer `index` (0-based) again, for extracting files from it. */
  openLayer(index: number): AsyncIterable<Buffer>;
}

/** The kind of a layer entry: the tar reader's type, with the special files it calls `other` told apart. */
function kindOf(entry: TarEntry): FileKind {
  if (entry.type !== 'other') return entry.type;
  switch (entry.meta.typeName) {
    case 'CharacterDevice':
      return 'char-device';
    case 'BlockDevice':
      return 'block-device';
    case 'FIFO':
      return 'fifo';
    default:
      return 'other';
  }
}

/** The bytes of a compressed stream, decompressed; a damaged stream ends the iteration with the decompressor's error. */
export function decompressed(stored: AsyncIterable<Buffer>, compression: Compression): AsyncIterable<Buffer> {
  if (compression === 'none') return stored;
  // pipeline (not pipe) so that a failing source destroys the decompressor too, instead of leaving it waiting.
  // The callback form returns the last stream, whose iteration ends with the first error of any stream.
  const streams = [Readable.from(stored, { objectMode: false }), ...decompressor(compression)];
  return pipeline(streams, () => undefined) as unknown as AsyncIterable<Buffer>;
}

/** The entries of a stored layer (gzip, zstd or plain tar), for reading files out of it. */
export async function* layerEntries(stored: AsyncIterable<Buffer>, what: string): AsyncGenerator<TarEntry> {
  const { head, all } = await peek(stored, 4);
  yield* readTar(decompressed(all, sniffCompression(head)), what);
}

/** Hashes and counts what flows through. */
function tap(source: AsyncIterable<Buffer>, hash: ReturnType<typeof createHash>, counter: { bytes: number }): AsyncGenerator<Buffer> {
  return (async function* () {
    for await (const chunk of source) {
      hash.update(chunk);
      counter.bytes += chunk.length;
      yield chunk;
    }
  })();
}

/** Reads one layer (gzip, zstd or plain tar): its digests and every entry with the hash of its content. */
export async function scanLayer(source: AsyncIterable<Buffer>, what: string): Promise<ScannedLayer> {
  const { head, all } = await peek(source, 4);
  const compression = sniffCompression(head);
  const stored = createHash('sha256');
  const storedCount = { bytes: 0 };
  const plain = createHash('sha256');
  const plainCount = { bytes: 0 };
  const storedBytes = tap(all, stored, storedCount);
  // An uncompressed layer's own hash is its diff_id: no need to hash the same bytes twice.
  const tarBytes = compression === 'none' ? storedBytes : tap(decompressed(storedBytes, compression), plain, plainCount);
  const files: FileFacts[] = [];
  for await (const entry of readTar(tarBytes, what)) {
    const kind = kindOf(entry);
    let contentHash: Digest | null = null;
    if (kind === 'file') {
      const hash = createHash('sha256');
      for await (const chunk of entry.body()) hash.update(chunk);
      contentHash = `sha256:${hash.digest('hex')}`;
    }
    files.push({
      path: '/' + entry.path,
      kind,
      mode: entry.meta.mode & 0o7777,
      uid: entry.meta.uid,
      gid: entry.meta.gid,
      uname: entry.meta.uname,
      gname: entry.meta.gname,
      mtime: entry.meta.mtime,
      size: entry.size,
      sha256: contentHash,
      linkTarget: kind === 'symlink' || kind === 'hardlink' ? (entry.linkpath ?? '') : null,
      device: kind === 'char-device' || kind === 'block-device' ? `${entry.meta.devmajor}:${entry.meta.devminor}` : null,
    });
  }
  const digest: Digest = `sha256:${stored.digest('hex')}`;
  return {
    digest,
    size: storedCount.bytes,
    compression,
    diffId: compression === 'none' ? digest : `sha256:${plain.digest('hex')}`,
    uncompressedSize: compression === 'none' ? storedCount.bytes : plainCount.bytes,
    files,
  };
}

/** A manifest reached from an index, with its config, checked against their digests. */
export interface ManifestEntry {
  descriptor: Descriptor;
  manifest: ImageManifest;
  configBytes: Buffer;
  config: ImageConfig;
}

/** Reads a document by digest, checked against it: a manifest or index, or a blob (config). */
export type FetchDocument = (digest: Digest, kind: 'manifest' | 'blob') => Promise<Buffer>;

const MAX_INDEX_DEPTH = 4;

/** The image manifests an index names (nested indexes followed; attestation entries skipped). */
export async function listManifests(indexBytes: Buffer, fetch: FetchDocument, what: string, depth = 0): Promise<ManifestEntry[]> {
  const index = parseJson<ImageIndex>(indexBytes, `${what}: index`);
  if (!index || !Array.isArray(index.manifests)) throw new UserError(`${what}: the index has no manifests list`);
  const found: ManifestEntry[] = [];
  for (const descriptor of index.manifests) {
    if (!isDigest(descriptor?.digest)) throw new UserError(`${what}: the index names a manifest with an invalid digest ${JSON.stringify(descriptor?.digest)}`);
    if (descriptor.platform?.os === 'unknown') continue;
    if (isIndexType(descriptor.mediaType)) {
      if (depth >= MAX_INDEX_DEPTH) throw new UserError(`${what}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
      found.push(...(await listManifests(await fetch(descriptor.digest, 'manifest'), fetch, what, depth + 1)));
    } else if (isManifestType(descriptor.mediaType)) {
      found.push(await readManifestEntry(descriptor, await fetch(descriptor.digest, 'manifest'), fetch, what));
    }
  }
  return found;
}

/** Parses a manifest (bytes already checked against `descriptor`) and fetches its config. */
export async function readManifestEntry(descriptor: Descriptor, manifestBytes: Buffer, fetch: FetchDocument, what: string): Promise<ManifestEntry> {
  const manifest = parseJson<ImageManifest>(manifestBytes, `${what}: manifest ${descriptor.digest}`);
  if (!manifest?.config || !isDigest(manifest.config.digest) || !Array.isArray(manifest.layers) || !manifest.layers.every((l) => isDigest(l?.digest))) {
    throw new UserError(`${what}: manifest ${descriptor.digest} has no valid config or layers`);
  }
  const configBytes = await fetch(manifest.config.digest, 'blob');
  const config = checkConfig(parseJson(configBytes, `${what}: config ${manifest.config.digest}`), what);
  return { descriptor, manifest: { ...manifest, mediaType: manifest.mediaType ?? descriptor.mediaType }, configBytes, config };
}

/** The arch of an image: the one named on the command line (checked), else what its config says, else null. */
function archOf(config: ImageConfig, given: BuildArch | undefined, what: string): BuildArch | null {
  if (given) return resolveArch(config, given, what);
  try {
    return archOfConfig(config, what);
  } catch {
    return null;
  }
}

function platformOfConfig(config: ImageConfig): Platform {
  return { architecture: config.architecture, os: config.os, ...(config.variant ? { variant: config.variant } : {}) };
}

function manifestFacts(entry: ManifestEntry, source: string, given: BuildArch | undefined): ImageFacts {
  return {
    source,
    manifest: { digest: entry.descriptor.digest, mediaType: entry.manifest.mediaType, document: entry.manifest },
    configDigest: entry.manifest.config.digest,
    config: entry.config,
    platform: entry.descriptor.platform ?? platformOfConfig(entry.config),
    arch: archOf(entry.config, given, source),
    layerCount: entry.manifest.layers.length,
  };
}

/** Checks scanned layers against what the manifest and config say of them. */
function checkLayers(facts: ImageFacts, layers: ScannedLayer[], what: string): void {
  const listed = facts.manifest?.document.layers;
  layers.forEach((layer, i) => {
    const descriptor = listed?.[i];
    if (descriptor && layer.digest !== descriptor.digest) throw new UserError(`${what}: layer ${i + 1} hashes to ${layer.digest}, but the manifest says ${descriptor.digest}`);
    if (descriptor && layer.size !== descriptor.size) throw new UserError(`${what}: layer ${descriptor.digest} is ${layer.size} bytes, the manifest says ${descriptor.size}`);
  });
  checkDiffIds(facts.config, layers.map((l) => l.diffId), what, layers.map((l, i) => listed?.[i]?.digest ?? l.digest));
}

/** A candidate whose layers are blobs read on demand (layout directory, registry). */
export function blobCandidate(entry: ManifestEntry, source: string, given: BuildArch | undefined, openBlob: (descriptor: Descriptor) => AsyncIterable<Buffer>): ImageCandidate {
  const facts = manifestFacts(entry, source, given);
  let scanned: Promise<ScannedImage> | undefined;
  const openLayer = (index: number) => openBlob(entry.manifest.layers[index]!);
  return {
    facts,
    openLayer,
    scan: () =>
      (scanned ??= (async () => {
        const layers: ScannedLayer[] = [];
        for (const [i, descriptor] of entry.manifest.layers.entries()) {
          if (layerCompression(descriptor.mediaType) === undefined) throw new UserError(`${source}: layer ${descriptor.digest} has media type ${descriptor.mediaType}, which is not an image layer`);
          layers.push(await scanLayer(openLayer(i), `${source}: layer ${i + 1}`));
        }
        checkLayers(facts, layers, source);
        return { ...facts, layers };
      })()),
  };
}

/** What one pass over an image archive found, for reading single layers again later. */
interface ArchiveScan {
  images: ScannedImage[];
  /** For each image, the archive entry holding each layer. */
  layerEntries: string[][];
}

/**
 * Scans a tar stream holding a docker-archive (docker save, dockerTools) or an OCI layout (Docker >= 25
 * archives hold both: the layout is read, because it has real manifests).
 */
async function scanArchive(source: AsyncIterable<Buffer>, what: string, given: BuildArch | undefined, options: { totalBytes?: number } = {}): Promise<ArchiveScan> {
  const { documents, documentAt, layerAt, dockerImages } = await readArchiveEntries(readTar(source, what, options), what, { read: scanLayer, digestOf: (layer) => layer.digest });

  const result: ArchiveScan = { images: [], layerEntries: [] };
  if (documents.has('index.json')) {
    const fetch: FetchDocument = async (digest) => documentAt(blobPath(digest), `blob ${digest}, named by the index,`);
    for (const entry of await listManifests(documents.get('index.json')!, fetch, what)) {
      const facts = manifestFacts(entry, what, given);
      const found = [];
      for (const descriptor of entry.manifest.layers) found.push(await layerAt(blobPath(descriptor.digest), 'the layer'));
      const imageLayers = found.map((f) => f.layer);
      checkLayers(facts, imageLayers, what);
      result.images.push({ ...facts, layers: imageLayers });
      result.layerEntries.push(found.map((f) => f.entry));
    }
  } else if (documents.has('manifest.json')) {
    for (const { configBytes, config, layerPaths } of dockerImages()) {
      const found = [];
      for (const layerPath of layerPaths) found.push(await layerAt(layerPath, 'manifest.json names the layer'));
      const facts: ImageFacts = {
        source: what,
        manifest: null,
        configDigest: sha256(configBytes),
        config,
        platform: platformOfConfig(config),
        arch: archOf(config, given, what),
        layerCount: found.length,
      };
      const imageLayers = found.map((f) => f.layer);
      checkLayers(facts, imageLayers, what);
      result.images.push({ ...facts, layers: imageLayers });
      result.layerEntries.push(found.map((f) => f.entry));
    }
  } else {
    throw new UserError(`${what} holds neither manifest.json (docker-archive) nor index.json (OCI layout): it is not an image archive`);
  }
  if (result.images.length === 0) throw new UserError(`${what} holds no image`);
  return result;
}

/** The stdout of a streamLayeredImage script; stopping early stops the script, a failure says why. */
async function* scriptOutput(script: string, display: string): AsyncGenerator<Buffer> {
  const child = spawn(script, [], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  let finished = false;
  try {
    yield* child.stdout as AsyncIterable<Buffer>;
    finished = true;
  } finally {
    if (!finished && child.exitCode === null && child.signalCode === null) child.kill();
  }
  const code = await exited;
  if (code !== 0) {
    throw new UserError(`the stream script ${display} failed (exit ${code ?? 'by signal'})${stderr.trim() ? `:\n${stderr.trim().split('\n').slice(-10).join('\n')}` : ''}`);
  }
}

/** The bytes of one archive entry (read from a fresh pass over the archive). */
async function* archiveEntry(open: () => AsyncIterable<Buffer>, entryPath: string, what: string): AsyncGenerator<Buffer> {
  for await (const entry of readTar(open(), what)) {
    if (entry.path === entryPath && entry.type === 'file') {
      yield* entry.body();
      return;
    }
  }
  throw new UserError(`${what}: '${entryPath}' is no longer in the archive (did it change since it was read?)`);
}

/**
 * The images of a local input: a result link, a docker-archive tarball (plain or gzip), a stream
 * script, an OCI layout folder or tarball; `ARCH=PATH` names the arch of an image that does not say it.
 * Archives are scanned whole right away (one pass); layout folders are scanned when asked.
 */
export async function openLocalImages(argument: string): Promise<ImageCandidate[]> {
  const { arch: given, path: file } = splitArchPrefix(argument);
  const display = file;
  const kind = await detectInput(file, display);
  if (kind === 'layout-directory') {
    const layout = new BlobStore(file);
    let indexBytes: Buffer;
    try {
      indexBytes = await readFile(path.join(file, 'index.json'));
    } catch {
      throw new UserError(`${display} is not an OCI layout: it has no index.json`);
    }
    const entries = await listManifests(indexBytes, (digest) => layout.readVerified(digest, MAX_DOCUMENT_BYTES, display), display);
    if (entries.length === 0) throw new UserError(`${display} holds no image`);
    return entries.map((entry) =>
      blobCandidate(entry, display, given, (descriptor) =>
        (async function* () {
          if (!(await layout.has(descriptor.digest, descriptor.size))) throw new UserError(`${display}: layer ${descriptor.digest} is missing or has the wrong size`);
          yield* layout.open(descriptor.digest) as AsyncIterable<Buffer>;
        })(),
      ),
    );
  }
  const open = (): AsyncIterable<Buffer> => {
    if (kind === 'stream-script') return scriptOutput(path.resolve(file), display);
    const input = createReadStream(file, { highWaterMark: 1 << 20 });
    return kind === 'tar.gz' ? decompressed(input, 'gzip') : input;
  };
  const totalBytes = kind === 'tar' ? (await stat(file)).size : undefined;
  const scanned = await scanArchive(open(), display, given, totalBytes !== undefined ? { totalBytes } : {});
  return scanned.images.map((image, i) => ({
    facts: image,
    scan: async () => image,
    openLayer: (index: number) => archiveEntry(open, scanned.layerEntries[i]![index]!, display),
  }));
}

export interface ArchiveSummary {
  configDigest: Digest;
  /** Layers, from the config's diff_ids. */
  layers: number;
  architecture: string;
}

/**
 * A quick look at an image archive (a build result): its config digest and layer count, reading only its
 * small documents and skipping the layers' bytes. Null for inputs that are not archives.
 */
export async function summarizeArchive(file: string): Promise<ArchiveSummary | null> {
  const kind = await detectInput(file, file).catch(() => undefined);
  if (kind !== 'tar' && kind !== 'tar.gz') return null;
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  const documents = new Map<string, Buffer>();
  for await (const entry of readTar(kind === 'tar.gz' ? decompressed(input, 'gzip') : input, file)) {
    if (entry.type !== 'file' || entry.size > MAX_DOCUMENT_BYTES) continue;
    const { head, all } = await peek(entry.body(), 512);
    if (looksLikeTar(head) || sniffCompression(head) !== 'none') {
      for await (const _ of all) {
        // Skipped: only the documents matter here.
      }
      continue;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of all) chunks.push(chunk);
    documents.set(entry.path, Buffer.concat(chunks));
  }
  let configBytes: Buffer | undefined;
  const manifestList = documents.get('manifest.json');
  if (manifestList) {
    const entries = parseJson<DockerArchiveEntry[]>(manifestList, `${file}: manifest.json`);
    configBytes = typeof entries?.[0]?.Config === 'string' ? documents.get(entries[0].Config.replace(/^\.\//, '')) : undefined;
  }
  if (!configBytes) return null;
  const config = checkConfig(parseJson(configBytes, file), file);
  return { configDigest: sha256(configBytes), layers: config.rootfs.diff_ids.length, architecture: config.architecture };
}
