/**
 * Layer compression for registries. gzip is Node's zlib at a pinned level with the header's OS byte
 * pinned too (zlib writes another one on macOS and Windows), so the same layer gives the same bytes on
 * every run and machine with the same zlib; the layer descriptor records the compressor. zstd needs a
 * Node.js with zstd in zlib (22.15 / 23.8 and later).
 */
import zlib from 'node:zlib';
import { Transform, type TransformCallback } from 'node:stream';
import { UserError } from '../util/errors.js';
import type { Compression } from './media-types.js';

export const GZIP_LEVEL = 6;
/** Input is compressed in blocks of this size, each at GZIP_LEVEL or, when it looks random, stored. */
export const GZIP_BLOCK = 1 << 20;
/** Byte entropy (bits per byte, sampled) from which a block counts as already compressed. */
export const STORED_ENTROPY = 7.95;
/**
 * Every this-many-th byte of a block is sampled: one a cache line, 16384 a MiB, which puts random bytes
 * at 7.99 bits/byte, far from STORED_ENTROPY, at a quarter of the memory traffic of reading them all.
 */
const ENTROPY_STRIDE = 64;
/** The largest stored deflate block (RFC 1951: a 16-bit length). */
const STORED_BLOCK_MAX = 0xffff;
/** Deflate's window, the size of the dictionary that primes each block. */
const DEFLATE_WINDOW = 32 * 1024;
/** zlib's output buffer: room for a whole block's output in one piece (and, for gunzip, few thread-pool round trips). */
const ZLIB_CHUNK = GZIP_BLOCK + (64 << 10);
export const ZSTD_LEVEL = 3;
const GZIP_OS_UNIX = 3;

type ZstdZlib = typeof zlib & {
  createZstdCompress?: (options?: { params?: Record<number, number> }) => Transform;
  createZstdDecompress?: () => Transform;
  constants: typeof zlib.constants & { ZSTD_c_compressionLevel?: number };
};
const zstdZlib = zlib as ZstdZlib;

export function zstdAvailable(): boolean {
  return typeof zstdZlib.createZstdCompress === 'function' && typeof zstdZlib.createZstdDecompress === 'function';
}

function requireZstd(doing: string): void {
  if (!zstdAvailable()) {
    throw new UserError(
      `${doing} needs zstd, which this Node.js (${process.version}) does not have: Node.js has zstd in zlib from 22.15 and 23.8. ` +
        'Use --compression gzip (the default) or none, or run addonix with a newer Node.js.',
    );
  }
}

/** Throws a UserError now, before any work, when the runtime cannot produce this compression. */
export function checkCompression(compression: Compression): void {
  if (compression === 'zstd') requireZstd('--compression zstd');
}

/** What the layer descriptor records about the compressor (annotation io.addonix.layer.compressor). */
export function compressorRecord(compression: Compression): string | undefined {
  if (compression === 'gzip') {
    return (
      `gzip level=${GZIP_LEVEL} mtime=0 os=${GZIP_OS_UNIX}; one member of ${GZIP_BLOCK}-byte blocks, each raw-deflated primed with the ${DEFLATE_WINDOW} bytes ` +
      `before it and sync-flushed, or stored in ${STORED_BLOCK_MAX}-byte deflate blocks when the entropy of its every ${ENTROPY_STRIDE}th byte is >= ${STORED_ENTROPY} bits/byte (Node.js zlib)`
    );
  }
  if (compression === 'zstd') return `zstd level=${ZSTD_LEVEL} (Node.js zlib)`;
  return undefined;
}

/** Identifies compressor output for caches: the same id means the same bytes for the same input. */
export function compressorId(compression: Compression): string {
  return compression === 'none' ? 'none' : `${compressorRecord(compression)} zlib=${process.versions.zlib}${compression === 'zstd' ? ` zstd=${process.versions['zstd'] ?? '?'}` : ''}`;
}

/** Shannon entropy in bits per byte of sampled byte counts. */
function entropyOf(counts: Uint32Array): number {
  let samples = 0;
  for (const count of counts) samples += count;
  let entropy = 0;
  for (const count of counts) {
    if (count === 0) continue;
    const p = count / samples;
    entropy -= p * Math.log2(p);
  }
  return entropy;
}

/** A stored deflate block's header (byte-aligned, as every block starts here): BFINAL/BTYPE=00, LEN, NLEN. */
function storedBlockHeader(length: number, final: boolean): Buffer {
  const header = Buffer.alloc(5);
  header[0] = final ? 1 : 0;
  header.writeUInt16LE(length, 1);
  header.writeUInt16LE(~length & 0xffff, 3);
  return header;
}

/** A block's bytes as stored deflate blocks: 5-byte headers between slices of the input's own buffers. */
function storedBlocks(pieces: Buffer[], bytes: number): Buffer[] {
  const out: Buffer[] = [];
  let piece = 0;
  let offset = 0;
  for (let left = bytes; left > 0; ) {
    const length = Math.min(STORED_BLOCK_MAX, left);
    out.push(storedBlockHeader(length, false));
    for (let need = length; need > 0; ) {
      const from = pieces[piece]!;
      const take = Math.min(need, from.length - offset);
      out.push(from.subarray(offset, offset + take));
      need -= take;
      offset += take;
      if (offset === from.length) {
        piece++;
        offset = 0;
      }
    }
    left -= length;
  }
  return out;
}

/** The last `size` bytes of a block given as pieces: a view when the last piece holds them, else a copy of just them. */
function tail(pieces: Buffer[], size: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = pieces.length - 1, need = size; i >= 0 && need > 0; i--) {
    const piece = pieces[i]!;
    const part = piece.length > need ? piece.subarray(piece.length - need) : piece;
    parts.unshift(part);
    need -= part.length;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * gzip made block by block, in the shape pigz writes: the input is cut into fixed GZIP_BLOCK blocks, and
 * each is raw-deflated on its own by Node's zlib at GZIP_LEVEL, primed with the 32 KiB before it (so the
 * ratio is that of one stream) and ended with a sync flush (so the next block starts on a byte). That lets
 * a block whose sampled byte entropy says it is already compressed (images, archives, fonts: deflate
 * spends as long failing on them as it does compressing text) be stored instead, framed here around the
 * input's own buffers, uncopied. The whole is one gzip member (mtime 0, OS byte pinned) whose CRC is
 * computed here; its bytes depend on the input alone, not on how it arrives.
 *
 * Blocks are deflated synchronously, on the thread that reads the layer: imports run on worker threads,
 * one per input, and measured with two inputs on two cores, handing each block to zlib's thread pool
 * cost more (thread hand-offs, a stream per block) than it gained.
 */
class BlockGzip extends Transform {
  /** The block being gathered: pieces of the input's chunks. */
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  /** Counts of the block's sampled bytes (every ENTROPY_STRIDE-th from its start). */
  private readonly counts = new Uint32Array(256);
  /** The 32 KiB before the block being gathered, the dictionary that primes its deflate. */
  private dictionary: Buffer | undefined;
  private crc = 0;
  private size = 0;
  /** Where a block that spans input chunks is put together for zlib (reused: fresh ones cost page faults). */
  private scratch: Buffer | undefined;

  constructor() {
    super();
    // XFL 0 and OS 3 (Unix), as zlib would write them at this level on Unix.
    this.push(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, GZIP_OS_UNIX]));
  }

  private gather(piece: Buffer): void {
    const counts = this.counts;
    for (let i = (ENTROPY_STRIDE - (this.pieceBytes % ENTROPY_STRIDE)) % ENTROPY_STRIDE; i < piece.length; i += ENTROPY_STRIDE) counts[piece[i]!]!++;
    this.crc = zlib.crc32(piece, this.crc);
    this.pieces.push(piece);
    this.pieceBytes += piece.length;
  }

  private writeBlock(): void {
    const { pieces, pieceBytes } = this;
    if (entropyOf(this.counts) >= STORED_ENTROPY) {
      for (const chunk of storedBlocks(pieces, pieceBytes)) this.push(chunk);
    } else {
      let input = pieces[0]!;
      if (pieces.length > 1) {
        this.scratch ??= Buffer.allocUnsafeSlow(GZIP_BLOCK);
        let offset = 0;
        for (const piece of pieces) offset += piece.copy(this.scratch, offset);
        input = this.scratch.subarray(0, pieceBytes);
      }
      const options: zlib.ZlibOptions = { level: GZIP_LEVEL, finishFlush: zlib.constants.Z_SYNC_FLUSH, chunkSize: ZLIB_CHUNK };
      if (this.dictionary) options.dictionary = this.dictionary;
      this.push(zlib.deflateRawSync(input, options));
    }
    this.dictionary = tail(pieces, DEFLATE_WINDOW);
    this.size += pieceBytes;
    this.pieces = [];
    this.pieceBytes = 0;
    this.counts.fill(0);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      while (chunk.length > 0) {
        const room = GZIP_BLOCK - this.pieceBytes;
        this.gather(chunk.length > room ? chunk.subarray(0, room) : chunk);
        chunk = chunk.subarray(Math.min(room, chunk.length));
        if (this.pieceBytes === GZIP_BLOCK) this.writeBlock();
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.pieceBytes > 0) this.writeBlock();
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.crc >>> 0, 0);
      trailer.writeUInt32LE(this.size % 2 ** 32, 4);
      // An empty final block ends the deflate stream, then CRC-32 and size.
      this.push(Buffer.concat([storedBlockHeader(0, true), trailer]));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}

/** The transforms that compress a layer (empty for none). */
export function compressor(compression: Compression): Transform[] {
  switch (compression) {
    case 'none':
      return [];
    case 'gzip':
      return [new BlockGzip()];
    case 'zstd': {
      requireZstd('compressing a layer with zstd');
      const level = zstdZlib.constants.ZSTD_c_compressionLevel;
      return [zstdZlib.createZstdCompress!(level === undefined ? {} : { params: { [level]: ZSTD_LEVEL } })];
    }
  }
}

export function decompressor(compression: Compression): Transform[] {
  switch (compression) {
    case 'none':
      return [];
    case 'gzip':
      return [zlib.createGunzip({ chunkSize: ZLIB_CHUNK })];
    case 'zstd':
      requireZstd('reading a zstd-compressed layer');
      return [zstdZlib.createZstdDecompress!()];
  }
}

/** The compression of a stream from its first bytes: gzip and zstd have magic numbers, tar does not. */
export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** Whether a block looks like the start of a tar stream (ustar magic, or the zero block of an empty tar). */
export function looksLikeTar(head: Buffer): boolean {
  if (head.length < 512) return false;
  if (head.subarray(257, 262).toString('latin1') === 'ustar') return true;
  return head.subarray(0, 512).every((byte) => byte === 0);
}
