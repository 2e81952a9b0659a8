/**
 * Validation of config, build and repository files with Supervisor parity.
 *
 * The Supervisor processes a config in three steps (apps/validate.py): `_migrate_app_config` repairs old
 * forms with a log line, `_warn_app_config` logs advisories (and refuses one combination), then the
 * voluptuous schema refuses or coerces. The same steps run here, in the same order, producing findings
 * by path; callers turn paths into file positions. What the Supervisor refuses is an error; what it
 * repairs, skips, coerces or ignores is a warning that says what it will do.
 */
import type { FindingCode } from '../util/codes.js';
import type { ErrorObject } from 'ajv';
import type { LocatedDocument, PathSegment } from './document.js';
import { pathKey } from './document.js';
import { HA_ARCHES, OPT_IN_ARCHES } from './arch.js';
import { ERA_RULES, INGRESS_DYNAMIC_PORT_MAX, INGRESS_DYNAMIC_PORT_MIN, type Era, type EraRules } from './eras.js';
import { CONFIG_KEYS, BUILD_KEYS, LEGACY_BUILD_KEYS, REPOSITORY_KEYS, TRANSLATION_KEYS, buildFromProblem, keysFor, type FileKind } from './schemas.js';
import { validatorFor } from './validators.js';
import { checkOptions, parseOptionsSchema, type OptionsSchemaNode } from './options-schema.js';
import { isPyDict, pyBoolean, pyInt, pyMatch, pyTruthy, pythonIntText, PyBytes, PySet } from './python-values.js';
import { didYouMean, show, typeName } from '../util/text.js';

export interface Finding {
  path: PathSegment[];
  /** Point at the key of the entry rather than its value. */
  atKey?: boolean;
  /** The finding concerns the file as a whole (no line). */
  wholeFile?: boolean;
  severity: 'error' | 'warning';
  code: FindingCode;
  message: string;
}

export type PlainObject = Record<string, unknown>;

/** A Python dict as read from YAML or JSON (not a list, set, date or bytes). */
export function isPlainObject(value: unknown): value is PlainObject {
  return isPyDict(value);
}

/** Python truthiness, which the Supervisor's advisory checks use on raw values. */
function truthy(value: unknown): boolean {
  return pyTruthy(value);
}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Set a value in a copy-on-write way: the containers along the path are copied, the input is never changed. */
function setAt(root: unknown, path: readonly PathSegment[], value: unknown): void {
  let node = root as Record<string | number, unknown>;
  for (const segment of path.slice(0, -1)) {
    const child = node[segment] as Record<string | number, unknown>;
    const copy = Array.isArray(child) ? [...child] : { ...child };
    node[segment] = copy;
    node = copy as Record<string | number, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function getAt(root: unknown, path: readonly PathSegment[]): unknown {
  let node = root;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

/** Where the document's keys and values came from after migrations renamed or re-indexed them. */
class Origins {
  private readonly map = new Map<string, PathSegment[]>();
  set(now: PathSegment[], original: PathSegment[]): void {
    this.map.set(pathKey(now), original);
  }
  /** Translate a path in the migrated config back to the source document. */
  original(path: readonly PathSegment[]): PathSegment[] {
    for (let n = path.length; n > 0; n--) {
      const hit = this.map.get(pathKey(path.slice(0, n)));
      if (hit) return [...hit, ...path.slice(n)];
    }
    return [...path];
  }
}

export interface KeyInfo {
  /** False when the key at this path was a number, boolean or null in the YAML source. */
  keyIsString(path: PathSegment[]): boolean;
  keySource(path: PathSegment[]): string | undefined;
  /** Whether the number at this path was written as a float. */
  valueIsFloat(path: PathSegment[]): boolean;
}

export function keyInfoOf(doc: LocatedDocument): KeyInfo {
  return {
    keyIsString: (path) => doc.keyKind(path) === undefined,
    keySource: (path) => doc.keyKind(path)?.source,
    valueIsFloat: (path) => doc.valueIsFloat(path),
  };
}

// --- ajv errors to findings ------------------------------------------------------------------------

interface SchemaCheck {
  findings: Finding[];
  /** The value with the Supervisor's coercions applied where they succeeded. */
  coerced: unknown;
}

function label(path: readonly PathSegment[]): string {
  if (path.length === 0) return 'the file';
  return path
    .map((segment, index) => (typeof segment === 'number' ? `[${segment}]` : index === 0 ? segment : `.${segment}`))
    .join('');
}

function expectedType(schema: Record<string, unknown>): string {
  const types = ([] as string[]).concat(schema['type'] as string | string[]);
  const words: Record<string, string> = {
    string: 'a string',
    boolean: 'true or false',
    integer: 'a whole number',
    number: 'a number',
    object: 'a mapping',
    array: 'a list',
    null: 'null',
  };
  return types.map((t) => words[t] ?? t).join(' or ');
}

/** Run ajv and translate its errors, applying the Supervisor's coercions (`x-coerce`). */
function checkSchema(kind: FileKind, era: Era, value: PlainObject, keys: KeyInfo, origins: Origins): SchemaCheck {
  const validate = validatorFor(kind, era);
  // Deep values stay shared: only what a coercion changes is copied (see setAt).
  const coerced = { ...value };
  const findings: Finding[] = [];
  if (validate(value)) return { findings, coerced };
  const errors = (validate.errors ?? []) as ErrorObject[];
  const seen = new Set<string>();
  for (const error of errors) {
    const path: PathSegment[] = decodePointer(error.instancePath).map((s, i, all) => {
      const parent = getAt(value, all.slice(0, i));
      return Array.isArray(parent) ? Number(s) : s;
    });
    const finding = translate(error, path, kind, era, coerced, keys, origins);
    if (!finding) continue;
    const id = `${pathKey(finding.path)}|${finding.code}|${finding.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    findings.push(finding);
  }
  return { findings, coerced };
}

function translate(
  error: ErrorObject,
  path: PathSegment[],
  kind: FileKind,
  era: Era,
  coerced: unknown,
  keys: KeyInfo,
  origins: Origins,
): Finding | null {
  const parentSchema = (error.parentSchema ?? {}) as Record<string, unknown>;
  const data = error.data;
  const where = label(path);
  const original = origins.original(path);
  const rules = ERA_RULES[era];

  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String((error.params as { additionalProperty: string }).additionalProperty);
      const keyPath = [...original, key];
      if (path.length === 0) return unknownTopLevelKey(kind, era, key, keyPath, keys);
      return { path: keyPath, atKey: true, severity: 'error', code: 'unknown-key', message: `${where} has an unknown key '${key}'; allowed: ${Object.keys((parentSchema['properties'] ?? {}) as object).join(', ')}` };
    }
    case 'required': {
      const key = (error.params as { missingProperty: string }).missingProperty;
      return { path: original, wholeFile: path.length === 0, severity: 'error', code: 'missing-key', message: path.length === 0 ? `missing required key '${key}'` : `${where} is missing the required key '${key}'` };
    }
    case 'type':
      return typeProblem(path, original, data, parentSchema, coerced);
    case 'enum': {
      const allowed = (parentSchema['enum'] ?? []) as string[];
      if (path[0] === 'arch' && typeof data === 'string' && (OPT_IN_ARCHES as readonly string[]).includes(data)) {
        return { path: original, severity: 'error', code: 'unknown-arch', message: `'${data}' is not a Home Assistant arch, so the Supervisor refuses the add-on; remove it and build ${data} images with the --${data} flag instead` };
      }
      if (path[0] === 'arch') {
        return { path: original, severity: 'error', code: 'unknown-arch', message: `unknown arch ${show(data)}${didYouMean(String(data), allowed)}; Home Assistant arches are ${HA_ARCHES.join(', ')}` };
      }
      return { path: original, severity: 'error', code: 'invalid-value', message: `${where} is ${show(data)}${typeof data === 'string' ? didYouMean(data, allowed) : ''}; expected one of ${allowed.join(', ')}` };
    }
    case 'pattern': {
      const params = error.params as { pattern: string };
      const why = path[0] === 'build_from' && typeof data === 'string' ? buildFromProblem(data) : ((parentSchema['x-message'] as string | undefined) ?? `it must match ${params.pattern}`);
      const propertyName = (error as ErrorObject & { propertyName?: string }).propertyName;
      if (propertyName !== undefined) {
        return { path: [...original, propertyName], atKey: true, severity: 'error', code: 'invalid-key', message: `${where} key ${show(propertyName)} is invalid: ${why}` };
      }
      return { path: original, severity: 'error', code: path[0] === 'slug' ? 'invalid-slug' : 'invalid-value', message: `${where} ${show(data)} is invalid: ${why}` };
    }
    case 'propertyNames':
      return null; // Reported through the inner keyword, which carries the property name.
    case 'minimum':
    case 'maximum': {
      // vol.Coerce(int) truncates first (300.9 is 300): the type check judges the range of the result.
      if (parentSchema['x-coerce'] === 'int' && !Number.isInteger(data)) return null;
      const limit = (error.params as { limit: number }).limit;
      return { path: original, severity: 'error', code: 'out-of-range', message: `${where} is ${show(data)}; it must be ${error.keyword === 'minimum' ? 'at least' : 'at most'} ${limit}` };
    }
    case 'minLength':
      return { path: original, severity: 'error', code: 'empty-value', message: `${where} must not be empty` };
    case 'uniqueItems': {
      const { i, j } = error.params as { i: number; j: number };
      return { path: [...original, i], severity: 'error', code: 'duplicate-item', message: `${where} lists ${show((data as unknown[])[i])} twice (also item ${j + 1}); the Supervisor refuses duplicates here` };
    }
    case 'const':
      return { path: original, severity: 'error', code: 'invalid-value', message: `${where} must be a mapping of options or false, not true` };
    case 'if':
      return null;
    case 'supervisorUrl':
    case 'supervisorEmail':
      return { path: original, severity: 'error', code: 'invalid-value', message: `${where} ${show(data)} is invalid: ${error.message}` };
    case 'dockerImage':
      return { path: original, severity: 'error', code: 'invalid-image', message: `${where} ${show(data)} is invalid for ${rules.label}: ${error.message}` };
    default:
      return { path: original, severity: 'error', code: 'invalid-value', message: `${where}: ${error.message ?? 'invalid'}` };
  }
}

function typeProblem(
  path: PathSegment[],
  original: PathSegment[],
  data: unknown,
  schema: Record<string, unknown>,
  coerced: unknown,
): Finding | null {
  const where = label(path);
  const coerce = schema['x-coerce'];
  if (coerce === 'bool') {
    const result = pyBoolean(data);
    if (!result.ok) {
      return { path: original, severity: 'error', code: 'invalid-type', message: `${where} must be true or false, not ${show(data)}` };
    }
    setAt(coerced, path, result.value);
    return { path: original, severity: 'warning', code: 'coerced-value', message: `${where} is ${typeName(data)} (${show(data)}); the Supervisor reads it as ${result.value}, write ${result.value}` };
  }
  if (coerce === 'int') {
    const result = pyInt(data);
    if (!result.ok) {
      return { path: original, severity: 'error', code: 'invalid-type', message: `${where} must be ${expectedType(schema)}, not ${typeName(data)} (${show(data)})` };
    }
    const exactZero = schema['x-exact-zero'] === true;
    const min = schema['minimum'] as number | undefined;
    const max = schema['maximum'] as number | undefined;
    // vol.Any(network_port, vol.Equal(0)): 0 only as the literal 0 (or False, which equals 0 in Python).
    const zeroRefused = exactZero && result.value === 0 && data !== false;
    const low = exactZero ? 1 : min;
    if (zeroRefused || (result.value !== 0 || !exactZero) && ((low !== undefined && result.value < low) || (max !== undefined && result.value > max))) {
      return { path: original, severity: 'error', code: 'out-of-range', message: `${where} ${show(data)} is read as ${result.value}, which is out of range${describeRange(schema)}` };
    }
    setAt(coerced, path, result.value);
    return { path: original, severity: 'warning', code: 'coerced-value', message: `${where} is ${typeName(data)} (${show(data)}); the Supervisor converts it to ${result.value}, write ${result.value}` };
  }
  const expected = expectedType(schema);
  const quoteHint =
    expected.includes('a string') && (typeof data === 'number' || typeof data === 'boolean' || data instanceof Date)
      ? `; put it in quotes (YAML reads ${show(data)} as ${typeName(data)})`
      : '';
  return { path: original, severity: 'error', code: 'invalid-type', message: `${where} must be ${expected}, not ${typeName(data)}${quoteHint}` };
}

function describeRange(schema: Record<string, unknown>): string {
  const min = schema['minimum'];
  const max = schema['maximum'];
  if (schema['x-exact-zero'] === true) return ` (0, or 1 to ${max})`;
  if (min !== undefined && max !== undefined) return ` (${min} to ${max})`;
  if (min !== undefined) return ` (at least ${min})`;
  if (max !== undefined) return ` (at most ${max})`;
  return '';
}

function unknownTopLevelKey(kind: FileKind, era: Era, key: string, keyPath: PathSegment[], keys: KeyInfo): Finding | null {
  const table = kind === 'config' ? CONFIG_KEYS : kind === 'build' ? BUILD_KEYS : kind === 'translation' ? TRANSLATION_KEYS : REPOSITORY_KEYS;
  if (kind === 'config' && key === 'codenotary' && era === '2026') return null; // Its own advisory below.
  if (kind === 'build' && LEGACY_BUILD_KEYS.includes(key)) {
    return { path: keyPath, atKey: true, severity: 'warning', code: 'legacy-key', message: `'${key}' is a legacy build option the Supervisor ignores; remove it` };
  }
  const source = keys.keySource(keyPath);
  if (source !== undefined) {
    return { path: keyPath, atKey: true, severity: 'warning', code: 'unknown-key', message: `key ${source} is read as ${show(key)} by YAML 1.1, not as text; the Supervisor drops it (quote the key)` };
  }
  const otherEra = table.find((spec) => spec.key === key && spec.eras && !spec.eras.includes(era));
  if (otherEra) {
    return { path: keyPath, atKey: true, severity: 'warning', code: 'unknown-key', message: `'${key}' is known only to Supervisor ${otherEra.eras!.join(', ')}; ${ERA_RULES[era].label} drops it` };
  }
  const known = keysFor(table, era).map((spec) => spec.key);
  return { path: keyPath, atKey: true, severity: 'warning', code: 'unknown-key', message: `unknown key '${key}'${didYouMean(key, known)}; the Supervisor drops it` };
}

// --- config ----------------------------------------------------------------------------------------

export interface ConfigResult {
  findings: Finding[];
  /** Migrated, coerced config with defaults, or null when the file is not a mapping. */
  config: PlainObject | null;
  /** The parsed options schema, when `schema` is a mapping. */
  optionsSchema: Map<string, OptionsSchemaNode> | null;
}

/** `_migrate_app_config`: repair old forms, recording what moved where. */
function migrate(config: PlainObject, rules: EraRules, findings: Finding[], origins: Origins): void {
  const warn = (path: PathSegment[], code: FindingCode, message: string, atKey = false) =>
    findings.push({ path, atKey, severity: 'warning', code, message });

  if (config['startup'] === 'before' || config['startup'] === 'after') {
    const replacement = config['startup'] === 'before' ? 'services' : 'application';
    warn(['startup'], 'deprecated-value', `startup '${config['startup']}' is deprecated; the Supervisor reads it as '${replacement}', write that`);
    config['startup'] = replacement;
  }
  if ('auto_uart' in config) {
    warn(['auto_uart'], 'deprecated-key', "'auto_uart' is deprecated; the Supervisor moves it to 'uart', rename it", true);
    config['uart'] = config['auto_uart'];
    delete config['auto_uart'];
    origins.set(['uart'], ['auto_uart']);
  }
  if ('devices' in config) migrateDevices(config, findings);
  if ('tmpfs' in config && typeof config['tmpfs'] !== 'boolean') {
    warn(['tmpfs'], 'deprecated-value', `'tmpfs' as ${typeName(config['tmpfs'])} is deprecated; the Supervisor reads it as true, write true`);
    config['tmpfs'] = true;
  }
  for (const entry of ['snapshot_exclude', 'snapshot_post', 'snapshot_pre', 'snapshot']) {
    if (entry in config) {
      const renamed = entry.replace('snapshot', 'backup');
      warn([entry], 'deprecated-key', `'${entry}' is deprecated; the Supervisor renames it to '${renamed}', rename it`, true);
      config[renamed] = config[entry];
      delete config[entry];
      origins.set([renamed], [entry]);
    }
  }
  migrateMap(config, rules, findings, origins);
}

/** What Python's `for x in value` yields, or null where it raises TypeError. */
function pyIterate(value: unknown): unknown[] | null {
  if (typeof value === 'string') return [...value];
  if (Array.isArray(value)) return value;
  if (isPlainObject(value)) return Object.keys(value);
  if (value instanceof PySet) return value.items;
  if (value instanceof PyBytes) return [...value.bytes];
  return null;
}

/** Python's `":" in x`, or null where it raises TypeError. */
function pyContainsColon(value: unknown): boolean | null {
  if (typeof value === 'string') return value.includes(':');
  if (Array.isArray(value)) return value.includes(':');
  if (isPlainObject(value)) return ':' in value;
  if (value instanceof PySet) return value.items.includes(':');
  return null;
}

/** Device 2021-01-20: `any(":" in line for line in devices)`, then `line.split(":")[0]` for each. */
function migrateDevices(config: PlainObject, findings: Finding[]): void {
  const devices = config['devices'];
  const lines = pyIterate(devices);
  const fails = (why: string) =>
    findings.push({ path: ['devices'], severity: 'error', code: 'invalid-type', message: `devices must be a list of device paths; the Supervisor fails on ${why}` });
  if (lines === null) return void fails(`${typeName(devices)}, which it cannot iterate`);
  let any = false;
  for (const line of lines) {
    const contains = pyContainsColon(line);
    if (contains === null) return void fails(`the entry ${show(line)}, which is not text`);
    if (contains) {
      any = true;
      break;
    }
  }
  if (!any) return;
  if (lines.some((line) => typeof line !== 'string')) return void fails('an entry that is not text');
  if (typeof devices === 'string') {
    // Python iterates the string: every letter becomes a "device", which no one means.
    findings.push({ path: ['devices'], severity: 'warning', code: 'invalid-devices', message: `devices must be a list of paths; the Supervisor splits the string ${show(devices)} into single letters and uses those as device paths` });
  } else if (isPlainObject(devices)) {
    findings.push({ path: ['devices'], severity: 'warning', code: 'invalid-devices', message: 'devices must be a list of paths; the Supervisor uses the keys of this mapping (the part before the first \':\') and ignores their values' });
  } else {
    findings.push({ path: ['devices'], severity: 'warning', code: 'deprecated-value', message: "'devices' entries with ':' (path:path:rights) are deprecated; the Supervisor keeps only the part before the first ':', list plain paths" });
  }
  config['devices'] = (lines as string[]).map((line) => line.split(':')[0]);
}

function migrateMap(config: PlainObject, rules: EraRules, findings: Finding[], origins: Origins): void {
  const raw = config['map'];
  if (raw === undefined) {
    if (rules.mapRepair === '2026') config['map'] = [];
    return;
  }
  const silent = rules.mapRepair === '2025' ? ' (silently)' : '';
  let entries: { value: unknown; path: PathSegment[] }[];
  if (Array.isArray(raw)) {
    entries = raw.map((value, index) => ({ value, path: ['map', index] }));
  } else if (typeof raw === 'string') {
    // Python iterates a string letter by letter; no single letter is a valid entry.
    findings.push({
      path: ['map'],
      severity: rules.mapRepair === '2026' ? 'warning' : 'error',
      code: 'invalid-map',
      message:
        rules.mapRepair === '2026'
          ? `map must be a list; the Supervisor reads the string ${show(raw)} letter by letter and skips every letter, so nothing is mapped. Write [${raw}]`
          : `map must be a list, not a string; ${rules.label} refuses it. Write [${raw}]`,
    });
    if (rules.mapRepair === '2026') config['map'] = [];
    return;
  } else if (isPlainObject(raw)) {
    if (Object.keys(raw).length > 0) {
      findings.push({ path: ['map'], severity: 'warning', code: 'invalid-map', message: `map must be a list; the Supervisor reads the keys of this mapping (${Object.keys(raw).join(', ')}) as entries and ignores their values` });
    }
    entries = Object.keys(raw).map((key) => ({ value: key, path: ['map', key] }));
  } else {
    findings.push({ path: ['map'], severity: 'error', code: 'invalid-map', message: `map must be a list, not ${typeName(raw)}; the Supervisor fails on it` });
    return;
  }
  const volumes: unknown[] = [];
  for (const { value, path } of entries) {
    if (isPlainObject(value)) {
      if (!('type' in value)) {
        if (rules.mapRepair === '2026') {
          findings.push({ path, severity: 'warning', code: 'invalid-map-entry', message: "map entry has no 'type'; the Supervisor skips it" });
          continue;
        }
        findings.push({ path, severity: 'error', code: 'invalid-map-entry', message: `map entry has no 'type'; ${rules.label} fails on it` });
      }
      origins.set(['map', volumes.length], path);
      volumes.push(value);
    } else if (typeof value === 'string') {
      const match = pyMatch(rules.volumePattern, value);
      if (!match) {
        const name = value.split(':')[0]!;
        findings.push({
          path,
          severity: 'warning',
          code: 'invalid-map-entry',
          message: `invalid map entry ${show(value)}${didYouMean(name, rules.mapTypes)}; the Supervisor skips it${silent}. Entries are TYPE or TYPE:rw / TYPE:ro with TYPE one of ${rules.mapTypes.join(', ')}`,
        });
        continue;
      }
      origins.set(['map', volumes.length], path);
      volumes.push({ type: match[1], read_only: match[2] !== 'rw' });
    } else {
      findings.push({ path, severity: 'warning', code: 'invalid-map-entry', message: `map entry ${show(value)} is neither a string nor a mapping; the Supervisor ignores it` });
    }
  }
  if (rules.mapRepair === '2025' && volumes.length === 0) {
    // 2025.06 replaced the map only when an entry survived; otherwise its schema checks the original.
    if (Array.isArray(raw) && raw.length > 0) {
      findings.push({ path: ['map'], severity: 'error', code: 'invalid-map', message: `no map entry is valid for ${rules.label}, which then refuses the whole map` });
    } else if (!Array.isArray(raw)) {
      return; // The schema reports that it is not a list.
    }
  }
  config['map'] = volumes;

  const types = new Set(volumes.filter(isPlainObject).map((volume) => volume['type']));
  if (types.has('config')) {
    const conflicting = ['app_config', 'addon_config', 'homeassistant_config'].filter((t) => types.has(t));
    const configIndex = volumes.findIndex((volume) => isPlainObject(volume) && volume['type'] === 'config');
    findings.push({
      path: origins.original(['map', configIndex]),
      severity: 'warning',
      code: 'deprecated-map',
      message:
        conflicting.length > 0
          ? `map 'config' cannot be combined with ${conflicting.join(', ')}; the Supervisor ignores those when 'config' is present`
          : "map 'config' is deprecated; use 'homeassistant_config'",
    });
  }
  if (rules.era === '2026') {
    for (const [legacy, current] of Object.entries(rules.legacyMapTypes)) {
      if (types.has(legacy) && types.has(current)) {
        const index = volumes.findIndex((volume) => isPlainObject(volume) && volume['type'] === legacy);
        findings.push({ path: origins.original(['map', index]), severity: 'warning', code: 'deprecated-map', message: `map has both '${current}' and the legacy '${legacy}'; the Supervisor ignores '${legacy}'` });
      }
    }
  }
}

/** `_warn_app_config`: advisories, and the dynamic ingress port refusal. */
function advise(config: PlainObject, rules: EraRules, findings: Finding[], origins: Origins): void {
  const warn = (path: PathSegment[], code: FindingCode, message: string, atKey = false) =>
    findings.push({ path: origins.original(path), atKey, severity: 'warning', code, message });

  if (rules.advancedDeprecated && 'advanced' in config) {
    warn(['advanced'], 'deprecated-key', "'advanced' is deprecated since Supervisor 2026.03 and ignored; remove it", true);
  }
  if (truthy(config['full_access']) && ['devices', 'uart', 'usb', 'gpio'].some((key) => truthy(config[key]))) {
    warn(['full_access'], 'redundant-access', 'full_access gives access to every device; the selective devices/uart/usb/gpio settings are redundant and ignored');
  }
  if (config['backup'] === 'cold' && (truthy(config['backup_pre']) || truthy(config['backup_post']))) {
    warn(['backup'], 'ignored-key', 'backup is cold, so the Supervisor ignores backup_pre and backup_post');
  }
  const arches = config['arch'];
  if (Array.isArray(arches)) {
    arches.forEach((arch, index) => {
      if ((rules.deprecatedArches as readonly unknown[]).includes(arch)) {
        warn(['arch', index], 'deprecated-arch', `arch '${arch}' is deprecated since Supervisor 2026.03; it still installs, with a warning`);
      }
    });
  }
  const machines = config['machine'];
  if (Array.isArray(machines)) {
    machines.forEach((machine, index) => {
      if (typeof machine === 'string' && rules.deprecatedMachines.includes(machine.replace(/^!+/, ''))) {
        warn(['machine', index], 'deprecated-machine', `machine '${machine}' is deprecated`);
      }
    });
  }
  if (rules.codenotary === 'deprecated' && 'codenotary' in config) {
    warn(['codenotary'], 'deprecated-key', "'codenotary' is no longer used; the Supervisor ignores it, remove it", true);
  }
  const volumes = config['map'];
  if (Array.isArray(volumes)) {
    volumes.forEach((volume, index) => {
      if (!isPlainObject(volume)) return;
      const replacement = rules.legacyMapTypes[String(volume['type'])];
      if (replacement) warn(['map', index], 'legacy-map-type', `map type '${volume['type']}' is a legacy name; use '${replacement}'`);
    });
  }
  const ingressPort = config['ingress_port'];
  // `config.get(ATTR_INGRESS_PORT) == 0`: False and 0.0 are equal to 0 in Python.
  if (rules.dynamicIngressPortCheck && truthy(config['ingress']) && (ingressPort === 0 || ingressPort === false) && isPlainObject(config['ports'])) {
    for (const containerPort of Object.keys(config['ports'])) {
      const number = containerPort.split('/')[0]!;
      const value = /^\p{Nd}+$/u.test(number) ? pythonIntText(number) : null;
      if (value !== null && value >= INGRESS_DYNAMIC_PORT_MIN && value <= INGRESS_DYNAMIC_PORT_MAX) {
        findings.push({
          path: origins.original(['ports', containerPort]),
          atKey: true,
          severity: 'error',
          code: 'ingress-port-conflict',
          message: `ingress_port 0 picks a port between ${INGRESS_DYNAMIC_PORT_MIN} and ${INGRESS_DYNAMIC_PORT_MAX}, so port ${number} must not be mapped to the host; the Supervisor refuses this`,
        });
      }
    }
  }
}

/** Keys whose mapping keys the Supervisor requires to be strings: error, or silently dropped. */
const STRING_KEYED: Record<string, 'error' | 'dropped'> = {
  ports: 'error',
  ports_description: 'error',
  environment: 'dropped',
  ulimits: 'dropped',
};

function nonStringKeys(config: PlainObject, era: Era, keys: KeyInfo, findings: Finding[]): void {
  for (const [field, keyed] of Object.entries(STRING_KEYED)) {
    // Inside the REMOVE_EXTRA schema, voluptuous 0.16.0 (2026) drops a key its key schema refuses;
    // 0.15.2 (Supervisor 2025.06) reports it.
    // A key the era does not know is dropped whole (2025.06 has no ulimits), with its own warning.
    if (!keysFor(CONFIG_KEYS, era).some((spec) => spec.key === field)) continue;
    const effect = keyed === 'dropped' && era === '2025' ? 'error' : keyed;
    const value = config[field];
    if (!isPlainObject(value)) continue;
    for (const key of Object.keys(value)) {
      const source = keys.keySource([field, key]);
      if (source === undefined) continue;
      findings.push({
        path: [field, key],
        atKey: true,
        severity: effect === 'error' ? 'error' : 'warning',
        code: 'key-not-string',
        message:
          effect === 'error'
            ? `${field} key ${source} is not a string in YAML, so the Supervisor refuses it; quote it: '${field.startsWith('ports') ? `${key}/tcp` : key}'`
            : `${field} key ${source} is not a string in YAML, so the Supervisor silently drops it; quote it`,
      });
    }
  }
}

/**
 * version_tag accepts any value (AwesomeVersion uses its str()). Numbers lose their written form
 * (1.10 becomes 1.1); lists and mappings become their Python text. An empty version is refused by
 * addonix itself: the image tag is the version.
 */
function checkVersions(config: PlainObject, findings: Finding[]): void {
  const check = (path: PathSegment[], value: unknown) => {
    if (typeof value === 'string' || value === undefined) return;
    if (typeof value === 'number') {
      findings.push({ path, severity: 'warning', code: 'version-number', message: `${label(path)} is the number ${value} in YAML, not text (1.10 would become 1.1); quote it` });
    } else if (value !== null) {
      findings.push({ path, severity: 'warning', code: 'version-not-text', message: `${label(path)} is ${typeName(value)}; the Supervisor uses its Python text as the version, write a quoted version instead` });
    }
  };
  const version = config['version'];
  if (version === null || version === '') {
    findings.push({ path: ['version'], severity: 'error', code: 'missing-version', message: 'version is empty; the Supervisor shows it and the image is tagged with it, so set one (e.g. "1.0.0")' });
  } else {
    check(['version'], version);
  }
  check(['homeassistant'], config['homeassistant']);
  if (Array.isArray(config['breaking_versions'])) config['breaking_versions'].forEach((v, i) => check(['breaking_versions', i], v));
}

/** Keys with defaults and coerced values, as the Supervisor stores the config. */
function applyDefaults(config: PlainObject, era: Era): PlainObject {
  const out: PlainObject = {};
  for (const spec of keysFor(CONFIG_KEYS, era)) {
    if (spec.key in config) out[spec.key] = config[spec.key];
    else if (spec.default !== undefined) out[spec.key] = structuredClone(spec.default);
  }
  return out;
}

export function validateConfigValue(raw: unknown, era: Era, keys: KeyInfo): ConfigResult {
  const rules = ERA_RULES[era];
  const findings: Finding[] = [];
  if (!isPlainObject(raw)) {
    findings.push({
      path: [],
      severity: 'error',
      code: 'not-a-mapping',
      message: raw === null ? 'the file is empty; an add-on config needs name, version, slug, description and arch' : `an add-on config must be a mapping of keys, not ${typeName(raw)}`,
    });
    return { findings, config: null, optionsSchema: null };
  }
  // Migrations replace top-level entries only: a shallow copy keeps the input as it was read.
  const config: PlainObject = { ...raw };
  const origins = new Origins();
  migrate(config, rules, findings, origins);
  advise(config, rules, findings, origins);
  nonStringKeys(config, era, keys, findings);
  const checked = checkSchema('config', era, config, keys, origins);
  findings.push(...checked.findings);
  const coerced = checked.coerced as PlainObject;

  checkVersions(coerced, findings);

  const schemaValue = coerced['schema'];
  // vol.Any(Schema({str: ...}), False): 0 and 0.0 equal False in Python.
  if ('schema' in coerced && !isPlainObject(schemaValue) && schemaValue !== false && schemaValue !== 0) {
    findings.push({ path: ['schema'], severity: 'error', code: 'invalid-value', message: `schema must be a mapping of options or false, not ${typeName(schemaValue)}` });
  }
  if (schemaValue === 0) {
    // Only a bool is replaced by {} at start; AppOptions then iterates 0 and fails (TypeError).
    findings.push({ path: ['schema'], severity: 'error', code: 'schema-zero', message: `schema ${keys.valueIsFloat(['schema']) ? '0.0' : '0'} is read as false when the Supervisor installs the add-on, but it fails on it when the add-on starts; write false` });
  }
  let optionsSchema: Map<string, OptionsSchemaNode> | null = null;
  if (isPlainObject(coerced['schema'])) {
    const parsed = parseOptionsSchema(coerced['schema'], { era, keyIsString: (path) => keys.keyIsString(path) });
    optionsSchema = parsed.root;
    findings.push(...parsed.problems);
    if (isPlainObject(coerced['options'])) findings.push(...checkOptions(coerced['options'], parsed.root, { era, isFloat: (path) => keys.valueIsFloat(path) }));
  }
  return { findings, config: applyDefaults(coerced, era), optionsSchema };
}

// --- build -----------------------------------------------------------------------------------------

export interface BuildResult {
  findings: Finding[];
  /** The build settings the Supervisor uses, or null when it ignores the file (then defaults apply). */
  build: PlainObject | null;
}

export function validateBuildValue(raw: unknown, era: Era, keys: KeyInfo): BuildResult {
  const rules = ERA_RULES[era];
  const findings: Finding[] = [];
  const defaultsNote = `builds with defaults (BUILD_FROM=${rules.defaultBuildFrom('{arch}')})`;
  if (rules.buildFileDeprecated) {
    findings.push({
      path: [],
      wholeFile: true,
      severity: 'warning',
      code: 'deprecated-build-file',
      message: 'build files are deprecated since Supervisor 2026.04; move the base image into the Dockerfile as ARG BUILD_FROM=... (and args/labels into ARG/LABEL)',
    });
  }
  const value = raw;
  if (!isPlainObject(value)) {
    findings.push({ path: [], severity: 'warning', code: 'build-file-ignored', message: `a build file must be a mapping, not ${typeName(value)}; the Supervisor ignores it and ${defaultsNote}` });
    return { findings, build: null };
  }
  const checked = checkSchema('build', era, value, keys, new Origins());
  let ignored = false;
  for (const finding of checked.findings) {
    if (finding.severity === 'error') {
      ignored = true;
      findings.push({ ...finding, severity: 'warning', code: 'build-file-ignored', message: `${finding.message}; so the Supervisor ignores this whole build file and ${defaultsNote}` });
    } else {
      findings.push(finding);
    }
  }
  for (const field of ['args', 'labels']) {
    const map = value[field];
    if (!isPlainObject(map)) continue;
    for (const key of Object.keys(map)) {
      const source = keys.keySource([field, key]);
      if (source === undefined) continue;
      ignored = true;
      findings.push({ path: [field, key], atKey: true, severity: 'warning', code: 'build-file-ignored', message: `${field} key ${source} is not a string in YAML; so the Supervisor ignores this whole build file and ${defaultsNote}. Quote it` });
    }
  }
  if (ignored) return { findings, build: null };
  const build = checked.coerced as PlainObject;
  if (rules.squashIgnored && build['squash'] === true) {
    findings.push({ path: ['squash'], atKey: true, severity: 'warning', code: 'ignored-key', message: 'squash is ignored: Docker BuildKit does not support it' });
  }
  return {
    findings,
    build: {
      build_from: build['build_from'] ?? null,
      squash: build['squash'] ?? false,
      args: build['args'] ?? {},
      labels: build['labels'] ?? {},
    },
  };
}

// --- repository ------------------------------------------------------------------------------------

export function validateRepositoryValue(raw: unknown, era: Era, keys: KeyInfo): { findings: Finding[]; repository: PlainObject | null } {
  if (!isPlainObject(raw)) {
    return {
      findings: [{ path: [], severity: 'error', code: 'not-a-mapping', message: `a repository file must be a mapping with at least 'name', not ${typeName(raw)}; the Supervisor skips the repository` }],
      repository: null,
    };
  }
  const checked = checkSchema('repository', era, raw, keys, new Origins());
  const findings = checked.findings.map((finding) =>
    finding.severity === 'error' ? { ...finding, message: `${finding.message}; the Supervisor skips this whole repository` } : finding,
  );
  return { findings, repository: findings.some((f) => f.severity === 'error') ? null : (checked.coerced as PlainObject) };
}

// --- translations ----------------------------------------------------------------------------------

/** What the Supervisor does with a translation file it cannot use, for messages. */
export const TRANSLATION_DROPPED = 'the Supervisor logs a warning and drops this translation file';

/**
 * `translations/LANG.yaml` against SCHEMA_APP_TRANSLATIONS: the Supervisor drops a file its schema refuses
 * (a warning in its log, the add-on is still installed), so every refusal is a warning here.
 */
export function validateTranslationValue(raw: unknown, era: Era, keys: KeyInfo): { findings: Finding[] } {
  if (!isPlainObject(raw)) {
    return { findings: [{ path: [], severity: 'warning', code: 'translation-dropped', message: `a translation file must be a mapping (configuration, network), not ${typeName(raw)}; ${TRANSLATION_DROPPED}` }] };
  }
  const checked = checkSchema('translation', era, raw, keys, new Origins());
  const findings: Finding[] = [];
  // Keys of {str: ...} mappings that are not text: voluptuous 0.16.0 drops them (and never checks their
  // values), 0.15.2 (2025.06) refuses them.
  const dropped: string[] = [];
  const walk = (map: unknown, path: PathSegment[], nested: boolean) => {
    if (!isPlainObject(map)) return;
    for (const [key, value] of Object.entries(map)) {
      const source = keys.keySource([...path, key]);
      if (source !== undefined) {
        if (era === '2026') dropped.push(pathKey([...path, key]));
        findings.push(
          era === '2025'
            ? { path: [...path, key], atKey: true, severity: 'warning', code: 'translation-dropped', message: `key ${source} is not a string in YAML; ${TRANSLATION_DROPPED}. Quote it` }
            : { path: [...path, key], atKey: true, severity: 'warning', code: 'key-not-string', message: `key ${source} is not a string in YAML, so the Supervisor silently drops it; quote it` },
        );
      }
      if (nested && era === '2026' && isPlainObject(value)) walk(value['fields'], [...path, key, 'fields'], true);
    }
  };
  walk(raw['configuration'], ['configuration'], true);
  walk(raw['network'], ['network'], false);
  for (const finding of checked.findings) {
    const at = pathKey(finding.path);
    if (dropped.some((prefix) => at === prefix || at.startsWith(prefix + '/'))) continue;
    findings.push(finding.severity === 'error' ? { ...finding, severity: 'warning', code: 'translation-dropped', message: `${finding.message}; ${TRANSLATION_DROPPED}` } : finding);
  }
  return { findings };
}
