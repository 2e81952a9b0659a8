/**
 * Hostile images, made by hand here, against every command that reads layers: push, load, inspect-image,
 * assemble, diff and verify must all give the same verdict (refused, for the same reason, with nothing
 * left behind), because they read layers through one model and one rule set. And legitimate images
 * with unusual names (backslashes, bytes that are not UTF-8, control characters) go through push and
 * diff intact, their names kept distinct and shown escaped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hasStackTrace, needTools, runCliAsync, tempTree } from './helpers.js';
import { runCliInProcess } from './in-process-cli.js';
import { dockerToolsEntries, layer, tarBuffer, writeTarFile, type TestImage } from './images.js';
import * as forge from './tar-forge.js';
import { startRegistry, tagDigests } from './registry-helpers.js';
import { testFlake } from './build-cli-helpers.js';
import type { TarWriteEntry } from '../src/oci/tar.js';
import type { DiffResult } from '../src/verify/compare.js';

/** A layer tar of the given entries (names and link targets as byte strings). */
function rawLayer(entries: Omit<TarWriteEntry, 'bytes'>[]): Promise<Buffer> {
  return tarBuffer(entries.map((entry) => ({ ...entry, bytes: true })));
}

const BASE = (): Promise<Buffer> => layer({ 'etc/os-release': 'NAME=test\n', 'bin/tool': '#!/bin/sh\n' });

async function imageWith(top: Buffer): Promise<TestImage> {
  return { goarch: 'amd64', layers: [await BASE(), top], labels: { 'io.hass.arch': 'amd64' } };
}

interface Hostile {
  name: string;
  /** The archive's bytes. */
  make(): Promise<Buffer>;
  /** What every command must say. */
  reason: RegExp;
}

/** Each hostile archive the suite knows, with the one reason every command must give. */
function hostileArchives(): Hostile[] {
  const archiveOf = async (top: Buffer) => tarBuffer(dockerToolsEntries(await imageWith(top)));
  return [
    { name: 'dotdot', make: async () => archiveOf(await rawLayer([{ path: 'app/../../../escape', body: Buffer.from('x') }])), reason: /refusing file app\/\.\.\/\.\.\/\.\.\/escape: '\.\.' would lead outside the image root/ },
    { name: 'absolute', make: async () => archiveOf(await rawLayer([{ path: '/etc/cron.d/evil', body: Buffer.from('x') }])), reason: /refusing file \/etc\/cron\.d\/evil: absolute names would be written outside the image root/ },
    { name: 'symlink-out', make: async () => archiveOf(await rawLayer([{ path: 'app/up', type: 'symlink', linkpath: '../../../../etc' }])), reason: /refusing symbolic link app\/up: it points to \.\.\/\.\.\/\.\.\/\.\.\/etc, outside the image root/ },
    {
      name: 'write-through',
      make: async () =>
        archiveOf(
          await rawLayer([
            { path: 'evil', type: 'symlink', linkpath: '/etc' },
            { path: 'evil/passwd', body: Buffer.from('root::0:0::/:/bin/sh\n') },
          ]),
        ),
      reason: /refusing file evil\/passwd: it would be written through the symbolic link \/evil of the same layer/,
    },
    { name: 'hardlink-out', make: async () => archiveOf(await rawLayer([{ path: 'passwd', type: 'hardlink', linkpath: '/etc/passwd' }])), reason: /refusing hard link passwd: it links to \/etc\/passwd, which is not a file inside the image root/ },
    {
      name: 'hardlink-through',
      make: async () =>
        archiveOf(
          await rawLayer([
            { path: 'etc2', type: 'symlink', linkpath: '/etc' },
            { path: 'shadow', type: 'hardlink', linkpath: 'etc2/shadow' },
          ]),
        ),
      reason: /refusing hard link shadow: its target etc2\/shadow is reached through the symbolic link \/etc2 of the same layer/,
    },
    {
      name: 'device',
      make: async () => archiveOf(await rawLayer([{ path: 'dev/', type: 'directory' }, { path: 'dev/mem', type: 'char-device', devmajor: 1, devminor: 1 }])),
      reason: /refusing character device dev\/mem: device nodes \(1:1\) are refused in layers; pass --allow-devices/,
    },
    {
      name: 'two-manifests',
      make: async () => {
        const entries = dockerToolsEntries(await imageWith(await layer({ 'app/main.js': '1\n' })));
        const manifest = entries.find((e) => e.path === 'manifest.json')!;
        const other = JSON.parse(String(manifest.body)) as { Config: string }[];
        return tarBuffer([...entries, { path: 'manifest.json', body: Buffer.from(JSON.stringify([{ ...other[0]!, RepoTags: ['evil/other:1'] }])) }]);
      },
      reason: /the archive holds manifest\.json twice/,
    },
    {
      name: 'swapped',
      make: async () => {
        const entries = dockerToolsEntries(await imageWith(await layer({ 'app/main.js': '1\n' })));
        // The top layer's bytes replaced by another layer's; the config still lists the old diff_id.
        const at = entries.lastIndexOf(entries.filter((e) => e.path.endsWith('/layer.tar'))[1]!);
        entries[at] = { ...entries[at]!, body: await layer({ 'etc/passwd': 'root::0:0::/:/bin/sh\n' }) };
        return tarBuffer(entries);
      },
      reason: /has diff_id sha256:[a-f0-9]{64}, but the config says sha256:[a-f0-9]{64}/,
    },
    // Named as the engines name it: the GNU long name wins over the pax path (Go's archive/tar).
    {
      name: 'long-name-over-pax',
      make: async () => archiveOf(forge.archive(forge.gnuLong('L', '../../var/tmp/evil'), forge.pax([['path', 'app/harmless']]), forge.file('app/x', 'x'))),
      reason: /refusing file \.\.\/\.\.\/var\/tmp\/evil: '\.\.' would lead outside the image root/,
    },
    {
      name: 'duplicate',
      make: async () => archiveOf(forge.archive(forge.file('app/config.json', '{}'), forge.file('./app/config.json', '{"evil":1}'))),
      reason: /refusing file \.\/app\/config\.json: the layer holds this path twice/,
    },
    {
      name: 'archive-dotdot',
      make: async () => tarBuffer([{ path: '../escape.json', body: Buffer.from('{}') }, ...dockerToolsEntries(await imageWith(await layer({ 'app/main.js': '1\n' })))]),
      reason: /refusing entry \.\.\/escape\.json: '\.\.' would point outside the archive/,
    },
  ];
}

/** Blobs and temporaries in a cache: a refused import leaves none. */
function cacheContents(cache: string): string[] {
  const blobs = path.join(cache, 'oci', 'blobs', 'sha256');
  return existsSync(blobs) ? readdirSync(blobs) : [];
}

function podmanEnv(dir: string): Record<string, string> {
  writeFileSync(path.join(dir, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`);
  writeFileSync(path.join(dir, 'containers.conf'), '[engine]\nevents_logger = "none"\ncgroup_manager = "cgroupfs"\n');
  return { CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf'), CONTAINERS_CONF: path.join(dir, 'containers.conf') };
}

test('hostile: push, load, inspect-image, assemble, diff and verify refuse every hostile archive for the same reason, leaving nothing behind', { timeout: 600_000 }, async (t) => {
  if (!needTools(t, 'docker-registry', 'podman', 'nix', 'git')) return;
  const registry = await startRegistry(t);
  const dir = tempTree(t, {});
  const flake = testFlake(t, {}, { arches: ['amd64'] });
  const good = await writeTarFile(path.join(dir, 'good.tar'), dockerToolsEntries(await imageWith(await layer({ 'app/main.js': '1\n' }))));
  // The verify of a good reference first: its build and rebuild are then in the Nix store for the others.
  const baseline = await runCliAsync(['verify', flake.dir, '--arch', 'amd64', '--against', good, '--report', path.join(dir, 'baseline.json')], { env: flake.env });
  assert.equal(baseline.status, 1, `a good but different reference: not verified, not refused\n${baseline.stderr}`);
  assert.match(baseline.stdout, /not verified: the rebuilt image differs from the reference/);

  for (const hostile of hostileArchives()) {
    const file = path.join(dir, `${hostile.name}.tar`);
    writeFileSync(file, await hostile.make());
    const cache = path.join(dir, `cache-${hostile.name}`);
    const env = { ADDONIX_CACHE_DIR: cache, ...podmanEnv(tempTree(t, {})) };
    const commands: [string, string[], Record<string, string>][] = [
      ['push', ['push', '--to', `${registry.host}/hostile/${hostile.name}`, '--tag', '1', file], env],
      ['load', ['load', '--engine', 'podman', '--arch', 'amd64', file], env],
      ['inspect-image', ['inspect-image', file], env],
      ['assemble', ['assemble', '--out', path.join(dir, `layout-${hostile.name}`), file], env],
      ['diff', ['diff', good, file, '--diff-report', path.join(dir, `report-${hostile.name}`)], env],
      // verify imports its own build (a good image) into a cache of its own: only the reference is hostile.
      ['verify', ['verify', flake.dir, '--arch', 'amd64', '--against', file, '--report', path.join(dir, `verify-${hostile.name}.json`)], flake.env],
    ];
    // In this process (72 command lines; a process each cost a third of a second of CPU to start).
    const results = await Promise.all(commands.map(async ([name, args, commandEnv]) => [name, await runCliInProcess(args, { env: commandEnv })] as const));
    for (const [name, result] of results) {
      // diff says trouble as diff(1) does: 2; the others fail with 1.
      const exit = name === 'diff' ? 2 : 1;
      assert.equal(result.status, exit, `${hostile.name}: ${name} exits ${exit}\n${result.stderr}`);
      assert.match(result.stderr, hostile.reason, `${hostile.name}: ${name} says why`);
      assert.ok(!hasStackTrace(result.stderr), `${hostile.name}: ${name}: ${result.stderr}`);
      if (name === 'verify') assert.doesNotMatch(result.stderr, /rebuilding/, `${hostile.name}: verify refuses the reference before it builds anything`);
    }
    assert.deepEqual(cacheContents(cache), [], `${hostile.name}: nothing of it stays in the cache`);
    assert.ok(!existsSync(path.join(dir, `layout-${hostile.name}`)) && !existsSync(path.join(dir, `report-${hostile.name}`)), `${hostile.name}: no layout, no report`);
    assert.deepEqual(await tagDigests(registry.url, `hostile/${hostile.name}`, ['1']), { '1': null }, `${hostile.name}: nothing was tagged`);
  }
});

test('hostile: device nodes pass with --allow-devices, for every command the same', { timeout: 120_000 }, async (t) => {
  if (!needTools(t, 'docker-registry', 'podman')) return;
  const registry = await startRegistry(t);
  const dir = tempTree(t, {});
  const device = hostileArchives().find((h) => h.name === 'device')!;
  const file = path.join(dir, 'device.tar');
  writeFileSync(file, await device.make());
  const env = { ADDONIX_CACHE_DIR: path.join(dir, 'cache'), ...podmanEnv(dir) };
  for (const args of [
    ['push', '--allow-devices', '--to', `${registry.host}/base/devices`, '--tag', '1', file],
    ['load', '--allow-devices', '--engine', 'podman', '--arch', 'amd64', '--name', 'localhost/devices:1', file],
    ['inspect-image', '--allow-devices', file],
    ['assemble', '--allow-devices', '--out', path.join(dir, 'layout'), file],
    ['diff', '--allow-devices', file, file],
  ]) {
    const result = await runCliInProcess(args, { env });
    assert.equal(result.status, 0, `${args[0]}: ${result.stderr}`);
  }
  // A layer accepted under --allow-devices is checked again without it, though the cache knows it.
  const again = await runCliInProcess(['push', '--to', `${registry.host}/base/devices`, '--tag', '2', file], { env });
  assert.equal(again.status, 1);
  assert.match(again.stderr, device.reason);
});

/** Names Linux accepts that UTF-8 text and careless printing would mangle or be fooled by. */
const ODD_NAMES: [string, string][] = [
  ['etc/systemd/system/system-systemd\\x2dcryptsetup.slice', 'a backslash, as systemd escapes names'],
  ['data/caf\xe9', 'Latin-1 é: not UTF-8'],
  ['data/caf\xc3\xa9', 'the same word in UTF-8: another name'],
  ['data/two\nlines', 'a newline'],
  ['data/\x1b[31mred', 'a terminal escape sequence'],
];

async function oddImage(changed: string | undefined): Promise<TestImage> {
  const top = await rawLayer(ODD_NAMES.map(([name], i) => ({ path: name, body: Buffer.from(name === changed ? 'changed\n' : `file ${i}\n`) })));
  return imageWith(top);
}

test('names: backslashes and non-UTF-8 names round-trip through push and diff, distinct and shown escaped', { timeout: 120_000 }, async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const dir = tempTree(t, {});
  const env = { ADDONIX_CACHE_DIR: path.join(dir, 'cache') };
  const original = await writeTarFile(path.join(dir, 'odd.tar'), dockerToolsEntries(await oddImage(undefined)));
  const pushed = await runCliInProcess(['push', '--json', '--to', `${registry.host}/me/odd`, '--tag', '1', original], { env });
  assert.equal(pushed.status, 0, pushed.stderr);
  // Read back from the registry, every name is what it was: identical to the local image.
  const back = await runCliInProcess(['diff', '--json', original, `${registry.host}/me/odd:1`], { env });
  assert.equal(back.status, 0, back.stderr);
  assert.equal((JSON.parse(back.stdout) as DiffResult).verdict, 'identical');

  // Only the Latin-1 name changes: the UTF-8 name of the same word is another file, unchanged.
  const changed = await writeTarFile(path.join(dir, 'changed.tar'), dockerToolsEntries(await oddImage('data/caf\xe9')));
  const json = await runCliInProcess(['diff', '--json', `${registry.host}/me/odd:1`, changed], { env });
  assert.equal(json.status, 1, json.stderr);
  const files = (JSON.parse(json.stdout) as { images: { layers: { files: { path: string; pathBytes?: string; change: string }[] }[] }[] }).images[0]!.layers.flatMap((l) => l.files);
  assert.deepEqual(
    files.map((f) => [f.path, f.pathBytes, f.change]),
    [['"/data/caf\\xe9"', Buffer.from('/data/caf\xe9', 'latin1').toString('base64'), 'changed']],
  );
  const text = await runCliInProcess(['diff', `${registry.host}/me/odd:1`, changed], { env });
  assert.match(text.stdout, /changed +"\/data\/caf\\xe9" +content /);

  // Every name is shown so that it cannot end a line or drive the terminal; a backslash name stays as it is.
  const all = await writeTarFile(path.join(dir, 'all.tar'), dockerToolsEntries({ goarch: 'amd64', layers: [await BASE()], labels: { 'io.hass.arch': 'amd64' } }));
  const listed = await runCliInProcess(['diff', all, original], { env });
  assert.equal(listed.status, 1);
  assert.ok(!listed.stdout.includes('\x1b'), 'no escape character reaches the terminal');
  for (const shown of ['/etc/systemd/system/system-systemd\\x2dcryptsetup.slice', '"/data/caf\\xe9"', '/data/café', '"/data/two\\nlines"', '"/data/\\x1b[31mred"']) {
    assert.ok(listed.stdout.includes(`added    ${shown}  (`), `${shown} in:\n${listed.stdout}`);
  }
  assert.equal(listed.stdout.split('\n').filter((line) => line.includes('added ')).length, ODD_NAMES.length, 'one line per added entry, whatever its name holds');
});

test('hostile: a docker-archive naming its image with something that is no image name is not loaded under it', async (t) => {
  const dir = tempTree(t, {});
  const image = { ...(await imageWith(await layer({ 'app/main.js': '1\n' }))), repoTag: 'Library/ubuntu:latest --quiet' };
  const file = await writeTarFile(path.join(dir, 'named.tar'), dockerToolsEntries(image));
  const result = await runCliInProcess(['load', '--engine', 'podman', '--arch', 'amd64', file], { env: { ADDONIX_CACHE_DIR: path.join(dir, 'cache') } });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /named\.tar names its image "Library\/ubuntu:latest --quiet", which is not a valid image name; name it with --name NAME:TAG/);
  const badTag = await runCliInProcess(['load', '--engine', 'podman', '--arch', 'amd64', '--name', 'UPPER:1', file], { env: { ADDONIX_CACHE_DIR: path.join(dir, 'cache') } });
  assert.equal(badTag.status, 2, 'a bad option value is a usage error');
  assert.match(badTag.stderr, /--name "UPPER:1" is not an image name NAME:TAG/);
});
