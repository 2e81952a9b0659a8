/**
 * Tar archives made block by block, for the forms no honest writer produces: meta headers in odd
 * orders, headers of every format (V7, USTAR, GNU, star), broken numbers. Each function gives the bytes
 * of one part; an archive is their concatenation.
 */

const BLOCK = 512;

export interface RawHeader {
  name?: string;
  /** The type flag: one character, `\0` for old archives. */
  type?: string;
  size?: number;
  linkpath?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  /** `ustar` (POSIX, the default), `gnu`, `v7` (no magic), `star` (USTAR with the star trailer). */
  format?: 'ustar' | 'gnu' | 'v7' | 'star';
  /** The prefix field (USTAR: 155 bytes at 345; star: 131). */
  prefix?: string;
  /** Raw bytes to put at offsets, after the fields (to break a field on purpose). */
  raw?: [number, string][];
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, '0') + '\0';
}

/** One header block, its checksum computed over what is written. */
export function header(fields: RawHeader): Buffer {
  const block = Buffer.alloc(BLOCK);
  const put = (text: string, offset: number, length: number) => block.write(text.slice(0, length), offset, length, 'latin1');
  put(fields.name ?? 'file', 0, 100);
  put(octal(fields.mode ?? 0o644, 8), 100, 8);
  put(octal(fields.uid ?? 0, 8), 108, 8);
  put(octal(fields.gid ?? 0, 8), 116, 8);
  put(octal(fields.size ?? 0, 12), 124, 12);
  put(octal(fields.mtime ?? 1, 12), 136, 12);
  put(fields.type ?? '0', 156, 1);
  put(fields.linkpath ?? '', 157, 100);
  const format = fields.format ?? 'ustar';
  if (format === 'ustar' || format === 'star') put('ustar\x0000', 257, 8);
  if (format === 'gnu') put('ustar  \0', 257, 8);
  if (format !== 'v7') {
    put(fields.uname ?? '', 265, 32);
    put(fields.gname ?? '', 297, 32);
    put(octal(fields.devmajor ?? 0, 8), 329, 8);
    put(octal(fields.devminor ?? 0, 8), 337, 8);
  }
  if (format === 'ustar') put(fields.prefix ?? '', 345, 155);
  if (format === 'star') {
    put(fields.prefix ?? '', 345, 131);
    put('tar\0', 508, 4);
  }
  for (const [offset, text] of fields.raw ?? []) block.write(text, offset, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + ' ', 148, 'latin1');
  return block;
}

/** Bytes padded to whole blocks. */
export function padded(bytes: Buffer | string): Buffer {
  const data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
  return Buffer.concat([data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK)]);
}

/** One pax record, `LEN key=value\n` (key and value as byte strings). */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = body.length + 1;
  while (String(length).length + body.length > length) length++;
  return `${length}${body}`;
}

/** A pax header (`x`, or `g` for a global one) holding the records, with its data. */
export function pax(records: [string, string][] | string, type: 'x' | 'g' = 'x', name = 'PaxHeader'): Buffer {
  const data = typeof records === 'string' ? records : records.map(([key, value]) => paxRecord(key, value)).join('');
  return Buffer.concat([header({ name, type, size: Buffer.byteLength(data, 'latin1') }), padded(data)]);
}

/** A GNU long name (`L`) or long link (`K`) meta header with its data (NUL-terminated, as GNU tar writes it). */
export function gnuLong(type: 'L' | 'K', value: string): Buffer {
  const data = `${value}\0`;
  return Buffer.concat([header({ name: '././@LongLink', type, size: data.length, format: 'gnu' }), padded(data)]);
}

/** A regular file entry: its header and body. */
export function file(name: string, content: string | Buffer, fields: RawHeader = {}): Buffer {
  const body = Buffer.isBuffer(content) ? content : Buffer.from(content, 'latin1');
  return Buffer.concat([header({ name, size: body.length, ...fields }), padded(body)]);
}

/** Any other entry: a header alone (folders, links, devices). */
export function entry(fields: RawHeader): Buffer {
  return header(fields);
}

/** The end of an archive: two zero blocks. */
export function end(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

/** An archive of the given parts and its end. */
export function archive(...parts: Buffer[]): Buffer {
  return Buffer.concat([...parts, end()]);
}
