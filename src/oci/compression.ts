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
  if (compression === 'gzip') return `gzip level=${GZIP_LEVEL} mtime=0 os=${GZIP_OS_UNIX} (Node.js zlib)`;
  if (compression === 'zstd') return `zstd level=${ZSTD_LEVEL} (Node.js zlib)`;
  return undefined;
}

/** Identifies compressor output for caches: the same id means the same bytes for the same input. */
export function compressorId(compression: Compression): string {
  return compression === 'none' ? 'none' : `${compressorRecord(compression)} zlib=${process.versions.zlib}${compression === 'zstd' ? ` zstd=${process.versions['zstd'] ?? '?'}` : ''}`;
}

/** Sets byte 9 of the gzip header (the OS) to Unix, whatever platform zlib was built for. */
class PinGzipOs extends Transform {
  private seen = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.seen <= 9 && this.seen + chunk.length > 9) {
      chunk = Buffer.from(chunk);
      chunk[9 - this.seen] = GZIP_OS_UNIX;
    }
    this.seen += chunk.length;
    callback(null, chunk);
  }
}

/** The transforms that compress a layer (empty for none). */
export function compressor(compression: Compression): Transform[] {
  switch (compression) {
    case 'none':
      return [];
    case 'gzip':
      return [zlib.createGzip({ level: GZIP_LEVEL }), new PinGzipOs()];
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
      return [zlib.createGunzip()];
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
