/**
 * JSON Schemas for add-on files, one per Supervisor era, built from one table of keys so that every key
 * the Supervisor knows is listed once with its type, pattern, enum and default. ajv checks structure, with
 * validators compiled at build time (schema-compiler.ts); validate.ts adds what a schema cannot say (the
 * Supervisor's coercions, repairs and cross-key rules).
 *
 * Vocabulary beyond JSON Schema, understood by validate.ts:
 * - `x-coerce`: "bool" (vol.Boolean) or "int" (vol.Coerce(int)); a value of the wrong JSON type may
 *   still be accepted after coercion, which is then a warning.
 * - `x-exact-zero`: 0 is accepted only as the literal 0 (ingress_port's `vol.Equal(0)`).
 * - `x-message`: what to say when a `pattern` does not match.
 * - `supervisorUrl`, `supervisorEmail`, `dockerImage`: checks with the Supervisor's own semantics
 *   (schema-compiler.ts defines them, schema-runtime.ts implements them).
 */
import { HA_ARCHES } from './arch.js';
import { ERA_RULES, type Era } from './eras.js';

type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const bool: Schema = { type: 'boolean', 'x-coerce': 'bool' };
const int = (minimum?: number, maximum?: number): Schema => ({
  type: 'integer',
  'x-coerce': 'int',
  ...(minimum !== undefined ? { minimum } : {}),
  ...(maximum !== undefined ? { maximum } : {}),
});
const strList: Schema = { type: 'array', items: str };
const oneOf = (values: readonly string[]): Schema => ({ type: 'string', enum: [...values] });
/**
 * version_tag: AwesomeVersion takes any value and uses its Python str(), so the schema accepts all;
 * validate.ts warns about values that are not text.
 */
const version: Schema = {};
const url: Schema = { type: 'string', supervisorUrl: true };
const portKey = { pattern: '^\\d+(?:/tcp|/udp)?$', 'x-message': "port keys are written '8080/tcp', '53/udp' or '8080' (quoted)" };

export interface KeySpec {
  key: string;
  /** Eras whose Supervisor knows the key; both when absent. */
  eras?: readonly Era[];
  required?: boolean;
  schema: (era: Era) => Schema;
  /** The default the Supervisor applies, for documentation and the resolved model. */
  default?: unknown;
}

const always = (schema: Schema) => () => schema;

/** Every key of `_SCHEMA_APP_CONFIG` (2026) and `_SCHEMA_ADDON_CONFIG` (2025.06), in their order. */
export const CONFIG_KEYS: readonly KeySpec[] = [
  { key: 'name', required: true, schema: always({ type: 'string', minLength: 1 }) },
  { key: 'version', required: true, schema: always(version) },
  { key: 'slug', required: true, schema: always({ type: 'string', pattern: '^[-_.A-Za-z0-9]+$', 'x-message': "a slug may contain only letters, digits, '-', '_' and '.'" }) },
  { key: 'description', required: true, schema: always(str) },
  { key: 'arch', required: true, schema: always({ type: 'array', items: oneOf(HA_ARCHES) }) },
  {
    key: 'machine',
    schema: (era) => ({
      type: 'array',
      items: { type: 'string', pattern: ERA_RULES[era].machinePattern, 'x-message': 'not a machine the Supervisor knows (a leading ! excludes one)' },
      uniqueItems: true,
    }),
  },
  { key: 'url', schema: always(url) },
  { key: 'startup', default: 'application', schema: always(oneOf(['initialize', 'system', 'services', 'application', 'once'])) },
  { key: 'boot', default: 'auto', schema: always(oneOf(['auto', 'manual', 'manual_only'])) },
  { key: 'init', default: true, schema: always(bool) },
  { key: 'advanced', default: false, schema: always(bool) },
  { key: 'stage', default: 'stable', schema: always(oneOf(['stable', 'experimental', 'deprecated'])) },
  {
    key: 'ports',
    schema: always({ type: 'object', propertyNames: portKey, additionalProperties: { ...int(1, 65535), type: ['integer', 'null'] } }),
  },
  { key: 'ports_description', schema: always({ type: 'object', propertyNames: portKey, additionalProperties: str }) },
  {
    key: 'watchdog',
    schema: always({
      type: 'string',
      pattern: '^(?:https?|\\[PROTO:\\w+\\]|tcp):\\/\\/\\[HOST\\]:(\\[PORT:\\d+\\]|\\d+).*$',
      'x-message': 'a watchdog URL looks like http://[HOST]:[PORT:8080]/path or tcp://[HOST]:[PORT:8080]',
    }),
  },
  {
    key: 'webui',
    schema: always({
      type: 'string',
      pattern: '^(?:https?|\\[PROTO:\\w+\\]):\\/\\/\\[HOST\\]:\\[PORT:\\d+\\].*$',
      'x-message': 'a webui URL looks like http://[HOST]:[PORT:8080]/path or [PROTO:ssl]://[HOST]:[PORT:8080]',
    }),
  },
  { key: 'ingress', default: false, schema: always(bool) },
  { key: 'ingress_port', default: 8099, schema: always({ ...int(0, 65535), 'x-exact-zero': true }) },
  { key: 'ingress_entry', schema: always(str) },
  { key: 'ingress_stream', default: false, schema: always(bool) },
  { key: 'panel_icon', default: 'mdi:puzzle', schema: always(str) },
  { key: 'panel_title', schema: always(str) },
  { key: 'panel_admin', default: true, schema: always(bool) },
  { key: 'homeassistant', schema: always(version) },
  { key: 'host_network', default: false, schema: always(bool) },
  { key: 'host_pid', default: false, schema: always(bool) },
  { key: 'host_ipc', default: false, schema: always(bool) },
  { key: 'host_uts', default: false, schema: always(bool) },
  { key: 'host_dbus', default: false, schema: always(bool) },
  { key: 'devices', schema: always(strList) },
  { key: 'udev', default: false, schema: always(bool) },
  { key: 'tmpfs', default: false, schema: always(bool) },
  {
    key: 'map',
    default: [],
    schema: (era) => ({
      type: 'array',
      items: {
        type: 'object',
        required: ['type'],
        properties: { type: oneOf(ERA_RULES[era].mapTypes), read_only: { type: 'boolean' }, path: str },
        additionalProperties: false,
      },
    }),
  },
  { key: 'environment', schema: always({ type: 'object', additionalProperties: str }) },
  {
    key: 'privileged',
    schema: always({
      type: 'array',
      items: oneOf(['BPF', 'CHECKPOINT_RESTORE', 'DAC_READ_SEARCH', 'IPC_LOCK', 'NET_ADMIN', 'NET_RAW', 'PERFMON', 'SYS_ADMIN', 'SYS_MODULE', 'SYS_NICE', 'SYS_PTRACE', 'SYS_RAWIO', 'SYS_RESOURCE', 'SYS_TIME']),
    }),
  },
  { key: 'apparmor', default: true, schema: always(bool) },
  { key: 'full_access', default: false, schema: always(bool) },
  { key: 'audio', default: false, schema: always(bool) },
  { key: 'video', default: false, schema: always(bool) },
  { key: 'gpio', default: false, schema: always(bool) },
  { key: 'usb', default: false, schema: always(bool) },
  { key: 'uart', default: false, schema: always(bool) },
  { key: 'devicetree', default: false, schema: always(bool) },
  { key: 'kernel_modules', default: false, schema: always(bool) },
  { key: 'realtime', default: false, schema: always(bool) },
  { key: 'hassio_api', default: false, schema: always(bool) },
  { key: 'hassio_role', default: 'default', schema: always(oneOf(['default', 'homeassistant', 'backup', 'manager', 'admin'])) },
  { key: 'homeassistant_api', default: false, schema: always(bool) },
  { key: 'stdin', default: false, schema: always(bool) },
  { key: 'legacy', default: false, schema: always(bool) },
  { key: 'docker_api', default: false, schema: always(bool) },
  { key: 'auth_api', default: false, schema: always(bool) },
  {
    key: 'services',
    schema: always({
      type: 'array',
      items: { type: 'string', pattern: '^(?:mqtt|mysql):(?:provide|want|need)$', 'x-message': 'a service is written mqtt:need (mqtt or mysql; provide, want or need)' },
    }),
  },
  { key: 'discovery', schema: always(strList) },
  { key: 'backup_exclude', schema: always(strList) },
  { key: 'backup_pre', schema: always(str) },
  { key: 'backup_post', schema: always(str) },
  { key: 'backup', default: 'hot', schema: always(oneOf(['hot', 'cold'])) },
  { key: 'codenotary', eras: ['2025'], schema: always({ type: 'string', supervisorEmail: true }) },
  { key: 'options', default: {}, schema: always({ type: 'object' }) },
  // The element grammar and nesting are checked by options-schema.ts, which explains failures better.
  // vol.Any(dict, False), with Python's 0 == False: checked in validate.ts.
  { key: 'schema', default: {}, schema: always({}) },
  { key: 'image', schema: (era) => ({ type: 'string', dockerImage: era }) },
  {
    key: 'ulimits',
    eras: ['2026'],
    default: {},
    schema: always({
      type: 'object',
      additionalProperties: {
        ...int(),
        type: ['integer', 'object'],
        properties: { soft: int(), hard: int() },
        required: ['soft', 'hard'],
        additionalProperties: false,
      },
    }),
  },
  { key: 'timeout', default: 10, schema: always(int(10, 300)) },
  { key: 'journald', default: false, schema: always(bool) },
  { key: 'breaking_versions', default: [], schema: always({ type: 'array', items: version }) },
];

/** `RE_DOCKER_IMAGE_BUILD`: build_from values (a tag is allowed, at least one '/' is required). */
export const BUILD_FROM_PATTERN = '^([a-zA-Z\\-\\.:\\d{}]+/)*?([\\-\\w{}]+)/([\\-\\w{}]+)(:[\\.\\-\\w{}]+)?$';

/** Keys the 2026 build schema does not know but old build files carry; the Supervisor ignores them. */
/** Why a build_from value fails RE_DOCKER_IMAGE_BUILD, in words. */
export function buildFromProblem(image: string): string {
  if (!image.includes('/')) return "a base image needs at least one '/', e.g. ghcr.io/home-assistant/base:3.24";
  const parts = image.replace(/\n$/, '').split('/');
  let name = parts[parts.length - 1]!;
  let tag: string | null = null;
  const colon = name.indexOf(':');
  if (colon >= 0) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  const owner = parts[parts.length - 2]!;
  for (const part of [owner, name]) {
    if (!/^[-\p{L}\p{N}_{}]+$/u.test(part)) {
      return part === ''
        ? 'the name has an empty part (two slashes in a row, or one at the start or end)'
        : `'${part}' may contain only letters, digits, '_', '-' and {arch}: the last two parts of a base image name take no '.' or ':' (only the registry part may)`;
    }
  }
  if (tag !== null && !/^[.\-\p{L}\p{N}_{}]+$/u.test(tag)) return `the tag '${tag}' may contain only letters, digits, '.', '_', '-' and {arch}`;
  const registry = parts.slice(0, -2).find((part) => !/^[a-zA-Z\-.:\p{Nd}{}]+$/u.test(part));
  if (registry !== undefined) return `'${registry}' is not a valid registry or path part (letters, digits, '.', '-', ':')`;
  return 'not a valid base image reference';
}

export const LEGACY_BUILD_KEYS = ['codenotary', 'cosign', 'image', 'shadow_repository'];

export const BUILD_KEYS: readonly KeySpec[] = [
  {
    key: 'build_from',
    schema: always({
      type: ['string', 'object'],
      pattern: BUILD_FROM_PATTERN,
      'x-message': "a base image needs at least one '/', e.g. ghcr.io/home-assistant/base:3.24",
      propertyNames: oneOf(HA_ARCHES),
      additionalProperties: { type: 'string', pattern: BUILD_FROM_PATTERN, 'x-message': "a base image needs at least one '/', e.g. ghcr.io/home-assistant/base:3.24" },
    }),
  },
  { key: 'squash', default: false, schema: always(bool) },
  { key: 'args', default: {}, schema: always({ type: 'object', additionalProperties: str }) },
  { key: 'labels', default: {}, schema: always({ type: 'object', additionalProperties: str }) },
];

/** store/validate.py SCHEMA_REPOSITORY_CONFIG. */
export const REPOSITORY_KEYS: readonly KeySpec[] = [
  { key: 'name', required: true, schema: always(str) },
  { key: 'url', schema: always(url) },
  { key: 'maintainer', schema: always(str) },
];

/** apps/validate.py SCHEMA_APP_TRANSLATIONS (2025.06: SCHEMA_ADDON_TRANSLATIONS). */
export const TRANSLATION_KEYS: readonly KeySpec[] = [
  { key: 'configuration', schema: always({ type: 'object', additionalProperties: { $ref: '#/definitions/field' } }) },
  { key: 'network', schema: always({ type: 'object', additionalProperties: str }) },
];

/** SCHEMA_TRANSLATION_CONFIGURATION: a name, a description or null, and (2026) nested `fields`; other keys are dropped. */
function translationField(era: Era): Schema {
  return {
    type: 'object',
    required: ['name'],
    properties: {
      name: str,
      description: { type: ['string', 'null'] },
      ...(era === '2026' ? { fields: { type: 'object', additionalProperties: { $ref: '#/definitions/field' } } } : {}),
    },
  };
}

export function keysFor(table: readonly KeySpec[], era: Era): KeySpec[] {
  return table.filter((spec) => !spec.eras || spec.eras.includes(era));
}

/** The JSON Schema of a file kind for an era. Unknown keys are refused here and reported as dropped. */
export function jsonSchema(table: readonly KeySpec[], era: Era, title: string): Schema {
  const keys = keysFor(table, era);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title,
    type: 'object',
    properties: Object.fromEntries(keys.map((spec) => [spec.key, spec.schema(era)])),
    required: keys.filter((spec) => spec.required).map((spec) => spec.key),
    additionalProperties: false,
  };
}

export type FileKind = 'config' | 'build' | 'repository' | 'translation';

const TABLES: Record<FileKind, readonly KeySpec[]> = { config: CONFIG_KEYS, build: BUILD_KEYS, repository: REPOSITORY_KEYS, translation: TRANSLATION_KEYS };

export const FILE_KINDS = Object.keys(TABLES) as FileKind[];

export function schemaDocument(kind: FileKind, era: Era): Schema {
  const schema = jsonSchema(TABLES[kind], era, `Home Assistant add-on ${kind} file (${ERA_RULES[era].label})`);
  return kind === 'translation' ? { ...schema, definitions: { field: translationField(era) } } : schema;
}

/** The name of a kind's compiled validator for an era (validators.ts, schema-compiler.ts). */
export function validatorName(kind: FileKind, era: Era): string {
  return `${kind}_${era}`;
}
