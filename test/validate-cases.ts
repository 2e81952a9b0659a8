/**
 * Hand-made invalid add-ons and what `addonix validate` must say of each: the finding, its place, its
 * severity, and the exit status. Checked in process by unit-validate.test.ts; a few of them through the
 * CLI by validate-cli.test.ts.
 */
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { hasStackTrace, MINIMAL_CONFIG } from './helpers.js';

export interface Expected {
  file: string;
  line: number | null;
  severity: 'error' | 'warning';
  code: string;
  includes: string;
}

export interface Case {
  name: string;
  files: Record<string, string | Buffer>;
  expect: Expected[];
  /** Exit status without --strict (1 when an error is expected). */
  status: number;
  args?: string[];
}

const config = (extra: string) => MINIMAL_CONFIG + extra;

export const cases: Case[] = [
  {
    name: 'unknown arch',
    files: { 'config.yaml': MINIMAL_CONFIG.replace('  - amd64\n', '  - amd64\n  - arm64\n') },
    expect: [{ file: 'config.yaml', line: 8, severity: 'error', code: 'unknown-arch', includes: "unknown arch 'arm64'" }],
    status: 1,
  },
  {
    name: 'riscv64 in config (Home Assistant does not run it)',
    files: { 'config.yaml': MINIMAL_CONFIG.replace('  - amd64\n', '  - amd64\n  - riscv64\n') },
    expect: [{ file: 'config.yaml', line: 8, severity: 'error', code: 'unknown-arch', includes: '--riscv64' }],
    status: 1,
  },
  {
    name: 'bad slug',
    files: { 'config.yaml': MINIMAL_CONFIG.replace('slug: test_addon', 'slug: my addon') },
    expect: [{ file: 'config.yaml', line: 3, severity: 'error', code: 'invalid-slug', includes: "slug 'my addon' is invalid: a slug may contain only letters, digits" }],
    status: 1,
  },
  {
    name: 'missing required key',
    files: { 'config.yaml': MINIMAL_CONFIG.replace('description: An add-on for tests\n', '') },
    expect: [{ file: 'config.yaml', line: null, severity: 'error', code: 'missing-key', includes: "missing required key 'description'" }],
    status: 1,
  },
  {
    name: 'wrong types',
    files: {
      'config.yaml': config('ingress: maybe\ntimeout: soon\nenvironment:\n  PORT: 8080\nmap: share\ndescription2: x\n').replace(
        'description: An add-on for tests',
        'description: 2024',
      ),
    },
    expect: [
      { file: 'config.yaml', line: 4, severity: 'error', code: 'invalid-type', includes: 'description must be a string, not a number; put it in quotes' },
      { file: 'config.yaml', line: 8, severity: 'error', code: 'invalid-type', includes: "ingress must be true or false, not 'maybe'" },
      { file: 'config.yaml', line: 9, severity: 'error', code: 'invalid-type', includes: "timeout must be a whole number, not a string ('soon')" },
      { file: 'config.yaml', line: 11, severity: 'error', code: 'invalid-type', includes: 'environment.PORT must be a string, not a number' },
      { file: 'config.yaml', line: 12, severity: 'warning', code: 'invalid-map', includes: 'letter by letter' },
      { file: 'config.yaml', line: 13, severity: 'warning', code: 'unknown-key', includes: "unknown key 'description2' (did you mean 'description'?)" },
    ],
    status: 1,
  },
  {
    name: 'values the Supervisor coerces are warnings',
    files: { 'config.yaml': config('ingress: "yes"\ntimeout: "30"\ningress_port: "8100"\n') },
    expect: [
      { file: 'config.yaml', line: 8, severity: 'warning', code: 'coerced-value', includes: 'reads it as true' },
      { file: 'config.yaml', line: 9, severity: 'warning', code: 'coerced-value', includes: 'converts it to 30' },
      { file: 'config.yaml', line: 10, severity: 'warning', code: 'coerced-value', includes: 'converts it to 8100' },
    ],
    status: 0,
  },
  {
    name: 'out of range',
    files: { 'config.yaml': config('timeout: 5\nports:\n  8080/tcp: 70000\n') },
    expect: [
      { file: 'config.yaml', line: 8, severity: 'error', code: 'out-of-range', includes: 'timeout is 5; it must be at least 10' },
      { file: 'config.yaml', line: 10, severity: 'error', code: 'out-of-range', includes: 'at most 65535' },
    ],
    status: 1,
  },
  {
    name: 'malformed ports keys',
    files: { 'config.yaml': config('ports:\n  8080/http: 8080\n  53: 53\n') },
    expect: [
      { file: 'config.yaml', line: 9, severity: 'error', code: 'invalid-key', includes: "ports key '8080/http' is invalid: port keys are written '8080/tcp'" },
      { file: 'config.yaml', line: 10, severity: 'error', code: 'key-not-string', includes: "ports key 53 is not a string in YAML, so the Supervisor refuses it; quote it: '53/tcp'" },
    ],
    status: 1,
  },
  {
    name: 'image with a tag',
    files: { 'config.yaml': config('image: ghcr.io/me/{arch}-addon:1.0\n') },
    expect: [{ file: 'config.yaml', line: 8, severity: 'error', code: 'invalid-image', includes: 'must not carry a tag' }],
    status: 1,
  },
  {
    name: 'build_from without a slash (the Supervisor ignores the build file)',
    files: { 'config.yaml': MINIMAL_CONFIG, 'build.yaml': 'build_from:\n  amd64: alpine\n  aarch64: ghcr.io/home-assistant/aarch64-base:3.24\n' },
    expect: [
      { file: 'build.yaml', line: null, severity: 'warning', code: 'deprecated-build-file', includes: 'ARG BUILD_FROM' },
      { file: 'build.yaml', line: 2, severity: 'warning', code: 'build-file-ignored', includes: "build_from.amd64 'alpine' is invalid: a base image needs at least one '/'" },
    ],
    status: 0,
  },
  {
    name: 'build file whose args hold a number',
    files: { 'config.yaml': MINIMAL_CONFIG, 'build.yaml': 'args:\n  TOOL_VERSION: 1.10\n' },
    expect: [{ file: 'build.yaml', line: 2, severity: 'warning', code: 'build-file-ignored', includes: 'args.TOOL_VERSION must be a string, not a decimal number; put it in quotes' }],
    status: 0,
  },
  {
    name: 'bad schema elements',
    files: {
      'config.yaml': config('options:\n  a: 1\nschema:\n  a: int(a,b)\n  b: list()\n  c: match(\n  d: string\n  e: [[str]]\n'),
    },
    expect: [
      { file: 'config.yaml', line: 11, severity: 'error', code: 'schema-element', includes: "bounds of int(min,max) must be whole numbers, got 'a'" },
      { file: 'config.yaml', line: 12, severity: 'error', code: 'schema-element', includes: 'list() needs at least one choice' },
      { file: 'config.yaml', line: 13, severity: 'error', code: 'schema-element', includes: "missing ')'" },
      { file: 'config.yaml', line: 14, severity: 'error', code: 'schema-element', includes: "unknown type 'string' (did you mean 'str'?)" },
      { file: 'config.yaml', line: 15, severity: 'error', code: 'schema-nesting', includes: 'a list directly inside a list' },
    ],
    status: 1,
  },
  {
    name: 'options that violate their schema',
    files: {
      'config.yaml': config('options:\n  port: 99999\n  name: 42\n  level: loud\n  extra: 1\nschema:\n  port: port\n  name: str\n  level: list(info|debug)\n'),
    },
    expect: [
      { file: 'config.yaml', line: 9, severity: 'warning', code: 'option-invalid', includes: "default 99999 for option 'port' is not a port number between 1 and 65535" },
      { file: 'config.yaml', line: 10, severity: 'warning', code: 'option-invalid', includes: "default 42 for option 'name' must be a string (quote it)" },
      { file: 'config.yaml', line: 11, severity: 'warning', code: 'option-invalid', includes: "default 'loud' for option 'level' is not one of 'info', 'debug'" },
      { file: 'config.yaml', line: 12, severity: 'warning', code: 'unknown-option', includes: "option 'extra' is not in the schema" },
    ],
    status: 0,
  },
  {
    name: 'options that violate their schema fail with --strict',
    files: { 'config.yaml': config('options:\n  port: 0\nschema:\n  port: port\n') },
    expect: [{ file: 'config.yaml', line: 9, severity: 'warning', code: 'option-invalid', includes: 'refuses to start the add-on' }],
    status: 1,
    args: ['--strict'],
  },
  {
    name: 'YAML syntax error',
    files: { 'config.yaml': MINIMAL_CONFIG.replace('arch:\n  - aarch64\n  - amd64\n', 'arch: [aarch64, amd64\nurl: x\n') },
    expect: [{ file: 'config.yaml', line: 5, severity: 'error', code: 'yaml-syntax', includes: "YAML syntax error: this '[' is never closed" }],
    status: 1,
  },
  {
    name: 'duplicate keys',
    files: { 'config.yaml': config('slug: other\n') },
    expect: [{ file: 'config.yaml', line: 8, severity: 'error', code: 'duplicate-key', includes: "duplicate key 'slug' (first at line 3)" }],
    status: 1,
  },
  {
    name: 'JSON syntax error',
    files: { 'config.json': '{\n  "name": "x",\n  "version": "1",\n  "slug": "x",\n  "description": "d",\n  "arch": ["amd64"],\n}\n' },
    expect: [{ file: 'config.json', line: 7, severity: 'error', code: 'json-syntax', includes: 'JSON syntax error' }],
    status: 1,
  },
  {
    name: 'JSON duplicate key',
    files: { 'config.json': '{"name": "x", "version": "1", "slug": "x",\n "description": "d", "arch": ["amd64"],\n "slug": "y"}\n' },
    expect: [{ file: 'config.json', line: 3, severity: 'error', code: 'duplicate-key', includes: "duplicate key 'slug' (first at line 1)" }],
    status: 1,
  },
  {
    name: 'a 10 MB file',
    files: { 'config.yaml': MINIMAL_CONFIG + `# ${'x'.repeat(10 * 1024 * 1024)}\n` },
    expect: [{ file: 'config.yaml', line: null, severity: 'error', code: 'file-too-large', includes: 'the file is 10.0 MiB' }],
    status: 1,
  },
  {
    name: 'binary garbage',
    files: { 'config.yaml': Buffer.concat([Buffer.from('name: x\n'), randomBytesSeeded(4096)]) },
    expect: [{ file: 'config.yaml', line: 2, severity: 'error', code: 'not-utf8', includes: 'not UTF-8 text' }],
    status: 1,
  },
  {
    name: 'control characters',
    files: { 'config.yaml': MINIMAL_CONFIG.replace('slug: test_addon', 'slug: test\u0000addon') },
    expect: [{ file: 'config.yaml', line: 3, severity: 'error', code: 'bad-character', includes: 'U+0000' }],
    status: 1,
  },
  {
    name: 'a folder with no config',
    files: { 'README.md': '# nothing here\n' },
    expect: [{ file: '.', line: null, severity: 'error', code: 'no-config', includes: 'no add-on here' }],
    status: 1,
  },
  {
    name: 'config.yaml and config.json in one folder',
    files: { 'config.yaml': MINIMAL_CONFIG, 'config.json': JSON.stringify({ name: 'x', version: '1', slug: 'test_addon', description: 'd', arch: ['amd64'] }) },
    expect: [{ file: 'config.yaml', line: null, severity: 'error', code: 'two-configs', includes: 'config.json and config.yaml are both in' }],
    status: 1,
  },
  {
    name: 'version written as a number',
    files: { 'config.yaml': MINIMAL_CONFIG.replace('version: "1.0.0"', 'version: 1.10') },
    expect: [{ file: 'config.yaml', line: 2, severity: 'warning', code: 'version-number', includes: 'version is the number 1.1' }],
    status: 0,
  },
  {
    name: 'a YAML 1.1 boolean key',
    files: { 'config.yaml': config('on: true\n') },
    expect: [{ file: 'config.yaml', line: 8, severity: 'warning', code: 'unknown-key', includes: "key on is read as 'true' by YAML 1.1" }],
    status: 0,
  },
  {
    name: 'deprecated forms the Supervisor repairs',
    files: { 'config.yaml': config('startup: before\nauto_uart: true\nsnapshot_exclude:\n  - "*.db"\nmap:\n  - config:rw\n  - nope:rw\n') },
    expect: [
      { file: 'config.yaml', line: 8, severity: 'warning', code: 'deprecated-value', includes: "reads it as 'services'" },
      { file: 'config.yaml', line: 9, severity: 'warning', code: 'deprecated-key', includes: "'auto_uart' is deprecated" },
      { file: 'config.yaml', line: 10, severity: 'warning', code: 'deprecated-key', includes: "renames it to 'backup_exclude'" },
      { file: 'config.yaml', line: 13, severity: 'warning', code: 'deprecated-map', includes: "use 'homeassistant_config'" },
      { file: 'config.yaml', line: 14, severity: 'warning', code: 'invalid-map-entry', includes: "invalid map entry 'nope:rw'" },
    ],
    status: 0,
  },
  {
    name: 'dynamic ingress port with a host port in its range',
    files: { 'config.yaml': config('ingress: true\ningress_port: 0\nports:\n  62001/tcp: 62001\n') },
    expect: [{ file: 'config.yaml', line: 11, severity: 'error', code: 'ingress-port-conflict', includes: 'port 62001 must not be mapped' }],
    status: 1,
  },
  {
    name: 'a feature only the 2026 Supervisor accepts',
    files: { 'config.yaml': config('options:\n  n: 1\nschema:\n  n: int(-5,5)\n') },
    expect: [{ file: 'config.yaml', line: 11, severity: 'warning', code: 'compat-2025', includes: 'Supervisor 2025.06 refuses this add-on' }],
    status: 0,
  },
  {
    name: "a base image name with a '.' in its repository part: the real reason",
    files: { 'config.yaml': MINIMAL_CONFIG, 'build.yaml': 'build_from: lscr.io/linuxserver/changedetection.io:amd64-latest\n' },
    expect: [{ file: 'build.yaml', line: 1, severity: 'warning', code: 'build-file-ignored', includes: "'changedetection.io' may contain only letters, digits, '_', '-' and {arch}" }],
    status: 0,
  },
  {
    name: "Python's re.match: a slug ending in a newline is accepted, int() reads Unicode digits",
    files: { 'config.yaml': MINIMAL_CONFIG.replace('slug: test_addon', 'slug: "test_addon\\n"') + 'timeout: "٦٠"\nports:\n  "8080/tcp\\n": "８０８０"\n' },
    expect: [{ file: 'config.yaml', line: 8, severity: 'warning', code: 'coerced-value', includes: 'converts it to 60' }],
    status: 0,
  },
  {
    name: 'timeout 300.9 is truncated to 300 and accepted',
    files: { 'config.yaml': config('timeout: 300.9\n') },
    expect: [{ file: 'config.yaml', line: 8, severity: 'warning', code: 'coerced-value', includes: 'converts it to 300' }],
    status: 0,
  },
  {
    name: 'ingress_port false equals 0 in Python, so a port in the dynamic range is refused',
    files: { 'config.yaml': config('ingress: true\ningress_port: false\nports:\n  62001/tcp: 1\n') },
    expect: [{ file: 'config.yaml', line: 11, severity: 'error', code: 'ingress-port-conflict', includes: 'port 62001 must not be mapped' }],
    status: 1,
  },
  {
    name: 'schema: 0 is False when installed but fails at start; a devices mapping is migrated to its keys',
    files: { 'config.yaml': config('schema: 0\ndevices:\n  /dev/ttyUSB0:/dev/ttyUSB0: rwm\n') },
    expect: [
      { file: 'config.yaml', line: 8, severity: 'error', code: 'schema-zero', includes: 'fails on it when the add-on starts' },
      { file: 'config.yaml', line: 10, severity: 'warning', code: 'invalid-devices', includes: 'uses the keys of this mapping' },
    ],
    status: 1,
  },
  {
    name: 'a null option key, and an option schema nested past the Supervisor\'s recursion limit',
    files: { 'config.yaml': config(`schema:\n  ~: str\n  deep: ${'{a: '.repeat(200)}str${'}'.repeat(200)}\n`) },
    expect: [
      { file: 'config.yaml', line: 9, severity: 'error', code: 'schema-key-type', includes: 'is not a string' },
      { file: 'config.yaml', line: 10, severity: 'error', code: 'schema-nesting', includes: "Python's recursion limit" },
    ],
    status: 1,
  },
  {
    name: 'environment keys that are not text: dropped by 2026, refused by 2025.06',
    files: { 'config.yaml': config('environment:\n  1: x\n') },
    expect: [
      { file: 'config.yaml', line: 9, severity: 'warning', code: 'key-not-string', includes: 'silently drops it' },
      { file: 'config.yaml', line: 9, severity: 'warning', code: 'compat-2025', includes: 'Supervisor 2025.06 refuses this add-on' },
    ],
    status: 0,
  },
  {
    name: 'a tab after a list dash: the C YAML loader refuses it',
    files: { 'config.yaml': MINIMAL_CONFIG.replace('  - amd64\n', '  -\tamd64\n') },
    expect: [{ file: 'config.yaml', line: 7, severity: 'error', code: 'yaml-syntax', includes: 'found character that cannot start any token' }],
    status: 1,
  },
  {
    name: 'what the Supervisor fails on when the add-on starts: a regex Python cannot compile, an unknown device subsystem, an empty list',
    files: { 'config.yaml': config('schema:\n  a: "match(a(?i)b)"\n  b: "device(subsystem=serial)"\n  c: []\n') },
    expect: [
      { file: 'config.yaml', line: 9, severity: 'error', code: 'schema-regex', includes: 'global flags not at the start of the expression' },
      { file: 'config.yaml', line: 10, severity: 'error', code: 'schema-subsystem', includes: "unknown device subsystem 'serial'" },
      { file: 'config.yaml', line: 11, severity: 'error', code: 'schema-empty-list', includes: 'fails on it when it starts' },
    ],
    status: 1,
  },
  {
    name: 'option defaults compared as Python writes them: 1.0 is "1.0", ² is no decimal digit',
    files: { 'config.yaml': config('schema:\n  a: "match(^\\\\d+$)"\n  b: "list(1.0|2)"\n  c: "list(1|2)"\n  d: "match(^\\\\d+$)"\noptions:\n  a: 1.0\n  b: 1.0\n  c: 1.0\n  d: "²"\n') },
    expect: [
      { file: 'config.yaml', line: 14, severity: 'warning', code: 'option-invalid', includes: "Python compares its text '1.0'" },
      { file: 'config.yaml', line: 16, severity: 'warning', code: 'option-invalid', includes: "is not one of '1', '2'" },
      { file: 'config.yaml', line: 17, severity: 'warning', code: 'option-invalid', includes: 'does not match' },
    ],
    status: 0,
  },
  {
    name: "str(min,max) in 2026, which Supervisor 2025.06 refuses every value of at start",
    files: { 'config.yaml': config('schema:\n  token: "str(8,)"\noptions:\n  token: "12345678"\n') },
    expect: [{ file: 'config.yaml', line: 9, severity: 'warning', code: 'compat-2025', includes: 'refuses every value of str(min,max)' }],
    status: 0,
  },
  {
    name: 'a translation the Supervisor drops (its schema refuses it), beside one it reads',
    files: {
      'config.yaml': config('schema:\n  token: str\n'),
      'translations/en.yaml': 'configuration:\n  token:\n    description: no name\n',
      'translations/de.yaml': 'configuration:\n  token:\n    name: Zugangsschlüssel\n    description: null\n',
    },
    expect: [{ file: 'translations/en.yaml', line: 3, severity: 'warning', code: 'translation-dropped', includes: "missing the required key 'name'" }],
    status: 0,
  },
  {
    name: 'ulimits with a key that is not text, for Supervisor 2025.06: it has no ulimits and drops the key whole',
    files: { 'config.yaml': config('ulimits:\n  1: 5\n') },
    args: ['--supervisor', '2025'],
    expect: [{ file: 'config.yaml', line: 8, severity: 'warning', code: 'unknown-key', includes: "'ulimits' is known only to Supervisor 2026" }],
    status: 0,
  },
  {
    name: 'a translation with nested fields: read by 2026, whose fields must have a name; 2025.06 drops fields',
    files: {
      'config.yaml': config('schema:\n  token: str\n'),
      'translations/en.yaml': 'configuration:\n  token:\n    name: Token\n    fields:\n      part:\n        description: no name\nnetwork:\n  1: Web\n',
    },
    args: ['--supervisor', '2025'],
    expect: [{ file: 'translations/en.yaml', line: 8, severity: 'warning', code: 'translation-dropped', includes: 'key 1 is not a string' }],
    status: 0,
  },
];

/** Deterministic "random" bytes with invalid UTF-8 early on. */
function randomBytesSeeded(size: number): Buffer {
  const bytes = randomBytes(size);
  bytes[0] = 0xff;
  return bytes;
}

/** A case by name. */
export function validateCase(name: string): Case {
  const found = cases.find((c) => c.name === name);
  if (!found) throw new Error(`no validate case named ${name}`);
  return found;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * What a case must give: `json` is `validate --json [args] .` run in its folder, `text` the same without
 * --json. Each expected finding is there, at its place, with its severity and words; the exit status is
 * the case's; nothing on stderr, no stack trace; the text names the first finding's place and ends with
 * the summary line.
 */
export function assertCase(c: Case, json: RunResult, text: RunResult): void {
  assert.equal(json.status, c.status, `exit status\n${json.stdout}${json.stderr}`);
  assert.equal(json.stderr, '');
  const diagnostics = JSON.parse(json.stdout) as (Expected & { message: string })[];
  for (const want of c.expect) {
    const found = diagnostics.find((d) => d.code === want.code && d.line === want.line && d.file.endsWith(want.file));
    assert.ok(found, `expected ${want.severity} [${want.code}] at ${want.file}:${want.line}; got:\n${JSON.stringify(diagnostics, null, 1)}`);
    assert.equal(found.severity, want.severity);
    assert.ok(found.message.includes(want.includes), `message of [${want.code}]:\n  ${found.message}\nshould include:\n  ${want.includes}`);
  }
  if (c.status === 0 && !c.args?.includes('--strict')) {
    assert.ok(!diagnostics.some((d) => d.severity === 'error'), 'no errors expected');
  }

  assert.equal(text.status, c.status);
  assert.ok(!hasStackTrace(text.stdout + text.stderr), `no stack trace:\n${text.stdout}${text.stderr}`);
  const first = c.expect[0]!;
  const where = first.line === null ? `${first.file}: ${first.severity}:` : `${first.file}:${first.line}:`;
  assert.ok(text.stdout.includes(where), `text output names ${where}:\n${text.stdout}`);
  assert.match(text.stdout.trimEnd().split('\n').pop()!, /checked: (\d+ errors?, \d+ warnings?|no problems)$/);
}
