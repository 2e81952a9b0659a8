/**
 * Reading add-on files (YAML or JSON) into plain values while remembering where every key and value
 * came from, so that each diagnostic can point at `file:line:col`.
 *
 * YAML is read the way the Supervisor reads it: PyYAML's SafeLoader, which implements YAML 1.1
 * (`on`/`yes` are booleans, `0755` is octal, `1:30` is 90, `1.10` is the float 1.1, `1e3` is a string).
 * The `yaml` package's own 1.1 schema differs in places (it reads `y`/`n` as booleans and `1e3` as a
 * number), so the scalar rules below are PyYAML's resolver patterns.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument as parseYamlDocument,
  type Node as YamlNode,
  type ScalarTag,
  type Tags,
} from 'yaml';
import { parseTree, printParseErrorCode, type Node as JsonNode, type ParseError } from 'jsonc-parser';
import type { Position } from '../util/diagnostics.js';

export type PathSegment = string | number;

/** What a non-string mapping key was, e.g. `8080` in `ports: {8080: 80}` is a number. */
export interface KeyKind {
  type: 'number' | 'boolean' | 'null' | 'date' | 'other';
  source: string;
}

export interface LocatedDocument {
  file: string;
  format: 'yaml' | 'json';
  value: unknown;
  /** Where the value at `path` starts, or where its nearest located ancestor starts. */
  valueAt(path: readonly PathSegment[]): Position;
  /** Where the key of the mapping entry at `path` is; falls back like `valueAt`. */
  keyAt(path: readonly PathSegment[]): Position;
  /** Mapping keys that were not strings in the source, by the path of their entry. */
  keyKind(path: readonly PathSegment[]): KeyKind | undefined;
}

/** A reason the file could not be read at all, or a defect found while reading it. */
export interface ReadProblem {
  at: Position | null;
  code: 'not-utf8' | 'bad-character' | 'yaml-syntax' | 'json-syntax' | 'duplicate-key' | 'yaml-tag';
  message: string;
  /** True when the file could still be read (the defect is reported, reading went on). */
  recoverable: boolean;
}

export interface ReadResult {
  doc: LocatedDocument | null;
  problems: ReadProblem[];
}

export function pathKey(path: readonly PathSegment[]): string {
  return path.map((segment) => String(segment).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

/** Characters PyYAML's reader refuses ("special characters are not allowed"). */
const NON_PRINTABLE = /[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Decode UTF-8 strictly; on failure return the byte offset of the first invalid sequence. */
export function decodeUtf8(bytes: Uint8Array): { text: string } | { badOffset: number } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) };
  } catch {
    return { badOffset: firstInvalidUtf8(bytes) };
  }
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
    }
    i += need + 1;
  }
  return bytes.length;
}

/** 1-based line and column of a character offset. */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  at(offset: number): Position {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.starts[lo]! + 1 };
  }
}

/** Parse `text` as YAML or JSON (by file extension) into a located document. */
export function readDocument(file: string, text: string): ReadResult {
  return /\.json$/i.test(file) ? readJson(file, text) : readYaml(file, text);
}

/** Read bytes, checking the encoding first (the Supervisor opens files as UTF-8). */
export function readDocumentBytes(file: string, bytes: Uint8Array): ReadResult {
  const decoded = decodeUtf8(bytes);
  if ('badOffset' in decoded) {
    const before = new TextDecoder('utf-8').decode(bytes.subarray(0, decoded.badOffset));
    const at = new LineIndex(before).at(before.length);
    return {
      doc: null,
      problems: [
        {
          at,
          code: 'not-utf8',
          message: `not UTF-8 text (invalid byte 0x${bytes[decoded.badOffset]!.toString(16).padStart(2, '0')}); the Supervisor cannot read this file`,
          recoverable: false,
        },
      ],
    };
  }
  return readDocument(file, decoded.text);
}

class Locations {
  readonly values = new Map<string, Position>();
  readonly keys = new Map<string, Position>();
  readonly kinds = new Map<string, KeyKind>();

  find(map: Map<string, Position>, path: readonly PathSegment[]): Position {
    for (let n = path.length; n >= 0; n--) {
      const prefix = pathKey(path.slice(0, n));
      const hit = (n === path.length ? map : this.values).get(prefix);
      if (hit) return hit;
    }
    return { line: 1, col: 1 };
  }

  document(file: string, format: 'yaml' | 'json', value: unknown): LocatedDocument {
    return {
      file,
      format,
      value,
      valueAt: (path) => this.find(this.values, path),
      keyAt: (path) => this.find(this.keys, path),
      keyKind: (path) => this.kinds.get(pathKey(path)),
    };
  }
}

// --- YAML -------------------------------------------------------------------------------------------

const BOOL = 'tag:yaml.org,2002:bool';
const INT = 'tag:yaml.org,2002:int';
const FLOAT = 'tag:yaml.org,2002:float';
const TIMESTAMP = 'tag:yaml.org,2002:timestamp';

function sexagesimal(digits: string): number {
  return digits.split(':').reduce((total, part) => total * 60 + Number(part), 0);
}

/** PyYAML's implicit resolvers (yaml/resolver.py) and constructors (yaml/constructor.py). */
const PYYAML_SCALARS: ScalarTag[] = [
  {
    tag: BOOL,
    default: true,
    identify: (v) => typeof v === 'boolean',
    test: /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
    resolve: (s) => /^(?:yes|true|on)$/i.test(s),
  },
  {
    tag: INT,
    default: true,
    identify: (v) => typeof v === 'number' && Number.isInteger(v),
    test: /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
    resolve: (source) => {
      let s = source.replace(/_/g, '');
      let sign = 1;
      if (s[0] === '-' || s[0] === '+') {
        if (s[0] === '-') sign = -1;
        s = s.slice(1);
      }
      if (s === '0') return 0;
      if (s.startsWith('0b')) return sign * parseInt(s.slice(2), 2);
      if (s.startsWith('0x')) return sign * parseInt(s.slice(2), 16);
      if (s.startsWith('0')) return sign * parseInt(s, 8);
      if (s.includes(':')) return sign * sexagesimal(s);
      return sign * Number(s);
    },
  },
  {
    tag: FLOAT,
    default: true,
    identify: (v) => typeof v === 'number',
    test: /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
    resolve: (source) => {
      let s = source.replace(/_/g, '').toLowerCase();
      let sign = 1;
      if (s[0] === '-' || s[0] === '+') {
        if (s[0] === '-') sign = -1;
        s = s.slice(1);
      }
      if (s === '.inf') return sign * Infinity;
      if (s === '.nan') return NaN;
      if (s.includes(':')) return sign * sexagesimal(s);
      return sign * Number(s);
    },
  },
  {
    tag: TIMESTAMP,
    default: true,
    identify: (v) => v instanceof Date,
    test: /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/,
    resolve: (s) => {
      const m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|[ \t]+)(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d*))?(?:[ \t]*(Z|([-+])(\d{1,2})(?::(\d{2}))?))?)?$/.exec(s)!;
      const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', , sign, tzh = '0', tzm = '0'] = m;
      const ms = Number((frac + '000').slice(0, 3));
      let time = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms);
      if (sign) time -= (sign === '-' ? -1 : 1) * (Number(tzh) * 60 + Number(tzm)) * 60000;
      return new Date(time);
    },
  },
];

const REPLACED_TAGS = new Set([BOOL, INT, FLOAT, TIMESTAMP]);
const REPLACED_TAG_IDS = new Set(['bool', 'int', 'intHex', 'intOct', 'intTime', 'float', 'floatExp', 'floatNaN', 'floatTime', 'timestamp']);

function pyyamlTags(tags: Tags): Tags {
  const kept = tags.filter((t) => (typeof t === 'string' ? !REPLACED_TAG_IDS.has(t) : !REPLACED_TAGS.has(t.tag)));
  return [...kept, ...PYYAML_SCALARS];
}

function yamlKeyKind(node: unknown): KeyKind | undefined {
  if (!isScalar(node)) return isMap(node) || isSeq(node) ? { type: 'other', source: 'a collection' } : undefined;
  const v = node.value;
  const source = node.source ?? String(v);
  if (typeof v === 'string') return undefined;
  if (typeof v === 'number') return { type: 'number', source };
  if (typeof v === 'boolean') return { type: 'boolean', source };
  if (v === null) return { type: 'null', source: source || '(empty)' };
  if (v instanceof Date) return { type: 'date', source };
  return { type: 'other', source };
}

/** The key as the plain-object conversion spells it. */
function yamlKeyString(node: unknown): string | null {
  if (isScalar(node)) {
    if (node.value instanceof Date) return node.value.toISOString();
    return String(node.value);
  }
  return null;
}

function readYaml(file: string, text: string): ReadResult {
  const problems: ReadProblem[] = [];
  const lines = new LineIndex(text);
  const bad = NON_PRINTABLE.exec(text);
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).padStart(4, '0');
    return {
      doc: null,
      problems: [
        {
          at: lines.at(bad.index),
          code: 'bad-character',
          message: `control character U+${code.toUpperCase()} is not allowed in YAML (PyYAML refuses the file); is this a binary file?`,
          recoverable: false,
        },
      ],
    };
  }
  const lineCounter = new LineCounter();
  const doc = parseYamlDocument(text, {
    version: '1.1',
    customTags: pyyamlTags,
    lineCounter,
    uniqueKeys: false,
    prettyErrors: false,
    merge: true,
    strict: true,
  });
  const fatal = [...doc.errors];
  for (const w of doc.warnings) if (w.code === 'TAG_RESOLVE_FAILED') fatal.push(w);
  const first = fatal[0];
  if (first) {
    // Later errors are mostly consequences of the first: report that one.
    let offset = first.pos[0];
    let message = first.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '').replace(/\s+/g, ' ');
    const opener = /^Flow (sequence|mapping)/.exec(message) ? unclosedBracket(text, offset, message.includes('sequence') ? '[' : '{') : -1;
    if (opener >= 0) {
      offset = opener;
      message = `this '${text[opener]}' is never closed (${lowerFirst(message)})`;
    }
    problems.push({
      at: lines.at(offset),
      code: first.code === 'TAG_RESOLVE_FAILED' ? 'yaml-tag' : 'yaml-syntax',
      message:
        first.code === 'TAG_RESOLVE_FAILED'
          ? `${message}: the Supervisor's YAML loader (PyYAML SafeLoader) cannot read custom tags`
          : `YAML syntax error: ${lowerFirst(message)}`,
      recoverable: false,
    });
    return { doc: null, problems };
  }

  const locations = new Locations();
  const pos = (offset: number | undefined): Position | undefined =>
    offset === undefined ? undefined : lines.at(offset);

  const walk = (node: unknown, path: PathSegment[]): void => {
    if (isMap(node)) {
      const seen = new Map<string, Position>();
      for (const pair of node.items) {
        const key = yamlKeyString(pair.key);
        if (key === null || key === '<<') continue;
        const keyNode = pair.key as YamlNode | null;
        const keyPos = pos(keyNode?.range?.[0]);
        const valueNode = pair.value as YamlNode | null;
        const valuePos = pos(valueNode?.range?.[0]) ?? keyPos;
        const childPath = [...path, key];
        const id = pathKey(childPath);
        const first = seen.get(key);
        if (first && keyPos) {
          problems.push({
            at: keyPos,
            code: 'duplicate-key',
            message: `duplicate key '${key}' (first at line ${first.line}); the Supervisor silently keeps only the last one, remove the other`,
            recoverable: true,
          });
        }
        if (keyPos) seen.set(key, keyPos);
        if (keyPos) locations.keys.set(id, keyPos);
        if (valuePos) locations.values.set(id, valuePos);
        const kind = yamlKeyKind(pair.key);
        if (kind) locations.kinds.set(id, kind);
        walk(pair.value, childPath);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        const childPath = [...path, index];
        const itemPos = pos((item as YamlNode | null)?.range?.[0]);
        if (itemPos) locations.values.set(pathKey(childPath), itemPos);
        walk(item, childPath);
      });
    } else if (isAlias(node)) {
      // The alias stands for its anchor's value; deeper paths fall back to the alias itself.
    }
  };
  const root = doc.contents as YamlNode | null;
  const rootPos = pos(root?.range?.[0]);
  if (rootPos) locations.values.set('', rootPos);
  walk(root, []);

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 }) ?? null;
  } catch (error) {
    return {
      doc: null,
      problems: [
        ...problems,
        { at: null, code: 'yaml-syntax', message: `YAML cannot be read: ${(error as Error).message}`, recoverable: false },
      ],
    };
  }
  return { doc: locations.document(file, 'yaml', value), problems };
}

/** The offset of the last bracket before `offset` that is not closed before it, or -1. */
function unclosedBracket(text: string, offset: number, open: '[' | '{'): number {
  const close = open === '[' ? ']' : '}';
  let depth = 0;
  for (let i = Math.min(offset, text.length) - 1; i >= 0; i--) {
    if (text[i] === close) depth++;
    else if (text[i] === open) {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

// --- JSON -------------------------------------------------------------------------------------------

const JSON_ERROR_TEXT: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: "expected ':'",
  CommaExpected: "expected ','",
  CloseBraceExpected: "expected '}'",
  CloseBracketExpected: "expected ']'",
  EndOfFileExpected: 'expected the end of the file (trailing text after the JSON value)',
  InvalidCommentToken: 'comments are not allowed in JSON',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'control character inside a string (escape it)',
};

function readJson(file: string, source: string): ReadResult {
  // A byte order mark is invisible in editors: drop it before counting columns.
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const lines = new LineIndex(text);
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length > 0 || !tree) {
    const first = errors[0];
    const code = first ? printParseErrorCode(first.error) : 'ValueExpected';
    return {
      doc: null,
      problems: [
        {
          at: lines.at(first?.offset ?? 0),
          code: 'json-syntax',
          message: `JSON syntax error: ${JSON_ERROR_TEXT[code] ?? code}`,
          recoverable: false,
        },
      ],
    };
  }
  const problems: ReadProblem[] = [];
  const locations = new Locations();
  const pos = (offset: number): Position => lines.at(offset);

  const toValue = (node: JsonNode, path: PathSegment[]): unknown => {
    locations.values.set(pathKey(path), pos(node.offset));
    switch (node.type) {
      case 'object': {
        const out: Record<string, unknown> = {};
        const seen = new Map<string, Position>();
        for (const property of node.children ?? []) {
          const [keyNode, valueNode] = property.children ?? [];
          if (!keyNode || !valueNode) continue;
          const key = String(keyNode.value);
          const childPath = [...path, key];
          const keyPos = pos(keyNode.offset);
          const first = seen.get(key);
          if (first) {
            problems.push({
              at: keyPos,
              code: 'duplicate-key',
              message: `duplicate key '${key}' (first at line ${first.line}); the Supervisor silently keeps only the last one, remove the other`,
              recoverable: true,
            });
          }
          seen.set(key, keyPos);
          locations.keys.set(pathKey(childPath), keyPos);
          // Assign through defineProperty so a key named "__proto__" stays an ordinary key.
          Object.defineProperty(out, key, {
            value: toValue(valueNode, childPath),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return out;
      }
      case 'array':
        return (node.children ?? []).map((child, index) => toValue(child, [...path, index]));
      default:
        return node.value;
    }
  };
  const value = toValue(tree, []);
  return { doc: locations.document(file, 'json', value), problems };
}
