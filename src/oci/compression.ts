/**
 * Layer compression for registries. gzip's deflate is pako's at a pinned level (pako, a port of zlib to
 * JavaScript, writes the bytes of the zlib that official Node.js builds bundle, Chromium's, whose hash
 * differs from canonical zlib's), with the header's OS byte pinned too (zlib writes another one on macOS
 * and Windows); so the same layer gives the same bytes on every run and machine, whichever zlib the
 * Node.js running addonix links (Debian's and Fedora's link the system's, which writes other bytes).
 * Node's zlib does the deflating where it writes pako's bytes (it is about four times as fast), which a
 * probe checks once per thread. The layer descriptor records the compressor. zstd needs a Node.js with
 * zstd in zlib (22.15 / 23.8 and later).
 */
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type { Transform } from 'node:stream';
import { UserError } from '../util/errors.js';
import type { Compression } from './media-types.js';

/**
 * zlib's level 2, one of its fast levels (no lazy matching). Pushing is CPU-bound on small machines
 * (compressing, hashing, and the registry's own work on the same cores), so the level decides how a push
 * compares with skopeo (containers/image's parallel gzip). On text that compresses as source code does,
 * with GZIP_MEM_LEVEL: level 2 deflates at 117 MB/s a core here for a ratio of 3.283, level 3 at 105 for
 * 3.312, level 4 at 81 for 3.460, level 6 at about half level 4's speed for 3.55. bench/push measured
 * level 4 at about 1.0x skopeo's time on one 1 GiB layer (its size within 0.1% of skopeo's), level 3 at
 * 0.81x (2.1% larger) but 1.00x on the two-arch image, level 2 about 4% faster again than level 3 for
 * output under 1% larger.
 */
export const GZIP_LEVEL = 2;
/** zlib's largest hash table: at level 3, 8% faster than its default (8) here, for slightly smaller output. */
const GZIP_MEM_LEVEL = 9;
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
/** The deflate that defines the bytes: pako's version, from the package itself (package-lock.json pins it). */
let pakoVersionRead: string | undefined;
/** Read when first asked (an import record's key names it), through the module resolver: CommonJS's require would cost a push 10 ms. */
const pakoVersion = (): string =>
  (pakoVersionRead ??= (JSON.parse(readFileSync(new URL(import.meta.resolve('pako/package.json')), 'utf8')) as { version: string }).version);

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
    throw new UserError('image-unsupported', 
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
      `gzip level=${GZIP_LEVEL} memLevel=${GZIP_MEM_LEVEL} mtime=0 os=${GZIP_OS_UNIX}; one member of ${GZIP_BLOCK}-byte blocks, each raw-deflated primed with the ${DEFLATE_WINDOW} bytes ` +
      `before it and sync-flushed, or stored in ${STORED_BLOCK_MAX}-byte deflate blocks when the entropy of its every ${ENTROPY_STRIDE}th byte is >= ${STORED_ENTROPY} bits/byte ` +
      `(deflate of pako ${pakoVersion()}, the bytes of official Node.js builds' zlib)`
    );
  }
  if (compression === 'zstd') return `zstd level=${ZSTD_LEVEL} (Node.js zlib)`;
  return undefined;
}

/**
 * Identifies compressor output for caches: the same id means the same bytes for the same input. gzip's
 * bytes are pako's whichever zlib this Node.js links; zstd's are those of the zstd it links.
 */
export function compressorId(compression: Compression): string {
  return compression === 'zstd' ? `${compressorRecord(compression)} zstd=${process.versions['zstd'] ?? '?'}` : (compressorRecord(compression) ?? 'none');
}

/** Options of every deflate of a block: pako's and Node's zlib's names are the same. */
const DEFLATE_OPTIONS = { level: GZIP_LEVEL, memLevel: GZIP_MEM_LEVEL } as const;

/**
 * pako, loaded when a block is first deflated by it or compared with it: most commands never compress,
 * and its 100 KB would lengthen every push's start-up. Its CommonJS build is the same code as its module.
 */
let pako: typeof import('pako') | undefined;

/** A block deflated by pako, raw, primed with the dictionary and sync-flushed: the reference bytes. */
export function referenceDeflate(block: Uint8Array, dictionary: Uint8Array | undefined): Buffer[] {
  const { Deflate, Z_OK, Z_SYNC_FLUSH } = (pako ??= createRequire(import.meta.url)('pako') as typeof import('pako'));
  const deflate = new Deflate({ raw: true, ...DEFLATE_OPTIONS, chunkSize: ZLIB_CHUNK, ...(dictionary && dictionary.length > 0 ? { dictionary } : {}) });
  const pieces: Buffer[] = [];
  // Each chunk is a view of a buffer of its own: wrapped, not copied.
  deflate.onData = (chunk: Uint8Array) => pieces.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  if (!deflate.push(block, Z_SYNC_FLUSH) || deflate.err !== Z_OK) throw new Error(`pako deflate failed: ${deflate.msg}`);
  return pieces;
}

/** The same block deflated by Node's zlib, at the same settings. */
function nodeDeflate(block: Uint8Array, dictionary: Uint8Array | undefined): Buffer {
  return zlib.deflateRawSync(block, { ...DEFLATE_OPTIONS, finishFlush: zlib.constants.Z_SYNC_FLUSH, chunkSize: ZLIB_CHUNK, ...(dictionary && dictionary.length > 0 ? { dictionary } : {}) });
}

/**
 * Text of the kind layers hold, made the same way every time (a seeded generator choosing among words,
 * numbers and punctuation): long enough that the hash, the lazy matching and the block splitting all take
 * part, in two blocks, the second primed with the first's last 32 KiB.
 */
function probeText(bytes: number): Buffer {
  const words = ['const', 'function', 'return', 'node_modules', 'require', '"version":', 'export', 'import', 'lib', '/nix/store/', 'sqlite3', 'addon', '{', '}', '(', ')', ';', '\n', '  '];
  const out = Buffer.alloc(bytes);
  let state = 0x2545f491;
  let at = 0;
  while (at < bytes) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const pick = state >>> 16;
    const piece = pick % 7 === 0 ? String(pick % 10007) : words[pick % words.length]!;
    at += out.write(piece + (pick % 3 === 0 ? ' ' : ''), at, 'latin1');
  }
  return out;
}

let nodeZlibAgreement: boolean | undefined;

/**
 * Whether Node's zlib writes pako's bytes (it does where it is Chromium's zlib, which official builds
 * bundle): checked once per thread on probe text, in two blocks as GzipBlocks deflates them. Where it does
 * not (a system zlib, zlib-ng), every block is deflated by pako. ADDONIX_DEFLATE=pako forces pako.
 */
export function nodeZlibWritesReference(): boolean {
  if (process.env['ADDONIX_DEFLATE'] === 'pako') return false;
  if (nodeZlibAgreement === undefined) {
    const text = probeText(2 * 96 * 1024);
    const first = text.subarray(0, text.length / 2);
    const second = text.subarray(text.length / 2);
    const dictionary = first.subarray(first.length - DEFLATE_WINDOW);
    nodeZlibAgreement =
      Buffer.concat(referenceDeflate(first, undefined)).equals(nodeDeflate(first, undefined)) &&
      Buffer.concat(referenceDeflate(second, dictionary)).equals(nodeDeflate(second, dictionary));
  }
  return nodeZlibAgreement;
}

/** How gzip layers are deflated here, for reports: by Node's zlib (checked equal) or by pako. */
export function deflateEngine(): string {
  return nodeZlibWritesReference()
    ? `gzip layers deflated by its zlib ${process.versions.zlib}, which writes the pinned bytes`
    : `gzip layers deflated by pako ${pakoVersion()}: its zlib ${process.versions.zlib} writes other bytes than the pinned ones (the same digests, pushed about four times slower than with an official Node.js build)`;
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

/** A block's bytes as stored deflate blocks: 5-byte headers between views of the block itself, uncopied. */
function storedBlocks(block: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < block.length; offset += STORED_BLOCK_MAX) {
    const length = Math.min(STORED_BLOCK_MAX, block.length - offset);
    out.push(storedBlockHeader(length, false), block.subarray(offset, offset + length));
  }
  return out;
}

/** Shannon entropy, in bits per byte, of every ENTROPY_STRIDE-th byte of a block from its start. */
function sampledEntropy(block: Buffer, counts: Uint32Array): number {
  counts.fill(0);
  for (let i = 0; i < block.length; i += ENTROPY_STRIDE) counts[block[i]!]!++;
  return entropyOf(counts);
}

/** Where compressed bytes go: pieces valid only during the call (they may be views of reused buffers). */
export type PieceSink = (pieces: readonly Buffer[]) => void;

/** A block on its way out: its output once compressed, and the buffers it holds until then. */
interface BlockJob {
  output: Promise<Buffer[]>;
  /** Returned to the pool once the output is out. */
  owned: Buffer[];
}

/**
 * gzip made block by block, in the shape pigz writes: the input is cut into fixed GZIP_BLOCK blocks, and
 * each is raw-deflated on its own by Node's zlib at GZIP_LEVEL, primed with the 32 KiB before it (so the
 * ratio is that of one stream) and ended with a sync flush (so the next block starts on a byte). That lets
 * a block whose sampled byte entropy says it is already compressed (images, archives, fonts: deflate
 * spends as long failing on them as it does compressing text) be stored instead, framed here around the
 * block's own bytes, uncopied, and lets blocks be deflated in parallel. The whole is one gzip member
 * (mtime 0, OS byte pinned) whose CRC is computed here; its bytes depend on the input alone, not on how
 * it arrives nor on how many blocks were deflated at once.
 *
 * It keeps no reference to what it is given once `write` has returned (or its promise resolved): a block
 * that arrives whole within one chunk is used in place, one spread over chunks is put together in a
 * buffer of its own, and a block deflated on another thread is first copied. So callers may reuse their
 * buffers (the import of a tar file reads every layer through one).
 *
 * `threads` is how many cores the blocks may use (a number, or a function asked at each block: an import
 * gets more cores when the imports beside it are done). With 1 (what an import gets when there are as many
 * inputs as cores, each on its worker thread) every block is deflated on the calling thread, and `write`
 * returns once its output is in the sink: measured with two inputs on two cores, handing blocks to zlib's
 * thread pool cost more (thread hand-offs) than it gained. With more, blocks go to zlib's thread pool,
 * one more at a time than there are cores, so that no core waits while the calling thread reads, hashes
 * and writes between blocks; their output goes to the sink in order.
 */
export class GzipBlocks {
  /** The block being put together from pieces of chunks. */
  private block: Buffer = Buffer.allocUnsafeSlow(GZIP_BLOCK);
  private blockBytes = 0;
  /** The last 32 KiB of the block before, which primes the next one's deflate. */
  private readonly window = Buffer.allocUnsafeSlow(DEFLATE_WINDOW);
  private windowBytes = 0;
  private readonly counts = new Uint32Array(256);
  private crc = 0;
  private size = 0;
  private ended = false;
  /** Blocks handed to the thread pool, oldest first. */
  private readonly jobs: BlockJob[] = [];
  /** Block-sized buffers (and windows) free for the next jobs. */
  private readonly spareBlocks: Buffer[] = [];
  private readonly spareWindows: Buffer[] = [];

  /** `threads` may change while a layer is compressed (an import whose neighbours are done gets their cores). */
  private readonly threadsNow: () => number;

  constructor(
    private readonly sink: PieceSink,
    threads: number | (() => number) = 1,
  ) {
    this.threadsNow = typeof threads === 'number' ? () => threads : threads;
    // XFL 0 and OS 3 (Unix), as zlib would write them at this level on Unix.
    sink([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, GZIP_OS_UNIX])]);
  }

  /** Takes a chunk; with threads > 1 the promise says when there is room for the next. */
  write(chunk: Buffer): void | Promise<void> {
    if (this.ended) throw new Error('GzipBlocks: write after end');
    while (chunk.length > 0) {
      if (this.blockBytes === 0 && chunk.length >= GZIP_BLOCK) {
        this.compressBlock(chunk.subarray(0, GZIP_BLOCK), false);
        chunk = chunk.subarray(GZIP_BLOCK);
        continue;
      }
      const take = Math.min(GZIP_BLOCK - this.blockBytes, chunk.length);
      chunk.copy(this.block, this.blockBytes, 0, take);
      this.blockBytes += take;
      chunk = chunk.subarray(take);
      if (this.blockBytes === GZIP_BLOCK) {
        this.compressBlock(this.block, true);
        this.blockBytes = 0;
      }
    }
    const threads = this.threadsNow();
    return this.jobs.length > threads ? this.drain(threads) : undefined;
  }

  /** Compresses what is left and ends the member: an empty final block, then CRC-32 and size. */
  async end(): Promise<void> {
    if (this.ended) return;
    if (this.blockBytes > 0) this.compressBlock(this.block.subarray(0, this.blockBytes), true);
    this.blockBytes = 0;
    this.ended = true;
    await this.drain(0);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.size % 2 ** 32, 4);
    this.sink([storedBlockHeader(0, true), trailer]);
  }

  /** Sends finished jobs' output to the sink, in order, until at most `left` are under way. */
  private async drain(left: number): Promise<void> {
    while (this.jobs.length > left) {
      const job = this.jobs[0]!;
      const output = await job.output;
      this.jobs.shift();
      this.sink(output);
      for (const buffer of job.owned) (buffer.length === GZIP_BLOCK ? this.spareBlocks : this.spareWindows).push(buffer);
    }
  }

  /** `assembled`: the block is this.block, which the next block must not overwrite while a thread reads it. */
  private compressBlock(block: Buffer, assembled: boolean): void {
    this.crc = zlib.crc32(block, this.crc);
    this.size += block.length;
    const stored = sampledEntropy(block, this.counts) >= STORED_ENTROPY;
    const options: zlib.ZlibOptions = { ...DEFLATE_OPTIONS, finishFlush: zlib.constants.Z_SYNC_FLUSH, chunkSize: ZLIB_CHUNK };
    const nodeZlib = nodeZlibWritesReference();
    // Only with nothing still out may a block go to the sink at once (output stays in order). pako runs
    // on this thread only (zlib's thread pool is for Node's zlib).
    if (this.jobs.length === 0 && (stored || this.threadsNow() === 1 || !nodeZlib)) {
      // On this thread; a stored block with nothing before it still out needs no copy either.
      if (stored) {
        this.sink(storedBlocks(block));
      } else {
        // Both copy the dictionary into their own window, so the buffer can be refilled right after.
        const dictionary = this.windowBytes > 0 ? this.window.subarray(0, this.windowBytes) : undefined;
        this.sink(nodeZlib ? [nodeDeflate(block, dictionary)] : referenceDeflate(block, dictionary));
      }
    } else {
      // The block and its dictionary must outlive this call: owned copies (or, for the assembly buffer, a swap).
      let owned: Buffer;
      if (assembled) {
        owned = this.block;
        this.block = this.spareBlocks.pop() ?? Buffer.allocUnsafeSlow(GZIP_BLOCK);
      } else {
        owned = this.spareBlocks.pop() ?? Buffer.allocUnsafeSlow(GZIP_BLOCK);
        block.copy(owned);
      }
      const data = owned.subarray(0, block.length);
      const job: BlockJob = { owned: [owned], output: Promise.resolve(storedBlocks(data)) };
      if (!stored) {
        if (this.windowBytes > 0) {
          const dictionary = this.spareWindows.pop() ?? Buffer.allocUnsafeSlow(DEFLATE_WINDOW);
          this.window.copy(dictionary, 0, 0, this.windowBytes);
          options.dictionary = dictionary.subarray(0, this.windowBytes);
          job.owned.push(dictionary);
        }
        job.output = nodeZlib
          ? new Promise((resolve, reject) => zlib.deflateRaw(data, options, (error, output) => (error ? reject(error) : resolve([output]))))
          : Promise.resolve(referenceDeflate(data, options.dictionary as Buffer | undefined));
        // Awaited in order by drain; a failure before then is no crash.
        job.output.catch(() => undefined);
      }
      this.jobs.push(job);
    }
    // Only the last block is shorter than GZIP_BLOCK, so every block before one is larger than the window.
    this.windowBytes = block.copy(this.window, 0, Math.max(0, block.length - DEFLATE_WINDOW));
  }
}

/** The zstd compressor of a layer: a stream (Node's zlib has no synchronous streaming zstd). */
export function zstdCompressor(): Transform {
  requireZstd('compressing a layer with zstd');
  const level = zstdZlib.constants.ZSTD_c_compressionLevel;
  return zstdZlib.createZstdCompress!(level === undefined ? {} : { params: { [level]: ZSTD_LEVEL } });
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
