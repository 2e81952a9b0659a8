/**
 * Byte records appended one after another into buffers of 1 MiB (a larger one for a record that needs
 * it), never copied to grow: the packed tables of diff's scans (path-flags.ts, file-table.ts) hold a
 * record per path of a layer, hundreds of thousands of them, and a buffer grown by copying leaves its
 * old copies to the garbage collector, which frees buffers outside the JavaScript heap late (a scan of
 * 200,000 files had 60 MB of buffers for 20 MB of records). The last record can be reopened to add to
 * it: the layer rules record a path, a scan then adds what it learns of the file (one copy of the path).
 *
 * Numbers in records take one byte when under 250 (as ids, lengths, small sizes and dockerTools' mtime
 * are), else a tag byte and 2, 4 or 8 bytes; each value has one encoding, so equal records are equal
 * bytes.
 */
const CHUNK_BYTES = 1 << 20;
const U16 = 250;
const U32 = 251;
const F64 = 252;
/** The most bytes a number takes. */
export const NUMBER_BYTES = 9;

export function writeNumber(b: Buffer, value: number, at: number): number {
  if (Number.isInteger(value) && value >= 0) {
    if (value < U16) {
      b[at] = value;
      return at + 1;
    }
    if (value <= 0xffff) {
      b[at] = U16;
      return b.writeUInt16LE(value, at + 1);
    }
    if (value <= 0xffffffff) {
      b[at] = U32;
      return b.writeUInt32LE(value, at + 1);
    }
  }
  b[at] = F64;
  return b.writeDoubleLE(value, at + 1);
}

/** The number at `at` (its value), and where it ends (`numberEnd`). */
export function readNumber(b: Buffer, at: number): number {
  const tag = b[at]!;
  if (tag < U16) return tag;
  if (tag === U16) return b.readUInt16LE(at + 1);
  if (tag === U32) return b.readUInt32LE(at + 1);
  return b.readDoubleLE(at + 1);
}

export function numberEnd(b: Buffer, at: number): number {
  const tag = b[at]!;
  return at + (tag < U16 ? 1 : tag === U16 ? 3 : tag === U32 ? 5 : 9);
}

/** A byte string with its length before it. */
export function writeText(b: Buffer, text: string, at: number): number {
  at = writeNumber(b, text.length, at);
  return text.length > 0 ? at + b.write(text, at, 'latin1') : at;
}

const BLOCK_BITS = 16;
const BLOCK_MASK = (1 << BLOCK_BITS) - 1;

/** A list of 32-bit numbers in blocks of 65,536, never copied to grow (see the module comment). */
export class U32Blocks {
  constructor(public blocks: Uint32Array[] = []) {}

  get(i: number): number {
    return this.blocks[i >>> BLOCK_BITS]![i & BLOCK_MASK]!;
  }

  set(i: number, value: number): void {
    const block = i >>> BLOCK_BITS;
    while (block >= this.blocks.length) this.blocks.push(new Uint32Array(1 << BLOCK_BITS));
    this.blocks[block]![i & BLOCK_MASK] = value;
  }

  export(): ArrayBuffer[] {
    const out = this.blocks.map((block) => block.buffer as ArrayBuffer);
    this.blocks = [];
    return out;
  }

  static import(buffers: ArrayBuffer[]): U32Blocks {
    return new U32Blocks(buffers.map((buffer) => new Uint32Array(buffer)));
  }
}

export class Records {
  /** The buffers (each its own ArrayBuffer, so that it can be transferred to another thread). */
  chunks: Buffer[] = [];
  /** Bytes used in each buffer. */
  used: number[] = [];
  /** The first record of each buffer (the records of a buffer follow each other). */
  firstOf: number[] = [];
  /** Where each record starts in its buffer. */
  startOf = new U32Blocks();
  count = 0;

  /** The buffer record `i` is in: the last whose first record is not after it. */
  private chunkOf(i: number): number {
    const firsts = this.firstOf;
    let low = 0;
    let high = firsts.length - 1;
    if (firsts[high]! <= i) return high;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (firsts[middle]! <= i) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  private addChunk(bytes: number, first: number): Buffer {
    const chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, bytes));
    this.chunks.push(chunk);
    this.used.push(0);
    this.firstOf.push(first);
    return chunk;
  }

  /**
   * Reopens the last record to add at least `bytes` to it (moved to a new buffer when its own has no
   * room); the buffer, written from `this.at`; then finish().
   */
  reopen(bytes: number): Buffer {
    const i = --this.count;
    const last = this.chunks.length - 1;
    const chunk = this.chunks[last]!;
    if (this.used[last]! + bytes <= chunk.length) return chunk;
    const start = this.startOf.get(i);
    const size = this.used[last]! - start;
    const moved = this.addChunk(size + bytes, i);
    chunk.copy(moved, 0, start, start + size);
    this.used[last] = start;
    this.used[last + 1] = size;
    this.startOf.set(i, 0);
    return moved;
  }

  /** The buffer to write the next record into, with room for `bytes` at `this.at`; then finish(). */
  begin(bytes: number): Buffer {
    const last = this.chunks.length - 1;
    const chunk = last < 0 || this.used[last]! + bytes > this.chunks[last]!.length ? this.addChunk(bytes, this.count) : this.chunks[last]!;
    this.startOf.set(this.count, this.used[this.chunks.length - 1]!);
    return chunk;
  }

  /** Where the record begun writes (in the buffer begin() gave). */
  get at(): number {
    return this.used[this.chunks.length - 1]!;
  }

  /** Ends the record begun, at `end` in its buffer; its number. */
  finish(end: number): number {
    this.used[this.chunks.length - 1] = end;
    return this.count++;
  }

  buffer(i: number): Buffer {
    return this.chunks[this.chunkOf(i)]!;
  }

  start(i: number): number {
    return this.startOf.get(i);
  }

  end(i: number): number {
    const chunk = this.chunkOf(i);
    const next = chunk + 1 < this.chunks.length ? this.firstOf[chunk + 1]! : this.count;
    return i + 1 < next ? this.startOf.get(i + 1) : this.used[chunk]!;
  }

  /** The records as buffers another thread can take (transferred, not copied); empty after. */
  export(): RecordsData {
    const data: RecordsData = { chunks: this.chunks.map((chunk) => chunk.buffer as ArrayBuffer), used: this.used, firstOf: this.firstOf, startOf: this.startOf.export(), count: this.count };
    this.chunks = [];
    this.used = [];
    this.firstOf = [];
    this.count = 0;
    return data;
  }

  static import(data: RecordsData): Records {
    const records = new Records();
    records.chunks = data.chunks.map((buffer) => Buffer.from(buffer));
    records.used = data.used;
    records.firstOf = data.firstOf;
    records.startOf = U32Blocks.import(data.startOf);
    records.count = data.count;
    return records;
  }

  static transferList(data: RecordsData): ArrayBuffer[] {
    return [...data.chunks, ...data.startOf];
  }
}

export interface RecordsData {
  chunks: ArrayBuffer[];
  used: number[];
  firstOf: number[];
  startOf: ArrayBuffer[];
  count: number;
}
