/**
 * The add-on options `schema` mini-language (Supervisor `apps/options.py`, RE_SCHEMA_ELEMENT):
 *
 *   bool | email | url | port | device | device(subsystem=x) | str | str(min,max) | password |
 *   password(min,max) | int | int(min,max) | float | float(min,max) | match(REGEX) | list(a|b|c)
 *
 * each optionally followed by `?`. A schema value is an element, a one-item list of an element or a
 * mapping (an array option), or a mapping of further schema values. This module parses elements into
 * a typed form with precise errors, and checks option defaults the way the Supervisor checks options
 * when it starts an add-on.
 */
import type { FindingCode } from '../util/codes.js';
import type { Era } from './eras.js';
import { ERA_RULES } from './eras.js';
import { didYouMean, show, typeName } from '../util/text.js';
import { isPyEmail, isPyUrl, pyBoolean, pyFloat, pyInt, pyLen, pyStr, pythonFloatText } from './python-values.js';
import { compilePythonRegex } from './python-regex.js';

/** hardware/const.py UdevSubsystem, the same in both eras: device(subsystem=NAME) fails for any other NAME. */
export const UDEV_SUBSYSTEMS = ['tty', 'usb', 'input', 'block', 'pci', 'sound', 'video4linux', 'media', 'gpio', 'gpiomem', 'vchiq', 'graphics', 'cec', 'drm', 'hidraw', 'rpivid-hevcmem', 'rpivid-h264mem'];

export type ElementKind =
  | 'bool'
  | 'email'
  | 'url'
  | 'port'
  | 'device'
  | 'str'
  | 'password'
  | 'int'
  | 'float'
  | 'match'
  | 'list'
  /** The empty type ("" or "?"): RE_SCHEMA_ELEMENT accepts it, but no value ever validates. */
  | 'none';

export interface SchemaElement {
  kind: ElementKind;
  optional: boolean;
  /** Bounds of str/password (length), int/float (value). */
  min?: number;
  max?: number;
  /** device(subsystem=...). */
  subsystem?: string;
  /** match(REGEX), the Python pattern. */
  pattern?: string;
  /** list(a|b|c). */
  choices?: string[];
}

export type ParsedElement =
  | { ok: true; element: SchemaElement; notes: string[] }
  | { ok: false; message: string; code?: FindingCode };

const SIMPLE_KINDS = ['bool', 'email', 'url', 'port'] as const;
const ALL_NAMES = ['bool', 'email', 'url', 'port', 'device', 'str', 'password', 'int', 'float', 'match', 'list'];
const TYPE_LIST = 'bool, email, url, port, device, str, password, int, float, match(REGEX), list(a|b)';

/** 2025.06 checked str(min,max) with vol.Range on the text, which fails for every value (supervisor #7044). */
const STR_BOUNDS_2025 = 'Supervisor 2025.06 refuses every value of str(min,max) and password(min,max) when it starts the add-on (a bug fixed in 2026.07)';

/** Parse one schema element such as `int(1,10)?`. Accepts exactly what the era's RE_SCHEMA_ELEMENT accepts. */
export function parseSchemaElement(text: string, era: Era): ParsedElement {
  const notes: string[] = [];
  // Python's `$` also matches before one final newline, so "str\n" (a YAML block scalar) passes.
  let s = text.endsWith('\n') ? text.slice(0, -1) : text;
  const optional = s.endsWith('?');
  if (optional) s = s.slice(0, -1);

  const nameMatch = /^[A-Za-z_]*/.exec(s)![0];
  const rest = s.slice(nameMatch.length);
  const name = nameMatch;

  if (name === '' && rest === '') {
    return { ok: true, element: { kind: 'none', optional }, notes };
  }
  if (!ALL_NAMES.includes(name)) {
    const shown = name || s;
    return { ok: false, message: `unknown type ${show(shown)}${didYouMean(shown, ALL_NAMES)}; the types are ${TYPE_LIST}, each optionally followed by '?'` };
  }
  if (rest === '') {
    if (name === 'match') return { ok: false, message: "match needs a pattern: match(REGEX)" };
    if (name === 'list') return { ok: false, message: 'list needs its choices: list(a|b|c)' };
    return { ok: true, element: { kind: name as ElementKind, optional }, notes };
  }
  if (!rest.startsWith('(')) {
    const spaces = /^\s/.test(rest) ? ' (no spaces allowed)' : '';
    return { ok: false, message: `unexpected ${show(rest)} after '${name}'${spaces}` };
  }
  if (!rest.endsWith(')')) {
    return { ok: false, message: `missing ')' at the end of ${show(text)}` };
  }
  const args = rest.slice(1, -1);

  if ((SIMPLE_KINDS as readonly string[]).includes(name)) {
    return { ok: false, message: `'${name}' takes no arguments` };
  }
  switch (name) {
    case 'match':
      return { ok: true, element: { kind: 'match', optional, pattern: args }, notes };
    case 'list':
      if (args === '') return { ok: false, message: 'list() needs at least one choice, e.g. list(a|b)' };
      return { ok: true, element: { kind: 'list', optional, choices: args.split('|') }, notes };
    case 'device': {
      const m = /^subsystem=([a-z]+)$/.exec(args);
      if (!m) return { ok: false, message: `device filters are written device(subsystem=NAME) with a lowercase NAME, got ${show(text)}` };
      return { ok: true, element: { kind: 'device', optional, subsystem: m[1]! }, notes };
    }
    default:
      return parseBounds(name as 'str' | 'password' | 'int' | 'float', args, optional, text, era, notes);
  }
}

function parseBounds(
  kind: 'str' | 'password' | 'int' | 'float',
  args: string,
  optional: boolean,
  text: string,
  era: Era,
  notes: string[],
): ParsedElement {
  const parts = args.split(',');
  if (parts.length !== 2) {
    return { ok: false, message: `${kind}(min,max) takes two bounds separated by one comma (either may be empty), got ${show(text)}` };
  }
  if (/\s/.test(args)) return { ok: false, message: `no spaces are allowed in ${show(text)}` };
  // RE_SCHEMA_ELEMENT's \d is Python's: any Unicode decimal digit, which float() then reads.
  const bound =
    kind === 'str' || kind === 'password'
      ? /^\p{Nd}+$/u
      : kind === 'int'
        ? era === '2026' ? /^-?\p{Nd}+$/u : /^\p{Nd}+$/u
        : era === '2026' ? /^-?\p{Nd}*\.?\p{Nd}+$/u : /^[\p{Nd}.]+$/u;
  const what =
    kind === 'str' || kind === 'password'
      ? 'lengths, whole numbers of 0 or more'
      : kind === 'int'
        ? era === '2026' ? 'whole numbers' : 'whole numbers of 0 or more (negative bounds need Supervisor 2026)'
        : era === '2026' ? 'numbers' : 'numbers of 0 or more (negative bounds need Supervisor 2026)';
  const element: SchemaElement = { kind, optional };
  for (const [index, part] of parts.entries()) {
    if (part === '') continue;
    if (!bound.test(part)) {
      return { ok: false, message: `bounds of ${kind}(min,max) must be ${what}, got ${show(part)} in ${show(text)}` };
    }
    const value = pythonFloatText(part) ?? NaN;
    if (Number.isNaN(value)) {
      // Only 2025's float pattern lets this through ("1.2.3"); Python's float() then fails at start.
      return { ok: false, code: 'schema-bound', message: `bound ${show(part)} in ${show(text)} is not a number; the Supervisor accepts the add-on but fails when it checks this option at start` };
    }
    if (index === 0) element.min = value;
    else element.max = value;
  }
  if (element.min !== undefined && element.max !== undefined && element.min > element.max) {
    notes.push(`min ${element.min} is greater than max ${element.max}, so no value can satisfy ${show(text)}`);
  }
  if ((kind === 'str' || kind === 'password') && era === '2025' && (element.min !== undefined || element.max !== undefined)) {
    notes.push(`${STR_BOUNDS_2025}; write ${kind} without bounds`);
  }
  return { ok: true, element, notes };
}

/** A parsed options schema: an element, a list of one item, or a mapping. */
export type OptionsSchemaNode =
  | { type: 'element'; element: SchemaElement }
  | { type: 'list'; item: OptionsSchemaNode | null }
  | { type: 'map'; fields: Map<string, OptionsSchemaNode> }
  /** Unparseable; already reported. */
  | { type: 'invalid' };

export interface SchemaProblem {
  path: (string | number)[];
  severity: 'error' | 'warning';
  code: FindingCode;
  message: string;
  /** Report at the key rather than the value. */
  atKey?: boolean;
}

type Level =
  /** 2026: element | [item] | {str: value} */
  | 'value'
  /** 2026 list item: element | {str: value} */
  | 'item'
  /** 2025 top-level value: element | [element | {str: L3}] | {str: L3} */
  | 'l1'
  | 'l2item'
  /** 2025 innermost: element | [element] */
  | 'l3'
  | 'l3item';

export interface SchemaContext {
  era: Era;
  /** Whether the key at this path was written as a string (YAML can write numbers and booleans). */
  keyIsString(path: (string | number)[]): boolean;
}

/** Parse and check the whole `schema` mapping of a config. */
export function parseOptionsSchema(schema: Record<string, unknown>, context: SchemaContext): {
  root: Map<string, OptionsSchemaNode>;
  problems: SchemaProblem[];
} {
  const problems: SchemaProblem[] = [];
  const top: Level = context.era === '2026' ? 'value' : 'l1';
  const root = new Map<string, OptionsSchemaNode>();
  for (const [key, value] of Object.entries(schema)) {
    checkKey(['schema', key], problems, context);
    root.set(key, parseNode(value, ['schema', key], top, problems, context, MAP_FRAMES));
  }
  return { root, problems };
}

function checkKey(path: (string | number)[], problems: SchemaProblem[], context: SchemaContext): void {
  if (!context.keyIsString(path)) {
    problems.push({
      path,
      severity: 'error',
      code: 'schema-key-type',
      atKey: true,
      message: `option name ${show(path[path.length - 1])} is not a string in the source; quote it`,
    });
  }
}

/** The option a schema path belongs to: its last name, skipping list indexes. */
function optionName(path: (string | number)[]): string {
  for (let i = path.length - 1; i >= 0; i--) if (typeof path[i] === 'string') return String(path[i]);
  return '?';
}

/**
 * 2026 validates nested option schemas recursively (vol.Self): each mapping level costs Python about five
 * stack frames and each list level three, and past its recursion limit (1000 frames) the Supervisor fails
 * with RecursionError. Measured with the Supervisor's own schema: 195 mapping levels pass, 196 fail; 122
 * mapping-and-list levels pass, 123 fail. The Supervisor's own stack is deeper when it reads a store, so
 * its real limit is a little lower.
 */
const MAP_FRAMES = 5;
const LIST_FRAMES = 3;
const PYTHON_FRAMES = 977;

function parseNode(
  value: unknown,
  path: (string | number)[],
  level: Level,
  problems: SchemaProblem[],
  context: SchemaContext,
  frames: number,
): OptionsSchemaNode {
  const era = context.era;
  const nested = Array.isArray(value) ? frames + LIST_FRAMES : value !== null && typeof value === 'object' && !(value instanceof Date) ? frames + MAP_FRAMES : frames;
  if (nested > PYTHON_FRAMES) {
    problems.push({ path, severity: 'error', code: 'schema-nesting', message: `option schemas nested this deeply make the Supervisor fail (Python's recursion limit: about 195 mapping levels, fewer with lists); flatten the schema` });
    return { type: 'invalid' };
  }
  const label = ERA_RULES[era].label;
  if (typeof value === 'string') {
    const parsed = parseSchemaElement(value, era);
    if (!parsed.ok) {
      problems.push({ path, severity: 'error', code: parsed.code ?? 'schema-element', message: `invalid schema type for option '${optionName(path)}': ${parsed.message}` });
      return { type: 'invalid' };
    }
    for (const note of parsed.notes) {
      problems.push({ path, severity: 'warning', code: 'schema-element', message: `schema type ${show(value)}: ${note}` });
    }
    if (parsed.element.kind === 'none') {
      problems.push({
        path,
        severity: 'warning',
        code: 'schema-element-empty',
        message: `empty schema type for option '${optionName(path)}': the Supervisor accepts it, but refuses every value given for this option`,
      });
    }
    const element = parsed.element;
    if (element.kind === 'match') {
      const compiled = compilePythonRegex(element.pattern!);
      if (!compiled.ok && compiled.error) {
        problems.push({
          path,
          severity: 'error',
          code: 'schema-regex',
          message: `the regular expression in ${show(value)} does not compile in Python (${compiled.error.exception}: ${compiled.error.message}); the Supervisor fails when it checks a value of this option`,
        });
      }
    }
    if (element.kind === 'device' && element.subsystem !== undefined && !UDEV_SUBSYSTEMS.includes(element.subsystem)) {
      problems.push({
        path,
        severity: 'error',
        code: 'schema-subsystem',
        message: `unknown device subsystem '${element.subsystem}'${didYouMean(element.subsystem, UDEV_SUBSYSTEMS)}: the Supervisor fails when it checks a device for this option; the subsystems are ${UDEV_SUBSYSTEMS.join(', ')}`,
      });
    }
    if (era === '2026' && (element.kind === 'str' || element.kind === 'password') && (element.min !== undefined || element.max !== undefined)) {
      problems.push({ path, severity: 'warning', code: 'compat-2025', message: `${STR_BOUNDS_2025}; write ${element.kind} without bounds to support it` });
    }
    return { type: 'element', element };
  }
  if (Array.isArray(value)) {
    if (level === 'item' || level === 'l2item' || level === 'l3item') {
      problems.push({ path, severity: 'error', code: 'schema-nesting', message: `a list directly inside a list is not allowed in option schemas; use a list of mappings` });
      return { type: 'invalid' };
    }
    if (value.length === 0) {
      problems.push({ path, severity: 'error', code: 'schema-empty-list', message: `empty list as schema for option '${optionName(path)}': the Supervisor installs the add-on but fails on it when it starts ("Type error" or "Missing option"); write [str] or the item type` });
      return { type: 'list', item: null };
    }
    if (value.length > 1) {
      problems.push({ path: [...path, 1], severity: 'warning', code: 'schema-list-extra', message: `only the first item of a list schema is used; the Supervisor ignores the other ${value.length - 1}` });
    }
    const itemLevel: Level = level === 'value' ? 'item' : level === 'l1' ? 'l2item' : 'l3item';
    const items = value.map((item, index) => parseNode(item, [...path, index], itemLevel, problems, context, nested));
    return { type: 'list', item: items[0]! };
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    if (level === 'l3' || level === 'l3item') {
      problems.push({ path, severity: 'error', code: 'schema-nesting', message: `${label} allows option mappings only two levels deep; flatten this or require Supervisor 2026` });
      return { type: 'invalid' };
    }
    const childLevel: Level = era === '2026' ? 'value' : 'l3';
    const fields = new Map<string, OptionsSchemaNode>();
    for (const [key, child] of Object.entries(value)) {
      checkKey([...path, key], problems, context);
      fields.set(key, parseNode(child, [...path, key], childLevel, problems, context, nested));
    }
    return { type: 'map', fields };
  }
  problems.push({
    path,
    severity: 'error',
    code: 'schema-element',
    message: `schema for option '${optionName(path)}' must be a type string such as 'str', a list or a mapping, not ${typeName(value)}`,
  });
  return { type: 'invalid' };
}

// --- option defaults ------------------------------------------------------------------------------

/**
 * The Supervisor installs an add-on whatever its defaults are, but refuses to start it with options
 * that fail the schema: a warning (it does not refuse the add-on), worded as what will happen.
 */
const REFUSED_AT_START = '; the Supervisor refuses to start the add-on with this default ("invalid options") until the user changes it';

export interface OptionsContext {
  era: Era;
  /** Whether the number at this path was written as a float (`1.0`): Python's str() then says "1.0". */
  isFloat(path: (string | number)[]): boolean;
}

/**
 * Check the `options` defaults against the parsed schema, as AppOptions does when the add-on starts.
 *
 * Left to the user on purpose (docs/limits.md): a required option that is missing or null, and a
 * `!secret NAME` default. The Supervisor refuses to start the add-on until the user sets them (or
 * Home Assistant's secrets define NAME), which is how add-ons ask for a password or token on first
 * start. A null default of an optional element is reported (option-null): leaving it out is what is meant.
 */
export function checkOptions(options: Record<string, unknown>, schema: Map<string, OptionsSchemaNode>, context: OptionsContext): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  checkMap(options, schema, ['options'], problems, context);
  return problems;
}

function checkMap(
  values: Record<string, unknown>,
  fields: Map<string, OptionsSchemaNode>,
  path: (string | number)[],
  problems: SchemaProblem[],
  context: OptionsContext,
): void {
  for (const [key, value] of Object.entries(values)) {
    const node = fields.get(key);
    if (!node) {
      problems.push({
        path: [...path, key],
        severity: 'warning',
        code: 'unknown-option',
        atKey: true,
        message: `option '${key}' is not in the schema${didYouMean(key, fields.keys())}; the Supervisor drops it when the add-on starts`,
      });
      continue;
    }
    checkValue(value, node, [...path, key], key, problems, context);
  }
}

function checkValue(
  value: unknown,
  node: OptionsSchemaNode,
  path: (string | number)[],
  name: string,
  problems: SchemaProblem[],
  context: OptionsContext,
): void {
  switch (node.type) {
    case 'invalid':
      return;
    case 'list':
      if (!Array.isArray(value)) {
        if (value !== null) {
          problems.push({ path, severity: 'warning', code: 'option-invalid', message: `default for option '${name}' must be a list, not ${typeName(value)}${REFUSED_AT_START}` });
        }
        return;
      }
      if (node.item) value.forEach((item, index) => checkValue(item, node.item!, [...path, index], name, problems, context));
      return;
    case 'map':
      if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) {
        if (value !== null) {
          problems.push({ path, severity: 'warning', code: 'option-invalid', message: `default for option '${name}' must be a mapping, not ${typeName(value)}${REFUSED_AT_START}` });
        }
        return;
      }
      checkMap(value as Record<string, unknown>, node.fields, path, problems, context);
      return;
    case 'element': {
      if (value === null || value === undefined) {
        if (node.element.optional) {
          problems.push({
            path,
            severity: 'warning',
            code: 'option-null',
            message: `option '${name}' is optional but its default is null, which the Supervisor refuses ("Missing required option") when the add-on starts; leave it out of options instead`,
          });
        }
        return;
      }
      if (pyStr(value).startsWith('!secret ')) return;
      const problem = elementProblem(value, node.element, context.era, context.isFloat(path));
      if (problem) {
        problems.push({ path, severity: 'warning', code: 'option-invalid', message: `default ${show(value)} for option '${name}' ${problem}${REFUSED_AT_START}` });
      }
    }
  }
}

function rangeProblem(value: number, element: SchemaElement, what: string): string | null {
  if (Number.isNaN(value) && (element.min !== undefined || element.max !== undefined)) return `is not in the range of ${what}`;
  if (element.min !== undefined && !(value >= element.min)) return `must be at least ${element.min}`;
  if (element.max !== undefined && !(value <= element.max)) return `must be at most ${element.max}`;
  return null;
}

/**
 * Why `value` fails `element` when the era's Supervisor validates it, or null if it passes. `isFloat`:
 * the number was written as a float, which matters where Python compares its text (match, list).
 */
export function elementProblem(value: unknown, element: SchemaElement, era: Era = '2026', isFloat = false): string | null {
  switch (element.kind) {
    case 'none':
      return 'cannot be valid: the schema type is empty';
    case 'str':
    case 'password': {
      if (typeof value !== 'string') return `must be a string (quote it), not ${typeName(value)}`;
      if (era === '2025' && (element.min !== undefined || element.max !== undefined)) return `is refused: ${STR_BOUNDS_2025}`;
      const length = pyLen(value);
      if (element.min !== undefined && length < element.min) return `must be at least ${element.min} characters long`;
      if (element.max !== undefined && length > element.max) return `must be at most ${element.max} characters long`;
      return null;
    }
    case 'int': {
      const n = pyInt(value);
      if (!n.ok) return 'is not a whole number';
      return rangeProblem(n.value, element, 'int');
    }
    case 'float': {
      const n = pyFloat(value);
      if (!n.ok) return 'is not a number';
      return rangeProblem(n.value, element, 'float');
    }
    case 'bool':
      return pyBoolean(value).ok ? null : 'is not a boolean (true/false)';
    case 'email':
      return isPyEmail(value) ? null : 'is not an email address';
    case 'url':
      return isPyUrl(value) ? null : 'is not a URL with a scheme and host';
    case 'port': {
      const n = pyInt(value);
      if (!n.ok) return 'is not a port number';
      return n.value >= 1 && n.value <= 65535 ? null : 'is not a port number between 1 and 65535';
    }
    case 'match': {
      const compiled = compilePythonRegex(element.pattern!);
      if (!compiled.ok) return null; // Reported on the schema itself, or not checkable here.
      const text = pyStr(value, isFloat);
      // null: the match was given up (the pattern backtracks exponentially on this text), so no verdict.
      if (compiled.regex.match(text) !== false) return null;
      return `does not match ${show(element.pattern)}${text !== value ? ` (Python compares its text ${show(text)})` : ''}`;
    }
    case 'list': {
      const text = pyStr(value, isFloat);
      return element.choices!.includes(text) ? null : `is not one of ${element.choices!.map((c) => show(c)).join(', ')}${text !== value ? ` (Python compares its text ${show(text)})` : ''}`;
    }
    case 'device':
      return typeof value === 'string' ? null : `must be a device path string, not ${typeName(value)}`;
  }
}

/** Whether any match(...) of an options schema uses \N{...}, whose names must be loaded before checking. */
export function schemaUsesCharacterNames(schema: unknown): boolean {
  // Iterative: a schema may be nested thousands deep (or hold itself, through YAML aliases).
  const pending = [schema];
  const seen = new Set<unknown>();
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') {
      if (value.includes('\\N')) return true;
    } else if (value !== null && typeof value === 'object' && !seen.has(value)) {
      seen.add(value);
      pending.push(...Object.values(value));
    }
  }
  return false;
}
