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
import { chmodSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { CLI, hasStackTrace, MINIMAL_CONFIG, needTools, tempTree } from './helpers.js';
import { archLayers, dockerToolsEntries, writeTarFile } from './images.js';

function asRoot(t: TestContext): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env['CI'] === 'true') throw new Error('these tests mount file systems and switch users: they need root, as CI has');
  t.skip('needs root (to mount a small tmpfs and to run as nobody); the project machines and CI run the tests as root');
  return false;
}

/** The CLI in a mount namespace of its own, after `setup` (shell commands) has mounted what it needs. */
function inNamespace(setup: string, args: string[], env: Record<string, string> = {}) {
  const quoted = [process.execPath, CLI, ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  const result = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `set -e; ${setup}; exec ${quoted}`], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The CLI as the user nobody. */
function asNobody(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', HOME: '/nonexistent', ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('fs errors: a full disk under the cache is a user error naming the cache and the fix, for every command that imports', async (t) => {
  if (!needTools(t, 'unshare', 'mount') || !asRoot(t)) return;
  const dir = tempTree(t, {});
  const image = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') }));
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

test('fs errors: generate, init, assemble --out and diff --report on a read-only file system say so, and where', async (t) => {
  if (!needTools(t, 'unshare', 'mount') || !asRoot(t)) return;
  const dir = tempTree(t, { 'addon/config.yaml': MINIMAL_CONFIG });
  const image = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') }));
  const other = await writeTarFile(path.join(dir, 'other.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64', ' v2') }));
  const readOnly = path.join(dir, 'ro');
  mkdirSync(readOnly);
  const mountReadOnly = (target: string) => `mount --bind ${target} ${target} && mount -o remount,ro,bind ${target}`;
  const cases: [string, string, string[]][] = [
    ['generate', path.join(dir, 'addon'), ['generate', path.join(dir, 'addon')]],
    ['init', path.join(dir, 'addon'), ['init', path.join(dir, 'addon')]],
    ['assemble --out', readOnly, ['assemble', '--out', path.join(readOnly, 'layout'), image]],
    ['diff --report', readOnly, ['diff', image, other, '--report', path.join(readOnly, 'report')]],
  ];
  for (const [what, target, args] of cases) {
    const result = inNamespace(mountReadOnly(target), args, { ADDONIX_CACHE_DIR: path.join(dir, 'cache') });
    assert.equal(result.status, 1, `${what}: ${result.stdout}\n${result.stderr}`);
    assert.match(result.stderr, new RegExp(`^addonix: error: cannot write ${target.replace(/[/.]/g, '\\$&')}/\\S*: the file system is read-only; choose a place on a writable file system`, 'm'), what);
    assert.ok(!hasStackTrace(result.stderr), `${what}: ${result.stderr}`);
  }
  assert.deepEqual(readdirSync(readOnly), []);
});

test('fs errors: a folder this user may not write (EACCES) is said to be one, with the fix', async (t) => {
  if (!needTools(t, 'setpriv') || !asRoot(t)) return;
  const dir = tempTree(t, { 'addon/config.yaml': MINIMAL_CONFIG });
  chmodSync(dir, 0o755);
  const image = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') }));
  const other = await writeTarFile(path.join(dir, 'other.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64', ' v2') }));
  const cache = path.join(dir, 'cache');
  mkdirSync(cache, { mode: 0o777 });
  chmodSync(cache, 0o777);
  const closed = path.join(dir, 'closed');
  mkdirSync(closed, { mode: 0o755 });
  for (const [what, args] of [
    ['diff --report', ['diff', image, other, '--report', path.join(closed, 'report')]],
    ['generate', ['generate', path.join(dir, 'addon')]],
    ['assemble --out', ['assemble', '--out', path.join(closed, 'layout'), image]],
  ] as const) {
    const result = asNobody([...args], { ADDONIX_CACHE_DIR: cache });
    assert.equal(result.status, 1, `${what}: ${result.stdout}\n${result.stderr}`);
    assert.match(result.stderr, /^addonix: error: cannot write \/\S+: permission denied; make it writable for this user, or choose another place/m, what);
    assert.ok(!hasStackTrace(result.stderr), `${what}: ${result.stderr}`);
  }
  // The cache itself, unwritable: named as the cache.
  const lockedCache = path.join(dir, 'locked-cache');
  mkdirSync(lockedCache, { mode: 0o755 });
  const result = asNobody(['inspect-image', image], { ADDONIX_CACHE_DIR: lockedCache });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /permission denied; it is addonix's cache: free some space there, or set ADDONIX_CACHE_DIR/);
});
