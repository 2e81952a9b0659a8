/** Digests: `sha256:<64 hex>`, the only algorithm addonix writes. */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';

export type Digest = `sha256:${string}`;

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST.test(value);
}

export function sha256(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The hex part of a digest, which names blob files. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/** SHA-256 and byte count of data given piece by piece, synchronously (it keeps no reference to the pieces). */
export class Hasher {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  /** The digest of what was given so far. */
  digest(): Digest {
    return `sha256:${this.hash.copy().digest('hex')}`;
  }
}

/**
 * SHA-256 and byte count of the bytes [offset, offset + size) of a file (fewer when the file ends
 * before), read in 64 KiB pieces: small enough to be hashed while they are still in the processor's
 * cache (see tar.ts, HASHED_READ_BYTES).
 */
export function hashFileRange(file: string, offset: number, size: number): { digest: Digest; bytes: number } {
  const hasher = new Hasher();
  const piece = Buffer.allocUnsafeSlow(64 * 1024);
  const fd = openSync(file, 'r');
  try {
    for (let position = offset, end = offset + size; position < end; ) {
      const bytes = readSync(fd, piece, 0, Math.min(piece.length, end - position), position);
      if (bytes === 0) break;
      hasher.update(bytes === piece.length ? piece : piece.subarray(0, bytes));
      position += bytes;
    }
  } finally {
    closeSync(fd);
  }
  return { digest: hasher.digest(), bytes: hasher.bytes };
}
