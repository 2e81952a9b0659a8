/**
 * Tarballs, both ways. One reader core yields one entry at a time (the caller reads or skips its body
 * before asking for the next, so memory stays flat), over a stream or over a plain file read in place;
 * a writer makes reproducible archives (fixed mtime, uid 0, no user names).
 *
 * Headers are settled exactly as Go's archive/tar settles them, because that is the reader of the
 * engines that extract images (containers/storage, Podman, Docker, containerd, skopeo, umoci): an image
 * addonix checks must be the image they extract, name for name. So: the formats are told apart by their
 * magic (V7, USTAR/pax, GNU, star) and only USTAR-like headers have owner names, device numbers and a
 * name prefix; a malformed number or checksum is an invalid header; a zero block must be followed by
 * another (or by the end); the end of the input in the padding after an entry ends the archive. Of the
 * meta headers, a pax `x` header applies to the next entry only and a second one replaces the first
 * whole; GNU long names and links (`L`, `K`) win over pax `path` and `linkpath`, and an empty one
 * changes nothing; a pax record with an empty value keeps the header's value; a pax global header (`g`)
 * applies to no entry but is an entry of its own (type `global`, named by its own `path` record), which
 * the engines skip when they extract and the layer rules check as any name; `SCHILY.xattr.*` records
 * are the entry's extended attributes. Go's own source (src/archive/tar/reader.go, format.go, strconv.go)
 * is the reference for each of these.
 *
 * Names are byte strings rather than npm tar's UTF-8 decoding, which turns two different non-UTF-8
 * names into one (see util/names.ts). The reader judges only the archive's structure (checksums, sizes,
 * truncation, the meta headers); what a name may be is decided by whoever reads the archive (the image
 * archive's rules in archive.ts, a layer's in layer-rules.ts).
 */
import { Readable } from 'node:stream';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createHash, hash } from 'node:crypto';
import { UserError } from '../util/errors.js';
import { byteString, showName } from '../util/names.js';
import { GZIP_BLOCK } from './compression.js';

/**
 * `global` is a pax global header (`g`), which extracts to nothing; `sparse` a GNU sparse file (old `S`
 * or pax-encoded); `other` any type flag the engines do not extract (`7`, `V`, letters they do not know).
 */
export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo' | 'global' | 'sparse' | 'other';

export interface TarEntry {
  /** The name as Go's reader settles it: a byte string, meta headers applied, nothing else done. */
  name: string;
  type: TarEntryType;
  /** The header's type flag (`0`, `5`, `S`, `g`, ...; `sparse` for pax-encoded sparse files), for messages. */
  typeFlag: string;
  /** The bytes of its body (0 for links, folders, devices, FIFOs and global headers whatever the header says). */
  size: number;
  /** Target of a link, a byte string. */
  linkpath?: string;
  mode: number;
  uid: number;
  gid: number;
  /** Owner names, byte strings (empty in V7 headers, which have none). */
  uname: string;
  gname: string;
  /** Seconds since the epoch (pax headers may give a fraction). */
  mtime: number;
  devmajor: number;
  devminor: number;
  /** Extended attributes (pax `SCHILY.xattr.NAME` records): names and values as byte strings, sorted by name. */
  xattrs: [string, string][];
  /** Where the body starts in the file, for a reader of a file (its bytes can be read again from there). */
  offset?: number;
  /**
   * The entry's bytes; must be read to the end (or left: the reader skips what is left) before the next
   * entry. Chunks are valid only until the next is asked for when the reader is transient (a file read
   * through one reused buffer, or a source whose own chunks are so).
   */
  body(): AsyncGenerator<Buffer>;
  /** Skips the body (or what is left of it). */
  skip(): Promise<void>;
  /** Reads the body (what is left of it) and answers its SHA-256, in hex: no chunk handed out. */
  sha256(): Promise<string>;
}

/** Where the reader gets its bytes: views valid until the next call. */
interface ByteSource {
  /** Up to `max` (> 0) bytes, or null at the end. */
  take(max: number): Promise<Buffer | null> | Buffer | null;
  /** Skips up to `bytes`; answers how many were there. */
  skip(bytes: number): Promise<number> | number;
  /** The size of the whole archive when known (a file). */
  readonly total: number | undefined;
  /** Where the archive starts in its file (a file's reader only). */
  readonly offset?: number;
  /** Lets go of the source (a stream stopped early is destroyed). */
  release(finished: boolean): Promise<void> | void;
}

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
/** The largest pax header or GNU long name or link (Go's maxSpecialFileSize, libarchive's limit too). */
const MAX_META_BYTES = 1 << 20;
/** What one read of a plain file asks for: the gzip block size, so a layer's blocks line up with reads. */
const FILE_READ_BYTES = GZIP_BLOCK;
/**
 * What one read of a range that is hashed as it is read asks for: small enough that what is read is
 * still in the processor's cache when it is hashed (reading and hashing a 300 MB file in 64 KiB pieces
 * took 280 ms here, as long as `openssl dgst`; in 1 MiB pieces 440 ms).
 */
const HASHED_READ_BYTES = 64 * 1024;
/** Type flags of entries that have no body whatever their size field says (Go's isHeaderOnlyType). */
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);
const XATTR_PREFIX = 'SCHILY.xattr.';

function truncatedEntry(what: string, name: string, size: number, seen: number): UserError {
  return new UserError('image-invalid', `${what} is truncated: entry ${showName(name)} declares ${size} bytes, the archive ends after ${seen}`);
}

/** A malformed header or meta header, which Go's reader answers with ErrHeader. */
class BadHeader extends Error {}

/** A NUL-terminated string field, as a byte string (Go's parseString). */
function parseString(block: Buffer, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && block[end] !== 0) end++;
  return block.toString('latin1', offset, end);
}

/**
 * An octal field: spaces and NULs trimmed at both ends, then up to the first NUL, all of it octal digits
 * (Go's parseOctal; every header has six of these, so it is one loop without strings).
 */
function parseOctal(block: Buffer, offset: number, length: number): number {
  let start = offset;
  let end = offset + length;
  while (start < end && (block[start] === 0x20 || block[start] === 0)) start++;
  while (end > start && (block[end - 1] === 0x20 || block[end - 1] === 0)) end--;
  let value = 0;
  for (let i = start; i < end; i++) {
    const byte = block[i]!;
    if (byte === 0) break;
    if (byte < 0x30 || byte > 0x37) throw new BadHeader('a numeric field is not an octal number');
    value = value * 8 + (byte - 0x30);
  }
  // Go reads 64 bits; what JavaScript cannot hold exactly is no size or id a real archive has.
  if (!Number.isSafeInteger(value)) throw new BadHeader('a numeric field is too large');
  return value;
}

/** A numeric field: base-256 (two's complement, first bit set) or octal (Go's parseNumeric). */
function parseNumeric(block: Buffer, offset: number, length: number): number {
  const first = block[offset]!;
  if (!(first & 0x80)) return parseOctal(block, offset, length);
  const invert = first & 0x40 ? 0xff : 0;
  let value = 0n;
  for (let i = 0; i < length; i++) {
    let byte = block[offset + i]! ^ invert;
    if (i === 0) byte &= 0x7f;
    if (value >> 56n > 0n) throw new BadHeader('a base-256 field overflows');
    value = (value << 8n) | BigInt(byte);
  }
  if (value >> 63n > 0n) throw new BadHeader('a base-256 field overflows');
  const signed = invert ? -value - 1n : value;
  if (signed > BigInt(Number.MAX_SAFE_INTEGER) || signed < BigInt(Number.MIN_SAFE_INTEGER)) throw new BadHeader('a numeric field is too large');
  return Number(signed);
}

/** A decimal integer as Go's strconv.ParseInt(s, 10, 64) reads it (a sign allowed); undefined when it is not one. */
function parseDecimal(text: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text);
  if (value > 2n ** 63n - 1n || value < -(2n ** 63n)) return undefined;
  return Number.isSafeInteger(Number(value)) ? Number(value) : undefined;
}

/** A pax time, `SECONDS[.FRACTION]` (Go's parsePAXTime). */
function parsePaxTime(text: string): number {
  const dot = text.indexOf('.');
  const whole = dot < 0 ? text : text.slice(0, dot);
  const fraction = dot < 0 ? '' : text.slice(dot + 1);
  const seconds = parseDecimal(whole);
  if (seconds === undefined) throw new BadHeader(`the pax time ${JSON.stringify(text)} is not a number`);
  if (fraction === '') return seconds;
  if (!/^[0-9]+$/.test(fraction)) throw new BadHeader(`the pax time ${JSON.stringify(text)} is not a number`);
  const part = Number(`0.${fraction.slice(0, 9)}`);
  return whole.startsWith('-') ? seconds - part : seconds + part;
}

type Format = 'v7' | 'ustar' | 'gnu' | 'star';

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
  mtime: number;
  devmajor: number;
  devminor: number;
  format: Format;
  /** Created when the first is found: most entries have none. */
  xattrs: Map<string, string> | undefined;
}

function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}

/** Decodes a header block as Go's readHeader does: the header, 'zero' for a block of zeros, or a BadHeader. */
function decodeHeader(block: Buffer): Header | 'zero' {
  // The sums of the bytes as unsigned and as signed numbers (the second is the first less 256 for each
  // byte over 127), the checksum field itself counted as eight spaces. Every header is summed, so this
  // is kept to one plain loop.
  let unsigned = 0;
  let high = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = block[i]!;
    unsigned += byte;
    if (byte > 127) high++;
  }
  if (unsigned === 0) return 'zero';
  for (let i = 148; i < 156; i++) {
    const byte = block[i]!;
    unsigned += 0x20 - byte;
    if (byte > 127) high--;
  }
  const signed = unsigned - 256 * high;
  let checksum: number;
  try {
    checksum = parseOctal(block, 148, 8);
  } catch {
    throw new BadHeader('checksum failure');
  }
  if (checksum !== unsigned && checksum !== signed) throw new BadHeader('checksum failure');
  const magic = block.toString('latin1', 257, 263);
  const version = block.toString('latin1', 263, 265);
  const trailer = block.toString('latin1', 508, 512);
  const format: Format = magic === 'ustar\0' ? (trailer === 'tar\0' ? 'star' : 'ustar') : magic === 'ustar ' && version === ' \0' ? 'gnu' : 'v7';
  const header: Header = {
    name: parseString(block, 0, 100),
    typeFlag: String.fromCharCode(block[156]!),
    size: parseNumeric(block, 124, 12),
    linkpath: parseString(block, 157, 100),
    mode: parseNumeric(block, 100, 8),
    uid: parseNumeric(block, 108, 8),
    gid: parseNumeric(block, 116, 8),
    uname: '',
    gname: '',
    mtime: parseNumeric(block, 136, 12),
    devmajor: 0,
    devminor: 0,
    format,
    xattrs: undefined,
  };
  if (format === 'v7') return header;
  header.uname = parseString(block, 265, 32);
  header.gname = parseString(block, 297, 32);
  header.devmajor = parseNumeric(block, 329, 8);
  header.devminor = parseNumeric(block, 337, 8);
  let prefix = '';
  if (format === 'ustar') {
    prefix = parseString(block, 345, 155);
  } else if (format === 'star') {
    prefix = parseString(block, 345, 131);
    parseNumeric(block, 476, 12);
    parseNumeric(block, 488, 12);
  } else {
    // GNU keeps access and change times where USTAR has its prefix. Archives of Go before 1.8 put a
    // prefix there anyway: when the times do not parse, an ASCII prefix is taken, as Go does.
    try {
      if (block[345] !== 0) parseNumeric(block, 345, 12);
      if (block[357] !== 0) parseNumeric(block, 357, 12);
    } catch {
      const text = parseString(block, 345, 155);
      if (isAscii(text)) prefix = text;
    }
  }
  if (prefix) header.name = `${prefix}/${header.name}`;
  return header;
}

/**
 * Pax records (`LEN key=value\n`) as Go's parsePAX reads them: values as byte strings (names may be any
 * bytes), a later record replacing an earlier one of the same key, GNU sparse 0.0 offsets gathered into
 * `GNU.sparse.map`.
 */
function parsePax(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  const sparse: string[] = [];
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) throw new BadHeader('a pax record has no length');
    const length = parseDecimal(data.toString('latin1', at, space));
    if (length === undefined || length < 5 || length > data.length - at) throw new BadHeader('a pax record has a bad length');
    const recordEnd = at + length;
    if (recordEnd - 1 <= space || data[recordEnd - 1] !== 0x0a) throw new BadHeader('a pax record does not end with a newline');
    const record = data.subarray(space + 1, recordEnd - 1);
    const equals = record.indexOf(0x3d);
    if (equals < 0) throw new BadHeader('a pax record has no key');
    const key = record.toString('latin1', 0, equals);
    const value = byteString(record.subarray(equals + 1));
    if (key === '') throw new BadHeader('a pax record has an empty key');
    const nameField = key === 'path' || key === 'linkpath' || key === 'uname' || key === 'gname';
    if (nameField ? value.includes('\0') : key.includes('\0')) throw new BadHeader(`the pax record ${JSON.stringify(key)} holds a NUL`);
    if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') {
      if ((sparse.length % 2 === 0) !== (key === 'GNU.sparse.offset') || value.includes(',')) throw new BadHeader('GNU sparse records out of order');
      sparse.push(value);
    } else {
      records.set(key, value);
    }
    at = recordEnd;
  }
  if (sparse.length > 0) records.set('GNU.sparse.map', sparse.join(','));
  return records;
}

/** Applies pax records to a header as Go's mergePAX does (an empty value keeps the header's). */
function mergePax(header: Header, pax: Map<string, string> | undefined): void {
  if (!pax) return;
  for (const [key, value] of pax) {
    if (value === '') continue;
    switch (key) {
      case 'path':
        header.name = value;
        break;
      case 'linkpath':
        header.linkpath = value;
        break;
      case 'uname':
      case 'gname':
        header[key] = value;
        break;
      case 'uid':
      case 'gid':
      case 'size': {
        const number = parseDecimal(value);
        if (number === undefined) throw new BadHeader(`the pax record ${key}=${JSON.stringify(value)} is not a number`);
        header[key] = number;
        break;
      }
      case 'mtime':
        header.mtime = parsePaxTime(value);
        break;
      case 'atime':
      case 'ctime':
        parsePaxTime(value);
        break;
      default:
        if (key.startsWith(XATTR_PREFIX)) (header.xattrs ??= new Map()).set(key.slice(XATTR_PREFIX.length), value);
    }
  }
}

/** Whether pax records make a GNU sparse file, and which name it has (Go's readGNUSparsePAXHeaders). */
function paxSparse(pax: Map<string, string> | undefined): { name: string } | undefined {
  if (!pax) return undefined;
  const major = pax.get('GNU.sparse.major') ?? '';
  const minor = pax.get('GNU.sparse.minor') ?? '';
  const known = (major === '0' && (minor === '0' || minor === '1')) || (major === '1' && minor === '0');
  if (!known && (major !== '' || minor !== '' || !pax.get('GNU.sparse.map'))) return undefined;
  return { name: pax.get('GNU.sparse.name') ?? '' };
}

function entryType(flag: string): TarEntryType {
  switch (flag) {
    case '0':
      return 'file';
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
    case 'S':
      return 'sparse';
    default:
      return 'other';
  }
}

/** What the end of the input means where it comes. */
class EndOfInput extends Error {}

function invalidHeader(what: string, why: string, at: number): UserError {
  return new UserError('image-invalid', `${what}: not a valid tar archive: ${why} (header at byte ${at})`);
}

/**
 * The core of both readers: headers, meta headers, bodies, padding, the end, each as Go's archive/tar
 * reads them (see the module comment). Names are not judged here; sizes and truncation are.
 */
async function* readEntries(source: ByteSource, what: string): AsyncGenerator<TarEntry> {
  const reader = new BodyReader(source, what);

  let finished = false;
  try {
    let sawHeader = false;
    for (;;) {
      // One entry: meta headers first, each applying to the entry that follows them.
      let pax: Map<string, string> | undefined;
      let longName = '';
      let longLink = '';
      let entry: Entry | undefined;
      while (!entry) {
        const next = reader.readBlock();
        const block = next instanceof Promise ? await next : next;
        if (!block) throw new EndOfInput();
        const at = reader.position - BLOCK;
        let header: Header | 'zero';
        try {
          header = decodeHeader(block);
        } catch (error) {
          if (!(error instanceof BadHeader)) throw error;
          if (!sawHeader) throw new UserError('image-invalid', `${what} is not a tar archive (nor a gzip-compressed one)`);
          throw invalidHeader(what, error.message, at);
        }
        if (header === 'zero') {
          // Two zero blocks end the archive, one and the end of the input too; one followed by anything else is damage.
          const next = await reader.readBlock();
          if (!next || next.equals(ZERO_BLOCK)) throw new EndOfInput();
          throw invalidHeader(what, 'a zero block followed by a header', at);
        }
        sawHeader = true;
        try {
          // Go's handleRegularFile, before and after the meta headers: a body cannot have a negative size.
          if (header.size < 0 && !HEADER_ONLY.has(header.typeFlag)) throw new BadHeader('a negative size');
          const flag = header.typeFlag;
          if (flag === 'x' || flag === 'g') {
            const data = await reader.readAll(header.size, flag === 'x' ? 'pax header' : 'pax global header');
            await reader.skipPadding(header.size);
            pax = parsePax(data);
            if (flag === 'x') continue;
            // A global header is an entry of its own; what came before it applies to nothing.
            mergePax(header, pax);
            entry = new Entry(reader, header, 'global', 0);
            continue;
          }
          if (flag === 'L' || flag === 'K') {
            const data = await reader.readAll(header.size, flag === 'L' ? 'GNU long name' : 'GNU long link name');
            await reader.skipPadding(header.size);
            const value = parseString(data, 0, data.length);
            if (flag === 'L') longName = value;
            else longLink = value;
            continue;
          }
          mergePax(header, pax);
          if (longName !== '') header.name = longName;
          if (longLink !== '') header.linkpath = longLink;
          // Type 0 (NUL, from old archives) is a folder when its name ends with a slash, else a file.
          if (header.typeFlag === '\0') header.typeFlag = header.name.endsWith('/') ? '5' : '0';
          if (header.size < 0 && !HEADER_ONLY.has(header.typeFlag)) throw new BadHeader('a negative size');
          let type = entryType(header.typeFlag);
          if (header.typeFlag === 'S') {
            // Old GNU sparse: its map may go on in extension blocks right after the header.
            if (header.format !== 'gnu') throw new BadHeader('an old GNU sparse header in another format');
            for (let extended = block[482] !== 0; extended; ) {
              const extension = await reader.readBlock();
              if (!extension) throw new UserError('image-invalid', `${what} is truncated: it ends inside a GNU sparse map`);
              extended = extension[504] !== 0;
            }
          } else if (header.typeFlag === '0') {
            const sparse = paxSparse(pax);
            if (sparse) {
              type = 'sparse';
              header.typeFlag = 'sparse';
              if (sparse.name) header.name = sparse.name;
            }
          }
          entry = new Entry(reader, header, type, HEADER_ONLY.has(header.typeFlag) ? 0 : header.size);
        } catch (error) {
          if (error instanceof BadHeader) throw invalidHeader(what, error.message, at);
          throw error;
        }
      }
      if (source.total !== undefined && entry.size > source.total) {
        throw new UserError('image-invalid', `${what}: entry ${showName(entry.name)} declares ${entry.size} bytes but the whole archive has only ${source.total}; the archive is damaged or hostile`);
      }
      reader.start(entry);
      yield entry;
      if (reader.unread() > 0) await reader.skip(entry);
      const padded = reader.skipPadding(entry.size);
      if (padded) await padded;
    }
  } catch (error) {
    if (!(error instanceof EndOfInput)) throw error;
    finished = true;
  } finally {
    await source.release(finished);
  }
}

const NO_XATTRS: [string, string][] = [];

/**
 * Reads the body of the current entry for a reader: one for all its entries, so that an entry costs
 * an object and no closures (a layer of 200,000 small files is 200,000 entries). An entry's body asked
 * for once the reader has gone past it gives nothing.
 */
class BodyReader {
  /** Bytes of the archive read so far. */
  position = 0;
  private current: Entry | null = null;
  private left = 0;
  /** Where the current entry's body starts in the archive. */
  private bodyStart = 0;

  private readonly headerBuffer = Buffer.alloc(BLOCK);

  constructor(
    private readonly source: ByteSource,
    private readonly what: string,
  ) {}

  /** Exactly one block; null at the end of the input before any of it; an error when it ends inside. */
  private async readBlockSlowly(first: Buffer | null): Promise<Buffer | null> {
    let got = 0;
    for (let chunk = first; got < BLOCK; chunk = await this.source.take(BLOCK - got)) {
      if (!chunk) {
        if (got === 0) return null;
        throw new UserError('image-invalid', `${this.what} is truncated: it ends inside a tar header (at byte ${this.position + got})`);
      }
      chunk.copy(this.headerBuffer, got);
      got += chunk.length;
    }
    this.position += BLOCK;
    return this.headerBuffer;
  }

  /** A block at once when the source has it at hand (most headers of a file read in pieces). */
  readBlock(): Promise<Buffer | null> | Buffer | null {
    const taken = this.source.take(BLOCK);
    if (taken instanceof Promise) return taken.then((chunk) => (chunk && chunk.length === BLOCK ? ((this.position += BLOCK), chunk) : this.readBlockSlowly(chunk)));
    if (taken && taken.length === BLOCK) {
      this.position += BLOCK;
      return taken;
    }
    return this.readBlockSlowly(taken);
  }

  /** `size` bytes of a meta header (a pax header, a GNU long name), copied. */
  async readAll(size: number, kind: string): Promise<Buffer> {
    if (size > MAX_META_BYTES) throw new UserError('image-invalid', `${this.what}: a ${kind} of ${size} bytes; addonix reads at most ${MAX_META_BYTES}, as Go's archive/tar does (the archive is damaged or hostile)`);
    const out = Buffer.alloc(size);
    for (let got = 0; got < size; ) {
      const chunk = await this.source.take(size - got);
      if (!chunk) throw new UserError('image-invalid', `${this.what} is truncated: it ends inside a ${kind}`);
      chunk.copy(out, got);
      got += chunk.length;
    }
    this.position += size;
    return out;
  }

  /** Skips the padding after a body; the input ending there ends the archive (Go's tryReadFull). */
  skipPadding(size: number): Promise<void> | void {
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (padding === 0) return;
    const skipped = this.source.skip(padding);
    if (typeof skipped !== 'number') return skipped.then((bytes) => this.paddingSkipped(bytes, padding));
    this.paddingSkipped(skipped, padding);
  }

  private paddingSkipped(bytes: number, padding: number): void {
    this.position += bytes;
    if (bytes < padding) throw new EndOfInput();
  }

  /** What is left of the current entry's body. */
  unread(): number {
    return this.left;
  }

  start(entry: Entry): void {
    this.current = entry;
    this.left = entry.size;
    this.bodyStart = this.position;
    if (this.source.offset !== undefined) entry.offset = this.source.offset + this.position;
  }

  private truncated(entry: Entry): UserError {
    return truncatedEntry(this.what, entry.name, entry.size, this.position - this.bodyStart);
  }

  /** The next chunk of the entry's body (at most `left` bytes), or null when it is all read. */
  private async chunk(entry: Entry): Promise<Buffer | null> {
    if (this.current !== entry || this.left === 0) return null;
    const taken = this.source.take(this.left);
    const chunk = taken instanceof Promise ? await taken : taken;
    if (!chunk) throw this.truncated(entry);
    this.left -= chunk.length;
    this.position += chunk.length;
    return chunk;
  }

  async *body(entry: Entry): AsyncGenerator<Buffer> {
    for (let chunk = await this.chunk(entry); chunk; chunk = await this.chunk(entry)) yield chunk;
  }

  async sha256(entry: Entry): Promise<string> {
    const first = await this.chunk(entry);
    if (!first) return EMPTY_SHA256;
    // A small file comes in one chunk: hashed in one call, without a Hash object.
    if (this.left === 0) return hash('sha256', first, 'hex');
    const hasher = createHash('sha256').update(first);
    for (let chunk = await this.chunk(entry); chunk; chunk = await this.chunk(entry)) hasher.update(chunk);
    return hasher.digest('hex');
  }

  async skip(entry: Entry): Promise<void> {
    if (this.current !== entry || this.left === 0) return;
    const skipped = this.source.skip(this.left);
    const bytes = typeof skipped === 'number' ? skipped : await skipped;
    this.position += bytes;
    if (bytes < this.left) throw this.truncated(entry);
    this.left = 0;
  }
}

const EMPTY_SHA256 = hash('sha256', Buffer.alloc(0), 'hex');

/** An entry of a settled header (see TarEntry); its body is read by its reader. */
class Entry implements TarEntry {
  name: string;
  type: TarEntryType;
  typeFlag: string;
  size: number;
  linkpath: string | undefined;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  devmajor: number;
  devminor: number;
  xattrs: [string, string][];
  offset: number | undefined = undefined;
  readonly #reader: BodyReader;

  constructor(reader: BodyReader, header: Header, type: TarEntryType, size: number) {
    this.#reader = reader;
    this.name = header.name;
    this.type = type;
    this.typeFlag = header.typeFlag;
    this.size = size;
    this.linkpath = type === 'symlink' || type === 'hardlink' ? header.linkpath : undefined;
    this.mode = header.mode;
    this.uid = header.uid;
    this.gid = header.gid;
    this.uname = header.uname;
    this.gname = header.gname;
    this.mtime = header.mtime;
    this.devmajor = header.devmajor;
    this.devminor = header.devminor;
    this.xattrs = header.xattrs ? [...header.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : NO_XATTRS;
  }

  body(): AsyncGenerator<Buffer> {
    return this.#reader.body(this);
  }

  skip(): Promise<void> {
    return this.#reader.skip(this);
  }

  sha256(): Promise<string> {
    return this.#reader.sha256(this);
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

/** What sees every byte of a range as it is read (a Hasher). */
export interface PieceHasher {
  update(piece: Buffer): void;
}

/**
 * The bytes [start, end) of an open file as a ByteSource, read `pieceBytes` at a time and handed out
 * as views of the piece (a tar of small files asks for a header, a body and its padding, each a few
 * hundred bytes: one read each would be three system calls a file). With `hash`, every byte of the
 * range is shown to it as its piece is read, those skipped and those after the archive's end included
 * (and so read, not skipped). With `transient`, two buffers hold the pieces in turn; otherwise each
 * piece is a buffer of its own, so that views of it stay valid. A class, not closures: every reader's
 * calls then go to the same functions, and the compiled tar reader stays valid from one file to the next.
 */
class FileByteSource implements ByteSource {
  readonly total: number;
  /** Where the next piece is read from. */
  private position: number;
  private piece: Buffer = EMPTY;
  private at = 0;
  // Two buffers in turn when transient: a view handed out stays apart from the piece read after it.
  private readonly reused: (Buffer | undefined)[] = [undefined, undefined];
  private turn = 0;

  constructor(
    private readonly fd: number,
    readonly offset: number,
    private readonly end: number,
    private readonly pieceBytes: number,
    private readonly transient: boolean,
    private readonly signal: AbortSignal | undefined,
    private readonly hash: PieceHasher | undefined,
    private readonly close: () => void,
  ) {
    this.total = end - offset;
    this.position = offset;
  }

  private refill(): boolean {
    this.signal?.throwIfAborted();
    const length = Math.min(this.pieceBytes, this.end - this.position);
    if (length <= 0) return false;
    this.turn ^= 1;
    const buffer = this.transient ? (this.reused[this.turn] ??= Buffer.allocUnsafeSlow(this.pieceBytes)) : Buffer.allocUnsafeSlow(length);
    let done = 0;
    while (done < length) {
      const bytes = readSync(this.fd, buffer, done, length - done, this.position + done);
      if (bytes === 0) break;
      done += bytes;
    }
    if (done === 0) return false;
    this.position += done;
    this.piece = done === buffer.length ? buffer : buffer.subarray(0, done);
    this.at = 0;
    this.hash?.update(this.piece);
    return true;
  }

  take(max: number): Buffer | null {
    if (this.at >= this.piece.length && !this.refill()) return null;
    const length = Math.min(max, this.piece.length - this.at);
    const view = this.piece.subarray(this.at, this.at + length);
    this.at += length;
    return view;
  }

  skip(bytes: number): number {
    let skipped = Math.min(bytes, this.piece.length - this.at);
    this.at += skipped;
    if (skipped < bytes && !this.hash) {
      // Past the piece: not read at all.
      const jump = Math.min(bytes - skipped, this.end - this.position);
      this.position += jump;
      skipped += jump;
      this.piece = EMPTY;
      this.at = 0;
    }
    while (skipped < bytes && this.refill()) {
      const length = Math.min(bytes - skipped, this.piece.length);
      this.at = length;
      skipped += length;
    }
    return skipped;
  }

  release(finished: boolean): void {
    if (finished && this.hash) while (this.refill()) continue;
    this.close();
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * The entries of a plain tar file, read in place: an entry's bytes are read from where they lie and
 * skipped bodies are not read at all. With `transient`, bodies come through one reused buffer (so a
 * layer costs no fresh memory per chunk); an entry larger than the file is refused before any of it is
 * read. Each entry says where its body starts in the file (`offset`).
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
    yield* readEntries(new FileByteSource(fd, 0, fstatSync(fd).size, FILE_READ_BYTES, options.transient === true, options.signal, undefined, close), what);
  } finally {
    close();
  }
}

/**
 * The entries of a tar archive that is a range of a file (a layer inside a plain image archive), each
 * byte of the range shown to `hash` as it is read, in small pieces, so that hashing the layer costs no
 * more than reading it; without `hash` (the range is hashed elsewhere), bodies nobody reads are skipped,
 * not read. Bodies come through one reused buffer.
 */
export async function* readTarRange(file: string, range: { offset: number; size: number }, what: string, hash: PieceHasher | undefined, signal?: AbortSignal): AsyncGenerator<TarEntry> {
  const fd = openSync(file, 'r');
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    closeSync(fd);
  };
  try {
    yield* readEntries(new FileByteSource(fd, range.offset, range.offset + range.size, HASHED_READ_BYTES, true, signal, hash, close), what);
  } finally {
    close();
  }
}

/** The first bytes of a range of a file (to tell its compression). */
export function readHead(file: string, offset: number, bytes: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(bytes);
    return head.subarray(0, readSync(fd, head, 0, bytes, offset));
  } finally {
    closeSync(fd);
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
