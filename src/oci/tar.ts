/**
 * Tarballs, both ways. One reader core yields one entry at a time (the caller reads or skips its body
 * before asking for the next, so memory stays flat), over a stream or over a plain file read in place;
 * a writer makes reproducible archives (fixed mtime, uid 0, no user names).
 *
 * Headers are decoded here (ustar, GNU and pax, base-256 numbers, long names and links) rather than by
 * npm tar, which decodes names as UTF-8 and so turns two different non-UTF-8 names into one: names and
 * link targets are byte strings (see util/names.ts). The reader judges only the archive's structure
 * (checksums, sizes, truncation); what a name may be is decided by whoever reads the archive (the image
 * archive's rules in archive.ts, a layer's in layer-rules.ts).
 */
import { Readable } from 'node:stream';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { byteString, showName } from '../util/names.js';
import { GZIP_BLOCK } from './compression.js';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo' | 'other';

export interface TarEntry {
  /** The name as the archive holds it: a byte string, pax and GNU long names applied, nothing else done. */
  name: string;
  type: TarEntryType;
  /** The header's type flag (`0`, `5`, `S`, ...; `sparse` for pax-encoded sparse files), for messages. */
  typeFlag: string;
  size: number;
  /** Target of a link, a byte string. */
  linkpath?: string;
  mode: number;
  uid: number;
  gid: number;
  /** Owner names, byte strings. */
  uname: string;
  gname: string;
  /** Seconds since the epoch (pax headers may give a fraction), or null when the header has none. */
  mtime: number | null;
  devmajor: number;
  devminor: number;
  /**
   * The entry's bytes; must be read to the end (or left: the reader skips what is left) before the next
   * entry. Chunks are valid only until the next is asked for when the reader is transient (a file read
   * through one reused buffer, or a source whose own chunks are so).
   */
  body(): AsyncGenerator<Buffer>;
  /** Skips the body (or what is left of it). */
  skip(): Promise<void>;
}

/** Where the reader gets its bytes: views valid until the next call. */
interface ByteSource {
  /** Up to `max` (> 0) bytes, or null at the end. */
  take(max: number): Promise<Buffer | null> | Buffer | null;
  /** Skips up to `bytes`; answers how many were there. */
  skip(bytes: number): Promise<number> | number;
  /** The size of the whole archive when known (a file). */
  readonly total: number | undefined;
  /** Lets go of the source (a stream stopped early is destroyed). */
  release(finished: boolean): Promise<void> | void;
}

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
/** The largest pax header or GNU long name addonix reads; bigger ones are damage or hostility. */
const MAX_META_BYTES = 1 << 20;
/** What one read of a plain file asks for: the gzip block size, so a layer's blocks line up with reads. */
const FILE_READ_BYTES = GZIP_BLOCK;

function truncatedEntry(what: string, name: string, size: number, seen: number): UserError {
  return new UserError('image-invalid', `${what} is truncated: entry ${showName(name)} declares ${size} bytes, the archive ends after ${seen}`);
}

/** A numeric header field: octal (space or NUL terminated), or base-256 (GNU, for big sizes and ids). */
function decodeNumber(block: Buffer, offset: number, length: number): number | undefined {
  const first = block[offset]!;
  if (first & 0x80) {
    // Base-256: the rest of the first byte and the following bytes, big-endian; 0xff starts a negative one.
    const negative = first === 0xff;
    let value = negative ? -1 : first & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + (negative ? block[offset + i]! - 255 : block[offset + i]!);
    return Number.isSafeInteger(value) ? value : undefined;
  }
  let text = '';
  for (let i = 0; i < length; i++) {
    const byte = block[offset + i]!;
    if (byte === 0) break;
    text += String.fromCharCode(byte);
  }
  text = text.trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return undefined;
  return parseInt(text, 8);
}

/** A NUL-terminated string field, as a byte string. */
function decodeBytes(block: Buffer, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && block[end] !== 0) end++;
  return block.toString('latin1', offset, end);
}

interface Header {
  name: string;
  typeFlag: string;
  size: number;
  linkpath: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number | null;
  devmajor: number;
  devminor: number;
}

/** Decodes a header block: the header, 'zero' for a block of zeros, or a reason it is no header. */
function decodeHeader(block: Buffer): Header | 'zero' | string {
  if (block.equals(ZERO_BLOCK)) return 'zero';
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    // The checksum field itself counts as eight spaces.
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  const checksum = decodeNumber(block, 148, 8);
  if (checksum === undefined || (checksum !== unsigned && checksum !== signed)) return 'checksum failure';
  const size = decodeNumber(block, 124, 12);
  const mode = decodeNumber(block, 100, 8);
  const uid = decodeNumber(block, 108, 8);
  const gid = decodeNumber(block, 116, 8);
  const mtime = decodeNumber(block, 136, 12);
  if (size === undefined || size < 0 || mode === undefined || uid === undefined || gid === undefined) return 'a numeric field is not a number';
  const magic = block.toString('latin1', 257, 263);
  const version = block.toString('latin1', 263, 265);
  let name = decodeBytes(block, 0, 100);
  let uname = '';
  let gname = '';
  let devmajor = 0;
  let devminor = 0;
  if (magic === 'ustar\0' || magic === 'ustar ') {
    uname = decodeBytes(block, 265, 32);
    gname = decodeBytes(block, 297, 32);
    devmajor = decodeNumber(block, 329, 8) ?? 0;
    devminor = decodeNumber(block, 337, 8) ?? 0;
    // POSIX ustar has a name prefix; GNU keeps times there instead. Star-style headers with times after
    // a 130-byte prefix leave byte 475 zero.
    if (magic === 'ustar\0' && version === '00') {
      const prefix = decodeBytes(block, 345, block[475] !== 0 ? 155 : 130);
      if (prefix) name = `${prefix}/${name}`;
    }
  }
  const flag = block[156] === 0 ? '0' : String.fromCharCode(block[156]!);
  return { name, typeFlag: flag, size, linkpath: decodeBytes(block, 157, 100), mode, uid, gid, uname, gname, mtime: mtime ?? null, devmajor, devminor };
}

/** Pax records (`LEN key=value\n`), values as byte strings (names may be any bytes, as GNU tar writes them). */
function parsePax(data: Buffer, into: Map<string, string>, what: string): void {
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break;
    const space = data.indexOf(0x20, at);
    const length = space > at ? Number(data.toString('latin1', at, space)) : NaN;
    if (!Number.isInteger(length) || length <= space - at || at + length > data.length || data[at + length - 1] !== 0x0a) {
      throw new UserError('image-invalid', `${what}: not a valid tar archive: a pax header record is malformed`);
    }
    const record = data.subarray(space + 1, at + length - 1);
    const equals = record.indexOf(0x3d);
    if (equals <= 0) throw new UserError('image-invalid', `${what}: not a valid tar archive: a pax header record has no key`);
    into.set(record.toString('latin1', 0, equals), byteString(record.subarray(equals + 1)));
    at += length;
  }
}

function entryType(flag: string, name: string): TarEntryType {
  switch (flag) {
    case '0':
    case '7':
      // Old archives mark folders with a trailing slash only.
      return name.endsWith('/') ? 'directory' : 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'char-device';
    case '4':
      return 'block-device';
    case '5':
      return 'directory';
    case '6':
      return 'fifo';
    default:
      return 'other';
  }
}

/** Applies pax keys to a header (those of a global header first, then the entry's own). */
function applyPax(header: Header, pax: Map<string, string>): void {
  for (const [key, value] of pax) {
    switch (key) {
      case 'path':
        header.name = value;
        break;
      case 'linkpath':
        header.linkpath = value;
        break;
      case 'size':
      case 'uid':
      case 'gid': {
        const number = Number(value);
        if (Number.isSafeInteger(number) && number >= 0) header[key] = number;
        break;
      }
      case 'mtime': {
        const number = Number(value);
        if (Number.isFinite(number)) header.mtime = number;
        break;
      }
      case 'uname':
      case 'gname':
        header[key] = value;
        break;
      default:
        if (key.startsWith('GNU.sparse.')) header.typeFlag = 'sparse';
    }
  }
}

/**
 * The core of both readers: headers, pax and GNU meta entries, bodies, padding, the end. Names are not
 * judged here; sizes and truncation are.
 */
async function* readEntries(source: ByteSource, what: string): AsyncGenerator<TarEntry> {
  const headerBuffer = Buffer.alloc(BLOCK);
  let position = 0;
  /** Exactly one block, or null at a clean end; a view or a copy in headerBuffer. */
  const readBlock = async (): Promise<Buffer | null> => {
    let got = 0;
    let first: Buffer | null = null;
    while (got < BLOCK) {
      const chunk = await source.take(BLOCK - got);
      if (!chunk) {
        if (got === 0) return null;
        throw new UserError('image-invalid', `${what} is truncated: it ends inside a tar header (at byte ${position + got})`);
      }
      if (got === 0 && chunk.length === BLOCK) {
        first = chunk;
      } else {
        chunk.copy(headerBuffer, got);
      }
      got += chunk.length;
    }
    position += BLOCK;
    return first ?? headerBuffer;
  };
  const readAll = async (size: number, kind: string): Promise<Buffer> => {
    if (size > MAX_META_BYTES) throw new UserError('image-invalid', `${what}: a ${kind} of ${size} bytes; addonix reads at most ${MAX_META_BYTES} (the archive is damaged or hostile)`);
    const out = Buffer.alloc(size);
    for (let got = 0; got < size; ) {
      const chunk = await source.take(size - got);
      if (!chunk) throw new UserError('image-invalid', `${what} is truncated: it ends inside a ${kind}`);
      chunk.copy(out, got);
      got += chunk.length;
    }
    position += size;
    await skipPadding(size, kind);
    return out;
  };
  const skipPadding = async (size: number, after: string) => {
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (padding === 0) return;
    const skipped = await source.skip(padding);
    position += skipped;
    if (skipped < padding) throw new UserError('image-invalid', `${what} is truncated: it ends inside the padding after ${after}`);
  };

  let finished = false;
  try {
    let sawBlock = false;
    let zeroBefore = false;
    let extended = new Map<string, string>();
    const global = new Map<string, string>();
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const block = await readBlock();
      if (!block) break;
      const decoded = decodeHeader(block);
      if (decoded === 'zero') {
        sawBlock = true;
        // Two zero blocks end the archive; one alone does not.
        if (zeroBefore) break;
        zeroBefore = true;
        continue;
      }
      zeroBefore = false;
      if (typeof decoded === 'string') {
        if (!sawBlock) throw new UserError('image-invalid', `${what} is not a tar archive (nor a gzip-compressed one)`);
        throw new UserError('image-invalid', `${what}: not a valid tar archive: ${decoded} in the header at byte ${position - BLOCK}`);
      }
      sawBlock = true;
      const header = decoded;
      switch (header.typeFlag) {
        case 'x':
          parsePax(await readAll(header.size, 'pax header'), extended, what);
          continue;
        case 'g':
          parsePax(await readAll(header.size, 'pax global header'), global, what);
          continue;
        case 'L':
          longName = decodeBytes(await readAll(header.size, 'GNU long name'), 0, header.size);
          continue;
        case 'K':
          longLink = decodeBytes(await readAll(header.size, 'GNU long link name'), 0, header.size);
          continue;
      }
      if (longName !== undefined) header.name = longName;
      if (longLink !== undefined) header.linkpath = longLink;
      applyPax(header, global);
      applyPax(header, extended);
      extended = new Map();
      longName = undefined;
      longLink = undefined;
      const type = entryType(header.typeFlag, header.name);
      // Links, folders and devices have no body whatever their size field says (GNU tar writes none).
      const size = type === 'file' || type === 'other' ? header.size : 0;
      if (header.name === '') throw new UserError('image-invalid', `${what}: not a valid tar archive: an entry has no name (header at byte ${position - BLOCK})`);
      if ((type === 'symlink' || type === 'hardlink') && header.linkpath === '') {
        throw new UserError('image-invalid', `${what}: not a valid tar archive: the ${type} ${showName(header.name)} has no target`);
      }
      if (source.total !== undefined && size > source.total) {
        throw new UserError('image-invalid', `${what}: entry ${showName(header.name)} declares ${size} bytes but the whole archive has only ${source.total}; the archive is damaged or hostile`);
      }
      // A volume label names the archive, not a file: skipped, as GNU tar does.
      if (header.typeFlag === 'V') {
        const skipped = await source.skip(size);
        position += skipped;
        if (skipped < size) throw truncatedEntry(what, header.name, size, skipped);
        await skipPadding(size, `entry ${showName(header.name)}`);
        continue;
      }
      let left = size;
      const start = position;
      const body = async function* (): AsyncGenerator<Buffer> {
        while (left > 0) {
          const chunk = await source.take(left);
          if (!chunk) throw truncatedEntry(what, header.name, size, position - start);
          left -= chunk.length;
          position += chunk.length;
          yield chunk;
        }
      };
      const skip = async () => {
        if (left === 0) return;
        const skipped = await source.skip(left);
        position += skipped;
        if (skipped < left) throw truncatedEntry(what, header.name, size, position - start);
        left = 0;
      };
      const entry: TarEntry = {
        name: header.name,
        type,
        typeFlag: header.typeFlag,
        size,
        ...(type === 'symlink' || type === 'hardlink' ? { linkpath: header.linkpath } : {}),
        mode: header.mode,
        uid: header.uid,
        gid: header.gid,
        uname: header.uname,
        gname: header.gname,
        mtime: header.mtime,
        devmajor: header.devmajor,
        devminor: header.devminor,
        body,
        skip,
      };
      yield entry;
      await skip();
      await skipPadding(size, `entry ${showName(header.name)}`);
    }
    if (!sawBlock) throw new UserError('image-invalid', `${what} is empty: not a tar archive`);
    finished = true;
  } finally {
    await source.release(finished);
  }
}

/** Bytes of an async iterable of chunks, taken piece by piece. */
function streamSource(chunks: AsyncIterable<Buffer>, what: string): ByteSource {
  const iterator = chunks[Symbol.asyncIterator]();
  let current: Buffer | null = null;
  let offset = 0;
  let ended = false;
  const next = async (): Promise<boolean> => {
    while (!ended && (current === null || offset >= current.length)) {
      let result: IteratorResult<Buffer>;
      try {
        result = await iterator.next();
      } catch (error) {
        throw sourceError(error, what);
      }
      if (result.done) {
        ended = true;
        current = null;
        return false;
      }
      current = result.value;
      offset = 0;
    }
    return !ended;
  };
  return {
    total: undefined,
    async take(max) {
      if (!(await next())) return null;
      const length = Math.min(max, current!.length - offset);
      const view = current!.subarray(offset, offset + length);
      offset += length;
      return view;
    },
    async skip(bytes) {
      let skipped = 0;
      while (skipped < bytes && (await next())) {
        const length = Math.min(bytes - skipped, current!.length - offset);
        offset += length;
        skipped += length;
      }
      return skipped;
    },
    async release(finished) {
      if (finished) {
        // What follows the end (a writer's padding to its record size) is read too: a program writing
        // the archive into a pipe must not be cut off, or it fails with EPIPE after a good archive.
        while (await next()) offset = current!.length;
        return;
      }
      await iterator.return?.();
      (chunks as { destroy?: () => void }).destroy?.();
    },
  };
}

/** Errors of the source itself (unreadable file, broken gzip) as UserErrors. */
function sourceError(error: unknown, what: string): Error {
  if (error instanceof UserError) return error;
  const code = String((error as NodeJS.ErrnoException).code ?? '');
  const message = error instanceof Error ? error.message : String(error);
  if (/^Z_/.test(code) || code.startsWith('ERR_ZLIB')) return new UserError('image-invalid', `${what} is truncated or damaged (gzip: ${message})`);
  if (code === 'ERR_STREAM_PREMATURE_CLOSE') return new UserError('image-invalid', `${what} is truncated: its stream ended early`);
  return error as Error;
}

/** The entries of an uncompressed tar stream (decompress before). Errors are UserErrors naming `what`. */
export function readTar(source: AsyncIterable<Buffer>, what: string): AsyncGenerator<TarEntry> {
  return readEntries(streamSource(source, what), what);
}

/**
 * The entries of a plain tar file, read in place: an entry's bytes are read from where they lie and
 * skipped bodies are not read at all. With `transient`, bodies come through one reused buffer (so a
 * layer costs no fresh memory per chunk); an entry larger than the file is refused before any of it is
 * read.
 */
export async function* readTarFile(file: string, what: string, options: { transient?: boolean; signal?: AbortSignal | undefined } = {}): AsyncGenerator<TarEntry> {
  const fd = openSync(file, 'r');
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    closeSync(fd);
  };
  try {
    const total = fstatSync(fd).size;
    let position = 0;
    let reused: Buffer | undefined;
    const source: ByteSource = {
      total,
      take(max) {
        options.signal?.throwIfAborted();
        const length = Math.min(max, FILE_READ_BYTES, total - position);
        if (length <= 0) return null;
        const buffer = options.transient ? (reused ??= Buffer.allocUnsafeSlow(FILE_READ_BYTES)) : Buffer.allocUnsafeSlow(length);
        let done = 0;
        while (done < length) {
          const bytes = readSync(fd, buffer, done, length - done, position + done);
          if (bytes === 0) break;
          done += bytes;
        }
        if (done === 0) return null;
        position += done;
        return done === buffer.length ? buffer : buffer.subarray(0, done);
      },
      skip(bytes) {
        const skipped = Math.max(0, Math.min(bytes, total - position));
        position += skipped;
        return skipped;
      },
      release: close,
    };
    yield* readEntries(source, what);
  } finally {
    close();
  }
}

export interface TarWriteEntry {
  /** The name: text (written as UTF-8), or a byte string with `bytes`. */
  path: string;
  /** `path` and `linkpath` are byte strings (util/names.ts), written as they are. */
  bytes?: boolean;
  type?: 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo';
  /** Required for files; the body must yield exactly this many bytes. */
  size?: number;
  body?: Buffer | (() => AsyncIterable<Buffer>);
  linkpath?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch (default FIXED_MTIME). */
  mtime?: number;
  devmajor?: number;
  devminor?: number;
}

/** dockerTools' default mtime: images and archives addonix writes use it, so they are reproducible. */
export const FIXED_MTIME = new Date('1970-01-01T00:00:01Z');

const TYPE_FLAGS: Record<NonNullable<TarWriteEntry['type']>, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  'char-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
};

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, '0') + '\0';
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'latin1'), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length > length) length++;
  return Buffer.concat([Buffer.from(String(length), 'latin1'), body]);
}

/** A ustar header block; a pax header before it when a name, link or size does not fit. */
function headerBlocks(entry: TarWriteEntry, size: number): Buffer {
  const type = entry.type ?? 'file';
  const encode = (text: string) => Buffer.from(text, entry.bytes ? 'latin1' : 'utf8');
  const name = encode(type === 'directory' && !entry.path.endsWith('/') ? entry.path + '/' : entry.path);
  const link = entry.linkpath !== undefined ? encode(entry.linkpath) : Buffer.alloc(0);
  const mtime = Math.floor(entry.mtime ?? FIXED_MTIME.getTime() / 1000);
  const records: Buffer[] = [];
  if (name.length > 100) records.push(paxRecord('path', name));
  if (link.length > 100) records.push(paxRecord('linkpath', link));
  if (size > 0o77777777777) records.push(paxRecord('size', Buffer.from(String(size))));
  const block = Buffer.alloc(BLOCK);
  name.copy(block, 0, 0, Math.min(100, name.length));
  block.write(octal(entry.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644), 8), 100, 'latin1');
  block.write(octal(entry.uid ?? 0, 8), 108, 'latin1');
  block.write(octal(entry.gid ?? 0, 8), 116, 'latin1');
  block.write(octal(size > 0o77777777777 ? 0 : size, 12), 124, 'latin1');
  block.write(octal(mtime, 12), 136, 'latin1');
  block.write(TYPE_FLAGS[type], 156, 'latin1');
  link.copy(block, 157, 0, Math.min(100, link.length));
  block.write('ustar\0' + '00', 257, 'latin1');
  block.write(octal(entry.devmajor ?? 0, 8), 329, 'latin1');
  block.write(octal(entry.devminor ?? 0, 8), 337, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + ' ', 148, 'latin1');
  if (records.length === 0) return block;
  const data = Buffer.concat(records);
  const pax = headerBlocks({ path: 'PaxHeader', bytes: true, mode: 0o644 }, data.length);
  pax[156] = 'x'.charCodeAt(0);
  pax.fill(0x20, 148, 156);
  let paxSum = 0;
  for (const byte of pax) paxSum += byte;
  pax.write(octal(paxSum, 7) + ' ', 148, 'latin1');
  return Buffer.concat([pax, data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK), block]);
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
    if (size % BLOCK !== 0) yield Buffer.alloc(BLOCK - (size % BLOCK));
  }
  yield Buffer.alloc(2 * BLOCK);
}

/** A reproducible tar stream of the given entries, in the given order. */
export function writeTar(entries: AsyncIterable<TarWriteEntry> | Iterable<TarWriteEntry>): Readable {
  return Readable.from(tarChunks(entries), { objectMode: false });
}
