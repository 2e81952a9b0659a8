import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MINIMAL_CONFIG, hasStackTrace, tempTree } from './helpers.js';
// The CLI in this process (a process each cost a third of a second of CPU to start, generate's and init's more).
import { runCliInProcess } from './in-process-cli.js';

const NOTES_CONFIG = `name: Sqlite Notes
version: "1.2.0"
slug: sqlite_notes
description: Notes in SQLite
url: https://example.com/notes
image: ghcr.io/me/{arch}-notes
arch: [aarch64, amd64, armv7, armhf, i386]
ingress: true
ports:
  8080/tcp: null
environment:
  TZ: UTC
`;

const DOCKERFILE = `# syntax=docker/dockerfile:1
ARG BUILD_FROM=ghcr.io/home-assistant/base:3.24
FROM \${BUILD_FROM}
RUN echo hi
`;

interface Arch {
  arch: string;
  platform: Record<string, string>;
  nixSystem: string;
  muslTarget: string;
  glibcTarget: string;
  goarch: string;
  npmCpu: string;
  image: string;
  baseImage: string | null;
  baseImageSource: string | null;
  dockerfile: string | null;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
}

async function inspectJson(dir: string, args: string[] = []) {
  const result = await runCliInProcess(['inspect', '--json', ...args, dir]);
  assert.equal(result.status, 0, result.stderr);
  return { model: JSON.parse(result.stdout) as { arches: Arch[]; [key: string]: unknown }, stderr: result.stderr };
}

test('inspect: platform, Nix system, cross targets, image and labels for every arch', async (t) => {
  const root = tempTree(t, {
    'repository.yaml': 'name: My add-ons\nurl: https://github.com/me/addons\n',
    'notes/config.yaml': NOTES_CONFIG,
    'notes/Dockerfile': DOCKERFILE,
    'notes/Dockerfile.armhf': 'FROM ghcr.io/home-assistant/armhf-base:3.20\n',
  });
  const { model } = await inspectJson(`${root}/notes`);
  assert.equal(model['name'], 'Sqlite Notes');
  assert.equal(model['slug'], 'sqlite_notes');
  assert.equal(model['version'], '1.2.0');
  assert.equal(model['ingress'], true);
  assert.deepEqual(model['ports'], { '8080/tcp': null });
  assert.deepEqual(model['environment'], { TZ: 'UTC' });
  const byArch = Object.fromEntries(model.arches.map((a) => [a.arch, a]));
  assert.deepEqual(Object.keys(byArch), ['aarch64', 'amd64', 'armv7', 'armhf', 'i386']);

  const expected: Record<string, [Record<string, string>, string, string, string, string]> = {
    amd64: [{ os: 'linux', architecture: 'amd64' }, 'x86_64-linux', 'x86_64-unknown-linux-musl', 'amd64', 'x64'],
    aarch64: [{ os: 'linux', architecture: 'arm64', variant: 'v8' }, 'aarch64-linux', 'aarch64-unknown-linux-musl', 'arm64', 'arm64'],
    armv7: [{ os: 'linux', architecture: 'arm', variant: 'v7' }, 'armv7l-linux', 'armv7l-unknown-linux-musleabihf', 'arm', 'arm'],
    armhf: [{ os: 'linux', architecture: 'arm', variant: 'v6' }, 'armv6l-linux', 'armv6l-unknown-linux-musleabihf', 'arm', 'arm'],
    i386: [{ os: 'linux', architecture: '386' }, 'i686-linux', 'i686-unknown-linux-musl', '386', 'ia32'],
  };
  for (const [arch, [platform, nixSystem, muslTarget, goarch, npmCpu]] of Object.entries(expected)) {
    const a = byArch[arch]!;
    assert.deepEqual(a.platform, platform, arch);
    assert.equal(a.nixSystem, nixSystem);
    assert.equal(a.muslTarget, muslTarget);
    assert.equal(a.goarch, goarch);
    assert.equal(a.npmCpu, npmCpu);
    assert.equal(a.image, `ghcr.io/me/${arch}-notes:1.2.0`);
    assert.deepEqual(a.labels, {
      'io.hass.version': '1.2.0',
      'io.hass.arch': arch,
      'io.hass.type': 'addon',
      'io.hass.name': 'Sqlite Notes',
      'io.hass.description': 'Notes in SQLite',
      'io.hass.url': 'https://example.com/notes',
      'org.opencontainers.image.version': '1.2.0',
      'org.opencontainers.image.created': '1970-01-01T00:00:01Z',
      'org.opencontainers.image.source': 'https://github.com/me/addons',
    });
  }
  assert.equal(byArch['armv7']!.glibcTarget, 'armv7l-unknown-linux-gnueabihf');

  // The Dockerfile's ARG default is the base image (2026: no build file, so no BUILD_FROM is passed).
  assert.equal(byArch['amd64']!.baseImage, 'ghcr.io/home-assistant/base:3.24');
  assert.equal(byArch['amd64']!.baseImageSource, 'dockerfile');
  assert.deepEqual(Object.entries(byArch['amd64']!.buildArgs), [
    ['BUILD_FROM', 'ghcr.io/home-assistant/base:3.24'],
    ['BUILD_VERSION', '1.2.0'],
    ['BUILD_ARCH', 'amd64'],
  ]);
  // Dockerfile.<arch> wins for that arch, as in the Supervisor.
  assert.equal(byArch['armhf']!.baseImage, 'ghcr.io/home-assistant/armhf-base:3.20');
  assert.match(byArch['armhf']!.dockerfile!, /Dockerfile\.armhf$/);
});

test('inspect: base image, args and labels from a build file', async (t) => {
  const dir = tempTree(t, {
    'config.yaml': MINIMAL_CONFIG,
    'build.yaml': 'build_from:\n  aarch64: ghcr.io/home-assistant/aarch64-base:3.24\n  amd64: ghcr.io/home-assistant/amd64-base:3.24\nargs:\n  TOOL_VERSION: "2.0"\n  BUILD_VERSION: override\nlabels:\n  io.hass.type: app\n  org.example.team: notes\n',
    'Dockerfile': 'ARG BUILD_FROM\nFROM $BUILD_FROM\n',
  });
  const { model, stderr } = await inspectJson(dir);
  assert.match(stderr, /deprecated-build-file/);
  const amd64 = model.arches.find((a) => a.arch === 'amd64')!;
  assert.equal(amd64.baseImage, 'ghcr.io/home-assistant/amd64-base:3.24');
  assert.equal(amd64.baseImageSource, 'build-file');
  assert.deepEqual(amd64.buildArgs, {
    BUILD_FROM: 'ghcr.io/home-assistant/amd64-base:3.24',
    BUILD_VERSION: 'override',
    BUILD_ARCH: 'amd64',
    TOOL_VERSION: '2.0',
  });
  assert.equal(amd64.labels['io.hass.type'], 'app');
  assert.equal(amd64.labels['org.example.team'], 'notes');
  assert.equal(amd64.image, 'local/amd64-addon-test_addon:1.0.0', 'without image the Supervisor builds locally');
  assert.equal(model['imageTemplate'], null);
});

test('inspect: the 2025 rules always passed BUILD_FROM, overriding the Dockerfile default', async (t) => {
  const dir = tempTree(t, { 'config.yaml': MINIMAL_CONFIG, Dockerfile: DOCKERFILE });
  const { model } = await inspectJson(dir, ['--supervisor', '2025']);
  const amd64 = model.arches.find((a) => a.arch === 'amd64')!;
  assert.equal(amd64.baseImage, 'ghcr.io/home-assistant/amd64-base:latest');
  assert.equal(amd64.baseImageSource, 'supervisor-default');
});

test('inspect: a build file the Supervisor ignores means its defaults', async (t) => {
  const dir = tempTree(t, { 'config.yaml': MINIMAL_CONFIG, 'build.yaml': 'build_from: alpine\nargs:\n  A: "1"\n' });
  const { model } = await inspectJson(dir);
  const amd64 = model.arches.find((a) => a.arch === 'amd64')!;
  assert.equal((model['files'] as { buildIgnored: boolean }).buildIgnored, true);
  assert.equal(amd64.baseImage, 'ghcr.io/home-assistant/base:latest');
  assert.equal(amd64.buildArgs['A'], undefined);
});

test('inspect: riscv64 only on request, with a warning', async (t) => {
  const dir = tempTree(t, { 'config.yaml': MINIMAL_CONFIG });
  assert.ok(!(await inspectJson(dir)).model.arches.some((a) => a.arch === 'riscv64'));
  const { model, stderr } = await inspectJson(dir, ['--riscv64']);
  const riscv = model.arches.find((a) => a.arch === 'riscv64')!;
  assert.deepEqual(riscv.platform, { os: 'linux', architecture: 'riscv64' });
  assert.equal(riscv.muslTarget, 'riscv64-unknown-linux-musl');
  assert.equal(riscv.nixSystem, 'riscv64-linux');
  assert.match(stderr, /Home Assistant does not run riscv64/);
});

test('inspect: a readable table in text mode', async (t) => {
  const dir = tempTree(t, { 'config.yaml': NOTES_CONFIG, Dockerfile: DOCKERFILE });
  const result = await runCliInProcess(['inspect', dir]);
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.split('\n');
  assert.match(lines[0]!, /^Sqlite Notes 1\.2\.0 {2}\(slug sqlite_notes\)$/);
  const header = lines.findIndex((l) => /^ARCH +PLATFORM +NIX SYSTEM +MUSL TARGET +IMAGE$/.test(l));
  assert.ok(header > 0, result.stdout);
  assert.match(lines[header + 1]!, /^aarch64 +linux\/arm64\/v8 +aarch64-linux +aarch64-unknown-linux-musl +ghcr\.io\/me\/aarch64-notes:1\.2\.0$/);
  assert.match(lines[header + 3]!, /^armv7 \(deprecated\) +linux\/arm\/v7 +armv7l-linux +armv7l-unknown-linux-musleabihf/);
  assert.match(result.stdout, /^ {2}BUILD_ARCH +\(the arch\)$/m);
  assert.match(result.stdout, /^ {2}io\.hass\.type +addon$/m);
});

test('inspect: refuses an add-on with errors, and a folder of several add-ons', async (t) => {
  const bad = tempTree(t, { 'config.yaml': MINIMAL_CONFIG.replace('slug: test_addon', 'slug: "bad slug"') });
  const invalid = await runCliInProcess(['inspect', bad]);
  assert.equal(invalid.status, 1);
  assert.match(invalid.stderr, /config\.yaml:3:7: error: slug 'bad slug' is invalid/);
  assert.match(invalid.stderr, /addonix: error: .*: fix the add-on's error first \(addonix validate .*\):\n  .*config\.yaml:3:7: error: slug 'bad slug' is invalid/);
  const asJson = await runCliInProcess(['inspect', bad, '--json']);
  assert.equal(asJson.status, 1);
  const error = (JSON.parse(asJson.stdout) as { error: { code: string; message: string; file: string; line: number } }).error;
  assert.equal(error.code, 'addon-invalid');
  assert.match(error.message, /slug 'bad slug' is invalid/, 'the finding is in the JSON error, not only on stderr');
  assert.match(error.file, /config\.yaml$/);
  assert.equal(error.line, 3);
  assert.ok(!hasStackTrace(invalid.stderr));

  const repo = tempTree(t, { 'a/config.yaml': MINIMAL_CONFIG, 'b/config.yaml': MINIMAL_CONFIG.replace('test_addon', 'other') });
  const several = await runCliInProcess(['inspect'], { cwd: repo });
  assert.equal(several.status, 1);
  assert.match(several.stderr, /holds 2 add-ons; name one of them:\n {2}a\n {2}b/);

  const empty = tempTree(t, { 'README.md': 'x' });
  const none = await runCliInProcess(['inspect', empty]);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no add-on here/);
});
