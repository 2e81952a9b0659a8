/**
 * A content-addressed blob store: `DIR/blobs/sha256/<hex>`, the layout of an OCI image layout. Blobs are
 * written to a temporary file and renamed to their digest once complete, so a blob file is never half
 * written.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, readFile, rename, rm, stat, copyFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { UserError } from '../util/errors.js';
import { digestHex, sha256, type Digest } from './digest.js';

/** How much a blob being written may hold in memory before its writer waits. */
const WRITE_BUFFER = 4 << 20;

export interface PendingBlob {
  /** Where to write the bytes. */
  stream: Writable;
  /** Renames the written file to its digest (verified by the caller); answers whether it was new. */
  commit(digest: Digest): Promise<boolean>;
  /** Removes the temporary file. */
  abort(): Promise<void>;
}

export class BlobStore {
  constructor(readonly dir: string) {}

  get blobDir(): string {
    return path.join(this.dir, 'blobs', 'sha256');
  }

  path(digest: Digest): string {
    return path.join(this.blobDir, digestHex(digest));
  }

  /** Whether the blob is present with the given size (a stat, not a re-hash). */
  async has(digest: Digest, size?: number): Promise<boolean> {
    try {
      const info = await stat(this.path(digest));
      return info.isFile() && (size === undefined || info.size === size);
    } catch {
      return false;
    }
  }

  async create(): Promise<PendingBlob> {
    await mkdir(this.blobDir, { recursive: true });
    const temp = path.join(this.blobDir, `.partial-${process.pid}-${randomBytes(6).toString('hex')}`);
    // A deep buffer, so that the many small chunks of a stored layer go to the file a few writev calls at a time.
    const stream = createWriteStream(temp, { highWaterMark: WRITE_BUFFER });
    let done = false;
    return {
      stream,
      commit: async (digest) => {
        done = true;
        if (await this.has(digest)) {
          await rm(temp, { force: true });
          return false;
        }
        await rename(temp, this.path(digest));
        return true;
      },
      abort: async () => {
        if (done) return;
        done = true;
        stream.destroy();
        // The file is opened asynchronously: removed before it is even created, it would be created after.
        // ('close' comes after an 'error' too, when a pipeline destroyed the stream with one.)
        if (!stream.closed) await new Promise<void>((resolve) => stream.once('close', () => resolve()));
        await rm(temp, { force: true });
      },
    };
  }

  /** Stores bytes (a manifest, a config) and returns their digest. */
  async putBytes(bytes: Buffer): Promise<Digest> {
    const digest = sha256(bytes);
    if (await this.has(digest, bytes.length)) return digest;
    const pending = await this.create();
    try {
      await pipeline(async function* () {
        yield bytes;
      }, pending.stream);
      await pending.commit(digest);
    } catch (error) {
      await pending.abort();
      throw error;
    }
    return digest;
  }

  /** Reads a small blob (manifest, config, index) and checks its digest. */
  async readVerified(digest: Digest, maxBytes: number, what: string): Promise<Buffer> {
    let info;
    try {
      info = await stat(this.path(digest));
    } catch {
      throw new UserError(`${what}: blob ${digest} is missing from ${this.dir}`);
    }
    if (info.size > maxBytes) throw new UserError(`${what}: blob ${digest} is ${info.size} bytes, more than the ${maxBytes} a manifest or config may have`);
    const bytes = await readFile(this.path(digest));
    if (sha256(bytes) !== digest) throw new UserError(`${what}: blob ${digest} in ${this.dir} does not match its digest (the layout is damaged)`);
    return bytes;
  }

  /** A stream of a blob, or of the bytes [start, end) of it. */
  open(digest: Digest, start = 0, end?: number): Readable {
    return createReadStream(this.path(digest), { start, ...(end !== undefined ? { end: end - 1 } : {}), highWaterMark: 1 << 20 });
  }

  /** Puts a blob of another store into this one: a hard link when both are on one file system. */
  async adopt(from: BlobStore, digest: Digest): Promise<void> {
    if (await this.has(digest)) return;
    await mkdir(this.blobDir, { recursive: true });
    const temp = path.join(this.blobDir, `.partial-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      await link(from.path(digest), temp);
    } catch {
      await copyFile(from.path(digest), temp);
    }
    await rename(temp, this.path(digest));
  }
}
