/**
 * `addonix generate`: the Nix data files parse, evaluate to what `deps --json` and `inspect --json`
 * show, are data only, are byte-identical when regenerated, and `--check` catches staleness.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { corpus, needTools, tempTree } from './helpers.js';
// The CLI in this process (a process each cost a third of a second of CPU to start, generate's and init's more).
import { runCliInProcess } from './in-process-cli.js';
import { startCommandOf } from '../src/npm/start-command.js';

const CONFIG = `name: Photo notes
version: "1.0.0"
slug: photo_notes
description: Notes with photos
url: https://example.com/photo-notes
arch: [aarch64, amd64, armv7]
image: ghcr.io/me/{arch}-photo-notes
ports:
  8080/tcp: 8080
options:
  level: info
  ratio: 0.5
  tags: [a, b]
schema:
  level: list(info|debug)
  ratio: float
  tags: [str]
`;

function addon(t: TestContext, lockfile = 'photo-notes-sharp', app = '.'): string | undefined {
  const source = corpus(t, `lockfiles/${lockfile}`);
  if (!source) return undefined;
  const dir = tempTree(t, { 'config.yaml': CONFIG, Dockerfile: 'ARG BUILD_FROM=ghcr.io/home-assistant/base:3.24\nFROM $BUILD_FROM\n' });
  execFileSync('mkdir', ['-p', path.join(dir, app)]);
  copyFileSync(path.join(source, 'package.json'), path.join(dir, app, 'package.json'));
  copyFileSync(path.join(source, 'package-lock.json'), path.join(dir, app, 'package-lock.json'));
  return dir;
}

function nixJson(file: string): any {
  execFileSync('nix-instantiate', ['--parse', file], { stdio: 'pipe' });
  return JSON.parse(execFileSync('nix-instantiate', ['--eval', '--strict', '--json', file], { encoding: 'utf8', maxBuffer: 1 << 28 }));
}

/** Everything outside string literals and comments: only data syntax may remain. */
function codeOutsideStrings(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.startsWith('#'))
    .join('\n')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

test('generate: the npm data evaluates to what deps --json shows, for every target', async (t) => {
  if (!needTools(t, 'nix-instantiate')) return;
  const dir = addon(t);
  if (!dir) return;
  const result = await runCliInProcess(['generate', dir]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /\nwrote .*nix\/addon\.generated\.nix\nwrote .*nix\/npm-deps\.generated\.nix\n$/);
  // The Dockerfile only names the base image: generate says what the image runs instead.
  assert.match(result.stdout, /^How the image runs\n  flavor +nix: Dockerfile:2: the Dockerfile copies no files and sets no command, so the image has the app in \/app and runs package\.json's start command/);
  // armv7-musl has no sharp binary: reported, not fatal to generation.
  assert.match(result.stderr, /warning: armv7-musl cannot be built: sharp@0\.35\.5 has no binary for armv7-musl/);

  const data = nixJson(path.join(dir, 'nix', 'npm-deps.generated.nix'));
  assert.equal(data.dataVersion, 2);
  assert.deepEqual(data.app, { dir: '.', lockfile: 'package-lock.json' });
  assert.deepEqual(Object.keys(data.targets).sort(), ['aarch64-glibc', 'aarch64-musl', 'amd64-glibc', 'amd64-musl', 'armv7-glibc', 'armv7-musl']);
  for (const target of Object.keys(data.targets)) {
    const shown = JSON.parse((await runCliInProcess(['deps', dir, '--target', target, '--json'])).stdout);
    const exclude = new Set<string>(data.targets[target].exclude);
    const fromNix = Object.entries(data.packages as Record<string, any>)
      .filter(([location]) => !exclude.has(location))
      .map(([location, p]) => ({ location, name: p.name, version: p.version, url: p.url, integrity: p.integrity, bundled: p.bundled, link: p.link, optional: p.optional }));
    const byLocation = (a: { location: string }, b: { location: string }) => (a.location < b.location ? -1 : 1);
    assert.deepEqual(fromNix.sort(byLocation), [...shown.packages].sort(byLocation), target);
    const nativeFromNix = Object.entries(data.targets[target].native as Record<string, any>).map(([location, n]) => ({ location, ...n }));
    assert.deepEqual(nativeFromNix.sort(byLocation), [...shown.native].sort(byLocation), target);
    assert.deepEqual(data.targets[target].errors, shown.errors, target);
  }
  const bs3 = data.packages['node_modules/better-sqlite3'];
  assert.equal(bs3.source, 'registry');
  assert.match(bs3.integrity, /^sha512-/);
  assert.deepEqual(data.packages['node_modules/node-gyp-build'].bin, { 'node-gyp-build': 'bin.js', 'node-gyp-build-optional': 'optional.js', 'node-gyp-build-test': 'build-test.js' });
});

test('generate: the add-on data holds what the Nix library reads of the inspect model, and the command package.json starts', async (t) => {
  if (!needTools(t, 'nix-instantiate')) return;
  const dir = addon(t);
  if (!dir) return;
  assert.equal((await runCliInProcess(['generate', dir])).status, 0);
  const data = nixJson(path.join(dir, 'nix', 'addon.generated.nix'));
  const model = JSON.parse((await runCliInProcess(['inspect', '--json', dir])).stdout);
  // Data only the library reads: the arch table is nix/arches.nix, the options schema is not built on.
  assert.deepEqual(Object.keys(data).sort(), ['app', 'archNames', 'arches', 'contextIgnore', 'dataVersion', 'environment', 'ingress', 'ingressPort', 'init', 'ports', 'slug', 'version']);
  assert.equal(data.dataVersion, 3);
  assert.deepEqual(data.archNames, ['aarch64', 'amd64', 'armv7']);
  for (const arch of model.arches) {
    const { image, labels, runtime } = data.arches[arch.arch];
    assert.deepEqual({ image, labels }, { image: arch.image, labels: arch.labels }, arch.arch);
    assert.equal(runtime.flavor, arch.runtime.flavor, arch.arch);
    assert.equal(runtime.flavorReason, arch.runtime.flavorReason, arch.arch);
  }
  assert.equal(data.arches.armv7.labels['io.hass.arch'], 'armv7');
  assert.deepEqual(data.ports, { '8080/tcp': 8080 });
  assert.deepEqual(data.app, { dir: '.', lockfile: 'package-lock.json' });
  // The command is decided here, from package.json, as npm would start the app.
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const start = startCommandOf(pkg);
  const runtime = data.arches.amd64.runtime;
  assert.deepEqual({ command: runtime.command, commandProblem: runtime.commandProblem }, { command: start.command, commandProblem: start.problem });
  assert.ok(runtime.command === null || runtime.command[0] === '/bin/node' || runtime.command[0] === '/bin/sh', String(runtime.command));
  // Without a contract of its own, the app goes to /app with its node_modules; the add-on's metadata stays out.
  assert.equal(runtime.source, null);
  assert.deepEqual(runtime.steps, [{ op: 'copy', line: 0, sources: ['.'], dest: '/app/', chmod: null, extract: false }]);
  assert.equal(runtime.nodeModulesDir, '/app');
  assert.ok(data.contextIgnore.some((rule: { pattern: string }) => rule.pattern === 'config.yaml'));
});

test('generate: the start command: node scripts run without a shell, others under /bin/sh, else main, else a reason', () => {
  assert.deepEqual(startCommandOf({ scripts: { start: 'node server.js --port 8099' } }), { command: ['/bin/node', 'server.js', '--port', '8099'], problem: null, source: 'package.json scripts.start' });
  assert.deepEqual(startCommandOf({ scripts: { start: 'node server.js > /tmp/log' } }).command, ['/bin/sh', '-c', 'node server.js > /tmp/log']);
  assert.deepEqual(startCommandOf({ scripts: { start: 'NODE_ENV=x node a.js' } }).command, ['/bin/sh', '-c', 'NODE_ENV=x node a.js']);
  assert.deepEqual(startCommandOf({ main: 'lib/index.js' }), { command: ['/bin/node', 'lib/index.js'], problem: null, source: 'package.json main' });
  assert.deepEqual(startCommandOf({ scripts: { test: 'x' } }), { command: null, problem: 'its package.json has neither a start script nor main', source: null });
});

test('generate: data only, byte-identical when regenerated, from any working directory', async (t) => {
  const dir = addon(t, 'node-red-better-sqlite3', 'rootfs/app');
  if (!dir) return;
  assert.equal((await runCliInProcess(['generate', dir])).status, 0);
  const files = ['addon.generated.nix', 'npm-deps.generated.nix'].map((name) => path.join(dir, 'nix', name));
  const first = files.map((file) => readFileSync(file, 'utf8'));
  const mtimes = files.map((file) => statSync(file).mtimeMs);
  for (const text of first) {
    assert.match(text, /^# .*\n# Generated by `addonix generate`: do not edit; regenerate instead\. Data only\.\n\{\n/);
    const code = codeOutsideStrings(text);
    assert.doesNotMatch(code, /\b(import|let|in|with|rec|inherit|builtins)\b|:|\$\{/);
    assert.match(code, /^[\s{}[\]=;()\w.'"-]*$/);
  }
  assert.match(first[1]!, /lockfile = "rootfs\/app\/package-lock\.json";/);
  const again = await runCliInProcess(['generate', '.'], { cwd: dir });
  assert.equal(again.status, 0);
  assert.match(again.stdout, /\nunchanged nix\/addon\.generated\.nix\nunchanged nix\/npm-deps\.generated\.nix\n$/);
  assert.deepEqual(files.map((file) => readFileSync(file, 'utf8')), first);
  assert.deepEqual(files.map((file) => statSync(file).mtimeMs), mtimes, 'unchanged files are not rewritten');
});

test('generate --check: up to date, then stale after an edit, and writes nothing', async (t) => {
  const dir = addon(t);
  if (!dir) return;
  const check = () => runCliInProcess(['generate', '--check', dir]);
  const missing = await check();
  assert.equal(missing.status, 1);
  assert.match(missing.stdout, /stale: .*addon\.generated\.nix\nstale: .*npm-deps\.generated\.nix\nrun: addonix generate/);
  assert.equal((await runCliInProcess(['generate', dir])).status, 0);
  const fresh = await check();
  assert.equal(fresh.status, 0);
  assert.match(fresh.stdout, /^up to date: /);

  writeFileSync(path.join(dir, 'config.yaml'), CONFIG.replace('version: "1.0.0"', 'version: "1.0.1"'));
  const before = readFileSync(path.join(dir, 'nix', 'addon.generated.nix'), 'utf8');
  const stale = await check();
  assert.equal(stale.status, 1);
  assert.match(stale.stdout, /^stale: .*nix\/addon\.generated\.nix\n/);
  assert.doesNotMatch(stale.stdout, /npm-deps/);
  assert.equal(readFileSync(path.join(dir, 'nix', 'addon.generated.nix'), 'utf8'), before, '--check writes nothing');

  // Without a lockfile, the npm data is stale too, and generate removes it.
  rmSync(path.join(dir, 'package-lock.json'));
  rmSync(path.join(dir, 'package.json'));
  assert.match((await check()).stdout, /stale: .*npm-deps\.generated\.nix/);
  const regenerated = await runCliInProcess(['generate', dir]);
  assert.match(regenerated.stdout, /removed .*npm-deps\.generated\.nix \(no package-lock\.json any more\)/);
  assert.equal((await check()).status, 0);
});

test('generate: an add-on without a Node.js app gets only its metadata', async (t) => {
  const dir = tempTree(t, { 'config.yaml': CONFIG });
  const result = await runCliInProcess(['generate', dir]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /\nwrote .*addon\.generated\.nix\n$/);
  assert.doesNotMatch(result.stdout, /npm-deps/);
});

test('generate: several npm projects in one add-on need --app', async (t) => {
  const dir = tempTree(t, { 'config.yaml': CONFIG, 'a/package-lock.json': '{}', 'b/package-lock.json': '{}' });
  const result = await runCliInProcess(['generate', dir]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /holds several npm projects \(a, b\); choose one with --app FOLDER/);
  const missing = await runCliInProcess(['generate', dir, '--app', 'c']);
  assert.match(missing.stderr, /--app c: no such folder/);
});

test('generate: an app with a pnpm or Yarn lockfile is refused, naming the file and how to write an npm one', async (t) => {
  const dir = tempTree(t, { 'config.yaml': CONFIG, 'backend/package.json': '{"name":"b","version":"1.0.0"}', 'backend/pnpm-lock.yaml': "lockfileVersion: '9.0'\n" });
  const result = await runCliInProcess(['generate', dir]);
  assert.equal(result.status, 1, result.stdout);
  assert.match(result.stderr, /backend\/pnpm-lock\.yaml: a pnpm lockfile; addonix reads npm's package-lock\.json \(lockfile version 2 or 3\) only, pnpm lockfiles are not supported yet\. To build with addonix, write one with npm: cd \S*backend && npm install --package-lock-only \(then addonix generate --app backend\)/);
  const yarn = tempTree(t, { 'config.yaml': CONFIG, 'package.json': '{"name":"y","version":"1.0.0"}', 'yarn.lock': '# yarn lockfile v1\n' });
  assert.match((await runCliInProcess(['generate', yarn])).stderr, /no package-lock\.json in \S+ \(there is a yarn\.lock: addonix reads npm lockfiles only\)/);
});
