/**
 * Paths with a byte of flags each, for the layer rules: every path a record (records.ts: its length,
 * then its bytes) with an open-addressing table of their numbers, instead of a Map of strings. A layer
 * of 200,000 files then costs some 60 bytes a path rather than 100, and, more, no string outlives its
 * entry: the strings a Map keeps survive the young generation's collections, which makes V8 grow it
 * (diff of two such layers held 80 MB more for it). A scan adds what it learns of a file to the record
 * of its path (file-table.ts), so a path is kept once. Paths are byte strings (util/names.ts): one byte
 * a character.
 *
 * The hash is seeded at random, so that no archive can be made to collide on purpose.
 */
import { numberEnd, readNumber, Records, writeText, NUMBER_BYTES } from './records.js';

/** The flags of a record that is no path of the set (the layer rules' flags stay under it). */
const FOREIGN = 0x80;

export class PathFlags {
  readonly records = new Records();
  private flagsOf = new Uint8Array(1024);
  /** Path number + 1 in each slot, 0 for none; at most half full. */
  private slots = new Uint32Array(2048);
  // 30 random bits: always a small integer to V8. A seed of 2^30 or more is a heap number, which
  // changed the field's representation for every set made before it, and each function using the set
  // was compiled again (seen in --trace-deopt: 'wrong map' in get, set, slotOf, hash, holds).
  private readonly seed = (Math.random() * 0x40000000) | 0;
  /** Whether the last set() added a path (the last record), rather than changing the flags of one. */
  addedLast = false;

  private hash(key: string): number {
    let h = this.seed;
    for (let k = 0; k < key.length; k++) h = Math.imul(h ^ key.charCodeAt(k), 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  /** hash() of path `i`, from its bytes. */
  private hashAt(i: number): number {
    let h = this.seed;
    const b = this.records.buffer(i);
    const at = this.records.start(i);
    const start = numberEnd(b, at);
    const end = start + readNumber(b, at);
    for (let k = start; k < end; k++) h = Math.imul(h ^ b[k]!, 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  /** Whether path `i` is `key`. */
  private holds(i: number, key: string): boolean {
    const b = this.records.buffer(i);
    const at = this.records.start(i);
    if (readNumber(b, at) !== key.length) return false;
    const start = numberEnd(b, at);
    for (let k = 0; k < key.length; k++) if (b[start + k] !== key.charCodeAt(k)) return false;
    return true;
  }

  /** The slot of `key`: where it is, or the empty one where it would go. */
  private slotOf(key: string): number {
    const mask = this.slots.length - 1;
    let slot = this.hash(key) & mask;
    for (let held = this.slots[slot]!; held !== 0; held = this.slots[slot]!) {
      if (this.holds(held - 1, key)) return slot;
      slot = (slot + 1) & mask;
    }
    return slot;
  }

  get(key: string): number | undefined {
    const held = this.slots[this.slotOf(key)]!;
    return held === 0 ? undefined : this.flagsOf[held - 1];
  }

  set(key: string, flags: number): void {
    const slot = this.slotOf(key);
    const held = this.slots[slot]!;
    if (held !== 0) {
      this.flagsOf[held - 1] = flags;
      this.addedLast = false;
      return;
    }
    const buffer = this.records.begin(NUMBER_BYTES + key.length);
    const i = this.records.finish(writeText(buffer, key, this.records.at));
    this.flag(i, flags);
    this.slots[slot] = i + 1;
    this.addedLast = true;
    if (this.records.count * 2 > this.slots.length) this.rehash();
  }

  private flag(i: number, flags: number): void {
    if (i >= this.flagsOf.length) {
      const flagsOf = new Uint8Array(Math.max(Math.ceil(this.flagsOf.length * 1.5), i + 1));
      flagsOf.set(this.flagsOf);
      this.flagsOf = flagsOf;
    }
    this.flagsOf[i] = flags;
  }

  /**
   * Record `i` of `records` was added by someone else (a scan's record of a file whose path has an
   * earlier record): no path of this set, left out of its lookups.
   */
  foreign(i: number): void {
    this.flag(i, FOREIGN);
  }

  /** Adds `extra` to the flags of every path under the folder `folder` (a whiteout removed it). */
  addUnder(folder: string, extra: number): void {
    const prefix = folder + '/';
    for (let i = 0; i < this.records.count; i++) {
      if (this.flagsOf[i] === FOREIGN) continue;
      const b = this.records.buffer(i);
      const at = this.records.start(i);
      if (readNumber(b, at) <= prefix.length) continue;
      const start = numberEnd(b, at);
      let k = 0;
      while (k < prefix.length && b[start + k] === prefix.charCodeAt(k)) k++;
      if (k === prefix.length) this.flagsOf[i]! |= extra;
    }
  }

  private rehash(): void {
    const slots = new Uint32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let i = 0; i < this.records.count; i++) {
      if (this.flagsOf[i] === FOREIGN) continue;
      let slot = this.hashAt(i) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = i + 1;
    }
    this.slots = slots;
  }
}
