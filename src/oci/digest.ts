/** Digests: `sha256:<64 hex>`, the only algorithm addonix writes. */
import { createHash, type Hash } from 'node:crypto';

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
