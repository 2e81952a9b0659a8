/**
 * `addonix generate` and `addonix deps` on broken npm projects as a user runs them: exit statuses, the
 * error as text on stderr or as a JSON object on stdout, nothing written. Which error each broken
 * project gives is checked in process by unit-npm.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { hasStackTrace, MINIMAL_CONFIG, tempTree } from './helpers.js';
// The CLI in this process (a process each cost a third of a second of CPU to start, generate's more).
import { runCliInProcess } from './in-process-cli.js';
import { badInputs, GOOD_ENTRY, lockfile, packageJson } from './npm-inputs.js';

test('bad npm input through the CLI: generate exits 1 with the error and writes nothing; deps --json prints it as JSON', async (t) => {
  const bad = badInputs.find((input) => input.name === 'lockfile out of sync with package.json')!;
  const dir = tempTree(t, { 'config.yaml': MINIMAL_CONFIG, ...bad.files });
  const generate = await runCliInProcess(['generate', dir]);
  assert.equal(generate.status, 1, generate.stdout + generate.stderr);
  assert.match(generate.stderr, bad.message);
  assert.ok(!hasStackTrace(generate.stderr), generate.stderr);
  assert.ok(!existsSync(path.join(dir, 'nix')), 'nothing written');
  // With --json the failure is a JSON object on stdout, with its code.
  const depsRun = await runCliInProcess(['deps', dir, '--json']);
  assert.equal(depsRun.status, 1);
  const failure = JSON.parse(depsRun.stdout) as { error: { code: string; message: string; exit: number } };
  assert.equal(failure.error.code, 'npm-project');
  assert.equal(failure.error.exit, 1);
  assert.match(failure.error.message, bad.message);
  assert.equal(depsRun.stderr, '');
});

test('deps: usage errors for targets', async (t) => {
  const dir = tempTree(t, { 'package.json': packageJson({ debug: '^4' }), 'package-lock.json': lockfile({ 'node_modules/debug': GOOD_ENTRY }, { debug: '^4' }) });
  const noTarget = await runCliInProcess(['deps', dir]);
  assert.equal(noTarget.status, 2);
  assert.match(noTarget.stderr, /not an add-on folder: name the targets with --target/);
  const badTarget = await runCliInProcess(['deps', dir, '--target', 'arm64-musl']);
  assert.equal(badTarget.status, 2);
  assert.match(badTarget.stderr, /--target arm64-musl: not a target\..* Did you mean aarch64-musl\?/);
  const otherName = await runCliInProcess(['deps', dir, '--target', 'x86_64']);
  assert.equal(otherName.status, 2);
  assert.match(otherName.stderr, /Did you mean amd64\?/);
  const archAlone = await runCliInProcess(['deps', dir, '--target', 'aarch64', '--target', 'armv7', '--json']);
  assert.equal(archAlone.status, 0, archAlone.stderr);
  assert.deepEqual(
    (JSON.parse(archAlone.stdout) as { target: string }[]).map((d) => d.target),
    ['aarch64-glibc', 'armv7-musl'],
    'an arch alone takes the libc its images get by default',
  );
  const ok = await runCliInProcess(['deps', dir, '--target', 'armv7-glibc', '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout), {
    target: 'armv7-glibc',
    packages: [{ location: 'node_modules/debug', name: 'debug', version: '4.4.0', url: GOOD_ENTRY.resolved, integrity: GOOD_ENTRY.integrity, bundled: false, link: false, optional: false }],
    native: [],
    errors: [],
  });
});
