/**
 * A newcomer's path through the README (issue 19): the small mistakes addonix made in saying what is
 * wrong. Each runs the CLI as a user does, on small folders; none builds anything (a few seconds in all).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLI, MINIMAL_CONFIG, runCli, tempTree } from './helpers.js';
import { archLayers, dockerToolsEntries, writeTarFile } from './images.js';

interface JsonFailure {
  error: { code: string; message: string; file: string | null; line: number | null };
}

test('papercuts: a word where a command belongs is an unknown command, whatever options follow it', () => {
  const json = runCli(['frobnicate', '--json']);
  assert.equal(json.status, 2);
  const { error } = JSON.parse(json.stdout) as JsonFailure;
  assert.equal(error.code, 'usage');
  assert.match(error.message, /^Unknown command: frobnicate\.\n/);
  assert.doesNotMatch(error.message, /json/, 'the options of a command that does not exist are not its mistake');
  const typo = runCli(['valdate', 'x']);
  assert.match(typo.stderr, /^addonix: Unknown command: valdate\. Did you mean validate\?\n/);
});

test('papercuts: --version prints the version alone; --help lists every command', () => {
  const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
  const result = runCli(['--version']);
  assert.equal(result.status, 0);
  assert.equal(result.stdout, `${version}\n`);
  const help = runCli(['--help']);
  assert.equal(help.status, 0);
  for (const name of ['init', 'validate', 'generate', 'build', 'push', 'load', 'verify', 'doctor']) assert.match(help.stdout, new RegExp(`addonix ${name}\\b`));
});

test('papercuts: --jobs takes a whole number and names the value given, not NaN', (t) => {
  const dir = tempTree(t, {});
  for (const value of ['abc', '0', '1.5', '-2']) {
    const result = runCli(['build', dir, '--dry-run', '--jobs', value]);
    assert.equal(result.status, 2, value);
    assert.doesNotMatch(result.stderr, /NaN/, value);
    assert.match(result.stderr, new RegExp(`--jobs ${value.replace('.', '\\.')}: give a whole number >= 1`), value);
  }
});

test('papercuts: a config.yaml or lockfile that is a folder or a FIFO is said to be one, not missing (and a FIFO is not waited on)', (t) => {
  const dir = tempTree(t, {
    'folder/placeholder': '',
    'app/config.yaml': MINIMAL_CONFIG,
    'app/package.json': '{"name":"app","version":"1.0.0"}\n',
  });
  mkdirSync(path.join(dir, 'folder', 'config.yaml'));
  mkdirSync(path.join(dir, 'fifo'));
  execFileSync('mkfifo', [path.join(dir, 'fifo', 'config.yaml')]);
  const spawnOptions = { encoding: 'utf8' as const, timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } };
  for (const [sub, kind] of [['folder', 'a directory'], ['fifo', 'a FIFO \\(named pipe\\)']] as const) {
    const result = spawnSync(process.execPath, [CLI, 'validate', path.join(dir, sub), '--json'], spawnOptions);
    assert.equal(result.status, 1, `${sub}: ${result.stderr}`);
    const [finding] = JSON.parse(result.stdout) as { file: string; code: string; message: string }[];
    assert.equal(finding?.file, path.join(dir, sub, 'config.yaml'));
    assert.equal(finding?.code, 'unreadable');
    assert.match(finding!.message, new RegExp(`^${kind}, not a file; the Supervisor cannot read it`));
  }
  const lockfile = path.join(dir, 'app', 'package-lock.json');
  for (const [make, kind] of [[() => mkdirSync(lockfile), 'a directory'], [() => execFileSync('mkfifo', [lockfile]), 'a FIFO \\(named pipe\\)']] as const) {
    rmSync(lockfile, { recursive: true, force: true });
    make();
    const result = spawnSync(process.execPath, [CLI, 'generate', path.join(dir, 'app'), '--json'], spawnOptions);
    assert.equal(result.status, 1, result.stderr);
    const { error } = JSON.parse(result.stdout) as JsonFailure;
    assert.equal(error.code, 'not-readable');
    assert.match(error.message, new RegExp(`^${lockfile.replace(/[.]/g, '\\.')} is ${kind}, not a file`));
    assert.equal(error.file, lockfile);
  }
});

test('papercuts: the file-too-large and not-UTF-8 messages say what addonix and the Supervisor do, once each', (t) => {
  const dir = tempTree(t, { 'large/config.yaml': `${MINIMAL_CONFIG}# ${'x'.repeat(1024 * 1024)}\n`, 'latin1/config.yaml': Buffer.from('name: Caf\xe9\nversion: "1"\nslug: x\ndescription: x\narch: [amd64]\n', 'latin1') });
  const large = runCli(['validate', path.join(dir, 'large'), '--json']);
  const [tooLarge] = JSON.parse(large.stdout) as { code: string; message: string }[];
  assert.equal(tooLarge?.code, 'file-too-large');
  assert.match(tooLarge!.message, /addonix refuses files over 1 MiB \(the Supervisor would read it\)$/);
  assert.doesNotMatch(tooLarge!.message, /Supervisor cannot read/);
  const latin1 = runCli(['validate', path.join(dir, 'latin1'), '--json']);
  const [notUtf8] = JSON.parse(latin1.stdout) as { code: string; message: string }[];
  assert.equal(notUtf8?.code, 'not-utf8');
  assert.equal(notUtf8!.message, 'not UTF-8 text (invalid byte 0xe9); the Supervisor cannot read it and skips this add-on');
});

test('papercuts: a path outside the working folder is shown as given (absolute), one inside it relative', (t) => {
  const dir = tempTree(t, { 'deep/er/placeholder': '', 'addon/config.yaml': 'name: x\n' });
  const cwd = path.join(dir, 'deep', 'er');
  const outside = runCli(['validate', '/nonexistent/x'], { cwd });
  assert.match(outside.stdout, /^\/nonexistent\/x: error: no such file or folder \[not-found\]$/m);
  const generate = runCli(['generate', '/nonexistent/x', '--json'], { cwd });
  assert.doesNotMatch(generate.stdout, /\.\.\//);
  const inside = runCli(['validate', 'addon'], { cwd: dir });
  assert.match(inside.stdout, /^addon\/config\.yaml: error: /m);
});

test('papercuts: a JSON error whose message starts with FILE:LINE carries them in file and line', (t) => {
  const dir = tempTree(t, { 'config.yaml': MINIMAL_CONFIG, 'package.json': '{"name":"a","version":"1.0.0"}\n', 'package-lock.json': '{\n  "lockfileVersion": 3,\n  "packages": {\n' });
  const result = runCli(['generate', '.', '--json'], { cwd: dir });
  const { error } = JSON.parse(result.stdout) as JsonFailure;
  assert.equal(error.code, 'npm-project');
  assert.match(error.message, /^package-lock\.json:4:1: /);
  assert.equal(error.file, 'package-lock.json');
  assert.equal(error.line, 4);
  // A registry's host:port is no file and line.
  const push = runCli(['push', '--to', '127.0.0.1:1/x', '--tag', '1', path.join(dir, 'missing'), '--json']);
  assert.equal((JSON.parse(push.stdout) as JsonFailure).error.line, null);
});

test('papercuts: load --name and diff --diff-report are checked before any image is read', (t) => {
  const dir = tempTree(t, {});
  chmodSync(dir, 0o755);
  // An image input that leaves a mark when it is read (a stream script runs to be read).
  const marker = path.join(dir, 'read');
  const script = path.join(dir, 'stream');
  writeFileSync(script, `#!/bin/sh\ntouch ${marker}\nexit 1\n`, { mode: 0o755 });
  const env = { ADDONIX_CACHE_DIR: path.join(dir, 'cache') };
  const load = runCli(['load', '--engine', 'podman', '--name', 'Bad Name', script], { env });
  assert.equal(load.status, 2, load.stderr);
  assert.match(load.stderr, /--name "Bad Name" is not an image name NAME:TAG/);
  assert.equal(existsSync(marker), false, 'load read the image before refusing its --name');
  if (process.getuid?.() !== 0) return t.skip('the unwritable report folder needs a user who may not write a folder: run as root to test it as nobody');
  const closed = path.join(dir, 'closed');
  mkdirSync(closed, { mode: 0o755 });
  mkdirSync(path.join(dir, 'cache'), { mode: 0o777 });
  chmodSync(path.join(dir, 'cache'), 0o777);
  const diff = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'diff', script, script, '--diff-report', path.join(closed, 'report', 'deeper')], { encoding: 'utf8', env: { ...process.env, ...env, HOME: '/nonexistent' } });
  assert.equal(diff.status, 2, diff.stderr);
  assert.match(diff.stderr, new RegExp(`cannot write ${closed}: permission denied`));
  assert.equal(existsSync(marker), false, 'diff read the images before finding it cannot write its report');
});

test('papercuts: diff --arch names an arch an input lacks before a slow input is read (a stream script is not run)', async (t) => {
  const dir = tempTree(t, {});
  const marker = path.join(dir, 'read');
  const script = path.join(dir, 'stream');
  writeFileSync(script, `#!/bin/sh\ntouch ${marker}\nexit 1\n`, { mode: 0o755 });
  // A plain archive says its images from its documents; the stream script would have to run whole.
  const amd64 = await writeTarFile(path.join(dir, 'amd64.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') }));
  const env = { ADDONIX_CACHE_DIR: path.join(dir, 'cache') };
  for (const args of [[script, amd64], [amd64, script]]) {
    const result = runCli(['diff', '--arch', 'i386', ...args], { env });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /amd64\.tar has no image for i386 \(it has: amd64\)/);
    assert.equal(existsSync(marker), false, `diff ${args.join(' ')} ran the stream script before finding that the archive has no i386 image`);
  }
  // ARCH=PATH says it before anything is read.
  const named = runCli(['diff', '--arch', 'i386', `amd64=${script}`, script], { env });
  assert.equal(named.status, 2, named.stderr);
  assert.match(named.stderr, /amd64=.*stream has no image for i386 \(it has: amd64, as ARCH=PATH says\)/);
  assert.equal(existsSync(marker), false);
});
