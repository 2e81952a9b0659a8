/**
 * Reading add-on files (YAML or JSON) into plain values the way the Supervisor reads them, while
 * remembering where every key and value came from, so that each diagnostic can point at `file:line:col`.
 *
 * - YAML: PyYAML's CSafeLoader, i.e. libyaml's parser (libyaml.ts) and PyYAML's SafeConstructor: YAML 1.1
 *   scalars (`on`/`yes` are booleans, `0755` is octal, `1:30` is 90, `1.10` is the float 1.1, `1e3` is a
 *   string), the standard tags (`!!float 60`, `!!set`, `!!omap`, `!!binary`, ...), merge keys, aliases as
 *   shared values, and the refusals (unhashable keys, duplicate anchors, invalid dates, `=` as a value).
 *   The file is opened as text, so "\r\n" and "\r" are line ends; an empty document becomes `{}`.
 * - JSON: orjson, which the Supervisor reads JSON with: strict RFC 8259, no byte order mark, no NaN or
 *   Infinity, numbers that overflow a double refused, lone surrogate escapes refused, and (orjson >= 3.9.15,
 *   which the Supervisor pins) at most 1024 levels of nesting.
 *
 * Nothing here recurses on the input's nesting: deep documents cost memory, not stack.
 */
import type { Position } from '../util/diagnostics.js';
import { YamlError, YamlParser, type Mark, type YamlEvent } from './libyaml.js';
import { PyBytes, PySet, pyDate, pyStr, pyTruthy, pythonFloatText, pythonIntText } from './python-values.js';

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
  /** A YAML document that was empty or held only a false value, which the Supervisor reads as `{}`. */
  empty: boolean;
  /** Where the value at `path` starts, or where its nearest located ancestor starts. */
  valueAt(path: readonly PathSegment[]): Position;
  /** Where the key of the mapping entry at `path` is; falls back like `valueAt`. */
  keyAt(path: readonly PathSegment[]): Position;
  /** Mapping keys that were not strings in the source, by the path of their entry. */
  keyKind(path: readonly PathSegment[]): KeyKind | undefined;
  /** Whether the value at `path` is a number written as a float (`1.0`, `1e3`), which Python keeps apart from ints. */
  valueIsFloat(path: readonly PathSegment[]): boolean;
}

/** A reason the file could not be read at all, or a defect found while reading it. */
export interface ReadProblem {
  at: Position | null;
  code: 'not-utf8' | 'bad-character' | 'yaml-syntax' | 'json-syntax' | 'duplicate-key' | 'yaml-tag' | 'too-deep';
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

/** Characters libyaml's reader refuses ("control characters are not allowed"). */
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
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
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
          message: `not UTF-8 text (invalid byte 0x${bytes[decoded.badOffset]!.toString(16).padStart(2, '0')})`,
          recoverable: false,
        },
      ],
    };
  }
  return readDocument(file, decoded.text);
}

// --- locations ---------------------------------------------------------------------------------------

/** Where one entry of a mapping or list was written. */
interface Place {
  key?: Position;
  value: Position;
  kind?: KeyKind;
  /** The value is a float with a whole value, which JavaScript cannot tell from an int. */
  float?: true;
}

/** Locations hang off the containers themselves: a lookup walks the path, whatever the depth. */
class Locations {
  readonly places = new WeakMap<object, Map<PathSegment, Place>>();
  root: Position = { line: 1, col: 1 };

  entry(container: object, segment: PathSegment, place: Place): void {
    let map = this.places.get(container);
    if (!map) {
      map = new Map();
      this.places.set(container, map);
    }
    map.set(segment, place);
  }

  /** The places along `path`, as far as they are known. */
  private walk(value: unknown, path: readonly PathSegment[]): { place: Place | undefined; value: Position } {
    let node = value;
    let at = this.root;
    let last: Place | undefined;
    for (let i = 0; i < path.length; i++) {
      if (node === null || typeof node !== 'object') return { place: undefined, value: at };
      const place = this.places.get(node)?.get(path[i]!);
      if (!place) return { place: undefined, value: at };
      at = place.value;
      last = i === path.length - 1 ? place : undefined;
      node = node instanceof PySet ? undefined : (node as Record<PathSegment, unknown>)[path[i]!];
    }
    return { place: last, value: at };
  }

  document(file: string, format: 'yaml' | 'json', value: unknown, empty: boolean): LocatedDocument {
    return {
      file,
      format,
      value,
      empty,
      valueAt: (path) => this.walk(value, path).value,
      keyAt: (path) => {
        const found = this.walk(value, path);
        return found.place?.key ?? found.value;
      },
      keyKind: (path) => this.walk(value, path).place?.kind,
      valueIsFloat: (path) => this.walk(value, path).place?.float === true,
    };
  }
}

// --- YAML: PyYAML's composer and SafeConstructor ----------------------------------------------------

const TAG = 'tag:yaml.org,2002:';

type YamlNode = ScalarNode | SequenceNode | MappingNode;
interface ScalarNode {
  kind: 'scalar';
  tag: string;
  value: string;
  start: Mark;
}
interface SequenceNode {
  kind: 'sequence';
  tag: string;
  items: { node: YamlNode; at: Mark }[];
  start: Mark;
}
interface Pair {
  key: YamlNode;
  keyAt: Mark;
  value: YamlNode;
  valueAt: Mark;
  merged?: boolean;
}
interface MappingNode {
  kind: 'mapping';
  tag: string;
  pairs: Pair[];
  start: Mark;
}

/** PyYAML's implicit resolvers (resolver.py), tried in its order for plain scalars. */
const RESOLVERS: [string, RegExp][] = [
  [TAG + 'bool', /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/],
  [TAG + 'float', /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/],
  [TAG + 'int', /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/],
  [TAG + 'merge', /^(?:<<)$/],
  [TAG + 'null', /^(?:~|null|Null|NULL|)$/],
  [TAG + 'timestamp', /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/],
  [TAG + 'value', /^(?:=)$/],
];
/** The first characters each resolver is registered for (PyYAML dispatches on the first character). */
const RESOLVER_FIRST: Record<string, string> = {
  bool: 'yYnNtTfFoO',
  float: '-+0123456789.',
  int: '-+0123456789',
  merge: '<',
  null: '~nN',
  timestamp: '0123456789',
  value: '=',
};

/** The resolvers to try, by first character ('' for the empty scalar). */
const RESOLVERS_BY_FIRST = new Map<string, [string, RegExp][]>();
for (const [tag, regex] of RESOLVERS) {
  const name = tag.slice(TAG.length);
  for (const first of [...RESOLVER_FIRST[name]!, ...(name === 'null' ? [''] : [])]) {
    if (!RESOLVERS_BY_FIRST.has(first)) RESOLVERS_BY_FIRST.set(first, []);
    RESOLVERS_BY_FIRST.get(first)!.push([tag, regex]);
  }
}

function resolveScalar(value: string): string {
  const candidates = RESOLVERS_BY_FIRST.get(value.length === 0 ? '' : value[0]!);
  if (candidates) for (const [tag, regex] of candidates) if (regex.test(value)) return tag;
  return TAG + 'str';
}

class ConstructorError extends Error {
  constructor(
    readonly context: string | null,
    readonly contextMark: Mark | null,
    readonly problem: string,
    readonly problemMark: Mark | null,
  ) {
    super(problem);
  }
}

/** Compose the single document of the stream (PyYAML's CParser.get_single_node), or null when empty. */
function compose(text: string): YamlNode | null {
  const parser = new YamlParser(text);
  parser.next(); // stream start
  let event = parser.next()!;
  if (event.type === 'stream-end') return null;
  const anchors = new Map<string, YamlNode>();
  // Open collections, innermost last; a mapping remembers a key waiting for its value.
  const open: { node: SequenceNode | MappingNode; key: { node: YamlNode; at: Mark } | null }[] = [];
  let root: YamlNode | null = null;
  const attach = (node: YamlNode, at: Mark): void => {
    const parent = open[open.length - 1];
    if (!parent) {
      root = node;
      return;
    }
    if (parent.node.kind === 'sequence') parent.node.items.push({ node, at });
    else if (parent.key === null) parent.key = { node, at };
    else {
      parent.node.pairs.push({ key: parent.key.node, keyAt: parent.key.at, value: node, valueAt: at });
      parent.key = null;
    }
  };
  const anchor = (name: string | null, node: YamlNode, at: Mark): void => {
    if (name === null) return;
    const first = anchors.get(name);
    if (first) throw new ConstructorError('found duplicate anchor; first occurrence', first.start, 'second occurrence', at);
    anchors.set(name, node);
  };
  for (event = parser.next()!; ; event = parser.next()!) {
    const e: YamlEvent = event;
    if (e.type === 'document-end') break;
    if (e.type === 'alias') {
      const node = anchors.get(e.anchor);
      if (!node) throw new ConstructorError(null, null, 'found undefined alias', e.start);
      attach(node, e.start);
    } else if (e.type === 'scalar') {
      const tag = e.tag === null || e.tag === '!' ? (e.plainImplicit ? resolveScalar(e.value) : TAG + 'str') : e.tag;
      const node: ScalarNode = { kind: 'scalar', tag, value: e.value, start: e.start };
      anchor(e.anchor, node, e.start);
      attach(node, e.start);
    } else if (e.type === 'sequence-start' || e.type === 'mapping-start') {
      const sequence = e.type === 'sequence-start';
      const tag = e.tag === null || e.tag === '!' ? TAG + (sequence ? 'seq' : 'map') : e.tag;
      const node: SequenceNode | MappingNode = sequence
        ? { kind: 'sequence', tag, items: [], start: e.start }
        : { kind: 'mapping', tag, pairs: [], start: e.start };
      anchor(e.anchor, node, e.start);
      attach(node, e.start);
      open.push({ node, key: null });
    } else if (e.type === 'sequence-end' || e.type === 'mapping-end') {
      open.pop();
    }
  }
  const next = parser.next()!;
  if (next.type !== 'stream-end') {
    throw new ConstructorError('expected a single document in the stream', (root as YamlNode | null)?.start ?? null, 'but found another document', next.start);
  }
  return root;
}

/** SafeConstructor.flatten_mapping: merge keys (`<<`) become the mapping's first entries. */
function flattenMapping(node: MappingNode, depth = 0): void {
  if (depth > 900) throw new ConstructorError(null, null, 'merge keys nested too deeply (Python stops at its recursion limit)', node.start);
  const merge: Pair[] = [];
  let index = 0;
  while (index < node.pairs.length) {
    const pair = node.pairs[index]!;
    if (pair.key.tag === TAG + 'merge') {
      node.pairs.splice(index, 1);
      const value = pair.value;
      if (value.kind === 'mapping') {
        flattenMapping(value, depth + 1);
        merge.push(...value.pairs.map((p) => ({ ...p, merged: true })));
      } else if (value.kind === 'sequence') {
        const submerge: Pair[][] = [];
        for (const { node: sub } of value.items) {
          if (sub.kind !== 'mapping') {
            throw new ConstructorError('while constructing a mapping', node.start, `expected a mapping for merging, but found ${sub.kind}`, sub.start);
          }
          flattenMapping(sub, depth + 1);
          submerge.push(sub.pairs);
        }
        for (const pairs of submerge.reverse()) merge.push(...pairs.map((p) => ({ ...p, merged: true })));
      } else {
        throw new ConstructorError('while constructing a mapping', node.start, `expected a mapping or list of mappings for merging, but found ${value.kind}`, value.start);
      }
    } else {
      if (pair.key.tag === TAG + 'value') pair.key = { ...pair.key, tag: TAG + 'str' };
      index++;
    }
  }
  if (merge.length > 0) node.pairs = [...merge, ...node.pairs];
}

const BOOL_VALUES: Record<string, boolean> = { yes: true, no: false, true: true, false: false, on: true, off: false };

const TIMESTAMP =
  /^(\d{4})-(\d\d?)-(\d\d?)(?:(?:[Tt]|[ \t]+)(\d\d?):(\d\d):(\d\d)(?:\.(\d*))?(?:[ \t]*(Z|([-+])(\d\d?)(?::(\d\d))?))?)?$/;

function constructTimestamp(text: string, node: ScalarNode): Date {
  const m = TIMESTAMP.exec(text.endsWith('\n') ? text.slice(0, -1) : text);
  if (!m) throw new ConstructorError(null, null, `invalid timestamp ${JSON.stringify(text)}`, node.start);
  const [, y, mo, d, h, mi, s, fraction, tz, sign, tzh, tzm] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const days = [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  const invalid = (what: string): never => {
    throw new ConstructorError(null, null, `${what} in the date ${JSON.stringify(text)} (Python's datetime refuses it)`, node.start);
  };
  if (year < 1) invalid('year 0');
  if (month < 1 || month > 12) invalid('month out of range');
  if (day < 1 || day > days[month - 1]!) invalid('day out of range for the month');
  if (h === undefined) {
    const date = new Date(Date.UTC(year, month - 1, day));
    date.setUTCFullYear(year);
    return pyDate(date, true, null);
  }
  if (Number(h) > 23) invalid('hour out of range');
  if (Number(mi) > 59) invalid('minute out of range');
  if (Number(s) > 59) invalid('second out of range');
  let offset: number | null = null;
  if (sign) {
    offset = (Number(tzh) * 60 + Number(tzm ?? 0)) * (sign === '-' ? -1 : 1);
    if (Math.abs(offset) >= 24 * 60) invalid('UTC offset out of range');
  } else if (tz) {
    offset = 0;
  }
  const ms = Number(((fraction ?? '') + '000').slice(0, 3));
  const time = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(s), ms) - (offset ?? 0) * 60000;
  return pyDate(new Date(time), false, offset);
}

/** base64.decodebytes (binascii.a2b_base64, not strict). */
function decodeBase64(text: string, node: ScalarNode): PyBytes {
  if (/[^\x00-\x7f]/.test(text)) throw new ConstructorError(null, null, 'failed to convert base64 data into ascii', node.start);
  let quad = 0;
  let pads = 0;
  let count = 0;
  const clean: string[] = [];
  for (const ch of text) {
    if (ch === '=') {
      if (quad >= 2 && quad + ++pads >= 4) break;
      continue;
    }
    if (!/[A-Za-z0-9+/]/.test(ch)) continue;
    pads = 0;
    clean.push(ch);
    count++;
    quad = (quad + 1) % 4;
  }
  if (quad === 1 && clean.length === count && !text.includes('=')) {
    throw new ConstructorError(null, null, `failed to decode base64 data: number of data characters (${count}) cannot be 1 more than a multiple of 4`, node.start);
  }
  if (quad !== 0 && !(quad >= 2 && text.includes('='))) throw new ConstructorError(null, null, 'failed to decode base64 data: Incorrect padding', node.start);
  return new PyBytes(Buffer.from(clean.join(''), 'base64'));
}

function expectScalar(node: YamlNode): ScalarNode {
  if (node.kind !== 'scalar') throw new ConstructorError(null, null, `expected a scalar node, but found ${node.kind}`, node.start);
  return node;
}

function constructScalar(node: YamlNode): unknown {
  const kind = node.tag.startsWith(TAG) ? node.tag.slice(TAG.length) : null;
  switch (kind) {
    case 'str':
      return expectScalar(node).value;
    case 'null':
      expectScalar(node);
      return null;
    case 'bool': {
      const value = BOOL_VALUES[expectScalar(node).value.toLowerCase()];
      if (value === undefined) throw new ConstructorError(null, null, `${JSON.stringify((node as ScalarNode).value)} is not a YAML boolean`, node.start);
      return value;
    }
    case 'int': {
      let value = expectScalar(node).value.replace(/_/g, '');
      let sign = 1;
      if (value[0] === '-') sign = -1;
      if (value[0] === '-' || value[0] === '+') value = value.slice(1);
      const bad = (): never => {
        throw new ConstructorError(null, null, `invalid literal for int(): ${JSON.stringify((node as ScalarNode).value)}`, node.start);
      };
      if (value === '') bad();
      if (value === '0') return 0;
      let n: number | null;
      if (value.startsWith('0b')) n = pythonIntText(value.slice(2), 2);
      else if (value.startsWith('0x')) n = pythonIntText(value.slice(2), 16);
      else if (value[0] === '0') n = pythonIntText(value, 8);
      else if (value.includes(':')) {
        const parts = value.split(':').map((part) => pythonIntText(part));
        n = parts.some((p) => p === null) ? null : parts.reduce((total: number, p) => total * 60 + p!, 0);
      } else n = pythonIntText(value);
      if (n === null) bad();
      return sign * n!;
    }
    case 'float': {
      let value = expectScalar(node).value.replace(/_/g, '').toLowerCase();
      let sign = 1;
      if (value[0] === '-') sign = -1;
      if (value[0] === '-' || value[0] === '+') value = value.slice(1);
      if (value === '.inf') return sign * Infinity;
      if (value === '.nan') return NaN;
      let n: number | null;
      if (value.includes(':')) {
        const parts = value.split(':').map((part) => pythonFloatText(part));
        n = parts.some((p) => p === null) ? null : parts.reduce((total: number, p) => total * 60 + p!, 0);
      } else n = pythonFloatText(value);
      if (n === null) throw new ConstructorError(null, null, `could not convert string to float: ${JSON.stringify((node as ScalarNode).value)}`, node.start);
      return sign * n!;
    }
    case 'timestamp':
      return constructTimestamp(expectScalar(node).value, node as ScalarNode);
    case 'binary':
      return decodeBase64(expectScalar(node).value, node as ScalarNode);
    default:
      throw new ConstructorError(null, null, `could not determine a constructor for the tag '${node.tag}'`, node.start);
  }
}

function position(mark: Mark): Position {
  return { line: mark.line + 1, col: mark.column + 1 };
}

function keyKindOf(value: unknown, node: YamlNode): KeyKind | undefined {
  if (typeof value === 'string') return undefined;
  const source = node.kind === 'scalar' ? node.value : node.kind;
  if (typeof value === 'number') return { type: 'number', source };
  if (typeof value === 'boolean') return { type: 'boolean', source };
  if (value === null) return { type: 'null', source: source || '(empty)' };
  if (value instanceof Date) return { type: 'date', source };
  return { type: 'other', source };
}

/** A mapping key as text: Python's str() of it (`10.0` is read as 10, which JavaScript cannot tell apart). */
function keyString(value: unknown): string {
  if (typeof value === 'string') return value;
  return typeof value === 'boolean' || value === null ? String(value) : pyStr(value);
}

const COLLECTION_TAGS = [TAG + 'seq', TAG + 'map', TAG + 'set', TAG + 'omap', TAG + 'pairs'];

function isCollectionTag(node: YamlNode): boolean {
  return node.kind !== 'scalar' && COLLECTION_TAGS.includes(node.tag);
}

/**
 * SafeConstructor.construct_document: containers are created first and filled later (as PyYAML's
 * generators do), so aliases share one value, cycles are possible, and nothing recurses.
 */
const SCALAR_TAGS = new Set([TAG + 'str', TAG + 'null', TAG + 'bool', TAG + 'int', TAG + 'float', TAG + 'timestamp', TAG + 'binary']);

/** A YAML float whose value is whole (`1.0`): the one case where JavaScript's number loses Python's type. */
function isWholeFloat(node: YamlNode, value: unknown): boolean {
  return node.kind === 'scalar' && node.tag === TAG + 'float' && typeof value === 'number' && Number.isInteger(value);
}

function construct(root: YamlNode, locations: Locations, problems: ReadProblem[]): unknown {
  const built = new Map<YamlNode, unknown>();
  const pending: YamlNode[] = [];
  const get = (node: YamlNode): unknown => {
    if (built.has(node)) return built.get(node);
    let value: unknown;
    if (node.kind === 'scalar' && node.tag === TAG + 'str') {
      value = node.value;
    } else if (node.kind === 'scalar' || !isCollectionTag(node)) {
      if (node.kind !== 'scalar' && !SCALAR_TAGS.has(node.tag)) {
        throw new ConstructorError(null, null, `could not determine a constructor for the tag '${node.tag}'`, node.start);
      }
      if (node.kind === 'scalar' && COLLECTION_TAGS.includes(node.tag)) {
        const what = node.tag.slice(TAG.length);
        throw new ConstructorError(null, null, `expected a ${what === 'seq' || what === 'omap' || what === 'pairs' ? 'sequence' : 'mapping'} node, but found scalar`, node.start);
      }
      value = constructScalar(node);
    } else {
      const what = node.tag.slice(TAG.length);
      const wantsSequence = what === 'seq' || what === 'omap' || what === 'pairs';
      if (wantsSequence !== (node.kind === 'sequence')) {
        throw new ConstructorError(null, null, `expected a ${wantsSequence ? 'sequence' : 'mapping'} node, but found ${node.kind}`, node.start);
      }
      value = what === 'map' ? {} : what === 'set' ? new PySet([]) : [];
      pending.push(node);
    }
    built.set(node, value);
    return value;
  };
  const result = get(root);
  while (pending.length > 0) {
    const node = pending.pop()!;
    const value = built.get(node);
    if (node.kind === 'sequence') {
      const list = value as unknown[];
      if (node.tag === TAG + 'seq') {
        node.items.forEach(({ node: item, at }, index) => {
          const itemValue = get(item);
          list.push(itemValue);
          locations.entry(list, index, isWholeFloat(item, itemValue) ? { value: position(at), float: true } : { value: position(at) });
        });
      } else {
        // !!omap and !!pairs: a list of (key, value) pairs from one-entry mappings.
        const context = node.tag === TAG + 'omap' ? 'while constructing an ordered map' : 'while constructing pairs';
        node.items.forEach(({ node: item, at }, index) => {
          if (item.kind !== 'mapping') throw new ConstructorError(context, node.start, `expected a mapping of length 1, but found ${item.kind}`, item.start);
          if (item.pairs.length !== 1) throw new ConstructorError(context, node.start, `expected a single mapping item, but found ${item.pairs.length} items`, item.start);
          const pair = item.pairs[0]!;
          list.push([get(pair.key), get(pair.value)]);
          locations.entry(list, index, { value: position(at) });
        });
      }
      continue;
    }
    if (node.kind !== 'mapping') continue;
    flattenMapping(node);
    const seen = new Map<string, Position>();
    const target = value instanceof PySet ? null : (value as Record<string, unknown>);
    for (const pair of node.pairs) {
      if (isCollectionTag(pair.key)) {
        throw new ConstructorError('while constructing a mapping', node.start, 'found unhashable key', pair.keyAt);
      }
      const key = get(pair.key);
      const name = keyString(key);
      const keyPos = position(pair.keyAt);
      if (!pair.merged) {
        const first = seen.get(name);
        if (first) {
          problems.push({
            at: keyPos,
            code: 'duplicate-key',
            message: `duplicate key '${name}' (first at line ${first.line}); the Supervisor silently keeps only the last one, remove the other`,
            recoverable: true,
          });
        }
        seen.set(name, keyPos);
      }
      const place: Place = { key: keyPos, value: position(pair.valueAt) };
      const kind = keyKindOf(key, pair.key);
      if (kind) place.kind = kind;
      if (target) {
        const entryValue = get(pair.value);
        if (isWholeFloat(pair.value, entryValue)) place.float = true;
        // defineProperty keeps a key named "__proto__" an ordinary key.
        Object.defineProperty(target, name, { value: entryValue, enumerable: true, writable: true, configurable: true });
        locations.entry(target, name, place);
      } else {
        const set = value as PySet;
        if (!set.items.includes(key)) set.items.push(key);
      }
    }
  }
  return result;
}

function yamlMessage(error: YamlError | ConstructorError): string {
  const parts: string[] = [];
  if (error.context) {
    const at = error.contextMark ? ` (line ${error.contextMark.line + 1})` : '';
    parts.push(`${error.context}${at}`);
  }
  parts.push(error.problem);
  return parts.join(': ');
}

function readYaml(file: string, source: string): ReadResult {
  // Python opens the file as text: universal newlines turn "\r\n" and "\r" into "\n" first.
  const text = source.includes('\r') ? source.replace(/\r\n?/g, '\n') : source;
  const bad = NON_PRINTABLE.exec(text);
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).padStart(4, '0');
    return {
      doc: null,
      problems: [
        {
          at: new LineIndex(text).at(bad.index),
          code: 'bad-character',
          message: `control character U+${code.toUpperCase()} is not allowed in YAML (the Supervisor's YAML reader refuses the file); is this a binary file?`,
          recoverable: false,
        },
      ],
    };
  }
  const problems: ReadProblem[] = [];
  const locations = new Locations();
  try {
    const root = compose(text);
    if (root) locations.root = position(root.start);
    let value = root ? construct(root, locations, problems) : null;
    // read_yaml_file returns `load(...) or {}`.
    const empty = !pyTruthy(value);
    if (empty) value = {};
    return { doc: locations.document(file, 'yaml', value, empty), problems };
  } catch (error) {
    if (error instanceof YamlError || error instanceof ConstructorError) {
      const unclosed = error instanceof YamlError && error.contextMark && /flow (sequence|mapping)/.test(error.context ?? '') && /^[[{]$/.test(text[error.contextMark.index] ?? '');
      const mark = unclosed ? error.contextMark : (error.problemMark ?? error.contextMark);
      const tagProblem = error instanceof ConstructorError && /constructor for the tag/.test(error.problem);
      problems.push({
        at: mark ? position(mark) : null,
        code: tagProblem ? 'yaml-tag' : 'yaml-syntax',
        message: tagProblem
          ? `${error.problem}: the Supervisor's YAML loader (PyYAML SafeLoader) reads only the standard tags`
          : `YAML ${error instanceof YamlError ? 'syntax error' : 'error'}: ${friendly(error, text)}`,
        recoverable: false,
      });
      return { doc: null, problems };
    }
    throw error;
  }
}

/** libyaml's message, with a hint where the usual cause is known. */
function friendly(error: YamlError | ConstructorError, text: string): string {
  const message = yamlMessage(error);
  if (error instanceof YamlError && error.contextMark && /flow (sequence|mapping)/.test(error.context ?? '')) {
    const bracket = text[error.contextMark.index];
    if (bracket === '[' || bracket === '{') return `this '${bracket}' is never closed (${message})`;
  }
  if (/tab character|cannot start any token/.test(message) && text[error.problemMark?.index ?? -1] === '\t') {
    return `${message} (a tab here; YAML indents with spaces)`;
  }
  return message;
}

// --- JSON: orjson ------------------------------------------------------------------------------------

/** orjson >= 3.9.15 refuses documents nested deeper than this. */
export const JSON_MAX_DEPTH = 1024;

class JsonError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

function readJson(file: string, text: string): ReadResult {
  const lines = new LineIndex(text);
  const problems: ReadProblem[] = [];
  const locations = new Locations();
  try {
    const value = parseJson(text, locations, lines, problems);
    return { doc: locations.document(file, 'json', value, false), problems };
  } catch (error) {
    if (!(error instanceof JsonError)) throw error;
    const tooDeep = error.message.startsWith('nested');
    return {
      doc: null,
      problems: [{ at: lines.at(error.offset), code: tooDeep ? 'too-deep' : 'json-syntax', message: `JSON ${tooDeep ? '' : 'syntax error: '}${error.message}`, recoverable: false }],
    };
  }
}

const WS = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** RFC 8259 JSON as orjson reads it, iteratively, recording where each entry was written. */
function parseJson(text: string, locations: Locations, lines: LineIndex, problems: ReadProblem[]): unknown {
  let i = 0;
  const n = text.length;
  if (n === 0) throw new JsonError('the file is empty (expected a value)', 0);
  if (text.charCodeAt(0) === 0xfeff) throw new JsonError('a byte order mark (BOM) is not allowed (orjson refuses it); save the file as UTF-8 without BOM', 0);
  const skip = () => {
    while (i < n && WS(text.charCodeAt(i))) i++;
  };
  const string = (): string => {
    const start = i;
    i++; // opening quote
    let out = '';
    let from = i;
    for (;;) {
      if (i >= n) throw new JsonError('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(from, i);
        i++;
        return out;
      }
      if (c < 0x20) throw new JsonError('control character inside a string (escape it)', i);
      if (c >= 0xd800 && c <= 0xdfff) {
        // The text came from valid UTF-8, so surrogates here are pairs: step over both.
        i += 2;
        continue;
      }
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(from, i);
      const e = text[i + 1];
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e !== undefined && e in simple) {
        out += simple[e];
        i += 2;
      } else if (e === 'u') {
        const hex = (at: number): number => {
          const h = text.slice(at, at + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) throw new JsonError('invalid \\u escape', at - 2);
          return parseInt(h, 16);
        };
        const code = hex(i + 2);
        i += 6;
        if (code >= 0xdc00 && code <= 0xdfff) throw new JsonError('a lone low surrogate escape (orjson refuses invalid UTF-16)', i - 6);
        if (code >= 0xd800 && code <= 0xdbff) {
          if (text[i] !== '\\' || text[i + 1] !== 'u') throw new JsonError('a high surrogate escape without its low surrogate (orjson refuses invalid UTF-16)', i - 6);
          const low = hex(i + 2);
          if (low < 0xdc00 || low > 0xdfff) throw new JsonError('a high surrogate escape without its low surrogate (orjson refuses invalid UTF-16)', i);
          i += 6;
          out += String.fromCharCode(code, low);
        } else {
          out += String.fromCharCode(code);
        }
      } else {
        throw new JsonError('invalid escape character', i);
      }
      from = i;
    }
  };
  const number = (): number => {
    const start = i;
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/y;
    m.lastIndex = i;
    const found = m.exec(text);
    if (!found || found[0] === '-') throw new JsonError(text[i] === '-' ? 'no digit after the minus sign' : 'invalid number', i);
    i += found[0].length;
    const next = text[i];
    if (next !== undefined && /[0-9.eE]/.test(next)) {
      throw new JsonError(found[0] === '0' || found[0] === '-0' ? 'numbers must not have leading zeros' : 'invalid number', start);
    }
    const value = Number(found[0]);
    if (!Number.isFinite(value)) throw new JsonError(`${found[0]} overflows a double (orjson refuses it)`, start);
    return value;
  };
  type Frame = { container: unknown[] | Record<string, unknown>; key: string | null; seen?: Map<string, Position> };
  const stack: Frame[] = [];
  let root: unknown;
  const place = (value: unknown, at: number, float = false): void => {
    const frame = stack[stack.length - 1];
    if (!frame) {
      root = value;
      locations.root = lines.at(at);
      return;
    }
    const whole = float && Number.isInteger(value) ? { float: true as const } : {};
    if (Array.isArray(frame.container)) {
      locations.entry(frame.container, frame.container.length, { value: lines.at(at), ...whole });
      frame.container.push(value);
    } else {
      const key = frame.key!;
      Object.defineProperty(frame.container, key, { value, enumerable: true, writable: true, configurable: true });
      const existing = locations.places.get(frame.container)?.get(key);
      locations.entry(frame.container, key, { key: existing?.key ?? lines.at(at), value: lines.at(at), ...whole });
    }
  };
  // Parse: a value, then after each value either ',' / ']' / '}' inside a container.
  let expectValue = true;
  for (;;) {
    skip();
    if (expectValue) {
      if (i >= n) throw new JsonError('expected a value', i);
      const c = text[i]!;
      const at = i;
      if (c === '{' || c === '[') {
        if (stack.length >= JSON_MAX_DEPTH) {
          throw new JsonError(`nested more than ${JSON_MAX_DEPTH} levels deep: the Supervisor's JSON reader (orjson) refuses the file`, i);
        }
        const container = c === '{' ? {} : [];
        place(container, at);
        stack.push({ container, key: null, seen: c === '{' ? new Map() : undefined });
        i++;
        skip();
        if (text[i] === (c === '{' ? '}' : ']')) {
          i++;
          stack.pop();
          expectValue = false;
          continue;
        }
        if (c === '{') {
          readKey();
        }
        continue;
      }
      let value: unknown;
      if (c === '"') value = string();
      else if (c === '-' || (c >= '0' && c <= '9')) value = number();
      else if (text.startsWith('true', i)) {
        value = true;
        i += 4;
      } else if (text.startsWith('false', i)) {
        value = false;
        i += 5;
      } else if (text.startsWith('null', i)) {
        value = null;
        i += 4;
      } else {
        throw new JsonError(/^(NaN|-?Infinity)/.test(text.slice(i)) ? 'NaN and Infinity are not JSON (orjson refuses them)' : c === '/' ? 'comments are not allowed in JSON' : 'unexpected character', i);
      }
      // orjson reads a number with a fraction or an exponent as a float.
      place(value, at, typeof value === 'number' && /[.eE]/.test(text.slice(at, i)));
      expectValue = false;
      continue;
    }
    // After a value.
    const frame = stack[stack.length - 1];
    if (!frame) {
      if (i < n) throw new JsonError('expected the end of the file (trailing text after the JSON value)', i);
      return root;
    }
    const c = text[i];
    const close = Array.isArray(frame.container) ? ']' : '}';
    if (c === ',') {
      i++;
      skip();
      if (text[i] === ']' || text[i] === '}') throw new JsonError('a trailing comma is not allowed in JSON', i);
      if (!Array.isArray(frame.container)) readKey();
      expectValue = true;
      continue;
    }
    if (c === close) {
      i++;
      stack.pop();
      continue;
    }
    if (c === '/') throw new JsonError('comments are not allowed in JSON', i);
    throw new JsonError(i >= n ? `expected '${close}' (the file ends inside a ${close === ']' ? 'list' : 'mapping'})` : `expected ',' or '${close}'`, i);
  }

  function readKey(): void {
    skip();
    if (text[i] !== '"') throw new JsonError(text[i] === '/' ? 'comments are not allowed in JSON' : 'expected a property name in double quotes', i);
    const keyAt = i;
    const key = string();
    skip();
    if (text[i] !== ':') throw new JsonError("expected ':'", i);
    i++;
    const frame = stack[stack.length - 1]!;
    const keyPos = lines.at(keyAt);
    const first = frame.seen!.get(key);
    if (first) {
      problems.push({
        at: keyPos,
        code: 'duplicate-key',
        message: `duplicate key '${key}' (first at line ${first.line}); the Supervisor silently keeps only the last one, remove the other`,
        recoverable: true,
      });
    }
    frame.seen!.set(key, keyPos);
    frame.key = key;
    locations.entry(frame.container, key, { key: keyPos, value: keyPos });
    expectValue = true;
  }
}
