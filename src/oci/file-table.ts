/**
 * The entries of a scanned layer, packed: records (records.ts) instead of an object per entry, so that
 * `diff` of a layer of 200,000 files holds some 100 bytes per file rather than kilobytes, and a scan
 * worker hands its tables over without copying them (their buffers are transferred).
 *
 * A file's record is the record the layer rules made of its path (path-flags.ts: the path relative to
 * the root, after its length), reopened to add the rest, which two records of one path must have byte
 * for byte to say the same: kind (1 byte), mode (2), flags (1: no mtime, a content hash), uid, gid,
 * size and mtime as numbers, the 32 bytes of the content hash when there is one, then the byte strings
 * uname, gname, link target and device, each after its length, and the extended attributes (their
 * count, then names and values). The records are read back whole (`get`), compared without the path
 * (`same`), or matched by path with another table's (`join`). The rules' records of folders no entry
 * names lie between them, which the table's own list of its records skips.
 */
import type { Digest } from './digest.js';
import type { PathFlags } from './path-flags.js';
import { numberEnd, NUMBER_BYTES, readNumber, Records, U32Blocks, writeNumber, writeText, type RecordsData } from './records.js';
import type { TarEntry, TarEntryType } from './tar.js';

/** One entry of a layer, as its tar header and content describe it. */
export interface FileFacts {
  /** Absolute path in the image (`/app/main.js`; the root is `/`), a byte string (util/names.ts). */
  path: string;
  kind: TarEntryType;
  /** Permission bits, with setuid, setgid and sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Owner names, byte strings. */
  uname: string;
  gname: string;
  /** Seconds since the epoch, null when the header has none. */
  mtime: number | null;
  size: number;
  /** SHA-256 of a regular file's content; null for everything else. */
  sha256: Digest | null;
  /** Target of a symlink or hardlink, a byte string. */
  linkTarget: string | null;
  /** `major:minor` of a device node. */
  device: string | null;
  /** Extended attributes (pax `SCHILY.xattr.*`): names and values as byte strings, sorted by name. */
  xattrs: [string, string][];
}

const KINDS: readonly TarEntryType[] = ['file', 'directory', 'symlink', 'hardlink', 'char-device', 'block-device', 'fifo', 'global', 'sparse', 'other'];
const NO_MTIME = 1;
const HAS_HASH = 2;

export interface FileTableData {
  records: RecordsData;
  /** The record of each entry. */
  entries: ArrayBuffer[];
  count: number;
}

export class FileTable {
  /** The record of each entry, in the layer's order. */
  private entries = new U32Blocks();
  count = 0;

  /** A table over the records of the layer rules' `PathFlags` (its `records`), or empty. */
  constructor(private readonly records = new Records()) {}

  /** The table's buffers, to hand to another thread (transferred, not copied); the table is empty after. */
  export(): FileTableData {
    const data = { records: this.records.export(), entries: this.entries.export(), count: this.count };
    this.count = 0;
    return data;
  }

  static import(data: FileTableData): FileTable {
    const table = new FileTable(Records.import(data.records));
    table.entries = U32Blocks.import(data.entries);
    table.count = data.count;
    return table;
  }

  /** The transferable buffers of an export, for postMessage. */
  static transferList(data: FileTableData): ArrayBuffer[] {
    return [...Records.transferList(data.records), ...data.entries];
  }

  /**
   * Adds a record of a tar entry the layer rules have just accepted (with `paths`, over this table's
   * records) at `path` (`/` and the rules' key); its content hash (hex) given for a file.
   */
  addEntry(entry: TarEntry, path: string, sha256Hex: string | null, paths: PathFlags): void {
    const type = entry.type;
    const link = type === 'symlink' || type === 'hardlink' ? (entry.linkpath ?? '') : '';
    const device = type === 'char-device' || type === 'block-device' ? `${entry.devmajor}:${entry.devminor}` : '';
    const uname = entry.uname;
    const gname = entry.gname;
    const xattrs = entry.xattrs;
    let length = 4 + 4 * NUMBER_BYTES + 32 + 5 * NUMBER_BYTES + uname.length + gname.length + link.length + device.length;
    for (const [name, value] of xattrs) length += 2 * NUMBER_BYTES + name.length + value.length;
    // The rules' record of the path is the last when the path is new to them; else (a folder named
    // after entries in it) the record is a new one, with the path again.
    const reopened = paths.addedLast;
    const b = reopened ? this.records.reopen(length) : this.records.begin(NUMBER_BYTES + path.length + length);
    let at = reopened ? this.records.at : writeText(b, path.slice(1), this.records.at);
    b[at] = KINDS.indexOf(type);
    b.writeUInt16LE(entry.mode & 0o7777, at + 1);
    b[at + 3] = sha256Hex ? HAS_HASH : 0;
    at = writeNumber(b, entry.uid, at + 4);
    at = writeNumber(b, entry.gid, at);
    at = writeNumber(b, entry.size, at);
    at = writeNumber(b, entry.mtime, at);
    if (sha256Hex) at += b.write(sha256Hex, at, 32, 'hex');
    at = writeText(b, uname, at);
    at = writeText(b, gname, at);
    at = writeText(b, link, at);
    at = writeText(b, device, at);
    at = writeNumber(b, xattrs.length, at);
    for (const [name, value] of xattrs) {
      at = writeText(b, name, at);
      at = writeText(b, value, at);
    }
    const record = this.records.finish(at);
    if (!reopened) paths.foreign(record);
    this.entries.set(this.count++, record);
  }

  /** Entry `i`'s buffer, where its path starts and where it ends. */
  private pathOf(i: number): { b: Buffer; start: number; end: number; record: number } {
    const record = this.entries.get(i);
    const b = this.records.buffer(record);
    const at = this.records.start(record);
    const start = numberEnd(b, at);
    return { b, start, end: start + readNumber(b, at), record };
  }

  path(i: number): string {
    const { b, start, end } = this.pathOf(i);
    return '/' + b.toString('latin1', start, end);
  }

  /** Whether entry `i` says what entry `j` of `other` says, the path aside (byte for byte). */
  same(i: number, other: FileTable, j: number): boolean {
    const a = this.pathOf(i);
    const o = other.pathOf(j);
    return a.b.compare(o.b, o.end, other.records.end(o.record), a.end, this.records.end(a.record)) === 0;
  }

  /** A hash of entry `i`'s path bytes (seeded: see join). */
  private pathHash(i: number, seed: number): number {
    const { b, start, end } = this.pathOf(i);
    let h = seed;
    for (let k = start; k < end; k++) h = Math.imul(h ^ b[k]!, 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  private samePath(i: number, other: FileTable, j: number): boolean {
    const a = this.pathOf(i);
    const o = other.pathOf(j);
    return a.b.compare(o.b, o.start, o.end, a.start, a.end) === 0;
  }

  /**
   * Pairs this table's records with `other`'s of the same path, without a string per path: `pair(i, j)`
   * for each record of `other` (j in order; i = -1 when this table has no such path), then `alone(i)`
   * for each record of this table no record of `other` has the path of. The paths of one table are all
   * different (the layer rules refuse duplicates). An open-addressing table of record numbers, its hash
   * seeded at random so that no archive can be made to collide on purpose.
   */
  join(other: FileTable, pair: (i: number, j: number) => void, alone: (i: number) => void): void {
    const seed = (Math.random() * 0x100000000) >>> 0;
    let slots = 1024;
    while (slots < this.count * 2) slots *= 2;
    const mask = slots - 1;
    /** Record number + 1 in each slot, 0 for none. */
    const table = new Uint32Array(slots);
    for (let i = 0; i < this.count; i++) {
      let slot = this.pathHash(i, seed) & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = i + 1;
    }
    const matched = new Uint8Array(this.count);
    for (let j = 0; j < other.count; j++) {
      let slot = other.pathHash(j, seed) & mask;
      let found = -1;
      for (let held = table[slot]!; held !== 0; held = table[slot]!) {
        if (this.samePath(held - 1, other, j)) {
          found = held - 1;
          break;
        }
        slot = (slot + 1) & mask;
      }
      if (found >= 0) matched[found] = 1;
      pair(found, j);
    }
    for (let i = 0; i < this.count; i++) if (!matched[i]) alone(i);
  }

  get(i: number): FileFacts {
    const { b, start, end } = this.pathOf(i);
    const path = '/' + b.toString('latin1', start, end);
    let at = end;
    const kind = KINDS[b[at]!]!;
    const mode = b.readUInt16LE(at + 1);
    const flags = b[at + 3]!;
    at += 4;
    const number = () => {
      const value = readNumber(b, at);
      at = numberEnd(b, at);
      return value;
    };
    const uid = number();
    const gid = number();
    const size = number();
    const mtime = number();
    let sha256: Digest | null = null;
    if (flags & HAS_HASH) {
      sha256 = `sha256:${b.toString('hex', at, at + 32)}`;
      at += 32;
    }
    const text = () => {
      const length = number();
      at += length;
      return b.toString('latin1', at - length, at);
    };
    const uname = text();
    const gname = text();
    const linkTarget = text();
    const device = text();
    const xattrs: [string, string][] = [];
    const pairs = number();
    for (let k = 0; k < pairs; k++) xattrs.push([text(), text()]);
    return {
      path,
      kind,
      mode,
      uid,
      gid,
      uname,
      gname,
      mtime: flags & NO_MTIME ? null : mtime,
      size,
      sha256,
      linkTarget: kind === 'symlink' || kind === 'hardlink' ? linkTarget : null,
      device: kind === 'char-device' || kind === 'block-device' ? device : null,
      xattrs,
    };
  }
}
