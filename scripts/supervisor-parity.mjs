#!/usr/bin/env node
// Compare addonix's verdicts with the Home Assistant Supervisor's own schemas, file by file.
//
//   node scripts/supervisor-parity.mjs SUPERVISOR_SRC [--mutants N] [--seed S] [--keep DIR]
//        [--supervisor 2026|2025] [--oracle FILE] PATH...
//
// SUPERVISOR_SRC is an unpacked home-assistant/supervisor source tree ("apps" era, 2026). The verdicts
// come from ../shared/tools/supervisor-oracle.py (Debian python3 with python3-voluptuous and
// python3-yaml). A config file is "refused" when the Supervisor's schema raises; for addonix, when
// `addonix validate --supervisor 2026` reports an error in it. A build file is "ignored" when its schema
// raises; for addonix, when it reports build-file-ignored. With --mutants N, N mutated copies of the
// given files are made (in a temporary folder) and compared too. For the 2025 rules, pass a 2025.06
// source tree, --supervisor 2025 and an oracle adapted to its `supervisor.addons` package with --oracle.
// Not part of the test suite: it needs the Supervisor's sources, which the suite cannot fetch.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'bin', 'addonix.js');

// Findings addonix reports as errors by its own policy, where the Supervisor's schema has no opinion.
const POLICY_CODES = new Set(['duplicate-key', 'file-too-large', 'missing-version', 'schema-regex', 'two-configs', 'duplicate-slug', 'not-utf8']);

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const [, value] = args.splice(i, 2);
  return value;
};
const mutants = Number(option('--mutants', '0'));
let seed = Number(option('--seed', '1'));
const keep = option('--keep', undefined);
const era = option('--supervisor', '2026');
const oracle = option('--oracle', path.join(here, '..', '..', 'shared', 'tools', 'supervisor-oracle.py'));
const [supervisorSrc, ...inputs] = args;
if (!supervisorSrc || inputs.length === 0) {
  console.error('usage: supervisor-parity.mjs SUPERVISOR_SRC [--mutants N] [--seed S] [--keep DIR] PATH...');
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

// Values chosen to sit on the Supervisor's edges: coercions, patterns, enums, nesting.
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
  [{ a: 'str' }], [{ a: { b: ['str'] } }], 5, true, null,
];
const CONFIG_KEYS = [
  'name', 'version', 'slug', 'description', 'arch', 'machine', 'url', 'startup', 'boot', 'init', 'advanced', 'stage',
  'ports', 'ports_description', 'watchdog', 'webui', 'ingress', 'ingress_port', 'ingress_entry', 'ingress_stream',
  'panel_icon', 'panel_title', 'panel_admin', 'homeassistant', 'host_network', 'devices', 'udev', 'tmpfs', 'map',
  'environment', 'privileged', 'apparmor', 'hassio_role', 'services', 'discovery', 'backup', 'backup_exclude', 'options',
  'schema', 'image', 'ulimits', 'timeout', 'journald', 'breaking_versions', 'codenotary', 'auto_uart', 'snapshot',
];

function mutateConfig(config) {
  const c = structuredClone(config);
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
  } else c[pick(['arch', 'machine', 'privileged', 'services', 'breaking_versions', 'ulimits', 'environment'])] = pick([
    ['amd64', 'riscv64'], ['armv7'], 'amd64', ['raspberrypi4', 'raspberrypi4'], ['NET_ADMIN', 'BOGUS'], { nofile: '1024' },
    { nofile: { soft: 1, hard: '2' } }, { nofile: { soft: 1 } }, { A: 1 }, { A: 'b' }, ['1.0', 2],
  ]);
  return c;
}

function mutateBuild(build) {
  const b = structuredClone(build && typeof build === 'object' ? build : {});
  const key = pick(['build_from', 'args', 'labels', 'squash', 'codenotary']);
  b[key] = pick([
    'ghcr.io/home-assistant/base:3.24', 'base', 'me/base', { amd64: 'x/y', armv7: 'a' }, { riscv64: 'x/y' }, { A: '1' }, { A: 1 },
    'yes', 'maybe', true, null, [],
  ]);
  return b;
}

function write(file, value) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, file.endsWith('.json') ? JSON.stringify(value, null, 2) : YAML.stringify(value));
}

const workDir = keep ?? mkdtempSync(path.join(tmpdir(), 'addonix-parity-'));
const files = inputs.flatMap(listFiles);
let count = 0;
const targets = [...files];
for (let i = 0; i < mutants; i++) {
  const source = pick(files);
  const parsed = source.endsWith('.json') ? JSON.parse(readFileSync(source, 'utf8')) : YAML.parse(readFileSync(source, 'utf8'), { version: '1.1' });
  const isConfig = path.basename(source).startsWith('config.');
  const mutated = isConfig ? mutateConfig(parsed) : mutateBuild(parsed);
  const out = path.join(workDir, `m${String(count++).padStart(5, '0')}`, path.basename(source));
  write(out, mutated);
  targets.push(out);
}

const verdicts = new Map();
for (const line of execFileSync('/usr/bin/python3', [oracle, supervisorSrc, ...targets], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')) {
  if (!line.trim()) continue;
  const r = JSON.parse(line);
  verdicts.set(path.resolve(r.file), r);
}

const diagnostics = JSON.parse(
  (() => {
    try {
      return execFileSync('node', [cli, 'validate', '--json', '--supervisor', era, ...targets], { encoding: 'utf8', maxBuffer: 1 << 28 });
    } catch (error) {
      return error.stdout;
    }
  })(),
);
const byFile = new Map();
for (const d of diagnostics) {
  const file = path.resolve(d.file);
  if (!byFile.has(file)) byFile.set(file, []);
  byFile.get(file).push(d);
}

let agree = 0;
const disagreements = [];
for (const target of targets) {
  const file = path.resolve(target);
  const verdict = verdicts.get(file);
  if (!verdict) continue;
  const mine = byFile.get(file) ?? [];
  const refused =
    verdict.kind === 'config'
      ? mine.some((d) => d.severity === 'error' && !POLICY_CODES.has(d.code) && !d.code.startsWith('compat-'))
      : mine.some((d) => d.code === 'build-file-ignored');
  if (refused === !verdict.ok) agree++;
  else disagreements.push({ file: target, supervisor: verdict.ok ? 'accepts' : `refuses: ${verdict.error}`, addonix: mine.filter((d) => d.severity === 'error' || d.code === 'build-file-ignored').map((d) => `${d.code}: ${d.message}`) });
}
for (const d of disagreements) console.log(JSON.stringify(d));
console.log(JSON.stringify({ files: agree + disagreements.length, agree, disagree: disagreements.length, mutants, workDir: keep ? workDir : undefined }));
if (!keep) rmSync(workDir, { recursive: true, force: true });
process.exitCode = disagreements.length === 0 ? 0 : 1;
