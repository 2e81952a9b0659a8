/**
 * Python and voluptuous semantics the Supervisor applies to values, re-implemented so that addonix
 * accepts exactly what the Supervisor accepts: `vol.Boolean()`, `vol.Coerce(int)`, `vol.Coerce(float)`,
 * `vol.Url()`, `vol.Email()`, Python's `str()`, and Python regular expressions translated to JavaScript.
 * Sources: voluptuous 0.16.0 `validators.py`; CPython 3.13 `int()`, `float()`, `urllib.parse.urlsplit`.
 */
import { isIPv6 } from 'node:net';

export type Coerced<T> = { ok: true; value: T; changed: boolean } | { ok: false };

/** Python `bytes` (YAML `!!binary`). */
export class PyBytes {
  constructor(readonly bytes: Uint8Array) {}
}

/** Python `set` (YAML `!!set`): not a list, not a dict. */
export class PySet {
  constructor(readonly items: unknown[]) {}
}

/** Dates read from YAML: `datetime.date` when date-only, else `datetime.datetime` (with its UTC offset). */
const DATE_ONLY = new WeakSet<Date>();
const UTC_OFFSET = new WeakMap<Date, number | null>();

export function pyDate(date: Date, dateOnly: boolean, offsetMinutes: number | null): Date {
  if (dateOnly) DATE_ONLY.add(date);
  UTC_OFFSET.set(date, offsetMinutes);
  return date;
}

/** A Python dict read from YAML or JSON: a plain object (not a list, date, set or bytes). */
export function isPyDict(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on', 'enable']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off', 'disable']);

/** vol.Boolean(): strings from a fixed list (any case); any other non-string by Python truthiness. */
export function pyBoolean(value: unknown): Coerced<boolean> {
  if (typeof value === 'boolean') return { ok: true, value, changed: false };
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (TRUE_WORDS.has(lower)) return { ok: true, value: true, changed: true };
    if (FALSE_WORDS.has(lower)) return { ok: true, value: false, changed: true };
    return { ok: false };
  }
  return { ok: true, value: pyTruthy(value), changed: true };
}

/** Python truthiness. */
export function pyTruthy(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'number') return value !== 0;
  if (Array.isArray(value)) return value.length > 0;
  if (value instanceof Date) return true;
  if (value instanceof PySet) return value.items.length > 0;
  if (value instanceof PyBytes) return value.bytes.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}

/** Python's int() of text (Unicode digits, surrounding whitespace and single underscores allowed). */
export function pythonIntText(text: string, base = 10): number | null {
  if (base === 10 && /^[-+]?[0-9]+$/.test(text)) return Number(text);
  const s = pyStrip(text);
  const digits = base === 10 ? /^[-+]?\p{Nd}+(?:_\p{Nd}+)*$/u : base === 16 ? /^[-+]?[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*$/ : base === 8 ? /^[-+]?[0-7]+(?:_[0-7]+)*$/ : /^[-+]?[01]+(?:_[01]+)*$/;
  if (!digits.test(s)) return null;
  const ascii = s.replace(/_/g, '').replace(/\p{Nd}/gu, (d) => String(digitValue(d)));
  const sign = ascii.startsWith('-') ? -1 : 1;
  const body = ascii.replace(/^[-+]/, '');
  return sign * (base === 10 ? Number(body) : parseInt(body, base));
}

/** The value of a Unicode decimal digit: decimal digits come in runs of ten, from zero to nine. */
export function digitValue(d: string): number {
  const code = d.codePointAt(0)!;
  let start = code;
  while (start > 0 && /\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
  return (code - start) % 10;
}

/** Python's str.strip(): Unicode whitespace as Python counts it. */
export function pyStrip(text: string): string {
  return text.replace(/^[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, '');
}

/** Python's float() of text. */
export function pythonFloatText(text: string): number | null {
  if (/^[-+]?[0-9]+(?:\.[0-9]*)?(?:e[-+]?[0-9]+)?$/i.test(text)) return Number(text);
  const s = pyStrip(text).replace(/\p{Nd}/gu, (d) => String(digitValue(d)));
  if (/^[-+]?(?:inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^[-+]?nan$/i.test(s)) return NaN;
  if (!/^[-+]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][-+]?\d+(?:_\d+)*)?$/.test(s)) return null;
  return Number(s.replace(/_/g, ''));
}


/** vol.Coerce(int): Python's int() on bools, numbers (truncating) and integer strings. */
export function pyInt(value: unknown): Coerced<number> {
  if (typeof value === 'boolean') return { ok: true, value: value ? 1 : 0, changed: true };
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { ok: false };
    return { ok: true, value: Math.trunc(value), changed: !Number.isInteger(value) };
  }
  if (typeof value === 'string') {
    const n = pythonIntText(value);
    return n === null ? { ok: false } : { ok: true, value: n, changed: true };
  }
  if (value instanceof PyBytes) {
    const n = pythonIntText(Buffer.from(value.bytes).toString('latin1'));
    return n === null ? { ok: false } : { ok: true, value: n, changed: true };
  }
  return { ok: false };
}


/** vol.Coerce(float): Python's float() on bools, numbers and numeric strings (inf and nan included). */
export function pyFloat(value: unknown): Coerced<number> {
  if (typeof value === 'boolean') return { ok: true, value: value ? 1 : 0, changed: true };
  if (typeof value === 'number') return { ok: true, value, changed: false };
  if (typeof value === 'string') {
    const n = pythonFloatText(value);
    return n === null ? { ok: false } : { ok: true, value: n, changed: true };
  }
  return { ok: false };
}

/** Python's str() of a value read from YAML or JSON (containers bounded: deep or cyclic ones end in "..."). */
export function pyStr(value: unknown): string {
  if (typeof value === 'string') return value;
  return pyRepr(value, 0, new Set());
}

function pyFloatRepr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (Number.isInteger(value) && Math.abs(value) < 1e16) return String(value);
  // Python switches to exponent notation from 1e16 and below 1e-4; JavaScript from 1e21 and 1e-7.
  const abs = Math.abs(value);
  if (abs >= 1e16 || abs < 1e-4) {
    const [mantissa, exponent] = value.toExponential().split('e') as [string, string];
    const exp = Number(exponent);
    return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(value);
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function pyDateStr(date: Date): string {
  const day = `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
  if (DATE_ONLY.has(date)) return day;
  const offset = UTC_OFFSET.get(date) ?? null;
  const local = offset === null ? date : new Date(date.getTime() + offset * 60000);
  const base = `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())} ${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  const ms = local.getUTCMilliseconds();
  const fraction = ms ? `.${pad(ms, 3)}000` : '';
  if (offset === null) return base + fraction;
  const sign = offset < 0 ? '-' : '+';
  return `${base}${fraction}${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
}

function pyRepr(value: unknown, depth: number, seen: Set<unknown>): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return pyFloatRepr(value);
  if (typeof value === 'string') return depth === 0 ? value : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (value instanceof Date) return depth === 0 ? pyDateStr(value) : `datetime(${pyDateStr(value)})`;
  if (value instanceof PyBytes) return `b'${Buffer.from(value.bytes).toString('latin1')}'`;
  if (seen.has(value) || depth > 20) return '...';
  seen.add(value);
  try {
    if (Array.isArray(value)) return `[${value.slice(0, 50).map((v) => pyRepr(v, depth + 1, seen)).join(', ')}${value.length > 50 ? ', ...' : ''}]`;
    if (value instanceof PySet) return value.items.length === 0 ? 'set()' : `{${value.items.slice(0, 50).map((v) => pyRepr(v, depth + 1, seen)).join(', ')}}`;
    if (typeof value === 'object') {
      const entries = Object.entries(value as object).slice(0, 50);
      return `{${entries.map(([k, v]) => `'${k}': ${pyRepr(v, depth + 1, seen)}`).join(', ')}}`;
    }
    return String(value);
  } finally {
    seen.delete(value);
  }
}

const SCHEME_CHARS = /^[A-Za-z0-9+\-.]+$/;

/** urllib.parse.urlsplit's scheme and netloc, enough for vol.Url(). */
export function urlSchemeAndHost(input: string): { scheme: string; netloc: string } {
  // urlsplit strips leading C0 controls and spaces, and removes tabs and newlines anywhere.
  let url = input.replace(/^[\x00-\x20]+/, '').replace(/[\t\r\n]/g, '');
  let scheme = '';
  const colon = url.indexOf(':');
  if (colon > 0 && /^[A-Za-z]/.test(url) && SCHEME_CHARS.test(url.slice(0, colon))) {
    scheme = url.slice(0, colon).toLowerCase();
    url = url.slice(colon + 1);
  }
  let netloc = '';
  if (url.startsWith('//')) {
    const rest = url.slice(2);
    const end = rest.search(/[/?#]/);
    netloc = end < 0 ? rest : rest.slice(0, end);
  }
  return { scheme, netloc };
}

/**
 * urlsplit's check of bracketed hosts (CPython >= 3.11.4, which the Supervisor runs): the text in
 * brackets must be an IPv6 address or an IPvFuture literal, so `http://[HOST]:8080` is refused.
 */
function bracketedNetlocOk(netloc: string): boolean {
  if (netloc.includes('[') !== netloc.includes(']')) return false;
  if (!netloc.includes('[')) return true;
  const hostAndPort = netloc.slice(netloc.lastIndexOf('@') + 1);
  const open = hostAndPort.indexOf('[');
  let hostname: string;
  if (open >= 0) {
    if (open > 0) return false;
    const bracketed = hostAndPort.slice(open + 1);
    const close = bracketed.indexOf(']');
    hostname = close < 0 ? bracketed : bracketed.slice(0, close);
    const port = close < 0 ? '' : bracketed.slice(close + 1);
    if (port && !port.startsWith(':')) return false;
  } else {
    hostname = hostAndPort.split(':')[0]!;
  }
  if (hostname.startsWith('v')) return /^v[a-fA-F0-9]+\..+$/s.test(hostname);
  return isIPv6(hostname.split('%')[0]!) || false;
}

/** vol.Url(): a string with a scheme and a host. */
export function isPyUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const { scheme, netloc } = urlSchemeAndHost(value);
  if (!bracketedNetlocOk(netloc)) return false;
  return scheme !== '' && netloc !== '';
}

const EMAIL_USER =
  /^(?:[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*|"(?:[\x01-\x08\x0b\x0c\x0e-\x1f!#-[\]-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*")$/i;
const EMAIL_DOMAIN =
  /^(?:(?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+(?:[A-Z]{2,6}\.?|[A-Z0-9-]{2,}\.?)|\[(?:25[0-5]|2[0-4]\d|[0-1]?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|[0-1]?\d?\d)){3}\])$/i;

/** vol.Email(). */
export function isPyEmail(value: unknown): boolean {
  if (typeof value !== 'string' || !value.includes('@')) return false;
  const at = value.lastIndexOf('@');
  return EMAIL_USER.test(value.slice(0, at)) && EMAIL_DOMAIN.test(value.slice(at + 1));
}

/** Python's len() of a string counts code points. */
export function pyLen(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

export type TranslatedRegex =
  | { ok: true; regex: RegExp }
  /** `broken`: Python would refuse the pattern too (unbalanced brackets); otherwise JS just can't check it. */
  | { ok: false; broken: boolean; reason: string };

/** Python's `\s` (str.isspace) and `\w`/`\d` (Unicode letters, numbers and `_`; decimal digits). */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_CLASS: Record<string, { outside: string; inside: string | null }> = {
  d: { outside: '\\p{Nd}', inside: '\\p{Nd}' },
  D: { outside: '\\P{Nd}', inside: null },
  w: { outside: '[\\p{L}\\p{N}_]', inside: '\\p{L}\\p{N}_' },
  W: { outside: '[^\\p{L}\\p{N}_]', inside: null },
  s: { outside: `[${PY_SPACE}]`, inside: PY_SPACE },
  S: { outside: `[^${PY_SPACE}]`, inside: null },
};
const PY_SIMPLE_ESCAPES: Record<string, string> = { n: '\\n', t: '\\t', r: '\\r', f: '\\f', v: '\\v', a: '\\x07', '0': '\\0' };

const translated = new Map<string, TranslatedRegex>();

/**
 * Translate a Python regular expression to a JavaScript one with the same meaning for `re.match`
 * (anchored at the start only), compiled once per pattern: named groups, `\A`, `\Z`, Python's `$` (which
 * also matches before a final newline), Unicode `\d`, `\w` and `\s`, escapes of any punctuation, literal
 * `{` and `]`, `{,n}`, and leading inline flags. Anything else Python-only is reported as uncheckable.
 */
export function translatePythonRegex(pattern: string): TranslatedRegex {
  const known = translated.get(pattern);
  if (known) return known;
  const result = translate(pattern);
  translated.set(pattern, result);
  return result;
}

function escapeChar(c: string): string {
  return `\\u{${c.codePointAt(0)!.toString(16)}}`;
}

function translate(pattern: string): TranslatedRegex {
  let flags = 'u';
  let source = pattern;
  const inline = /^\(\?([aiLmsux]+)\)/.exec(source);
  let ascii = false;
  if (inline) {
    for (const flag of inline[1]!) {
      if (flag === 'i' || flag === 'm' || flag === 's') flags += flag;
      else if (flag === 'a') ascii = true;
      else if (flag === 'x' || flag === 'L') return { ok: false, broken: false, reason: `the (?${flag}) flag has no JavaScript equivalent` };
    }
    source = source.slice(inline[0].length);
  }
  let out = '';
  let depth = 0;
  let inClass = false;
  let classStart = false;
  const chars = [...source];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\') {
      const next = chars[i + 1];
      if (next === undefined) return { ok: false, broken: true, reason: 'the pattern ends with a lone backslash' };
      i++;
      classStart = false;
      const cls = PY_CLASS[next];
      if (cls && !ascii) {
        if (!inClass) out += cls.outside;
        else if (cls.inside !== null) out += cls.inside;
        else out += `\\${next}`;
      } else if (cls) out += `\\${next}`;
      else if (!inClass && next === 'A') out += '^';
      else if (!inClass && next === 'Z') out += '$';
      else if (next === 'b' || next === 'B') out += inClass ? '\\x08' : `\\${next}`;
      else if (next in PY_SIMPLE_ESCAPES) out += PY_SIMPLE_ESCAPES[next];
      else if (next === 'x' || next === 'u' || next === 'U') {
        const width = next === 'x' ? 2 : next === 'u' ? 4 : 8;
        const hex = chars.slice(i + 1, i + 1 + width).join('');
        if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) return { ok: false, broken: true, reason: `incomplete escape \\${next}${hex}` };
        out += `\\u{${parseInt(hex, 16).toString(16)}}`;
        i += width;
      } else if (/[1-9]/.test(next)) out += `\\${next}`;
      else if (/[A-Za-z0-9]/.test(next)) return { ok: false, broken: true, reason: `bad escape \\${next}` };
      else out += escapeChar(next);
      continue;
    }
    if (inClass) {
      if (c === ']' && !classStart) inClass = false;
      else if (c === ']' || c === '[' || c === '{' || c === '}' || c === '(' || c === ')' || c === '|' || c === '/') {
        out += escapeChar(c);
        classStart = false;
        continue;
      }
      if (classStart && c === '^') {
        out += c;
        continue;
      }
      classStart = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      classStart = true;
      out += c;
      if (chars[i + 1] === '^') {
        out += '^';
        i++;
      }
      continue;
    }
    if (c === '{') {
      const quantifier = /^\{(\d*)(,?)(\d*)\}/.exec(chars.slice(i, i + 24).join(''));
      if (quantifier && (quantifier[1] !== '' || quantifier[3] !== '') && !(quantifier[2] === '' && quantifier[1] === '')) {
        out += `{${quantifier[1] || '0'}${quantifier[2]}${quantifier[3]}}`;
        i += quantifier[0].length - 1;
      } else out += escapeChar(c);
      continue;
    }
    if (c === '}' || c === ']' || c === '/') {
      out += escapeChar(c);
      continue;
    }
    if (c === '(') {
      depth++;
      const rest = chars.slice(i, i + 40).join('');
      if (rest.startsWith('(?P<')) {
        out += '(?<';
        i += 3;
        continue;
      }
      const backref = /^\(\?P=(\w+)\)/.exec(rest);
      if (backref) {
        out += `\\k<${backref[1]}>`;
        i += backref[0].length - 1;
        depth--;
        continue;
      }
      if (rest.startsWith('(?#')) return { ok: false, broken: false, reason: 'Python comments (?#...) have no JavaScript equivalent' };
    }
    if (c === ')') {
      depth--;
      if (depth < 0) return { ok: false, broken: true, reason: "unbalanced parenthesis: a ')' without '('" };
    }
    if (c === '$' && !flags.includes('m')) {
      out += '(?=\\n?$)';
      continue;
    }
    if (c === '.') {
      // Python's `.` stops only at "\n"; JavaScript's also at "\r", U+2028 and U+2029.
      out += flags.includes('s') ? '[^]' : '[^\\n]';
      continue;
    }
    out += c;
  }
  if (inClass) return { ok: false, broken: true, reason: "unterminated character set: '[' without ']'" };
  if (depth > 0) return { ok: false, broken: true, reason: "missing ')': a '(' is never closed" };
  try {
    return { ok: true, regex: new RegExp(`^(?:${out})`, flags) };
  } catch (error) {
    return { ok: false, broken: false, reason: (error as Error).message.replace(/^Invalid regular expression: /, '') };
  }
}

/** `re.match(pattern, text)`, for patterns taken from the Supervisor's sources. */
export function pyMatch(pattern: string, text: string): RegExpExecArray | null {
  return pythonRegExpEngine(pattern).exec(text);
}

/**
 * A Supervisor pattern as a JavaScript RegExp for `re.match` (compiled once per pattern); also ajv's
 * regular expression engine, so every `pattern` of the schemas is run this way.
 */
export function pythonRegExpEngine(pattern: string): RegExp {
  const t = translatePythonRegex(pattern);
  if (!t.ok) throw new Error(`cannot translate the Supervisor's pattern ${pattern}: ${t.reason}`);
  return t.regex;
}
