#!/usr/bin/env node
// Compare addonix's verdicts with the Home Assistant Supervisor's own, file by file, for both eras.
//
//   node scripts/supervisor-parity.mjs --sup2026 DIR --sup2025 DIR [--mutants N] [--start N] [--seed S]
//        [--keep DIR] [--oracle FILE] [--show N] PATH...
//
// DIR is an unpacked home-assistant/supervisor source tree: HEAD ("apps", 2026) and tag 2025.06.0
// ("addons"). The verdicts come from ../shared/tools/supervisor-oracle.py, run with `python3` (or $PYTHON),
// which should have orjson. A config file is "refused" when the Supervisor refuses the add-on (its schema
// raises, its loader fails, or its code crashes on it); for addonix, when `addonix validate --supervisor
// ERA` reports an error in it other than the deliberate differences below. A build file is "ignored" when
// the Supervisor falls back to defaults; for addonix, when it reports that it is ignored or unreadable.
//
// With --mutants N, N seeded mutants of the given files are generated in each class (CLASSES below):
// text-level edits of the YAML and JSON sources (tags, line ends, tabs, directives, escapes, byte order
// marks, JSON variants, nesting), Python's re.match and int() semantics, schema quirks and image names.
// The output gives the agreement per class and era, then every disagreement (up to --show).
//
// With --start N, N generated files in each start-time class (START_CLASSES below: every option type on its
// boundaries, regular expressions, devices, schema shapes, values Python turns into text, nulls and
// missing options, translations, repository files) are judged instead by supervisor-start-oracle.py: the
// Supervisor's read-time verdict and, for configs, its check of the default options when the add-on
// starts. addonix "refuses at start" when it reports an error or a default option the Supervisor refuses
// (option-invalid, option-null). Two kinds of difference are deliberate and counted apart: "stricter"
// (addonix's errors marked stricter in docs/codes.md, such as a match() pattern Python cannot compile with
// no default to check it on) and "leftToUser" (a required option whose default is missing or null, or a
// !secret default: the Supervisor refuses to start until the user sets it; addonix does not report it).
// The generators draw values from lists; no expected verdict is written here, the oracle gives them all.
//
// Not part of the test suite: it needs the Supervisor's sources, which the suite cannot fetch.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'bin', 'addonix.js');

/**
 * Where addonix is stricter than the Supervisor on purpose (README, "Deliberate differences"): these
 * errors do not count as refusals. `too-deep`: orjson refuses JSON nested over 1024 levels since 3.9.15
 * (the Supervisor pins 3.10.18 and 3.12.0); an oracle with an older orjson accepts them.
 */
const DELIBERATE = new Set(['duplicate-key', 'file-too-large', 'missing-version', 'schema-regex', 'schema-bound', 'schema-zero', 'schema-subsystem', 'schema-empty-list', 'two-configs', 'duplicate-slug']);
/** Findings that say the Supervisor refuses to start the add-on with its default options. */
const START_REFUSED = new Set(['option-invalid', 'option-null']);
/** Findings that say the Supervisor drops a translation file. */
const TRANSLATION_DROPPED = new Set(['translation-dropped', 'yaml-syntax', 'json-syntax', 'yaml-tag', 'not-utf8', 'bad-character', 'too-deep', 'not-checked']);
const BUILD_IGNORED = new Set(['build-file-ignored', 'yaml-syntax', 'json-syntax', 'yaml-tag', 'not-utf8', 'bad-character', 'too-deep', 'not-checked']);

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const [, value] = args.splice(i, 2);
  return value;
};
const mutantsPerClass = Number(option('--mutants', '0'));
const startPerClass = Number(option('--start', '0'));
const seedText = option('--seed', '1');
let seed = Number(seedText);
const keep = option('--keep', undefined);
const show = Number(option('--show', '20'));
const trees = { 2026: option('--sup2026', undefined), 2025: option('--sup2025', undefined) };
const oracle = option('--oracle', path.join(here, '..', '..', 'shared', 'tools', startPerClass > 0 ? 'supervisor-start-oracle.py' : 'supervisor-oracle.py'));
const python = process.env.PYTHON ?? 'python3';
const inputs = args;
if ((!trees[2026] && !trees[2025]) || inputs.length === 0) {
  console.error('usage: supervisor-parity.mjs --sup2026 DIR --sup2025 DIR [--mutants N] [--seed S] [--keep DIR] PATH...');
  process.exit(2);
}

function random() {
  // mulberry32: reproducible mutants for a given seed.
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (list) => list[Math.floor(random() * list.length)];

function listFiles(root) {
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      if (name.startsWith('.') || name === 'rootfs') continue;
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else if (/^(config|build)\.(ya?ml|json)$/.test(name)) out.push(file);
    }
  };
  statSync(root).isDirectory() ? walk(root) : out.push(root);
  return out;
}

// --- mutation classes ------------------------------------------------------------------------------

const EDGE_VALUES = [
  'yes', 'maybe', 'True', 1, 0, 2.5, -1, null, '', 'x', [], {}, ['a'], { a: 1 }, '8080', '70000', 'abc',
  'ghcr.io/me/img', 'ghcr.io/me/img:1.0', 'Ghcr.io/me/img', 'img', 'me/{arch}-x', 'http://x', 'x://',
  'mqtt:need', 'mysql:want', 'mqtt', 'share:rw', 'app_config', 'addons:ro', 'bogus:rw', 'config',
  'NET_ADMIN', 'net_admin', 'raspberrypi4', '!raspberrypi4', 'khadas-vim3', 'nope', 'hot', 'cold',
  'services', 'before', 'auto', 'manual_only', 'stable', 'amd64', 'arm64', 'armv7', 'riscv64', 5, 10, 300, 301,
  'http://[HOST]:[PORT:8080]/', 'tcp://[HOST]:[PORT:80]', '[PROTO:ssl]://[HOST]:[PORT:1]', 'http://host:80',
];
const SCHEMA_ELEMENTS = [
  'str', 'str?', 'str(1,)', 'str(,5)', 'str(,)', 'str(a,b)', 'int(-5,5)', 'int(5)', 'int(,)', 'float(.5,1)', 'float(1.,2)',
  'float(-1.5,)', 'bool', 'bool??', 'email', 'url', 'port', 'password(8,)', 'match(^a+$)', 'match(', 'match()', 'match(a)b)',
  'list(a|b)', 'list()', 'list(|)', 'device', 'device(subsystem=tty)', 'device(subsystem=TTY)', 'device()', '', '?',
  'string', 'Str', 'str (1,2)', 'int(1, 2)', ['str'], [], ['str', 'int'], [['str']], { a: 'str' }, { a: { b: 'int' } },
  [{ a: 'str' }], [{ a: { b: ['str'] } }], 5, true, null, 'str\n', 'int(١,٩)', 'float(١.٥,)', 'str(٣,)', 'int(1,2)\n',
  'float(1.2.3,)', 'int(-١,)',
];
const CONFIG_KEYS = [
  'name', 'version', 'slug', 'description', 'arch', 'machine', 'url', 'startup', 'boot', 'init', 'advanced', 'stage',
  'ports', 'ports_description', 'watchdog', 'webui', 'ingress', 'ingress_port', 'ingress_entry', 'ingress_stream',
  'panel_icon', 'panel_title', 'panel_admin', 'homeassistant', 'host_network', 'devices', 'udev', 'tmpfs', 'map',
  'environment', 'privileged', 'apparmor', 'hassio_role', 'services', 'discovery', 'backup', 'backup_exclude', 'options',
  'schema', 'image', 'ulimits', 'timeout', 'journald', 'breaking_versions', 'codenotary', 'auto_uart', 'snapshot',
];

function mutateValues(c) {
  const kind = Math.floor(random() * 8);
  const key = pick(CONFIG_KEYS);
  if (kind === 0) delete c[key];
  else if (kind === 1) c[key] = pick(EDGE_VALUES);
  else if (kind === 2) c[key] = [pick(EDGE_VALUES), pick(EDGE_VALUES)];
  else if (kind === 3) c.schema = { ...(typeof c.schema === 'object' && c.schema ? c.schema : {}), opt: pick(SCHEMA_ELEMENTS) };
  else if (kind === 4) c.ports = { [pick(['8080/tcp', '53/udp', '80', '80/sctp', 'http', '62001/tcp'])]: pick([8080, null, '81', 0, 70000, 'x']) };
  else if (kind === 5) c.map = [pick(EDGE_VALUES), pick(['share', 'ssl:ro', { type: 'share' }, { type: 'nope' }, { path: '/x' }, { type: 'data', read_only: 'yes' }, { type: 'data', extra: 1 }])];
  else if (kind === 6) {
    c.ingress = true;
    c.ingress_port = pick([0, 8099, '0', '8099', 70000]);
    c.ports = { [pick(['62001/tcp', '8080/tcp', '65500'])]: 1234 };
  } else {
    c[pick(['arch', 'machine', 'privileged', 'services', 'breaking_versions', 'ulimits', 'environment'])] = pick([
      ['amd64', 'riscv64'], ['armv7'], 'amd64', ['raspberrypi4', 'raspberrypi4'], ['NET_ADMIN', 'BOGUS'], { nofile: '1024' },
      { nofile: { soft: 1, hard: '2' } }, { nofile: { soft: 1 } }, { A: 1 }, { A: 'b' }, ['1.0', 2],
    ]);
  }
  return c;
}

/** Python's `$` also matches before a final newline: values of pattern-checked keys ending in "\n". */
function mutateDollar(c) {
  const nl = pick(['\n', '\n', '\n\n', ' \n', '\r\n']);
  const edit = Math.floor(random() * 10);
  if (edit === 0) c.slug = `${c.slug ?? 'x'}${nl}`;
  else if (edit === 1) c.ports = { [`${pick(['8080/tcp', '53/udp', '80'])}${nl}`]: 8080 };
  else if (edit === 2) c.watchdog = `${pick(['http://[HOST]:[PORT:8080]/', 'tcp://[HOST]:[PORT:80]', 'http://[HOST]:80'])}${nl}`;
  else if (edit === 3) c.webui = `${pick(['http://[HOST]:[PORT:8080]/', '[PROTO:ssl]://[HOST]:[PORT:1]'])}${nl}`;
  else if (edit === 4) c.machine = [`${pick(['raspberrypi4', '!qemux86', 'generic-x86-64'])}${nl}`];
  else if (edit === 5) c.image = `${pick(['ghcr.io/me/{arch}-img', 'me/img', 'ghcr.io/me/img'])}${nl}`;
  else if (edit === 6) c.services = [`${pick(['mqtt:need', 'mysql:want'])}${nl}`];
  else if (edit === 7) c.map = [`${pick(['share:rw', 'ssl', 'config:ro', 'addons'])}${nl}`];
  else if (edit === 8) c.schema = { opt: `${pick(['str', 'int(1,5)', 'bool?', 'list(a|b)'])}${nl}` };
  else c.arch = [`${pick(['amd64', 'aarch64'])}${nl}`];
  return c;
}

/** Python's int() and \d take any Unicode decimal digit; \w any Unicode letter. */
function mutateUnicode(c) {
  const digits = pick([['٦', '٠'], ['６', '０'], ['६', '०'], ['𝟔', '𝟎']]);
  const num = (n) => String(n).replace(/6/g, digits[0]).replace(/0/g, digits[1]);
  const edit = Math.floor(random() * 8);
  if (edit === 0) c.timeout = num(pick([60, 600, 6, 100]));
  else if (edit === 1) c.ports = { '8080/tcp': num(pick([8060, 60, 6000006])) };
  else if (edit === 2) c.ports = { [`${num(pick([8060, 60]))}/tcp`]: 8080 };
  else if (edit === 3) c.ingress_port = num(pick([6006, 60000, 0]));
  else if (edit === 4) c.schema = { opt: `${pick(['int', 'float', 'str'])}(${num(pick([6, 0, 60]))},${num(pick([60, 600]))})` };
  else if (edit === 5) c.image = pick(['ghcr.io/é/x', 'ghcr.io/me/ïmg', 'me/img', 'ghcr.io/me/{arch}-é']);
  else if (edit === 6) c.ulimits = { nofile: num(pick([6000, 60])) };
  else c.environment = { [pick(['VAR', 'VÄR', 'ПЕРЕМ', '٦'])]: 'x' };
  return c;
}

/** Quirks of voluptuous and Python inside the schemas. */
function mutateQuirks(c) {
  const edit = Math.floor(random() * 9);
  if (edit === 0) c.timeout = pick([300.9, 9.99, 10.5, 300.0, 301.0, true, '300', ' 60 ', '6_0', '1e2', -0.5]);
  else if (edit === 1) {
    c.ingress = pick([true, 'no', 1, 'yes', 0]);
    c.ingress_port = pick([false, 0, 0.0, '0', true, 8099.5]);
    c.ports = { [pick(['62001/tcp', '8080/tcp', '65000'])]: pick([1234, null]) };
  } else if (edit === 2) c.schema = pick([0, 0.0, false, true, null, 1, '', [], { '~': 'str' }, { a: 'str' }]);
  else if (edit === 3) c.devices = pick([{ '/dev/a:/dev/a': 'rwm' }, { '/dev/a': 'rwm' }, '/dev/a:/dev/a:rwm', '/dev/a', [5], ['/dev/a:rwm', 5], [5, '/dev/a:rwm'], null, 5, [['a:b']]]);
  else if (edit === 4) c.environment = pick([{ 1: 'x' }, { A: 1 }, { A: 'x', B: null }, ['A=1'], 'A=1']);
  else if (edit === 5) c.ulimits = pick([{ 1: 5 }, { nofile: 5.5 }, { nofile: { soft: '1', hard: 2 } }, { nofile: [1] }]);
  else if (edit === 6) c.map = pick(['share', { share: 'rw' }, null, 5, [{ type: 'share', read_only: 1 }], [{ type: ['share'] }]]);
  else if (edit === 7) c.name = pick(['', 0, [], 'x', 5, null]);
  else c.tmpfs = pick(['size=10m', 5, true, null]);
  return c;
}

function mutateImages(c, isBuild) {
  const images = [
    'ghcr.io/me/img', 'ghcr.io/me/{arch}-img', 'localhost/img', 'localhost:5000/img', 'registry:5000/me/img', '[::1]:5000/img',
    'Ghcr.io/me/img', 'ghcr.io/Me/img', 'ghcr.io/me/img:1.0', 'me/img', 'img', 'ghcr.io//img', 'ghcr.io/me/', '/img', 'me/img.v2',
    'lscr.io/linuxserver/changedetection.io:amd64-latest', 'ghcr.io/home-assistant/base:3.24', 'index.docker.io/me/img',
    'ghcr.io/me/img@sha256:abc', 'ghcr.io/me/i_m-g', 'ghcr.io/me/{machine}', 'a.b/c', 'ex-ample.com:80/x', '-bad.io/x',
  ];
  if (isBuild) c.build_from = random() < 0.6 ? pick(images) : { [pick(['amd64', 'aarch64', 'armv7', 'riscv64'])]: pick(images) };
  else c.image = pick(images);
  return c;
}

function mutateBuild(b) {
  const key = pick(['build_from', 'args', 'labels', 'squash', 'codenotary']);
  b[key] = pick([
    'ghcr.io/home-assistant/base:3.24', 'base', 'me/base', { amd64: 'x/y', armv7: 'a' }, { riscv64: 'x/y' }, { A: '1' }, { A: 1 },
    'yes', 'maybe', true, null, [], 'x/y\n', 'ghcr.io/é/x',
  ]);
  return b;
}

/** Text-level edits of a YAML source: what PyYAML's C loader reads and refuses. */
function mutateYamlText(text) {
  const lines = text.split('\n');
  const edit = Math.floor(random() * 16);
  const valueLine = () => {
    const candidates = lines.map((l, i) => [l, i]).filter(([l]) => /^[a-z_]+: \S/.test(l));
    return candidates.length ? pick(candidates)[1] : -1;
  };
  const i = valueLine();
  if (edit === 0 && i >= 0) lines[i] = lines[i].replace(': ', `: ${pick(['!!str ', '!!float ', '!!int ', '!!bool ', '!!null ', '!!binary ', '!!timestamp ', '! ', '!custom ', '!!set ', '!!omap ', '!<tag:yaml.org,2002:str> '])}`);
  else if (edit === 1) return text.replace(/\n/g, pick(['\r\n', '\r']));
  else if (edit === 2) return text.replace(/\n/, pick(['\u0085', '\u2028', '\u2029', '\r']));
  else if (edit === 3) {
    const j = Math.floor(random() * lines.length);
    lines[j] = lines[j].replace(/^( *)- /, `$1-${pick(['\t', ' \t', '\t '])}`).replace(/^(\S[^:]*): /, `$1:${pick(['\t', ' \t'])}`);
  } else if (edit === 4) lines.splice(Math.floor(random() * lines.length), 0, pick(['\t# comment', '\t', '  \t# c', '# \tc', ' \t']));
  else if (edit === 5) lines.push(pick(['? [a]\n: 1', '? a\n: 1', '? {a: 1}\n: 1', '[a]: 1', '? !!set {a}\n: 1']));
  else if (edit === 6) lines.unshift(pick(['%YAML 1.1\n---', '%YAML 1.2\n---', '%YAML 1.3\n---', '%YAML 2.0\n---', '%YAML 1.0\n---', '%TAG !e! tag:e.com,2000:\n---', '---', '--- # doc']));
  else if (edit === 7) lines.push(`x_escape: "${pick(['\\ud800', '\\udfff', '\\x41', '\\U0001F600', '\\N', '\\_', '\\e', "\\'", '\\/', '\\U00110000', '\\q'])}"`);
  else if (edit === 8) return pick(['\ufeff', '\ufeff\ufeff', '']) + text + pick(['', '---\nx: 1\n', '...\n', '\ufeff']);
  else if (edit === 9) return pick(['', '# only a comment\n', '~\n', '[]\n', 'false\n', '0\n', '""\n', '---\n', 'just text\n', '- a\n']);
  else if (edit === 10) lines.push(pick(['a1: &x 1\na2: &x 2', 'a1: &x {p: 1}\na2:\n  <<: *x', 'a1: *nope', 'a1: =', '=: a', 'a1: <<', 'a1:\n  <<: 1', 'a1: &r [*r]']));
  else if (edit === 11 && i >= 0) lines[i] = lines[i].replace(/: .*/, `: ${pick(['2024-02-30', '2024-01-31', '2024-13-01', '2001-12-14 21:59:43.10 +99', '2001-12-14t21:59:43.10-05:00', '1:30', '0o17', '0x_1F', '1_000', '.NaN', '-.inf'])}`);
  else if (edit === 12) lines.push(pick(['version: 2024-02-30', 'version: 1.10', 'version: !!binary aGVsbG8=', 'timeout: !!float 60', 'timeout: !!int 0x3C', 'init: !!bool maybe', 'arch: !!set {amd64}', 'arch: !!omap [{amd64: 1}]', 'slug: !!str 123', 'description: !!binary aGk=']));
  else if (edit === 13) {
    const j = Math.floor(random() * lines.length);
    lines[j] = pick(['\t', ' ', '  ']) + lines[j];
  } else if (edit === 14) {
    const depth = pick([10, 1000, 3000]);
    lines.push(`x_deep: ${'['.repeat(depth)}${']'.repeat(depth)}`);
  }
  else lines.push(pick(['x_quoted: "multi\n  line"', "x_single: 'it''s'", 'x_block: |\n  a\n\tb', 'x_folded: >-\n  a\n  b', 'x_plain: a\n  b', 'x_flow: {a: 1, b}', 'x_flow2: [a, b', 'x_colon: a:b', 'x_q: ?x']));
  return lines.join('\n');
}

/** Text-level edits of a JSON source: what orjson reads and refuses. */
function mutateJsonText(text) {
  const edit = Math.floor(random() * 12);
  const insertAtEnd = (s) => text.replace(/}\s*$/, `, ${s}}\n`);
  if (edit === 0) return '\ufeff' + text;
  if (edit === 1) return insertAtEnd(`"x": ${pick(['NaN', 'Infinity', '-Infinity', '1e400', '-1e400', '1e-400', '123456789012345678901234567890', '01', '1.', '.5', '-0', '1E+2'])}`);
  if (edit === 2) return insertAtEnd(`"x": "${pick(['\\ud800', '\\udc00', '\\ud800\\udc00', '\\u00e9', '\\x41', '\\/', '\\U0001F600'])}"`);
  if (edit === 3) return text.replace(/}\s*$/, ',}\n');
  if (edit === 4) return text.replace('{', '{ // comment\n');
  if (edit === 5) return insertAtEnd('"name": "dup"');
  if (edit === 6) {
    const depth = pick([10, 500, 1000, 1020, 1024, 1025, 1100, 3000]);
    return insertAtEnd(`"x": ${'['.repeat(depth)}${']'.repeat(depth)}`);
  }
  if (edit === 7) return pick(['null', '[]', '"x"', '1', '', ' ', '{}']);
  if (edit === 8) return text.replace(/\n/g, pick(['\r\n', '\r', '\u2028', '\u00a0\n']));
  if (edit === 9) return text + pick(['\n{}', 'x', '\n\n']);
  if (edit === 10) return insertAtEnd(`"timeout": ${pick(['60.0', '300.5', '1e2', 'true', '"60"', '"٦٠"', 'null'])}`);
  return insertAtEnd(`"x": "${pick(['\t', '\u0001', '\u007f', 'é'])}"`);
}

/** Deep nesting the Supervisor reads (or, in option schemas, fails on). */
function mutateDeep(text, isYaml) {
  const depth = pick([50, 150, 180, 200, 400, 1000, 3000, 10000]);
  const where = pick(['x_unknown', 'options', 'environment', 'schema', 'arch']);
  if (!isYaml) {
    const d = Math.min(depth, pick([100, 1000, 1024]));
    const value = where === 'schema' || where === 'options' ? `${'{"a": '.repeat(d)}"str"${'}'.repeat(d)}` : `${'['.repeat(d)}${']'.repeat(d)}`;
    return text.replace(/}\s*$/, `, "${where}": ${value}}\n`);
  }
  const value = where === 'schema' || where === 'options' ? `${'{a: '.repeat(depth)}str${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`;
  return `${text.replace(new RegExp(`^${where}:.*(\\n[ -].*)*`, 'm'), '')}\n${where}: ${value}\n`.replace(/\n\n+/g, '\n');
}

const CLASSES = ['values', 're-dollar', 'unicode', 'schema-quirks', 'image-names', 'yaml-loader', 'json-loader', 'deep-nesting'];


// --- start-time classes (--start) --------------------------------------------------------------------

/** Option schema types on their boundaries, both eras' grammar. */
const START_TYPES = [
  'str', 'str?', 'str(2,5)', 'str(,3)', 'str(0,)', 'str(٣,)', 'str(,)', 'password', 'password(8,)', 'password?', 'int', 'int?', 'int(1,10)',
  'int(-5,5)', 'int(,0)', 'int(٣,)', 'float', 'float(0.5,1.5)', 'float(-1,)', 'float(.5,)', 'float(1.2.3,)', 'bool', 'bool?', 'email', 'url',
  'port', 'device', 'device?', 'device(subsystem=tty)', 'device(subsystem=usb)', 'list(a|b)', 'list(1|2)', 'list(1.0|2)', 'list(True|False)',
  'list(None|x)', 'list(a|)', 'list(2024-01-01|x)', 'match(^\\d+$)', 'match(^\\w$)', 'match([a-z]+)', 'match(^1\\.0$)', 'match((?i)^abc$)', '', '?',
];
/** Default values as YAML text: numbers written as ints and floats, Unicode digits, bools, containers, secrets. */
const START_VALUES = [
  '0', '1', '-1', '2', '3', '5', '10', '11', '-6', '1.0', '1.5', '-0.0', '0.5', '1e3', '2.0', '0x1F', '0o17', '1_000', '.inf', '.nan', '"5"', '" 7 "',
  '"٣"', '"²"', '"1.0"', '"abc"', '"ABC"', '"ab"', '"abcdef"', '""', '"a@b.co"', '"me@x"', '"http://x.y"', '"x.y"', '"/dev/ttyUSB0"', 'true',
  'false', 'yes', '"yes"', '"on"', '"maybe"', '[]', '[1]', '{}', '{a: 1}', '65535', '65536', '"True"', '"None"', '2024-01-01', '"é"',
  '"\\u0301"', '"a\\n"', '"x"', '"12345678"', '"1234567"', '"b"', '1:30',
];
const SUBSYSTEMS = ['tty', 'usb', 'input', 'block', 'sound', 'video4linux', 'hidraw', 'gpiomem', 'serial', 'bogus', 'disk', 'audio', 'rpivid-hevcmem', 'gpio', 'net'];
const REGEX_ATOMS = [
  'a', 'b', 'K', 'é', '\\d', '\\w', '\\s', '\\W', '\\b', '\\B', '.', '[a-z]', '[^0-9]', '[\\w-]', '(a|b)', '(?:ab)', '(?P<n>a)(?P=n)', '\\A', '\\Z',
  '(?i:a)', '(?-i:b)', '(?=a)', '(?!b)', '(?<=a)', '(?<!a)', '(?>a+)', '\\N{LATIN SMALL LETTER A}', '\\N{EM DASH}', '\\x41', '\\u00e9', '\\1', '\\0',
  '(?(1)a|b)', '(?#note)', '{', '}', ']', '-', ' ', '\\$',
];
const REGEX_BROKEN = [
  'a(?i)b', '^(?x) a b $', '^(?a)\\w+$', 'a{2,1}', 'a**', 'a{1,2}{3}', '[a-\\d]', '\\8', '(?P<1>a)', '(?<=a+)', '(ab', 'ab)', '[ab', '\\q',
  '(?L)a', '(?au)a', '\\N{NO SUCH NAME}', '(?P=x)', '*a', '\\x4', '(?i', '(?(2)a)', 'a{99999999999}',
];
const REGEX_QUANTIFIERS = ['', '', '', '*', '+', '?', '{2}', '{1,3}', '*?', '+?', '*+', '{,2}'];
const REGEX_FLAGS = ['', '', '', '(?i)', '(?a)', '(?s)', '(?m)', '(?x)', '(?ai)'];
const REGEX_TEXTS = ['"a"', '"ab"', '"abc"', '"ABC"', '"K"', '"Kelvin"', '"aa"', '"ba"', '"1"', '"12"', '"²"', '"٣"', '"é"', '"e\\u0301"', '"a\\n"', '"a b"', '"-"', '""', '"x{"', '"—"', '5', '1.0', 'true', 'null', '[a]', '"A"', '"_"'];

function randomRegex() {
  const parts = [];
  const count = 1 + Math.floor(random() * 4);
  for (let i = 0; i < count; i++) parts.push(pick(REGEX_ATOMS) + pick(REGEX_QUANTIFIERS));
  if (random() < 0.25) parts.splice(Math.floor(random() * (parts.length + 1)), 0, pick(REGEX_BROKEN));
  return `${pick(REGEX_FLAGS)}${random() < 0.5 ? '^' : ''}${parts.join('')}${random() < 0.4 ? '$' : ''}`;
}

const q = (text) => JSON.stringify(text);

/** A corpus config without its options and schema, as YAML text, to which generated ones are added. */
function baseConfig(source) {
  const parsed = parse(source);
  const base = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? structuredClone(parsed) : {};
  delete base.options;
  delete base.schema;
  return YAML.stringify(base);
}

/** `schema:` and `options:` blocks from [name, schema YAML, default YAML or undefined (no default)]. */
function optionsBlocks(entries) {
  const schema = entries.map(([name, type]) => `  ${name}: ${type}`).join('\n');
  const options = entries.filter(([, , value]) => value !== undefined).map(([name, , value]) => `  ${name}: ${value}`).join('\n');
  return `schema:\n${schema || '  {}'}\noptions:${options ? `\n${options}` : ' {}'}\n`;
}

function startOptionTypes() {
  return optionsBlocks(Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) => [`o${i}`, q(pick(START_TYPES)), random() < 0.9 ? pick(START_VALUES) : undefined]));
}
function startRegex() {
  return optionsBlocks(Array.from({ length: 1 + Math.floor(random() * 2) }, (_, i) => [`r${i}`, q(`match(${randomRegex()})${random() < 0.2 ? '?' : ''}`), random() < 0.85 ? pick(REGEX_TEXTS) : undefined]));
}
function startDevices() {
  const type = random() < 0.3 ? 'device' : `device(subsystem=${pick(SUBSYSTEMS)})`;
  const shape = random();
  const schemaType = shape < 0.6 ? q(type + (random() < 0.2 ? '?' : '')) : shape < 0.8 ? `[${q(type)}]` : `{port: ${q(type)}}`;
  const value = pick(['"/dev/ttyUSB0"', '"/dev/serial/by-id/usb-x"', '""', '5', 'true', 'null', '["/dev/ttyACM0"]', '[]', '{port: "/dev/ttyS0"}', '{port: 5}']);
  return optionsBlocks([['dev', schemaType, random() < 0.85 ? value : undefined]]);
}
function startSchemaShapes() {
  const shapes = ['[]', '["str"]', '["str?"]', '["int(1,5)"]', '[{a: "str", b: "int?"}]', '{a: "str", b: "port?"}', '{a: ["str"]}', '[["str"]]',
    '{a: {b: "str"}}', '[{a: {b: "int"}}]', '{}', '[{}]', '["str", "int"]', '["list(a|b)"]', '{"1": "str"}'];
  const values = ['[]', '["x"]', '[1, 2]', '[null]', '[{a: "x"}]', '[{a: "x", b: 1}]', '[{b: 1}]', '{a: "x"}', '{a: "x", b: 8080}', '{a: "x", c: 1}',
    '{}', '{a: ["x"]}', '{a: {b: "x"}}', '"x"', '5', '[[]]', '[{a: {b: 1}}]', '{a: null}'];
  if (random() < 0.08) return `schema: ${pick(['0', '0.0', 'false', 'true', 'null', '1', '""', '[]', '{}'])}\noptions: ${pick(['{}', '{a: 1}'])}\n`;
  return optionsBlocks(Array.from({ length: 1 + Math.floor(random() * 2) }, (_, i) => [`s${i}`, pick(shapes), random() < 0.85 ? pick(values) : undefined]));
}
function startPythonText() {
  const type = pick(['list(1|2)', 'list(1.0|2)', 'list(1|2.0)', 'list(True|False)', 'list(None|a)', 'list(1e3|1000.0)', 'list(0.5|x)', 'list(-0.0|0)',
    'match(^\\d+$)', 'match(^\\d+\\.\\d+$)', 'match(^True$)', 'match(^None$)', 'match(^\\[)', 'match(^\\{)', 'match(^2024)', 'match(^1e)', 'match(^1000\\.0$)']);
  const value = pick(['1', '1.0', '2', '2.0', '1e3', '1000.0', '1000', '0.5', '-0.0', '0', 'true', 'false', 'null', '"1"', '"1.0"', '[1]', '{a: 1}',
    '2024-01-01', '1.5e16', '1e-5', '100000000000000000000']);
  return optionsBlocks([['t', q(type + (random() < 0.2 ? '?' : '')), value]]);
}
function startNulls() {
  return optionsBlocks(Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) => {
    const type = pick(['"str"', '"str?"', '"int"', '"int?"', '["str"]', '["str?"]', '{a: "str"}', '{a: "str?"}', '[{a: "str"}]', '"match(^a$)"', '"device"']);
    return [`n${i}`, type, random() < 0.3 ? undefined : pick(['null', '~', '"!secret token"', '[null]', '{a: null}', '{}', '[]', '"a"', '[{}]', '[{a: null}]'])];
  }));
}

const TRANSLATION_VALUES = ['"Name"', '""', '5', 'null', 'true', '[a]', '{x: 1}', '"x"'];
function translationText() {
  if (random() < 0.08) return pick(['', '[]\n', '"x"\n', 'null\n', '~\n', 'configuration:\n', 'x: [\n', '- a\n', '{}\n']);
  const lines = [];
  if (random() < 0.85) {
    lines.push(random() < 0.1 ? `configuration: ${pick(['[]', '"x"', 'null', '5'])}` : 'configuration:');
    for (let i = 0; i < 1 + Math.floor(random() * 3); i++) {
      lines.push(`  ${random() < 0.1 ? pick(['1', 'true', 'null']) : `opt${i}`}:`);
      if (random() < 0.85) lines.push(`    name: ${pick(TRANSLATION_VALUES)}`);
      if (random() < 0.6) lines.push(`    description: ${pick(TRANSLATION_VALUES)}`);
      if (random() < 0.2) lines.push(`    extra: ${pick(TRANSLATION_VALUES)}`);
      if (random() < 0.3) {
        lines.push('    fields:');
        lines.push(`      ${random() < 0.1 ? '2' : 'sub'}:`);
        if (random() < 0.8) lines.push(`        name: ${pick(TRANSLATION_VALUES)}`);
        if (random() < 0.5) lines.push(`        description: ${pick(TRANSLATION_VALUES)}`);
      }
    }
  }
  if (random() < 0.5) {
    lines.push(random() < 0.1 ? `network: ${pick(['[]', '"x"', 'null'])}` : 'network:');
    lines.push(`  ${pick(['8080/tcp', '53/udp', '1', 'x'])}: ${pick(TRANSLATION_VALUES)}`);
  }
  if (random() < 0.1) lines.push(`${pick(['extra', 'name', '1'])}: ${pick(TRANSLATION_VALUES)}`);
  return lines.join('\n') + '\n';
}
function repositoryText() {
  if (random() < 0.1) return pick(['', '[]\n', '"x"\n', 'null\n', 'name: [\n']);
  const lines = [];
  if (random() < 0.85) lines.push(`name: ${pick(['"My add-ons"', '""', '5', 'null', 'true', '[a]', '{a: 1}'])}`);
  if (random() < 0.5) lines.push(`url: ${pick(['"https://github.com/me/addons"', '"github.com/me"', '"http://[::1]/"', '""', '5', 'null', '"ftp://x"'])}`);
  if (random() < 0.5) lines.push(`maintainer: ${pick(['"Me <me@example.com>"', '""', '5', 'null', '[a]'])}`);
  if (random() < 0.2) lines.push(`${pick(['extra', '1', 'version'])}: ${pick(['"x"', '1'])}`);
  return lines.join('\n') + '\n';
}

const START_CLASSES = ['option-types', 'regex', 'devices', 'schema-shapes', 'python-text', 'nulls', 'translations', 'repository'];

function write(file, value) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, typeof value === 'string' ? value : file.endsWith('.json') ? JSON.stringify(value, null, 2) : YAML.stringify(value));
}

const workDir = keep ?? mkdtempSync(path.join(tmpdir(), 'addonix-parity-'));
const files = inputs.flatMap(listFiles);
const targets = files.map((file) => ({ file, cls: 'corpus' }));
const parse = (source) => (source.endsWith('.json') ? JSON.parse(readFileSync(source, 'utf8')) : YAML.parse(readFileSync(source, 'utf8'), { version: '1.1' }));
let count = 0;
for (const cls of mutantsPerClass > 0 ? CLASSES : []) {
  const pool = cls === 'yaml-loader' ? files.filter((f) => !f.endsWith('.json')) : cls === 'json-loader' ? files.filter((f) => f.endsWith('.json')) : files;
  for (let i = 0; i < mutantsPerClass; i++) {
    const source = pick(pool);
    const isConfig = path.basename(source).startsWith('config.');
    const isYaml = !source.endsWith('.json');
    let out;
    if (cls === 'yaml-loader') out = mutateYamlText(readFileSync(source, 'utf8'));
    else if (cls === 'json-loader') out = mutateJsonText(readFileSync(source, 'utf8'));
    else if (cls === 'deep-nesting') out = isConfig ? mutateDeep(readFileSync(source, 'utf8'), isYaml) : mutateYamlText(readFileSync(source, 'utf8'));
    else {
      const parsed = parse(source);
      const value = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? structuredClone(parsed) : {};
      if (!isConfig) out = cls === 'image-names' ? mutateImages(value, true) : mutateBuild(value);
      else if (cls === 'values') out = mutateValues(value);
      else if (cls === 're-dollar') out = mutateDollar(value);
      else if (cls === 'unicode') out = mutateUnicode(value);
      else if (cls === 'schema-quirks') out = mutateQuirks(value);
      else out = mutateImages(value, false);
    }
    const file = path.join(workDir, `m${String(count++).padStart(5, '0')}`, path.basename(source));
    write(file, out);
    targets.push({ file, cls });
  }
}

const configSources = files.filter((f) => /^config\.(ya?ml|json)$/.test(path.basename(f)));
/** Folders given to addonix in --start mode (each mutant is its own add-on or repository). */
const startDirs = [];
for (const cls of startPerClass > 0 ? START_CLASSES : []) {
  for (let i = 0; i < startPerClass; i++) {
    const dir = path.join(workDir, `s${String(count++).padStart(5, '0')}`);
    const base = baseConfig(pick(configSources));
    if (cls === 'translations') {
      write(path.join(dir, 'config.yaml'), base + 'schema: {}\noptions: {}\n');
      const file = path.join(dir, 'translations', `${pick(['en', 'de', 'fr'])}.${random() < 0.15 ? 'json' : 'yaml'}`);
      const text = translationText();
      let json = text;
      try {
        json = JSON.stringify(YAML.parse(text, { version: '1.1' }) ?? null);
      } catch {
        // Text YAML cannot read stays as it is: the Supervisor's JSON reader refuses it too.
      }
      write(file, file.endsWith('.json') ? json : text);
      targets.push({ file, cls, kind: 'translation' });
    } else if (cls === 'repository') {
      write(path.join(dir, 'addon', 'config.yaml'), base + 'schema: {}\noptions: {}\n');
      const file = path.join(dir, 'repository.yaml');
      write(file, repositoryText());
      targets.push({ file, cls, kind: 'repository' });
    } else {
      const blocks = { 'option-types': startOptionTypes, regex: startRegex, devices: startDevices, 'schema-shapes': startSchemaShapes, 'python-text': startPythonText, nulls: startNulls }[cls]();
      const file = path.join(dir, 'config.yaml');
      write(file, base + blocks);
      targets.push({ file, cls, kind: 'config' });
    }
    startDirs.push(dir);
  }
}

function oracleVerdicts(tree) {
  const verdicts = new Map();
  // One process per few hundred files: a crash of the C code on one input must not lose the others.
  for (let i = 0; i < targets.length; i += 400) {
    const batch = targets.slice(i, i + 400).map((t) => t.file);
    let stdout = '';
    try {
      stdout = execFileSync(python, [oracle, tree, ...batch], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
    } catch (error) {
      stdout = error.stdout ?? '';
    }
    for (const line of stdout.split('\n')) {
      if (!line.trim()) continue;
      const r = JSON.parse(line);
      verdicts.set(path.resolve(r.file), r);
    }
  }
  return verdicts;
}

function addonixFindings(era) {
  let stdout;
  const given = [...targets.filter((t) => !t.kind).map((t) => t.file), ...startDirs];
  try {
    stdout = execFileSync(process.execPath, [cli, 'validate', '--json', '--supervisor', era, ...given], { encoding: 'utf8', maxBuffer: 1 << 28 });
  } catch (error) {
    stdout = error.stdout;
  }
  const byFile = new Map();
  for (const d of JSON.parse(stdout)) {
    const file = path.resolve(d.file);
    if (!byFile.has(file)) byFile.set(file, []);
    byFile.get(file).push(d);
  }
  return byFile;
}

function supervisorSays(verdict) {
  if (!verdict.ok) return `refuses: ${verdict.error}`;
  if (verdict.start_ok === false) return `accepts, fails at start: ${verdict.start_error}`;
  return 'accepts';
}

/** The options a config gives (parsed here only to tell "left to the user" from a miss, never to judge). */
function optionsOf(file) {
  try {
    const value = YAML.parse(readFileSync(file, 'utf8'), { version: '1.1' });
    return value && typeof value === 'object' ? value.options : undefined;
  } catch {
    return undefined;
  }
}

/** A null under `key` (or in the list under it), anywhere in the options. */
function hasNullUnder(value, key, depth = 0) {
  if (value === null || typeof value !== 'object' || depth > 50) return false;
  return Object.entries(value).some(([k, v]) => (k === key && (v === null || (Array.isArray(v) && v.includes(null)))) || hasNullUnder(v, key, depth + 1));
}

/** The Supervisor refuses to start only for what addonix leaves to the user on purpose (docs/limits.md). */
function leftToUser(verdict, file) {
  const message = verdict.start_error ?? '';
  if (/^Missing option '/.test(message) || /^Unknown secret '/.test(message)) return true;
  const named = /^(?:Missing required option|Invalid list for option|Invalid dict for option) '(.+?)'/.exec(message);
  return named !== null && hasNullUnder(optionsOf(file), named[1]);
}

/** agree, stricter (addonix refuses on purpose), leftToUser (addonix leaves it to the user on purpose) or disagree. */
function startOutcome(verdict, mine, file) {
  if (verdict.kind === 'translation') return mine.some((d) => TRANSLATION_DROPPED.has(d.code)) === !verdict.ok ? 'agree' : 'disagree';
  if (verdict.kind === 'repository' || verdict.kind === 'build') {
    const refused = verdict.kind === 'build' ? mine.some((d) => BUILD_IGNORED.has(d.code)) : mine.some((d) => d.severity === 'error');
    return refused === !verdict.ok ? 'agree' : 'disagree';
  }
  const errors = mine.filter((d) => d.severity === 'error' && !d.code.startsWith('compat-'));
  const plain = errors.some((d) => !DELIBERATE.has(d.code) && d.code !== 'too-deep') || mine.some((d) => START_REFUSED.has(d.code));
  const refused = plain || errors.length > 0;
  const supervisorRefuses = !verdict.ok || verdict.start_ok === false;
  if (refused === supervisorRefuses) return 'agree';
  if (!supervisorRefuses) return plain ? 'disagree' : 'stricter';
  if (verdict.ok && leftToUser(verdict, file)) return 'leftToUser';
  return 'disagree';
}

const summary = { seed: seedText, mutantsPerClass, startPerClass, mutants: count, eras: {} };
const disagreements = [];
for (const era of ['2026', '2025']) {
  if (!trees[era]) continue;
  const verdicts = oracleVerdicts(trees[era]);
  const byFile = addonixFindings(era);
  const perClass = {};
  for (const { file: target, cls } of targets) {
    const file = path.resolve(target);
    const verdict = verdicts.get(file);
    perClass[cls] ??= startPerClass > 0 ? { files: 0, agree: 0, stricter: 0, leftToUser: 0, disagree: 0, noVerdict: 0 } : { files: 0, agree: 0, deliberate: 0, disagree: 0, noVerdict: 0 };
    const row = perClass[cls];
    row.files++;
    if (!verdict) {
      row.noVerdict++; // The oracle itself died on this input (C stack overflow).
      continue;
    }
    const mine = byFile.get(file) ?? [];
    if (startPerClass > 0) {
      const outcome = startOutcome(verdict, mine, target);
      row[outcome === 'agree' ? 'agree' : outcome === 'disagree' ? 'disagree' : outcome] = (row[outcome] ?? 0) + 1;
      if (outcome === 'disagree') {
        disagreements.push({ era, cls, file: target, supervisor: supervisorSays(verdict), addonix: mine.map((d) => `${d.severity} ${d.code}: ${d.message}`) });
      }
      continue;
    }
    const counted = (d) => (verdict.kind === 'config' ? d.severity === 'error' && !d.code.startsWith('compat-') : BUILD_IGNORED.has(d.code));
    const refused = mine.some((d) => counted(d) && !DELIBERATE.has(d.code) && d.code !== 'too-deep');
    const deliberate = mine.some((d) => counted(d) && (DELIBERATE.has(d.code) || d.code === 'too-deep'));
    if (refused === !verdict.ok) row.agree++;
    else if (verdict.ok && deliberate) row.deliberate++;
    else {
      row.disagree++;
      disagreements.push({ era, cls, file: target, supervisor: verdict.ok ? 'accepts' : `refuses: ${verdict.error}`, addonix: mine.filter(counted).map((d) => `${d.code}: ${d.message}`) });
    }
  }
  summary.eras[era] = perClass;
}
for (const d of disagreements.slice(0, show)) console.log(JSON.stringify(d));
console.log(JSON.stringify({ ...summary, disagreements: disagreements.length, workDir: keep ? workDir : undefined }, null, 1));
if (!keep) rmSync(workDir, { recursive: true, force: true });
process.exitCode = disagreements.length === 0 ? 0 : 1;
