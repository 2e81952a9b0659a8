/**
 * The entries of a scanned layer, packed: one growing buffer of records instead of an object per entry,
 * so that `diff` of a layer of 200,000 files holds some 150 bytes per file rather than kilobytes, and a
 * scan worker hands its tables over without copying them (their buffers are transferred).
 *
 * A record: kind (1 byte), mode (2), uid, gid, size and mtime (float64 each: all a tar header can say
 * that JavaScript holds exactly), a content hash flag and its 32 bytes when there is one, then the byte
 * strings path, uname, gname, link target, device and extended attributes, each with its length. The
 * records are read back whole (`get`), or by path alone (`path`), or compared without the path (`same`).
 */
import type { Digest } from './digest.js';
import type { TarEntryType } from './tar.js';

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
const FIXED = 1 + 2 + 8 * 4 + 1;
const NO_MTIME = 1;
const HAS_HASH = 2;

export class FileTable {
  private bytes: Buffer;
  private used = 0;
  /** Where each record starts. */
  private offsets: Uint32Array;
  count = 0;

  constructor(bytes?: Buffer, offsets?: Uint32Array, count = 0) {
    this.bytes = bytes ?? Buffer.allocUnsafe(64 * 1024);
    this.offsets = offsets ?? new Uint32Array(256);
    this.count = count;
    this.used = count > 0 ? this.bytes.length : 0;
  }

  /** The table's buffers, to hand to another thread (transferred, not copied); the table is empty after. */
  export(): { bytes: ArrayBuffer; offsets: ArrayBuffer; count: number; used: number } {
    // Copied into buffers of their own length: a pooled Buffer's ArrayBuffer cannot be transferred.
    const bytes = new Uint8Array(this.used);
    bytes.set(this.bytes.subarray(0, this.used));
    const offsets = this.offsets.slice(0, this.count);
    const out = { bytes: bytes.buffer, offsets: offsets.buffer, count: this.count, used: this.used };
    this.bytes = Buffer.alloc(0);
    this.offsets = new Uint32Array(0);
    this.count = 0;
    this.used = 0;
    return out;
  }

  static import(data: { bytes: ArrayBuffer; offsets: ArrayBuffer; count: number; used: number }): FileTable {
    const table = new FileTable(Buffer.from(data.bytes, 0, data.used), new Uint32Array(data.offsets), data.count);
    table.used = data.used;
    return table;
  }

  /** The transferable buffers of an export, for postMessage. */
  static transferList(data: { bytes: ArrayBuffer; offsets: ArrayBuffer }): ArrayBuffer[] {
    return [data.bytes, data.offsets];
  }

  private ensure(bytes: number): void {
    if (this.used + bytes <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + bytes));
    this.bytes.copy(grown, 0, 0, this.used);
    this.bytes = grown;
  }

  add(facts: FileFacts): void {
    const strings = [facts.path, facts.uname, facts.gname, facts.linkTarget ?? '', facts.device ?? ''];
    const xattrs = facts.xattrs.flat();
    let length = FIXED + (facts.sha256 ? 32 : 0) + 4;
    for (const text of [...strings, ...xattrs]) length += 4 + text.length;
    this.ensure(length);
    if (this.count === this.offsets.length) {
      const grown = new Uint32Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    this.offsets[this.count++] = this.used;
    const b = this.bytes;
    let at = this.used;
    at = b.writeUInt8(KINDS.indexOf(facts.kind), at);
    at = b.writeUInt16LE(facts.mode & 0xffff, at);
    at = b.writeDoubleLE(facts.uid, at);
    at = b.writeDoubleLE(facts.gid, at);
    at = b.writeDoubleLE(facts.size, at);
    at = b.writeDoubleLE(facts.mtime ?? 0, at);
    at = b.writeUInt8((facts.mtime === null ? NO_MTIME : 0) | (facts.sha256 ? HAS_HASH : 0), at);
    if (facts.sha256) at += b.write(facts.sha256.slice(7), at, 'hex');
    for (const text of strings) {
      at = b.writeUInt32LE(text.length, at);
      at += b.write(text, at, 'latin1');
    }
    at = b.writeUInt32LE(facts.xattrs.length, at);
    for (const text of xattrs) {
      at = b.writeUInt32LE(text.length, at);
      at += b.write(text, at, 'latin1');
    }
    this.used = at;
  }

  /** Where record `i`'s path is: its first byte and length. */
  private pathSpan(i: number): [number, number] {
    const start = this.offsets[i]!;
    const at = start + FIXED + (this.bytes[start + FIXED - 1]! & HAS_HASH ? 32 : 0);
    return [at + 4, this.bytes.readUInt32LE(at)];
  }

  path(i: number): string {
    const [at, length] = this.pathSpan(i);
    return this.bytes.toString('latin1', at, at + length);
  }

  /** Whether record `i` says what record `j` of `other` says, the path aside (byte for byte). */
  same(i: number, other: FileTable, j: number): boolean {
    const [pa, la] = this.pathSpan(i);
    const [pb, lb] = other.pathSpan(j);
    const endA = i + 1 < this.count ? this.offsets[i + 1]! : this.used;
    const endB = j + 1 < other.count ? other.offsets[j + 1]! : other.used;
    return (
      this.bytes.compare(other.bytes, other.offsets[j]!, pb - 4, this.offsets[i]!, pa - 4) === 0 &&
      this.bytes.compare(other.bytes, pb + lb, endB, pa + la, endA) === 0
    );
  }

  get(i: number): FileFacts {
    const b = this.bytes;
    let at = this.offsets[i]!;
    const kind = KINDS[b.readUInt8(at)]!;
    const mode = b.readUInt16LE(at + 1);
    const uid = b.readDoubleLE(at + 3);
    const gid = b.readDoubleLE(at + 11);
    const size = b.readDoubleLE(at + 19);
    const mtime = b.readDoubleLE(at + 27);
    const flags = b.readUInt8(at + 35);
    at += FIXED;
    let sha256: Digest | null = null;
    if (flags & HAS_HASH) {
      sha256 = `sha256:${b.toString('hex', at, at + 32)}`;
      at += 32;
    }
    const text = () => {
      const length = b.readUInt32LE(at);
      const value = b.toString('latin1', at + 4, at + 4 + length);
      at += 4 + length;
      return value;
    };
    const path = text();
    const uname = text();
    const gname = text();
    const linkTarget = text();
    const device = text();
    const xattrs: [string, string][] = [];
    const pairs = b.readUInt32LE(at);
    at += 4;
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
