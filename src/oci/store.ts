/**
 * A content-addressed blob store: `DIR/blobs/sha256/<hex>`, the layout of an OCI image layout. A blob is
 * written to a temporary (util/atomic.ts) and renamed to its digest once complete and verified by the
 * writer, replacing whatever file had that name: a damaged blob is never kept in favour of a good one.
 */
import { createReadStream } from 'node:fs';
import { link, readFile, rename, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { AtomicFileWriter, makeDirectory, removeStaleTemporaries, temporaryPath, withoutTemporary } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { digestHex, sha256, type Digest } from './digest.js';

export interface PendingBlob {
  /** The temporary file, growing as pieces are written (a pusher may read it meanwhile). */
  readonly temporary: string;
  /** Bytes written so far. */
  readonly written: number;
  /** Writes pieces at once, keeping no reference to them (their buffers may be reused). */
  write(pieces: readonly Buffer[]): void;
  /**
   * Closes the file and renames it to its digest (verified by the caller), replacing a file of that name.
   * Answers the file's inode (see removeOwn).
   */
  commit(digest: Digest): Promise<number>;
  /** Removes the temporary file. */
  abort(): Promise<void>;
}

/** How many times removeOwn looks again for a blob file another run may have moved aside for a moment. */
const REMOVE_ATTEMPTS = 20;

export class BlobStore {
  constructor(
    readonly dir: string,
    /** The error for a store whose folder went away while in use (addonix's cache says so); else a missing blob is the input's fault. */
    private readonly gone?: () => UserError,
  ) {}

  /** Whether addonix owns the blobs (its cache, which it may clean), or they are the user's (a layout folder). */
  get owned(): boolean {
    return this.gone !== undefined;
  }

  /** The error for a blob that should be here and is not. */
  missing(digest: Digest, what: string): UserError {
    return this.gone?.() ?? new UserError('image-invalid', `${what}: blob ${digest} is missing from ${this.dir}`);
  }

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
    await makeDirectory(this.blobDir);
    let writer: AtomicFileWriter;
    try {
      writer = new AtomicFileWriter(path.join(this.blobDir, 'blob'));
    } catch (error) {
      // Removed between the two calls (the cache deleted by hand): made again, once.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await makeDirectory(this.blobDir);
      writer = new AtomicFileWriter(path.join(this.blobDir, 'blob'));
    }
    return {
      temporary: writer.temporary,
      get written() {
        return writer.written;
      },
      write: (pieces) => writer.write(pieces),
      commit: async (digest) => {
        try {
          return await writer.commit(this.path(digest));
        } catch (error) {
          // The folder went away under the temporary (someone deleted it): the blob is lost with it.
          if ((error as NodeJS.ErrnoException).code === 'ENOENT' && this.gone) throw this.gone();
          throw error;
        }
      },
      abort: () => writer.abort(),
    };
  }

  /** Stores bytes (a manifest, a config) and returns their digest. */
  async putBytes(bytes: Buffer): Promise<Digest> {
    const digest = sha256(bytes);
    if (await this.has(digest, bytes.length)) return digest;
    const pending = await this.create();
    try {
      pending.write([bytes]);
    } catch (error) {
      await pending.abort();
      throw error;
    }
    await pending.commit(digest);
    return digest;
  }

  /** Reads a small blob (manifest, config, index) and checks its digest. */
  async readVerified(digest: Digest, maxBytes: number, what: string): Promise<Buffer> {
    let info;
    try {
      info = await stat(this.path(digest));
    } catch {
      throw this.missing(digest, what);
    }
    if (info.size > maxBytes) throw new UserError('image-invalid', `${what}: blob ${digest} is ${info.size} bytes, more than the ${maxBytes} a manifest or config may have`);
    const bytes = await readFile(this.path(digest));
    if (sha256(bytes) !== digest) throw new UserError('image-invalid', `${what}: blob ${digest} in ${this.dir} does not match its digest (the store is damaged)`);
    return bytes;
  }

  /** A stream of a blob, or of the bytes [start, end) of it. */
  open(digest: Digest, start = 0, end?: number): Readable {
    return createReadStream(this.path(digest), { start, ...(end !== undefined ? { end: end - 1 } : {}), highWaterMark: 1 << 20 });
  }

  /** Whether the blob file's content hashes to its name (read whole). */
  async verify(digest: Digest): Promise<boolean> {
    const hash = createHash('sha256');
    try {
      for await (const chunk of this.open(digest)) hash.update(chunk as Buffer);
    } catch {
      return false;
    }
    return `sha256:${hash.digest('hex')}` === digest;
  }

  /**
   * Puts a blob of another store into this one: a hard link when both are on one file system, else a copy.
   * With `verify`, its content is checked against its digest first (what enters addonix's cache from a
   * layout must be what it claims); a mismatch is a UserError and nothing is added.
   */
  async adopt(from: BlobStore, digest: Digest, options: { verify: boolean; what?: string } = { verify: false }): Promise<void> {
    await makeDirectory(this.blobDir);
    const temporary = temporaryPath(path.join(this.blobDir, 'blob'));
    try {
      try {
        await link(from.path(digest), temporary);
      } catch {
        await new Promise<void>((resolve, reject) => {
          const writer = new AtomicFileWriter(path.join(this.blobDir, 'copy'));
          const input = from.open(digest);
          input.on('data', (chunk) => {
            try {
              writer.write([chunk as Buffer]);
            } catch (error) {
              input.destroy(error as Error);
            }
          });
          input.on('error', (error) => void writer.abort().then(() => reject(error), reject));
          input.on('end', () => void writer.commit(temporary).then(() => resolve(), reject));
        });
      }
      if (options.verify) {
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(temporary, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
        const found: Digest = `sha256:${hash.digest('hex')}`;
        if (found !== digest) throw new UserError('image-invalid', `${options.what ?? from.dir}: blob ${digest} does not match its digest (it hashes to ${found}); the layout is damaged`);
      }
      await rename(temporary, this.path(digest));
    } catch (error) {
      await rm(temporary, { force: true });
      throw withoutTemporary(error, temporary, this.path(digest));
    }
  }

  /**
   * Removes a blob file this process put there (inode `ino`), unless another process has put its own copy
   * of the blob in its place since: several runs may share a cache, and one whose input turns out bad must
   * not take away a blob another run has just stored and relies on. The file is first moved aside (atomic,
   * where a look at its inode followed by a removal could remove a copy renamed into place in between); a
   * copy of another process goes back at once (unless a third one is there by then, which is as good).
   * While another run has the file aside it is missing: it is looked for again a few times before this
   * one concludes that its own copy was replaced (and so is gone already).
   */
  async removeOwn(digest: Digest, ino: number): Promise<void> {
    const file = this.path(digest);
    const aside = temporaryPath(file);
    for (let attempt = 0; ; attempt++) {
      try {
        await rename(file, aside);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === REMOVE_ATTEMPTS) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    try {
      if ((await stat(aside)).ino !== ino) await link(aside, file).catch(() => undefined);
    } finally {
      await rm(aside, { force: true });
    }
  }

  /** Removes what killed runs left behind (temporaries of processes that are gone); answers how many. */
  removeStale(): Promise<number> {
    return removeStaleTemporaries(this.blobDir);
  }
}
