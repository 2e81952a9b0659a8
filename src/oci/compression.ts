/**
 * Layer compression for registries. gzip is Node's zlib at a pinned level with the header's OS byte
 * pinned too (zlib writes another one on macOS and Windows), so the same layer gives the same bytes on
 * every run and machine with the same zlib; the layer descriptor records the compressor. zstd needs a
 * Node.js with zstd in zlib (22.15 / 23.8 and later).
 */
import zlib from 'node:zlib';
import { once } from 'node:events';
import { Transform, type TransformCallback } from 'node:stream';
import { UserError } from '../util/errors.js';
import type { Compression } from './media-types.js';

export const GZIP_LEVEL = 6;
/** Input is compressed in blocks of this size, each at GZIP_LEVEL or, when it looks random, stored. */
export const GZIP_BLOCK = 1 << 20;
/** Byte entropy (bits per byte, sampled) from which a block counts as already compressed. */
export const STORED_ENTROPY = 7.95;
/** zlib's output buffer: large, because each buffer costs a round trip from the thread pool. */
const ZLIB_CHUNK = 1 << 20;
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
    return `gzip level=${GZIP_LEVEL} mtime=0 os=${GZIP_OS_UNIX}; runs of ${GZIP_BLOCK}-byte blocks with sampled entropy >= ${STORED_ENTROPY} bits/byte stored, one member per run (Node.js zlib)`;
  }
  if (compression === 'zstd') return `zstd level=${ZSTD_LEVEL} (Node.js zlib)`;
  return undefined;
}

/** Identifies compressor output for caches: the same id means the same bytes for the same input. */
export function compressorId(compression: Compression): string {
  return compression === 'none' ? 'none' : `${compressorRecord(compression)} zlib=${process.versions.zlib}${compression === 'zstd' ? ` zstd=${process.versions['zstd'] ?? '?'}` : ''}`;
}

/** Shannon entropy of a block's bytes in bits per byte, from every 16th byte (65536 samples a MiB: plenty for 256 bins). */
export function sampledEntropy(block: Uint8Array): number {
  const counts = new Uint32Array(256);
  let samples = 0;
  for (let i = 0; i < block.length; i += 16) {
    counts[block[i]!]!++;
    samples++;
  }
  let entropy = 0;
  for (const count of counts) {
    if (count === 0) continue;
    const p = count / samples;
    entropy -= p * Math.log2(p);
  }
  return entropy;
}

/**
 * gzip that stores, rather than deflates, runs of blocks that look random: already-compressed files
 * (images, archives, fonts) gain nothing from deflate, which spends as long failing on them as it does
 * compressing text (pgzip, which skopeo uses, skips them too). The input is cut into fixed GZIP_BLOCK
 * blocks, each classified by its own bytes; each run of blocks of one class becomes one gzip member
 * (RFC 1952 allows a series of members; every gunzip reads them all). The output depends on the input
 * alone, not on how it arrives. Node's zlib params() cannot switch levels mid-stream, hence members.
 */
class BlockAdaptiveGzip extends Transform {
  private member: zlib.Gzip | null = null;
  private memberLevel = -1;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  private startMember(level: number): zlib.Gzip {
    const member = zlib.createGzip({ level, chunkSize: ZLIB_CHUNK });
    let headerBytes = 0;
    member.on('data', (chunk: Buffer) => {
      // Byte 9 of each member's header is the OS, which zlib sets to the platform it was built for.
      if (headerBytes <= 9 && headerBytes + chunk.length > 9) {
        chunk = Buffer.from(chunk);
        chunk[9 - headerBytes] = GZIP_OS_UNIX;
      }
      headerBytes += chunk.length;
      this.push(chunk);
    });
    member.on('error', (error) => this.destroy(error));
    return member;
  }

  private async endMember(): Promise<void> {
    if (!this.member) return;
    const ended = once(this.member, 'end');
    this.member.end();
    await ended;
    this.member = null;
  }

  private async writeBlock(block: Buffer): Promise<void> {
    const level = sampledEntropy(block) >= STORED_ENTROPY ? 0 : GZIP_LEVEL;
    if (level !== this.memberLevel) {
      await this.endMember();
      this.member = this.startMember(level);
      this.memberLevel = level;
    }
    if (!this.member!.write(block)) await once(this.member!, 'drain');
  }

  private async drainBlocks(final: boolean): Promise<void> {
    while (this.pendingBytes >= GZIP_BLOCK || (final && this.pendingBytes > 0)) {
      const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
      const size = Math.min(GZIP_BLOCK, all.length);
      await this.writeBlock(all.subarray(0, size));
      const rest = all.subarray(size);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.drainBlocks(false).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.drainBlocks(true)
      .then(async () => {
        // An empty layer is still one gzip member.
        if (!this.member) this.member = this.startMember(GZIP_LEVEL);
        await this.endMember();
      })
      .then(() => callback(), callback);
  }
}

/** The transforms that compress a layer (empty for none). */
export function compressor(compression: Compression): Transform[] {
  switch (compression) {
    case 'none':
      return [];
    case 'gzip':
      return [new BlockAdaptiveGzip()];
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
