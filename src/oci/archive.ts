/**
 * The entries of an image archive (a docker-archive, or an OCI layout as a tar), read in one streaming
 * pass whatever their order: layers are handed to the caller as they stream past (pushing stores them,
 * diffing scans them), small documents are kept, links are recorded. Lookups afterwards follow the
 * links and check every digest an entry's path names. One reader for every command, so hostile archives
 * are refused the same way everywhere.
 */
import path from 'node:path';
import { UserError } from '../util/errors.js';
import { digestHex, sha256, type Digest } from './digest.js';
import { looksLikeTar, sniffCompression } from './compression.js';
import { checkConfig, MAX_DOCUMENT_BYTES, parseJson } from './image.js';
import { safeEntryPath, type TarEntry } from './tar.js';
import type { DockerArchiveEntry, ImageConfig } from './types.js';

/** Links followed from one path before it counts as a loop (or an archive made to waste time). */
const MAX_LINK_HOPS = 16;

/** `blobs/sha256/<hex>` for a digest: where layouts and Docker >= 25 archives keep a blob. */
export function blobPath(digest: Digest): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

export function digestOfBlobPath(entryPath: string): Digest | undefined {
  const match = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(entryPath);
  return match ? `sha256:${match[1]!}` : undefined;
}

export async function* bufferChunks(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

/**
 * Reads the first `bytes` of a stream and gives them back with the rest, unread. Chunks valid only until
 * the next is read (TarEntry.body's transient ones) stay usable: a chunk too short for the head is copied
 * before the next is read.
 */
export async function peek(source: AsyncIterable<Buffer>, bytes: number): Promise<{ head: Buffer; all: AsyncGenerator<Buffer> }> {
  const iterator = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done) break;
    length += next.value.length;
    chunks.push(length < bytes ? Buffer.from(next.value) : next.value);
  }
  // One chunk (the usual case) is given back as it is, not copied.
  const head = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  const all = (async function* () {
    if (head.length > 0) yield head;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  })();
  return { head, all };
}

/** Where a link inside an image archive points, as an archive path; refuses links that leave the archive. */
export function archiveLinkTarget(entry: TarEntry, what: string): string {
  const target = entry.type === 'symlink' ? path.posix.normalize(path.posix.join(path.posix.dirname(entry.path), entry.linkpath!)) : entry.linkpath!;
  if (entry.linkpath!.startsWith('/') || target.startsWith('..')) {
    throw new UserError(`${what}: refusing ${entry.type} '${entry.path}' -> '${entry.linkpath}': it points outside the archive`);
  }
  return safeEntryPath(target, what);
}

/** What the caller does with a layer's bytes, and the digest of those bytes as the archive holds them. */
export interface LayerReader<L> {
  read(body: AsyncIterable<Buffer>, what: string): Promise<L>;
  digestOf(layer: L): Digest;
  /** read() uses each chunk up before asking for the next, so it may be given transient ones (TarEntry.body). */
  transient?: boolean;
}

export interface ArchiveEntries<L> {
  /** The small documents by entry path (`manifest.json`, `index.json`, configs, manifests). */
  documents: ReadonlyMap<string, Buffer>;
  /** The document at a path (links followed), checked against the digest its path names. */
  documentAt(entryPath: string, purpose: string): Buffer;
  /** The layer at a path (links followed), checked against the digest its path names, and the entry it is. */
  layerAt(entryPath: string, purpose: string): Promise<{ layer: L; entry: string }>;
  /** The images `manifest.json` lists (docker-archive), each with its config read and checked; throws when it has none. */
  dockerImages(): DockerArchiveImage[];
}

/** One image of a docker-archive's `manifest.json`. */
export interface DockerArchiveImage {
  names: string[];
  configBytes: Buffer;
  config: ImageConfig;
  /** The archive paths of its layers, in order, as manifest.json names them. */
  layerPaths: string[];
}

/**
 * Reads every entry of an image archive. Entries other than files, folders and links are refused, as are
 * links leaving the archive and large entries that are not layers; paths named later (by manifest.json,
 * by an index) are normalized and refused when they would leave the archive.
 */
export async function readArchiveEntries<L>(entries: AsyncIterable<TarEntry>, what: string, layers: LayerReader<L>): Promise<ArchiveEntries<L>> {
  const documents = new Map<string, Buffer>();
  const layerByEntry = new Map<string, L>();
  const links = new Map<string, string>();
  for await (const entry of entries) {
    if (entry.type === 'directory') continue;
    if (entry.type === 'symlink' || entry.type === 'hardlink') {
      links.set(entry.path, archiveLinkTarget(entry, what));
      continue;
    }
    if (entry.type !== 'file') throw new UserError(`${what}: refusing entry '${entry.path}': an image archive holds only files, folders and links`);
    const { head, all } = await peek(entry.body({ transient: layers.transient === true }), 512);
    if (looksLikeTar(head) || sniffCompression(head) !== 'none') {
      layerByEntry.set(entry.path, await layers.read(all, `${what}: ${entry.path}`));
    } else if (entry.size <= MAX_DOCUMENT_BYTES) {
      const chunks: Buffer[] = [];
      // Copied as read (a transient chunk is gone once the next is read), so one chunk needs no concat.
      for await (const chunk of all) chunks.push(Buffer.from(chunk));
      documents.set(entry.path, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    } else {
      throw new UserError(`${what}: entry '${entry.path}' (${entry.size} bytes) is neither a layer nor a JSON document`);
    }
  }

  const resolve = (entryPath: string): string => {
    let current = safeEntryPath(entryPath, what);
    for (let hops = 0; links.has(current); hops++) {
      if (hops > MAX_LINK_HOPS) throw new UserError(`${what}: '${entryPath}' is a chain of links that does not end`);
      current = links.get(current)!;
    }
    return current;
  };
  const documentAt = (entryPath: string, purpose: string): Buffer => {
    const resolved = resolve(entryPath);
    const found = documents.get(resolved);
    if (!found) throw new UserError(`${what}: ${purpose} '${entryPath}' is not in the archive`);
    const named = digestOfBlobPath(resolved);
    if (named && sha256(found) !== named) throw new UserError(`${what}: '${entryPath}' does not match its digest ${named}`);
    return found;
  };
  return {
    documents,
    documentAt,
    dockerImages() {
      const list = documents.get('manifest.json');
      if (!list) throw new UserError(`${what} has no manifest.json`);
      const entries = parseJson<DockerArchiveEntry[]>(list, `${what}: manifest.json`);
      if (!Array.isArray(entries) || entries.length === 0) throw new UserError(`${what}: manifest.json lists no image`);
      return entries.map((entry) => {
        if (typeof entry?.Config !== 'string' || !Array.isArray(entry.Layers)) throw new UserError(`${what}: manifest.json has an entry without Config or Layers`);
        const configBytes = documentAt(entry.Config, 'manifest.json names the config');
        const config = checkConfig(parseJson(configBytes, `${what}: ${entry.Config}`), what);
        return { names: entry.RepoTags ?? [], configBytes, config, layerPaths: entry.Layers.map(String) };
      });
    },
    async layerAt(entryPath, purpose) {
      const resolved = resolve(entryPath);
      let layer = layerByEntry.get(resolved);
      if (layer === undefined) {
        // A small layer that did not look like one (an old-style tar header) was kept as a document.
        const bytes = documents.get(resolved);
        if (!bytes) throw new UserError(`${what}: ${purpose} '${entryPath}' is not in the archive`);
        layer = await layers.read(bufferChunks(bytes), `${what}: ${entryPath}`);
        layerByEntry.set(resolved, layer);
      }
      const named = digestOfBlobPath(resolved);
      const digest = layers.digestOf(layer);
      if (named && digest !== named) throw new UserError(`${what}: '${entryPath}' does not match its digest ${named} (it hashes to ${digest})`);
      return { layer, entry: resolved };
    },
  };
}
