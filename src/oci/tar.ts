/**
 * Tarballs, both ways, on top of npm `tar`: two readers that yield one entry at a time (the caller
 * consumes its body before asking for the next, so memory stays flat) and refuse hostile names, one for
 * streams and one for plain files read in place, and a writer of reproducible archives (fixed mtime,
 * uid 0, no user names).
 */
import { Readable } from 'node:stream';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Header, Parser, Pax, ReadEntry } from 'tar';
import { UserError } from '../util/errors.js';
import { GZIP_BLOCK } from './compression.js';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

/** The metadata a tar header records about an entry, as read (for comparing layers file by file). */
export interface TarEntryMeta {
  /** The tar type name (`File`, `SymbolicLink`, `CharacterDevice`, `FIFO`, ...). */
  typeName: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Seconds since the epoch (pax headers may give a fraction), or null when the header has none. */
  mtime: number | null;
  devmajor: number;
  devminor: number;
}

export interface TarEntry {
  /** The entry's path, normalized (no leading `./`, no trailing `/`). */
  path: string;
  type: TarEntryType;
  size: number;
  linkpath?: string;
  meta: TarEntryMeta;
  /**
   * The entry's bytes; must be read to the end (or skipped with `skip`) before the next entry. With
   * `transient`, a reader may hand out views of one buffer it reuses: each chunk is then valid only until
   * the next is asked for.
   */
  body(options?: { transient?: boolean }): AsyncGenerator<Buffer>;
  skip(): Promise<void>;
}

export interface ReadTarOptions {
  /** The archive's size when known (a plain file): an entry declaring more is refused at once. */
  totalBytes?: number;
}

/** A relative path that stays inside the archive root, normalized; throws on `..`, absolute or odd paths. */
export function safeEntryPath(name: string, what: string): string {
  if (name.includes('\0') || name.includes('\\')) throw new UserError(`${what}: refusing entry ${JSON.stringify(name)}: odd characters in its name`);
  if (name.startsWith('/')) throw new UserError(`${what}: refusing entry '${name}': absolute paths are not allowed in an image archive`);
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new UserError(`${what}: refusing entry '${name}': '..' would point outside the archive`);
  return parts.join('/');
}

function entryType(entry: ReadEntry): TarEntryType {
  switch (entry.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      return 'file';
    case 'Directory':
      return 'directory';
    case 'SymbolicLink':
      return 'symlink';
    case 'Link':
      return 'hardlink';
    default:
      return 'other';
  }
}

function entryMeta(entry: ReadEntry): TarEntryMeta {
  return {
    typeName: entry.type,
    mode: entry.mode ?? 0,
    uid: entry.uid ?? 0,
    gid: entry.gid ?? 0,
    uname: entry.uname ?? '',
    gname: entry.gname ?? '',
    mtime: entry.mtime ? entry.mtime.getTime() / 1000 : null,
    devmajor: entry.header.devmaj ?? 0,
    devminor: entry.header.devmin ?? 0,
  };
}

/** What both readers say of an entry, apart from its bytes; throws on unsafe paths and impossible sizes. */
function describeEntry(raw: ReadEntry, what: string, totalBytes: number | undefined): Omit<TarEntry, 'body' | 'skip'> {
  const path = safeEntryPath(raw.path, what);
  if (totalBytes !== undefined && raw.size > totalBytes) {
    throw new UserError(`${what}: entry '${path}' declares ${raw.size} bytes but the whole archive has only ${totalBytes}; the archive is damaged or hostile`);
  }
  return { path, type: entryType(raw), size: raw.size, ...(raw.linkpath ? { linkpath: raw.linkpath } : {}), meta: entryMeta(raw) };
}

function truncatedEntry(what: string, path: string, size: number, seen: number): UserError {
  return new UserError(`${what} is truncated: entry '${path}' declares ${size} bytes, the archive ends after ${seen}`);
}

function describeTarError(error: unknown, what: string): UserError {
  const message = error instanceof Error ? error.message : String(error);
  if (/Unrecognized archive format/.test(message)) return new UserError(`${what} is not a tar archive (nor a gzip-compressed one)`);
  if (/Truncated input/.test(message)) return new UserError(`${what} is truncated: ${message.replace(/^TAR_BAD_ARCHIVE: /, '')}`);
  return new UserError(`${what}: not a valid tar archive: ${message.replace(/^TAR_[A-Z_]+: /, '')}`);
}

/**
 * The entries of an uncompressed tar stream (decompress before). Errors are UserErrors naming `what`.
 */
export async function* readTar(source: AsyncIterable<Buffer>, what: string, options: ReadTarOptions = {}): AsyncGenerator<TarEntry> {
  const parser = new Parser({ strict: true });
  const queue: ReadEntry[] = [];
  let failure: UserError | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  let current: ReadEntry | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const fail = (error: UserError) => {
    failure ??= error;
    // A reader in the middle of an entry's body must hear of it, or it waits for bytes that never come.
    // Minipass throws an 'error' nobody listens to (no reader waiting right now): that reader checks
    // `failure` when it resumes.
    if (current && !current.emittedEnd) {
      try {
        current.destroy(failure);
      } catch {
        // Seen through `failure`.
      }
    }
    notify();
  };
  parser.on('entry', (entry: ReadEntry) => {
    queue.push(entry);
    notify();
  });
  parser.on('error', (error: unknown) => fail(error instanceof UserError ? error : describeTarError(error, what)));
  // npm tar ends quietly on an archive cut inside a header (with no end-of-archive blocks before): refused here.
  let bytesIn = 0;
  let sawEnd = false;
  parser.on('eof', () => (sawEnd = true));
  parser.on('end', () => {
    if (!sawEnd && bytesIn % 512 !== 0) fail(new UserError(`${what} is truncated: it ends inside a tar header (at byte ${bytesIn})`));
    ended = true;
    notify();
  });
  let stopped = false;
  const pump = (async () => {
    try {
      for await (const chunk of source) {
        if (failure || stopped) break;
        bytesIn += chunk.length;
        // Not events.once: it would reject on the parser's 'error', which fail() already handles.
        if (!parser.write(chunk)) await new Promise<void>((resolve) => parser.once('drain', resolve));
      }
      if (!stopped && !failure) parser.end();
    } catch (error) {
      // Errors of the source itself (unreadable file, broken gzip); not the ones our own stop caused.
      if (stopped) return;
      const message = error instanceof Error ? error.message : String(error);
      const zlibError = /^Z_/.test(String((error as NodeJS.ErrnoException).code ?? ''));
      fail(error instanceof UserError ? error : new UserError(zlibError ? `${what} is truncated or damaged (gzip: ${message})` : `${what}: ${message}`));
    }
  })();

  try {
    for (;;) {
      if (failure) throw failure;
      const raw = queue.shift();
      if (!raw) {
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      current = raw;
      const described = describeEntry(raw, what, options.totalBytes);
      let consumed = false;
      // The parser's chunks are never reused: `transient` changes nothing here.
      const body = async function* (): AsyncGenerator<Buffer> {
        consumed = true;
        let seen = 0;
        for await (const chunk of raw as AsyncIterable<Buffer>) {
          seen += chunk.length;
          yield chunk;
        }
        if (failure) throw failure;
        if (seen !== described.size) throw truncatedEntry(what, described.path, described.size, seen);
      };
      const entry: TarEntry = {
        ...described,
        body,
        skip: async () => {
          for await (const _ of body()) {
            // Discard: the parser only moves on once the entry is drained.
          }
        },
      };
      yield entry;
      if (!consumed) await entry.skip();
    }
  } finally {
    if (!ended || failure) {
      // The caller stopped early or the archive failed: release the source and unblock the pump.
      stopped = true;
      (source as { destroy?: () => void }).destroy?.();
      current?.resume();
      for (const entry of queue) entry.resume();
      parser.emit('drain');
    }
    await pump;
    if (failure && !ended) throw failure;
  }
}

/** What one read of an entry's bytes asks for: the gzip block size, so a layer's blocks line up with reads. */
const FILE_READ_BYTES = GZIP_BLOCK;
/** npm tar's limit for pax and GNU long-name entries (bigger ones are skipped, as it skips them). */
const MAX_META_BYTES = 1 << 20;

/**
 * The entries of a plain tar file, read in place: headers are decoded by npm tar's Header, ReadEntry and
 * Pax, checked as its Parser checks them in strict mode, and an entry's bytes are read from where they
 * lie. Unlike the stream reader, a body may be read through one reused buffer (`transient`), so a layer
 * costs no fresh memory per chunk, and an archive cut short is found out at the header that runs past
 * its end, before any byte of that entry is used.
 */
export async function* readTarFile(file: string, what: string, options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<TarEntry> {
  const fd = openSync(file, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const readAt = (buffer: Buffer, length: number, position: number): number => {
      let done = 0;
      while (done < length) {
        const bytes = readSync(fd, buffer, done, length - done, position + done);
        if (bytes === 0) break;
        done += bytes;
      }
      return done;
    };
    const invalid = (message: string) => describeTarError(new Error(message), what);
    const block = Buffer.alloc(512);
    let reused: Buffer | undefined;
    let extended: Record<string, unknown> | undefined;
    let globalExtended: Record<string, unknown> | undefined;
    let sawNullBlock = false;
    let sawEntry = false;
    let position = 0;
    while (position < fileSize) {
      options.signal?.throwIfAborted();
      if (readAt(block, 512, position) < 512) throw new UserError(`${what} is truncated: it ends inside a tar header (at byte ${fileSize})`);
      position += 512;
      let header: Header;
      try {
        header = new Header(block, 0, extended as never, globalExtended as never);
      } catch (error) {
        throw describeTarError(error, what);
      }
      if (header.nullBlock) {
        // Two zero blocks end the archive; whatever follows them is not read, as npm tar does not.
        if (sawNullBlock) break;
        sawNullBlock = true;
        continue;
      }
      sawNullBlock = false;
      if (!header.cksumValid) throw invalid('checksum failure');
      if (!header.path) throw invalid('path is required');
      const isLink = header.type === 'Link' || header.type === 'SymbolicLink';
      if (isLink && !header.linkpath) throw invalid('linkpath required');
      if (!isLink && header.type !== 'ExtendedHeader' && header.type !== 'GlobalExtendedHeader' && header.linkpath) throw invalid('linkpath forbidden');
      const raw = new ReadEntry(header, extended as never, globalExtended as never);
      sawEntry = true;
      const dataStart = position;
      position += raw.startBlockSize;
      // An entry, with the padding to its last 512-byte block, must fit in the file (npm tar insists on the padding too).
      if (position > fileSize) {
        if (raw.meta || raw.ignore) throw invalid(`Truncated input (the ${raw.size} bytes of a ${raw.type} entry run past the end)`);
        const described = describeEntry(raw, what, fileSize);
        if (dataStart + described.size > fileSize) throw truncatedEntry(what, described.path, described.size, fileSize - dataStart);
        throw new UserError(`${what} is truncated: it ends inside the padding after entry '${described.path}'`);
      }
      if (raw.meta) {
        if (raw.size > MAX_META_BYTES) continue;
        const data = Buffer.allocUnsafe(raw.size);
        readAt(data, raw.size, dataStart);
        const text = data.toString('utf8');
        if (raw.type === 'ExtendedHeader' || raw.type === 'OldExtendedHeader') extended = Pax.parse(text, extended as never, false) as never;
        else if (raw.type === 'GlobalExtendedHeader') globalExtended = Pax.parse(text, globalExtended as never, true) as never;
        else if (raw.type === 'NextFileHasLongLinkpath') (extended ??= Object.create(null) as Record<string, unknown>)['linkpath'] = text.replace(/\0.*/, '');
        else (extended ??= Object.create(null) as Record<string, unknown>)['path'] = text.replace(/\0.*/, '');
        continue;
      }
      extended = undefined;
      // Types npm tar does not know (sparse files, volume labels, ...) it skips, and so does this reader.
      if (raw.ignore) continue;
      const described = describeEntry(raw, what, fileSize);
      const body = async function* (bodyOptions: { transient?: boolean } = {}): AsyncGenerator<Buffer> {
        for (let offset = 0; offset < described.size; ) {
          options.signal?.throwIfAborted();
          const length = Math.min(FILE_READ_BYTES, described.size - offset);
          const buffer = bodyOptions.transient ? (reused ??= Buffer.allocUnsafeSlow(FILE_READ_BYTES)) : Buffer.allocUnsafeSlow(length);
          const bytes = readAt(buffer, length, dataStart + offset);
          if (bytes < length) throw truncatedEntry(what, described.path, described.size, offset + bytes);
          offset += length;
          yield length === buffer.length ? buffer : buffer.subarray(0, length);
        }
      };
      yield { ...described, body, skip: async () => undefined };
    }
    if (!sawEntry) throw invalid('Unrecognized archive format');
  } finally {
    closeSync(fd);
  }
}


export interface TarWriteEntry {
  path: string;
  type?: 'file' | 'directory' | 'symlink';
  /** Required for files; the body must yield exactly this many bytes. */
  size?: number;
  body?: Buffer | (() => AsyncIterable<Buffer>);
  linkpath?: string;
  mode?: number;
}

/** dockerTools' default mtime: images and archives addonix writes use it, so they are reproducible. */
export const FIXED_MTIME = new Date('1970-01-01T00:00:01Z');

function headerBlocks(entry: TarWriteEntry, size: number): Buffer {
  const type = entry.type === 'directory' ? 'Directory' : entry.type === 'symlink' ? 'SymbolicLink' : 'File';
  const fields = {
    path: entry.type === 'directory' && !entry.path.endsWith('/') ? entry.path + '/' : entry.path,
    mode: entry.mode ?? (entry.type === 'directory' ? 0o755 : entry.type === 'symlink' ? 0o777 : 0o644),
    uid: 0,
    gid: 0,
    size,
    mtime: FIXED_MTIME,
    type,
    uname: '',
    gname: '',
    ...(entry.linkpath !== undefined ? { linkpath: entry.linkpath } : {}),
  } as const;
  const header = new Header(fields);
  // encode() answers whether the fields need a pax extended header (long path, big size).
  const needPax = header.encode();
  const block = header.block!;
  if (!needPax) return block;
  return Buffer.concat([new Pax({ path: fields.path, size, mtime: FIXED_MTIME, ...(entry.linkpath !== undefined ? { linkpath: entry.linkpath } : {}) }).encode(), block]);
}

async function* tarChunks(entries: AsyncIterable<TarWriteEntry> | Iterable<TarWriteEntry>): AsyncGenerator<Buffer> {
  for await (const entry of entries) {
    const size = entry.type === 'file' || entry.type === undefined ? (entry.size ?? (Buffer.isBuffer(entry.body) ? entry.body.length : undefined)) : 0;
    if (size === undefined) throw new Error(`tar entry ${entry.path} needs a size`);
    yield headerBlocks(entry, size);
    if (size === 0) continue;
    let written = 0;
    const body = Buffer.isBuffer(entry.body) ? [entry.body] : entry.body ? entry.body() : [];
    for await (const chunk of body) {
      written += chunk.length;
      if (written > size) throw new Error(`tar entry ${entry.path}: more than the declared ${size} bytes`);
      yield chunk;
    }
    if (written !== size) throw new Error(`tar entry ${entry.path}: ${written} bytes instead of the declared ${size}`);
    if (size % 512 !== 0) yield Buffer.alloc(512 - (size % 512));
  }
  yield Buffer.alloc(1024);
}

/** A reproducible tar stream of the given entries, in the given order. */
export function writeTar(entries: AsyncIterable<TarWriteEntry> | Iterable<TarWriteEntry>): Readable {
  return Readable.from(tarChunks(entries), { objectMode: false });
}
