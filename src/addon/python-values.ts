/**
 * Python and voluptuous semantics the Supervisor applies to values, re-implemented so that addonix
 * accepts exactly what the Supervisor accepts: `vol.Boolean()`, `vol.Coerce(int)`, `vol.Coerce(float)`,
 * `vol.Url()`, `vol.Email()`, Python's `str()`, and Python regular expressions (python-regex.ts).
 * Sources: voluptuous 0.16.0 `validators.py`; CPython 3.13 `int()`, `float()`, `urllib.parse.urlsplit`.
 */
import { isIPv6 } from 'node:net';
import { compilePythonRegex, type PythonRegex } from './python-regex.js';

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

/**
 * Python's str() of a value read from YAML or JSON (containers bounded: deep or cyclic ones end in "...");
 * `isFloat`: the number was written as a float (else a whole number is an int, written out in full).
 */
export function pyStr(value: unknown, isFloat = false): string {
  if (typeof value === 'string') return value;
  // A float with a whole value: Python writes "1.0" where JavaScript's one number type says "1".
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (!isFloat) return BigInt(value).toString();
    if (Math.abs(value) < 1e16) return Object.is(value, -0) ? '-0.0' : `${value}.0`;
  }
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

/** `re.match(pattern, text)` for the Supervisor's own patterns: the match and its groups, or null. */
export function pyMatch(pattern: string, text: string): (string | undefined)[] | null {
  return pythonRegExpEngine(pattern).exec(text);
}

/**
 * A Supervisor pattern compiled once as Python compiles it; also ajv's regular expression engine, so
 * every `pattern` of the schemas is run as Python's re.match runs it.
 */
export function pythonRegExpEngine(pattern: string): PythonRegex {
  const compiled = compilePythonRegex(pattern);
  if (!compiled.ok) throw new Error(`cannot compile the Supervisor's pattern ${pattern}: ${compiled.error ? compiled.error.message : compiled.reason}`);
  return compiled.regex;
}
