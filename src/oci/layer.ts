/**
 * Reading one layer, the same way for every command: its stored bytes hashed (the digest a manifest
 * lists), decompressed when they are compressed and hashed again (the diff_id a config lists), and every
 * entry checked by the layer rules. Importers add what they keep (the tar bytes, to compress them);
 * scanners what they learn (each file's content hash).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UserError } from '../util/errors.js';
import { peek } from './bytes.js';
import { decompressor, sniffCompression } from './compression.js';
import { Hasher, type Digest } from './digest.js';
import { LayerChecker, type LayerRules } from './layer-rules.js';
import type { PathFlags } from './path-flags.js';
import type { Compression } from './media-types.js';
import { readHead, readTar, readTarRange, type TarEntry } from './tar.js';

export interface LayerRead {
  /** Digest and size of the bytes as stored (what a manifest lists). */
  digest: Digest;
  size: number;
  compression: Compression;
  /** Digest and size of the uncompressed tar (what a config lists). */
  diffId: Digest;
  uncompressedSize: number;
  /** Entries in the layer, and device nodes among them (allowed by the rules). */
  entries: number;
  devices: number;
}

export interface ReadLayerOptions {
  rules: LayerRules;
  /** Where the layer rules keep the paths they have seen (a scan reads them too); a new set otherwise. */
  paths?: PathFlags;
  /** The stored chunks may be views of a buffer the source reuses once the next is asked for. */
  transient?: boolean;
  /** Sees each stored chunk, in order (to keep the layer as it is). */
  onStored?: (chunk: Buffer) => void;
  /** Sees the uncompressed tar, chunk by chunk, in order (to compress it); may make the reading wait. */
  onTar?: (chunk: Buffer) => void | Promise<void>;
  /** Each entry, checked, with its path in the image; may read the body. */
  onEntry?: (entry: TarEntry, path: string) => void | Promise<void>;
  /**
   * Where the stored bytes lie in a plain file (LayerHandle.range): an uncompressed layer is then read
   * from there, hashed as it is read (when neither onStored nor onTar wants its bytes).
   */
  range?: { file: string; offset: number; size: number } | undefined;
  /**
   * Hashes such a range elsewhere (another thread; see RangeHasher in scan-pool.ts): the entries are
   * then read here without hashing, bodies nobody reads skipped, and the layer's digest is the range's.
   * Null: the range is hashed here as it is read after all.
   */
  hashRange?: (range: { file: string; offset: number; size: number }) => Promise<{ digest: Digest; bytes: number }> | null;
  /** Told, entry by entry, where in the file such a range has been read to (for RangeHasher's turns). */
  reached?: (offset: number) => void;
}

/** Chunks passed through, each hashed and shown to `look` first. */
async function* tap(chunks: AsyncIterable<Buffer>, hasher: Hasher, look: ((chunk: Buffer) => void | Promise<void>) | undefined): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    hasher.update(chunk);
    if (look) await look(chunk);
    yield chunk;
  }
}

function streamError(error: unknown, what: string, compression: Compression): Error {
  if (error instanceof UserError) return error;
  const code = String((error as NodeJS.ErrnoException).code ?? '');
  if (code.startsWith('Z_') || code.startsWith('ERR_ZLIB') || /incorrect header|invalid|unexpected end/i.test(String((error as Error).message))) {
    return new UserError('image-invalid', `${what}: the layer is not valid ${compression} data (${(error as Error).message})`);
  }
  return error as Error;
}

/** Reads one layer whole: see the module comment. Throws a UserError for a layer the rules refuse. */
export async function readLayer(source: AsyncIterable<Buffer>, what: string, options: ReadLayerOptions): Promise<LayerRead> {
  const range = options.range;
  if (range && !options.onStored && !options.onTar && sniffCompression(readHead(range.file, range.offset, 4)) === 'none') {
    // An uncompressed layer in a plain file: read where it lies, each piece hashed while it is fresh, or
    // the whole range hashed beside the reading by another thread.
    const hashed = options.hashRange?.(range) ?? undefined;
    // Settled here when the reading fails first (the reading's error is the one to report).
    hashed?.catch(() => undefined);
    const stored = hashed ? undefined : new Hasher();
    const checker = new LayerChecker(options.rules, what, options.paths);
    for await (const entry of readTarRange(range.file, range, what, stored)) {
      const path = checker.check(entry);
      await options.onEntry?.(entry, path);
      options.reached?.(entry.offset!);
    }
    const { digest, bytes } = hashed ? await hashed : { digest: stored!.digest(), bytes: stored!.bytes };
    return { digest, size: bytes, compression: 'none', diffId: digest, uncompressedSize: bytes, entries: checker.entries, devices: checker.devices };
  }
  const { head, all } = await peek(source, 4);
  const compression = sniffCompression(head);
  const stored = new Hasher();
  const checker = new LayerChecker(options.rules, what, options.paths);
  const walk = async (tarBytes: AsyncIterable<Buffer>) => {
    for await (const entry of readTar(tarBytes, what)) {
      const path = checker.check(entry);
      await options.onEntry?.(entry, path);
    }
  };
  let uncompressed = stored;
  try {
    if (compression === 'none') {
      // An uncompressed layer's own hash is its diff_id: its bytes are hashed once.
      await walk(
        tap(all, stored, async (chunk) => {
          options.onStored?.(chunk);
          await options.onTar?.(chunk);
        }),
      );
    } else {
      uncompressed = new Hasher();
      const tar = uncompressed;
      // The stored chunks go through zlib, which keeps them a while: copies when they are transient.
      const storedChunks = (async function* () {
        for await (const chunk of tap(all, stored, options.onStored)) yield options.transient ? Buffer.from(chunk) : chunk;
      })();
      await pipeline(Readable.from(storedChunks, { objectMode: false }), decompressor(compression)[0]!, async (plain: AsyncIterable<Buffer>) => walk(tap(plain, tar, options.onTar)));
    }
  } catch (error) {
    throw streamError(error, what, compression);
  }
  return {
    digest: stored.digest(),
    size: stored.bytes,
    compression,
    diffId: uncompressed.digest(),
    uncompressedSize: uncompressed.bytes,
    entries: checker.entries,
    devices: checker.devices,
  };
}
