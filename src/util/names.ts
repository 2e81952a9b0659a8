/**
 * Names from images (paths in layers, link targets) are byte sequences: Linux allows every byte but NUL
 * and `/` in a name, in no particular encoding. addonix keeps them as byte strings (one char per byte,
 * code points 0-255: Buffer's `latin1`), so that two different names never become one, and turns them
 * into text only to show them: as they are when they are plain UTF-8, else quoted with escapes, so that
 * no name can end a line of a report, move the cursor or pass for another name.
 */

/** A byte string (one char per byte) of raw bytes. */
export function byteString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** The byte string of a name given as text (a JSON document's, a command line's): its UTF-8 bytes. */
export function textToBytes(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** The bytes of a byte string, e.g. to use as a file name. */
export function bytesOf(name: string): Buffer {
  return Buffer.from(name, 'latin1');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The text a byte string holds when it is valid UTF-8, else undefined. */
export function utf8Text(name: string): string | undefined {
  // ASCII (the usual case) is its own UTF-8.
  if (/^[\x00-\x7f]*$/.test(name)) return name;
  try {
    return strictUtf8.decode(bytesOf(name));
  } catch {
    return undefined;
  }
}

/**
 * Characters a name must not show raw: C0 and C1 controls and DEL (newlines, escape sequences), line and
 * paragraph separators, and the marks that reorder text (Trojan Source), which can make one name look
 * like another.
 */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function escapeChar(char: string): string {
  switch (char) {
    case '\\':
      return '\\\\';
    case '"':
      return '\\"';
    case '\n':
      return '\\n';
    case '\t':
      return '\\t';
    case '\r':
      return '\\r';
  }
  const code = char.codePointAt(0)!;
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (UNSAFE.test(char)) return `\\u{${code.toString(16)}}`;
  return char;
}

/**
 * A name as a terminal or a text report shows it: as it is when it is UTF-8 free of unsafe characters and
 * does not start with `"`; else between double quotes, with `\\`, `\"`, `\n`, `\t`, `\r`, `\xNN` (a byte
 * that is no UTF-8, or a control) and `\u{N}` escapes. A shown name starts with `"` exactly when it is
 * quoted, so the two forms cannot be mistaken for each other: `system-systemd\x2dcryptsetup.slice` is a
 * plain name with a backslash, `"a\nb"` the name with a newline.
 */
export function showName(name: string): string {
  const text = utf8Text(name);
  if (text !== undefined && !UNSAFE.test(text) && !text.startsWith('"')) return text;
  let out = '"';
  if (text !== undefined) {
    for (const char of text) out += escapeChar(char);
    return out + '"';
  }
  // Not UTF-8: valid sequences as text, every other byte as \xNN.
  const bytes = bytesOf(name);
  for (let at = 0; at < bytes.length; ) {
    const length = utf8SequenceLength(bytes, at);
    if (length === 0) {
      out += `\\x${bytes[at]!.toString(16).padStart(2, '0')}`;
      at++;
    } else {
      out += escapeChar(bytes.subarray(at, at + length).toString('utf8'));
      at += length;
    }
  }
  return out + '"';
}

/** The length of the valid UTF-8 sequence at `at` (1-4), or 0 when the byte there starts none. */
function utf8SequenceLength(bytes: Uint8Array, at: number): number {
  const first = bytes[at]!;
  if (first < 0x80) return 1;
  const length = first >= 0xc2 && first <= 0xdf ? 2 : first >= 0xe0 && first <= 0xef ? 3 : first >= 0xf0 && first <= 0xf4 ? 4 : 0;
  if (length === 0 || at + length > bytes.length) return 0;
  try {
    strictUtf8.decode(bytes.subarray(at, at + length));
    return length;
  } catch {
    return 0;
  }
}

/**
 * A name for a JSON document: its text when it is UTF-8 (JSON escapes controls itself), else the quoted
 * form showName gives, which the `pathBytes`-style fields beside it (see jsonNameBytes) make exact.
 */
export function jsonName(name: string): string {
  return utf8Text(name) ?? showName(name);
}

/** The bytes of a name as base64, for JSON, when its text form (jsonName) is not the name itself; else undefined. */
export function jsonNameBytes(name: string): string | undefined {
  return utf8Text(name) === undefined ? bytesOf(name).toString('base64') : undefined;
}
