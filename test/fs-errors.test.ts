/**
 * A full disk, a read-only file system, a folder the user may not write: every command says what is wrong,
 * where, and what to do, without a stack trace, and leaves nothing half-written. The disk is a small
 * tmpfs, the read-only file system a read-only bind mount, both in a mount namespace of their own
 * (unshare), so nothing of the machine's changes; the unwritable folder is one the user `nobody` may not
 * write. These need root (to mount, to become nobody), as the project's machines and CI run the tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { withoutTemporary, writeDirectoryAtomic, writeFileAtomic } from '../src/util/atomic.js';
import { fileSystemUserError } from '../src/util/fs-errors.js';
import { UserError } from '../src/util/errors.js';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { CLI, hasStackTrace, jsonError, MINIMAL_CONFIG, needTools, tempTree } from './helpers.js';
import { archLayers, dockerToolsEntries, writeTarFile } from './images.js';

function asRoot(t: TestContext): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env['CI'] === 'true') throw new Error('these tests mount file systems and switch users: they need root, as CI has');
  t.skip('needs root (to mount a small tmpfs and to run as nobody); the project machines and CI run the tests as root');
  return false;
}

/** The CLI in a mount namespace of its own, after `setup` (shell commands) has mounted what it needs. */
function inNamespace(setup: string, args: string[], env: Record<string, string> = {}) {
  const asNobody = args[0] === '--as-nobody--';
  const command = [...(asNobody ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : []), process.execPath, CLI, ...args.slice(asNobody ? 1 : 0)];
  const quoted = command.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  const result = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `set -e; ${setup}; exec ${quoted}`], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The CLI as the user nobody, in a mount namespace of its own after `setup` (run as root). */
function inNamespaceAsNobody(setup: string, args: string[], env: Record<string, string> = {}) {
  return inNamespace(setup, ['--as-nobody--', ...args], env);
}

/** The CLI as the user nobody. */
function asNobody(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', HOME: '/nonexistent', ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** An amd64 docker-archive in `dir`; another `variant` gives other layer contents. */
async function amd64Image(dir: string, name: string, variant?: string): Promise<string> {
  return writeTarFile(path.join(dir, name), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64', variant) }));
}

/** A cache folder in `dir` that every user may write: the commands run as nobody use it. */
function cacheForAll(dir: string): string {
  const cache = path.join(dir, 'cache');
  mkdirSync(cache, { mode: 0o777 });
  chmodSync(cache, 0o777);
  return cache;
}

test('fs errors: a full disk under the cache is a user error naming the cache and the fix, for every command that imports', async (t) => {
  if (!needTools(t, 'unshare', 'mount') || !asRoot(t)) return;
  const dir = tempTree(t, {});
  const image = await amd64Image(dir, 'image.tar');
  const small = path.join(dir, 'small');
  mkdirSync(small);
  // 64 KiB: the documents fit, the first layer (96 KiB of noise) does not.
  for (const command of [['inspect-image', image], ['assemble', '--out', path.join(dir, 'layout'), image], ['load', '--engine', 'podman', '--arch', 'amd64', image]]) {
    const result = inNamespace(`mount -t tmpfs -o size=64k tmpfs ${small}`, command, { ADDONIX_CACHE_DIR: path.join(small, 'cache') });
    assert.equal(result.status, 1, `${command[0]}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`^addonix: error: cannot write ${small}/cache/oci/blobs/sha256: no space left on the device; it is addonix's cache: free some space there, or set ADDONIX_CACHE_DIR`, 'm'));
    assert.ok(!hasStackTrace(result.stderr), result.stderr);
    assert.doesNotMatch(result.stderr, /internal error/);
  }
  assert.ok(!existsSync(path.join(dir, 'layout')));
});

/** The exit status of a command's failure: 1, but 2 for diff, whose 1 means "the images differ" (as diff(1)'s). */
const failureExit = (args: readonly string[]) => (args[0] === 'diff' ? 2 : 1);

test('fs errors: generate, init, assemble --out and diff --diff-report on a read-only file system say so, and where', async (t) => {
  if (!needTools(t, 'unshare', 'mount') || !asRoot(t)) return;
  const dir = tempTree(t, { 'addon/config.yaml': MINIMAL_CONFIG });
  const image = await amd64Image(dir, 'image.tar');
  const other = await amd64Image(dir, 'other.tar', ' v2');
  const readOnly = path.join(dir, 'ro');
  mkdirSync(readOnly);
  const mountReadOnly = (target: string) => `mount --bind ${target} ${target} && mount -o remount,ro,bind ${target}`;
  const cases: [string, string, string[]][] = [
    ['generate', path.join(dir, 'addon'), ['generate', path.join(dir, 'addon')]],
    ['init', path.join(dir, 'addon'), ['init', path.join(dir, 'addon')]],
    ['assemble --out', readOnly, ['assemble', '--out', path.join(readOnly, 'layout'), image]],
    ['diff --diff-report', readOnly, ['diff', image, other, '--diff-report', path.join(readOnly, 'report')]],
  ];
  for (const [what, target, args] of cases) {
    const result = inNamespace(mountReadOnly(target), args, { ADDONIX_CACHE_DIR: path.join(dir, 'cache') });
    assert.equal(result.status, failureExit(args), `${what}: ${result.stdout}\n${result.stderr}`);
    // A file in it, or the folder itself when it is checked before the command starts (diff --diff-report).
    assert.match(result.stderr, new RegExp(`^addonix: error: cannot write ${target.replace(/[/.]/g, '\\$&')}(/\\S*)?: the file system is read-only; choose a place on a writable file system`, 'm'), what);
    assert.doesNotMatch(result.stderr, /\.partial-/, `${what}: addonix's temporaries are no place the user knows`);
    assert.ok(!hasStackTrace(result.stderr), `${what}: ${result.stderr}`);
  }
  assert.deepEqual(readdirSync(readOnly), []);
});

test('fs errors: a folder this user may not write (EACCES) is said to be one, with the fix', async (t) => {
  if (!needTools(t, 'setpriv') || !asRoot(t)) return;
  const dir = tempTree(t, { 'addon/config.yaml': MINIMAL_CONFIG });
  chmodSync(dir, 0o755);
  const image = await amd64Image(dir, 'image.tar');
  const other = await amd64Image(dir, 'other.tar', ' v2');
  const cache = cacheForAll(dir);
  const closed = path.join(dir, 'closed');
  mkdirSync(closed, { mode: 0o755 });
  for (const [what, args] of [
    ['diff --diff-report', ['diff', image, other, '--diff-report', path.join(closed, 'report')]],
    ['generate', ['generate', path.join(dir, 'addon')]],
    ['assemble --out', ['assemble', '--out', path.join(closed, 'layout'), image]],
  ] as const) {
    const result = asNobody([...args], { ADDONIX_CACHE_DIR: cache });
    assert.equal(result.status, failureExit(args), `${what}: ${result.stdout}\n${result.stderr}`);
    assert.match(result.stderr, /^addonix: error: cannot write \/\S+: permission denied; make it writable for this user, or choose another place/m, what);
    assert.doesNotMatch(result.stderr, /\.partial-/, `${what}: addonix's temporaries are no place the user knows`);
    assert.ok(!hasStackTrace(result.stderr), `${what}: ${result.stderr}`);
  }
  // The cache itself, unwritable: named as the cache.
  const lockedCache = path.join(dir, 'locked-cache');
  mkdirSync(lockedCache, { mode: 0o755 });
  const result = asNobody(['inspect-image', image], { ADDONIX_CACHE_DIR: lockedCache });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /permission denied; it is addonix's cache: free some space there, or set ADDONIX_CACHE_DIR/);
});

test('fs errors: an input this user may not read is said to be unreadable, not unwritable', async (t) => {
  if (!needTools(t, 'setpriv') || !asRoot(t)) return;
  const dir = tempTree(t, { 'addon/config.yaml': MINIMAL_CONFIG, 'addon/package.json': '{"name":"a","version":"1.0.0"}\n', 'addon/package-lock.json': '{"lockfileVersion":3,"packages":{"":{"name":"a","version":"1.0.0"}}}\n' });
  chmodSync(dir, 0o755);
  chmodSync(path.join(dir, 'addon'), 0o755);
  chmodSync(path.join(dir, 'addon', 'package-lock.json'), 0o600);
  const image = await amd64Image(dir, 'image.tar');
  chmodSync(image, 0o600);
  const cache = cacheForAll(dir);
  for (const [what, args, file] of [
    ['generate, its lockfile', ['generate', path.join(dir, 'addon')], path.join(dir, 'addon', 'package-lock.json')],
    ['inspect-image, the image', ['inspect-image', image], image],
  ] as const) {
    const result = asNobody([...args, '--json'], { ADDONIX_CACHE_DIR: cache });
    assert.equal(result.status, 1, `${what}: ${result.stdout}\n${result.stderr}`);
    const error = jsonError(result.stdout, what);
    assert.equal(error.code, 'not-readable', `${what}: ${error.message}`);
    assert.equal(error.message, `cannot read ${file}: permission denied; make it readable for this user (or run as a user who may read it)`, what);
    assert.equal(error.file, file, what);
  }
});

test('fs errors --json: every command that writes, into a full disk, a read-only file system or a folder it may not write, exits 1 (diff 2) with a JSON error naming the path', async (t) => {
  if (!needTools(t, 'unshare', 'mount', 'setpriv') || !asRoot(t)) return;
  const dir = tempTree(t, { 'addon/config.yaml': MINIMAL_CONFIG, 'built/config.yaml': MINIMAL_CONFIG, 'built/flake.nix': '{ outputs = { self }: { }; }\n' });
  chmodSync(dir, 0o755);
  const image = await amd64Image(dir, 'image.tar');
  const other = await amd64Image(dir, 'other.tar', ' v2');
  const cache = cacheForAll(dir);
  // The place each command writes in is PLACE; the add-on is copied there for the commands that write into it.
  const place = path.join(dir, 'place');
  mkdirSync(place, { mode: 0o755 });
  const addonIn = (p: string) => path.join(p, 'addon');
  const commands: { name: string; args: (p: string) => string[]; cacheInPlace?: boolean; canFill?: boolean }[] = [
    { name: 'generate', args: (p) => ['generate', addonIn(p)] },
    { name: 'init', args: (p) => ['init', addonIn(p)] },
    { name: 'assemble --out', args: (p) => ['assemble', '--out', path.join(p, 'layout'), image] },
    { name: 'diff --diff-report', args: (p) => ['diff', image, other, '--diff-report', path.join(p, 'report')] },
    { name: 'inspect-image (cache)', args: () => ['inspect-image', image], cacheInPlace: true },
    { name: 'load (cache)', args: () => ['load', '--engine', 'podman', '--arch', 'amd64', image], cacheInPlace: true },
    { name: 'push (cache)', args: () => ['push', '--to', '127.0.0.1:1/x', '--tag', '1', image], cacheInPlace: true },
    // These check the folder of their results before building, so a full disk shows only when they write.
    { name: 'build --out-link', args: (p) => ['build', path.join(dir, 'built'), '--out-link', path.join(p, 'result')], canFill: false },
    { name: 'verify --report', args: (p) => ['verify', path.join(dir, 'built'), '--arch', 'amd64', '--against', image, '--report', path.join(p, 'verify.json')], canFill: false },
  ];
  const copyAddon = `cp -r ${path.join(dir, 'addon')} ${place}/`;
  const ways = [
    { kind: 'full disk', code: 'disk-full', run: (args: string[], env: Record<string, string>) => inNamespace(`mount -t tmpfs -o size=64k tmpfs ${place} && ${copyAddon} && (dd if=/dev/zero of=${place}/fill bs=4096 2>/dev/null || true)`, args, env) },
    { kind: 'read-only file system', code: 'read-only', run: (args: string[], env: Record<string, string>) => inNamespace(`mount -t tmpfs tmpfs ${place} && ${copyAddon} && mkdir -p ${place}/cache && mount -o remount,ro ${place}`, args, env) },
    { kind: 'folder it may not write', code: 'not-writable', run: (args: string[], env: Record<string, string>) => inNamespaceAsNobody(`mount -t tmpfs -o mode=0755 tmpfs ${place} && ${copyAddon} && mkdir -p ${place}/cache`, args, { ...env, HOME: '/nonexistent' }) },
  ];
  for (const way of ways) {
    for (const command of commands) {
      if (way.code === 'disk-full' && command.canFill === false) continue;
      const what = `${command.name}, ${way.kind}`;
      const env = { ADDONIX_CACHE_DIR: command.cacheInPlace ? path.join(place, 'cache') : cache };
      const args = [...command.args(place), '--json'];
      const result = way.run(args, env);
      assert.equal(result.status, failureExit(args), `${what}: ${result.stdout}\n${result.stderr}`);
      const error = jsonError(result.stdout, what);
      assert.equal(error.code, way.code, `${what}: ${error.message}`);
      assert.equal(error.exit, failureExit(args), what);
      assert.ok(error.message.includes(place), `${what}: the message names the path: ${error.message}`);
      assert.ok(error.file?.startsWith(place), `${what}: the file field names the path: ${error.file}`);
      assert.doesNotMatch(result.stdout + result.stderr, /internal error/, what);
      assert.ok(!hasStackTrace(result.stdout + result.stderr), `${what}: ${result.stderr}`);
    }
  }
});

test('fs errors --json: the commands that write nothing run in a read-only folder and print JSON', async (t) => {
  if (!needTools(t, 'unshare', 'mount') || !asRoot(t)) return;
  const dir = tempTree(t, { 'addon/config.yaml': MINIMAL_CONFIG, 'addon/package.json': '{"name":"a","version":"1.0.0"}\n', 'addon/package-lock.json': '{"name":"a","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"a","version":"1.0.0"}}}\n' });
  const addon = path.join(dir, 'addon');
  for (const args of [['validate', addon], ['inspect', addon], ['deps', addon], ['generate', addon, '--check']]) {
    const result = inNamespace(`mount --bind ${dir} ${dir} && mount -o remount,ro,bind ${dir} && cd ${addon}`, [...args, '--json'], { ADDONIX_CACHE_DIR: path.join(dir, 'cache') });
    assert.ok(result.status === 0 || (args[0] === 'generate' && result.status === 1), `${args[0]}: ${result.stderr}`);
    assert.doesNotThrow(() => JSON.parse(result.stdout), `${args[0]}: ${result.stdout}`);
    assert.doesNotMatch(result.stdout, /"error"/, args[0]);
  }
});

test("fs errors: a failure on one of addonix's temporaries names the folder it was made in, or the path under the target, never the temporary", async (t) => {
  const dir = tempTree(t, {});
  // A name the file system takes whose temporary's name (".NAME.partial-PID-RANDOM") is too long: the
  // temporary fails, root or not, and the folder is named.
  const fileError = await writeFileAtomic(path.join(dir, 'x'.repeat(240)), '{}').then(() => null, (error: NodeJS.ErrnoException) => error);
  assert.equal(fileError?.code, 'ENAMETOOLONG');
  assert.equal(fileError?.path, dir);
  assert.doesNotMatch(fileError!.message, /\.partial-/);
  // A file where a folder should be, below a temporary folder: the path as it would be in the target.
  const made = await writeDirectoryAtomic(path.join(dir, 'report'), async (temporary) => {
    writeFileSync(path.join(temporary, 'x'), '');
    mkdirSync(path.join(temporary, 'x', 'deeper'));
  }, { mayReplace: async () => false, refuse: () => new Error('exists') }).then(() => null, (error: NodeJS.ErrnoException) => error);
  assert.equal(made?.code, 'ENOTDIR');
  assert.equal(made?.path, path.join(dir, 'report', 'x', 'deeper'), 'the path as it would be in the target');
  assert.doesNotMatch(made!.message, /\.partial-/);
  assert.equal(fileSystemUserError(Object.assign(new Error('x'), { code: 'EACCES', syscall: 'open', path: fileError!.path }))?.message.includes('.partial-'), false);
  // verify's rebuild folder in what Nix said: named for what it was.
  const said = withoutTemporary(new UserError('nix-failed', 'builder failed: cd: can\'t cd to /tmp/addonix-rebuild-AbC123/nix-build-x.drv-0'), '/tmp/addonix-rebuild-AbC123', "(verify's temporary build folder)") as Error;
  assert.equal(said.message, "builder failed: cd: can't cd to (verify's temporary build folder)/nix-build-x.drv-0");
});
