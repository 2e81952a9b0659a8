/**
 * addonix diff on images made in the test: the same image in every input shape, each kind of difference
 * named with its layer and file, registry references, --diff-report, and hostile archives refused with nothing
 * written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Header } from 'tar';
import { hasStackTrace, needTools, runCli, runCliAsync, tempTree } from './helpers.js';
import { docker25Entries, dockerToolsEntries, layer, sha, tarBuffer, writeStreamScript, writeTarFile, writeTarGz, type TestImage } from './images.js';
import { startRegistry } from './registry-helpers.js';
import { readInputs } from '../src/oci/inputs.js';
import { DEFAULT_LAYER_RULES } from '../src/oci/layer-rules.js';
import { assembleIndex, writeLayout } from '../src/oci/assemble.js';
import type { DiffResult, FileChange } from '../src/verify/compare.js';

interface Entry {
  path: string;
  body?: string;
  type?: 'File' | 'Directory' | 'SymbolicLink';
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkpath?: string;
}

/** A layer tar with full control over each header (owner, mtime, mode), as other tools write them. */
function customLayer(entries: Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? '');
    const type = entry.type ?? 'File';
    const header = Buffer.alloc(512);
    new Header({
      path: entry.path,
      type,
      size: type === 'File' ? body.length : 0,
      mode: entry.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      mtime: new Date((entry.mtime ?? 1) * 1000),
      ...(entry.linkpath ? { linkpath: entry.linkpath } : {}),
    }).encode(header);
    blocks.push(header);
    if (type === 'File' && body.length > 0) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const BASE: Entry[] = [
  { path: 'bin/', type: 'Directory' },
  { path: 'bin/tool', body: '#!/bin/sh\necho tool\n', mode: 0o755 },
  { path: 'etc/os-release', body: 'NAME=test\n' },
];
const APP: Entry[] = [
  { path: 'app/', type: 'Directory' },
  { path: 'app/data.bin', body: 'x'.repeat(300) },
  { path: 'app/link', type: 'SymbolicLink', linkpath: 'data.bin' },
  { path: 'app/main.js', body: 'console.log(1);\n' },
  { path: 'app/old.txt', body: 'old\n' },
];

function image(layers: Buffer[], labels: Record<string, string> = { 'io.hass.arch': 'amd64' }): TestImage {
  return { goarch: 'amd64', layers, labels };
}

/** `addonix diff --json`, and the text form too when asked (both must agree on the exit status). */
function diffJson(a: string, b: string, withText = false): { status: number | null; result: DiffResult; stdout: string } {
  const env = { ADDONIX_CACHE_DIR: path.join(path.dirname(a), 'cache') };
  const json = runCli(['diff', '--json', a, b], { env });
  assert.ok(!hasStackTrace(json.stderr), json.stderr);
  const text = withText ? runCli(['diff', a, b], { env }) : undefined;
  if (text) assert.equal(text.status, json.status, 'text and JSON agree on the exit status');
  return { status: json.status, result: JSON.parse(json.stdout) as DiffResult, stdout: text?.stdout ?? '' };
}

test('diff: one image as dockerTools tar, its .tar.gz, a stream script, a Docker 25 archive and an OCI layout: identical, or same content', async (t) => {
  const dir = tempTree(t, {});
  const same = image([customLayer(BASE), customLayer(APP)]);
  const tar = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries(same));
  const gz = await writeTarGz(path.join(dir, 'image.tar.gz'), dockerToolsEntries(same));
  const script = writeStreamScript(path.join(dir, 'stream'), tar);
  const docker25 = await writeTarFile(path.join(dir, 'docker25.tar'), docker25Entries(same));
  for (const other of [gz, script, docker25]) {
    const { status, result, stdout } = diffJson(tar, other, other === gz);
    assert.equal(status, 0, JSON.stringify(result));
    assert.equal(result.verdict, 'identical');
    if (other === gz) assert.match(stdout, /^identical: A = .*image\.tar \(linux\/amd64, amd64\)/);
  }
  // An OCI layout with gzip layers (what addonix assemble writes) against the Docker 25 archive's plain layers.
  process.env['ADDONIX_CACHE_DIR'] = path.join(dir, 'cache');
  const layout = path.join(dir, 'layout');
  await writeLayout(layout, assembleIndex(await readInputs([tar], { policy: { compression: 'gzip', keepCompressed: true }, rules: DEFAULT_LAYER_RULES }), {}), '1.0.0');
  const { status, result, stdout } = diffJson(docker25, layout, true);
  assert.equal(status, 1);
  assert.equal(result.verdict, 'same-content');
  assert.deepEqual(result.images[0]!.layers.map((l) => [l.status, l.a!.compression, l.b!.compression]), [['recompressed', 'none', 'gzip'], ['recompressed', 'none', 'gzip']]);
  assert.match(stdout, /^same content, different manifests:/);
  assert.match(stdout, /recompressed +[a-f0-9]{12}: same content, stored as [a-f0-9]{12} \(none\) vs [a-f0-9]{12} \(gzip\)/);
});

test('diff: every kind of difference, named with its layer and file, sorted by path; a file moved to another layer', async (t) => {
  const dir = tempTree(t, {});
  const a = image([customLayer(BASE), customLayer(APP)]);
  const b = image(
    [
      customLayer([...BASE.filter((e) => e.path !== 'etc/os-release'), { path: 'etc/os-release', body: 'NAME=test\n', uid: 1000, gid: 100 }]),
      customLayer([
        { path: 'app/', type: 'Directory', mtime: 1700000000 },
        { path: 'app/data.bin', body: 'x'.repeat(299) + 'y' },
        { path: 'app/link', type: 'SymbolicLink', linkpath: 'main.js' },
        { path: 'app/main.js', body: 'console.log(1);\n', mode: 0o755 },
        { path: 'app/new.txt', body: 'new\n' },
      ]),
      customLayer([{ path: 'app/old.txt', body: 'old\n' }]),
    ],
    { 'io.hass.arch': 'amd64', 'io.hass.version': '2.0.0' },
  );
  const fa = await writeTarFile(path.join(dir, 'a.tar'), dockerToolsEntries(a));
  const fb = await writeTarFile(path.join(dir, 'b.tar'), dockerToolsEntries(b));
  const { status, result, stdout } = diffJson(fa, fb, true);
  assert.equal(status, 1);
  const comparison = result.images[0]!;
  assert.equal(comparison.verdict, 'different');
  assert.deepEqual(comparison.configFields.map((f) => [f.path, f.a, f.b]), [
    ['config.Labels["io.hass.version"]', undefined, '2.0.0'],
    ['history[2]', undefined, { created: '1970-01-01T00:00:01Z', created_by: 'test' }],
  ]);
  const summary = (changes: FileChange[]) => changes.map((c) => [c.path, c.change, c.layerA, c.layerB, Object.fromEntries(c.differences.map((d) => [d.kind, [d.a, d.b]]))]);
  assert.deepEqual(
    comparison.layers.map((l) => [l.status, l.a?.position ?? null, l.b?.position ?? null]),
    [
      ['changed', 1, 1],
      ['changed', 2, 2],
      ['added', null, 3],
    ],
  );
  assert.deepEqual(summary(comparison.layers[0]!.files), [['/etc/os-release', 'changed', 1, 1, { owner: ['0:0', '1000:100'] }]]);
  const appChanges = summary(comparison.layers[1]!.files);
  assert.deepEqual(appChanges, [
    ['/app', 'changed', 2, 2, { mtime: ['1970-01-01T00:00:01Z', '2023-11-14T22:13:20Z'] }],
    ['/app/data.bin', 'changed', 2, 2, { content: [sha('x'.repeat(300)), sha('x'.repeat(299) + 'y')] }],
    ['/app/link', 'changed', 2, 2, { 'link-target': ['data.bin', 'main.js'] }],
    ['/app/main.js', 'changed', 2, 2, { mode: ['0644', '0755'] }],
    ['/app/new.txt', 'added', null, 2, {}],
    ['/app/old.txt', 'moved', 2, 3, {}],
  ]);
  assert.deepEqual(comparison.layers[2]!.files, [], 'the moved file is listed once, where it left');
  // The text names the same things in reading order.
  const order = ['config.Labels["io.hass.version"]: (absent) -> "2.0.0"', '/etc/os-release  owner 0:0 -> 1000:100', '/app  mtime', '/app/data.bin  content', '/app/link  link-target data.bin -> main.js', '/app/main.js  mode 0644 -> 0755', 'added    /app/new.txt', 'moved    /app/old.txt  to layer 3 (unchanged)'];
  let at = 0;
  for (const piece of order) {
    const found = stdout.indexOf(piece, at);
    assert.ok(found > at, `${piece} after position ${at} in:\n${stdout}`);
    at = found;
  }
});

test('diff: a registry reference against local images; an index paired by arch', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const dir = tempTree(t, {});
  const env = { ADDONIX_CACHE_DIR: path.join(dir, 'cache') };
  const amd = await writeTarFile(path.join(dir, 'amd.tar'), dockerToolsEntries(image([customLayer(BASE), customLayer(APP)])));
  const arm = await writeTarFile(path.join(dir, 'arm.tar'), dockerToolsEntries({ goarch: 'arm64', layers: [customLayer(BASE)], labels: { 'io.hass.arch': 'aarch64' } }));
  const pushed = await runCliAsync(['push', '--to', `${registry.host}/test/addon`, '--tag', '1', amd, arm], { env });
  assert.equal(pushed.status, 0, pushed.stderr);
  const ref = `${registry.host}/test/addon:1`;
  // Single image against the index: the arch picks the pair.
  const one = await runCliAsync(['diff', '--json', '--arch', 'amd64', amd, ref], { env });
  assert.equal(one.status, 0, one.stderr);
  assert.equal((JSON.parse(one.stdout) as DiffResult).verdict, 'identical');
  // Index against a layout of the same two images written with the same compressor: identical manifests.
  const layout = path.join(dir, 'layout');
  process.env['ADDONIX_CACHE_DIR'] = env.ADDONIX_CACHE_DIR;
  await writeLayout(layout, assembleIndex(await readInputs([amd, arm], { policy: { compression: 'gzip', keepCompressed: true }, rules: DEFAULT_LAYER_RULES }), {}), '1');
  const both = await runCliAsync(['diff', '--json', layout, ref], { env });
  assert.equal(both.status, 0, both.stderr);
  const result = JSON.parse(both.stdout) as DiffResult;
  assert.deepEqual(result.images.map((i) => [i.a.arch, i.verdict, i.a.manifestDigest === i.b.manifestDigest]).sort(), [['aarch64', 'identical', true], ['amd64', 'identical', true]]);
  // One image against an index: compared with the image of its arch there.
  const onlyOne = await runCliAsync(['diff', '--json', amd, ref], { env });
  assert.equal(onlyOne.status, 0, onlyOne.stderr);
  assert.deepEqual((JSON.parse(onlyOne.stdout) as DiffResult).images.map((i) => i.b.arch), ['amd64']);
  const missing = await runCliAsync(['diff', '--arch', 'armv7', amd, ref], { env });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /has no image for armv7 \(it has: amd64\)/);
});

test('diff --diff-report: both versions of each differing file, the configs and the JSON, for diffoscope; refuses a folder with content', async (t) => {
  const dir = tempTree(t, {});
  const a = await writeTarFile(path.join(dir, 'a.tar'), dockerToolsEntries(image([customLayer(BASE), customLayer(APP)])));
  const b = await writeTarFile(
    path.join(dir, 'b.tar'),
    dockerToolsEntries(image([customLayer(BASE), customLayer([...APP.filter((e) => e.path !== 'app/main.js' && e.path !== 'app/old.txt'), { path: 'app/main.js', body: 'console.log(2);\n', mode: 0o4755 }])])),
  );
  const report = path.join(dir, 'report');
  const result = runCli(['diff', a, b, '--diff-report', report]);
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stdout, /report: 3 files in .*report; compare with:\n {2}diffoscope .*report\/a\.config\.json .*report\/b\.config\.json\n {2}diffoscope .*report\/a .*report\/b\n/);
  assert.equal(readFileSync(path.join(report, 'a', 'app', 'main.js'), 'utf8'), 'console.log(1);\n');
  assert.equal(readFileSync(path.join(report, 'b', 'app', 'main.js'), 'utf8'), 'console.log(2);\n');
  assert.equal(readFileSync(path.join(report, 'a', 'app', 'old.txt'), 'utf8'), 'old\n', 'a removed file: its one version');
  assert.equal(statSync(path.join(report, 'b', 'app', 'main.js')).mode & 0o7777, 0o644, 'never the image mode (setuid here)');
  assert.deepEqual(readdirSync(report).sort(), ['a', 'a.config.json', 'b', 'b.config.json', 'diff.json']);
  assert.deepEqual((JSON.parse(readFileSync(path.join(report, 'b.config.json'), 'utf8')) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids.length, 2);
  assert.equal((JSON.parse(readFileSync(path.join(report, 'diff.json'), 'utf8')) as DiffResult).verdict, 'different');
  const again = runCli(['diff', a, b, '--diff-report', report]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /--diff-report .*report exists and is not an empty folder; remove it or name another/);
  assert.deepEqual(readdirSync(dir).sort(), ['a.tar', 'b.tar', 'report'], 'nothing else written');
});

test('diff: a missing file is named as such; a bare name that is no file is also tried as a registry reference', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const dir = tempTree(t, {});
  const good = await writeTarFile(path.join(dir, 'good.tar'), dockerToolsEntries(image([customLayer(BASE)])));
  const missing = runCli(['diff', good, path.join(dir, 'result-amd64')]);
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr.trim(), `addonix: error: ${path.join(dir, 'result-amd64')}: no such file or folder [not-found]`);
  const registry = await startRegistry(t);
  const ref = `${registry.host}/nothing/here:1`;
  const bare = await runCliAsync(['diff', good, ref]);
  assert.equal(bare.status, 1);
  assert.ok(bare.stderr.startsWith(`addonix: error: ${ref}: no such file or folder, and as the registry reference ${ref}: `), bare.stderr);
  assert.ok(!hasStackTrace(bare.stderr), bare.stderr);
});

test('diff: hostile archives are refused like the importing readers refuse them, and nothing is written', async (t) => {
  const dir = tempTree(t, {});
  const good = image([customLayer(BASE), customLayer(APP)]);
  const goodFile = await writeTarFile(path.join(dir, 'good.tar'), dockerToolsEntries(good));
  const full = await tarBuffer(dockerToolsEntries(good));
  const variants: [string, () => Promise<Buffer> | Buffer, RegExp][] = [
    ['dotdot.tar', () => tarBuffer([{ path: '../escape.json', body: Buffer.from('{}') }, ...dockerToolsEntries(good)]), /refusing entry \.\.\/escape\.json: '\.\.' would point outside/],
    ['absolute.tar', () => tarBuffer([{ path: '/etc/escape.json', body: Buffer.from('{}') }, ...dockerToolsEntries(good)]), /absolute paths are not allowed/],
    [
      'link.tar',
      () => {
        const entries = dockerToolsEntries(good);
        const at = entries.findIndex((e) => e.path.endsWith('/layer.tar'));
        entries[at] = { path: entries[at]!.path, type: 'symlink', linkpath: '../../../etc/shadow' };
        return tarBuffer(entries);
      },
      /points outside the archive/,
    ],
    ['inner.tar', () => tarBuffer(dockerToolsEntries(image([customLayer(BASE), customLayer([{ path: '../../escape', body: 'x' }])]))), /refusing file \.\.\/\.\.\/escape: '\.\.' would lead outside the image root/],
    [
      'diffid.tar',
      async () => {
        const entries = dockerToolsEntries(good);
        const at = entries.findIndex((e) => e.path.endsWith('/layer.tar'));
        entries[at] = { ...entries[at]!, body: await layer({ 'etc/passwd': 'root::0:0::/:/bin/sh\n' }) };
        return tarBuffer(entries);
      },
      /diff_id .* but the config says/,
    ],
    [
      'named-escape.tar',
      () => {
        const entries = dockerToolsEntries(good);
        const at = entries.findIndex((e) => e.path === 'manifest.json');
        const list = JSON.parse(String(entries[at]!.body)) as { Layers: string[] }[];
        list[0]!.Layers[0] = `../${list[0]!.Layers[0]!}`;
        entries[at] = { path: 'manifest.json', body: Buffer.from(JSON.stringify(list)) };
        return tarBuffer(entries);
      },
      /refusing entry \.\.\/.*layer\.tar: '\.\.' would point outside/,
    ],
    ['cut.tar', () => full.subarray(0, 3000), /truncated|declares/],
    ['missing.tar', () => tarBuffer(dockerToolsEntries(good).filter((e) => !e.path.startsWith(sha(good.layers[1]!).slice(7)))), /is not in the archive/],
  ];
  for (const [name, build, pattern] of variants) {
    const file = path.join(dir, name);
    writeFileSync(file, await build());
    const report = path.join(dir, `report-${name}`);
    const result = runCli(['diff', file, goodFile, '--diff-report', report], { env: { ADDONIX_CACHE_DIR: path.join(dir, 'cache') } });
    assert.equal(result.status, 1, `${name}: ${result.stdout}`);
    assert.match(result.stderr, pattern, name);
    assert.ok(!hasStackTrace(result.stderr), result.stderr);
    assert.ok(!existsSync(report), `${name}: no report folder`);
  }
  assert.ok(!existsSync(path.join(dir, 'cache')), 'diff fills no cache');
  assert.ok(!existsSync(path.join(dir, '..', 'escape.json')) && !existsSync(path.join(dir, 'escape')));
  const bad = runCli(['diff', goodFile, goodFile, '--arch', 'sparc']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--arch sparc: not an arch/);
});
