/**
 * `addonix diff` as a user runs it: exit statuses in JSON and text, registry references, --diff-report, a
 * missing file, a hostile archive, usage. What it finds (every shape of input, every kind of difference,
 * every hostile archive) is checked in process by unit-diff.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hasStackTrace, needTools, runCliAsync, tempTree } from './helpers.js';
// The CLI in this process (a process each cost a third of a second of CPU to start, generate's and init's more).
import { runCliInProcess } from './in-process-cli.js';
import { docker25Entries, dockerToolsEntries, tarBuffer, writeTarFile, writeTarGz } from './images.js';
import { APP, BASE, customLayer, image } from './diff-images.js';
import { startRegistry } from './registry-helpers.js';
import { readInputs } from '../src/oci/inputs.js';
import { DEFAULT_LAYER_RULES } from '../src/oci/layer-rules.js';
import { assembleIndex, writeLayout } from '../src/oci/assemble.js';
import type { DiffResult } from '../src/verify/compare.js';

/** `addonix diff --json`, and the text form too when asked (both must agree on the exit status). */
async function diffCli(a: string, b: string, withText = false): Promise<{ status: number | null; result: DiffResult; stdout: string }> {
  const env = { ADDONIX_CACHE_DIR: path.join(path.dirname(a), 'cache') };
  const json = await runCliInProcess(['diff', '--json', a, b], { env });
  assert.ok(!hasStackTrace(json.stderr), json.stderr);
  const text = withText ? await runCliInProcess(['diff', a, b], { env }) : undefined;
  if (text) assert.equal(text.status, json.status, 'text and JSON agree on the exit status');
  return { status: json.status, result: JSON.parse(json.stdout) as DiffResult, stdout: text?.stdout ?? '' };
}

test('diff (CLI): exit 0 and "identical" for the same image in two shapes, exit 1 for same content stored differently, in JSON and text', async (t) => {
  const dir = tempTree(t, {});
  const same = image([customLayer(BASE), customLayer(APP)]);
  const tar = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries(same));
  const gz = await writeTarGz(path.join(dir, 'image.tar.gz'), dockerToolsEntries(same));
  const identical = await diffCli(tar, gz, true);
  assert.equal(identical.status, 0, JSON.stringify(identical.result));
  assert.equal(identical.result.verdict, 'identical');
  assert.match(identical.stdout, /^identical: A = .*image\.tar \(linux\/amd64, amd64\)/);
  const docker25 = await writeTarFile(path.join(dir, 'docker25.tar'), docker25Entries(same));
  const layout = path.join(dir, 'layout');
  const assembled = await runCliInProcess(['assemble', '--out', layout, tar], { env: { ADDONIX_CACHE_DIR: path.join(dir, 'cache') } });
  assert.equal(assembled.status, 0, assembled.stderr);
  const recompressed = await diffCli(docker25, layout, true);
  assert.equal(recompressed.status, 1);
  assert.equal(recompressed.result.verdict, 'same-content');
  assert.match(recompressed.stdout, /^same content, different manifests:/);
  // Which compressor made each side: the Docker 25 archive records none, addonix's layout records its own.
  assert.equal(recompressed.result.images[0]!.a.compressor, null);
  assert.match(recompressed.result.images[0]!.b.compressor ?? '', /^gzip level=2 memLevel=9 .*\(deflate of pako \d+\.\d+\.\d+, the bytes of official Node\.js builds' zlib\)$/);
  assert.match(recompressed.stdout, /\n {2}compressor A not recorded \(compressed by another tool than addonix, or not compressed\)\n {13}B gzip level=2 memLevel=9 mtime=0 os=3 \(deflate of pako [\d.]+, the bytes of official Node\.js builds' zlib\)\n/);
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
  await writeLayout(layout, assembleIndex((await readInputs([amd, arm], { policy: { compression: 'gzip', keepCompressed: true }, rules: DEFAULT_LAYER_RULES })).images, {}), '1');
  const both = await runCliAsync(['diff', '--json', layout, ref], { env });
  assert.equal(both.status, 0, both.stderr);
  const result = JSON.parse(both.stdout) as DiffResult;
  assert.deepEqual(result.images.map((i) => [i.a.arch, i.verdict, i.a.manifestDigest === i.b.manifestDigest]).sort(), [['aarch64', 'identical', true], ['amd64', 'identical', true]]);
  // One image against an index: compared with the image of its arch there.
  const onlyOne = await runCliAsync(['diff', '--json', amd, ref], { env });
  assert.equal(onlyOne.status, 0, onlyOne.stderr);
  assert.deepEqual((JSON.parse(onlyOne.stdout) as DiffResult).images.map((i) => i.b.arch), ['amd64']);
  const missing = await runCliAsync(['diff', '--arch', 'armv7', amd, ref], { env });
  assert.equal(missing.status, 2, 'no comparison: trouble, as diff(1) says it');
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
  const result = await runCliInProcess(['diff', a, b, '--diff-report', report]);
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stdout, /report: 3 files in .*report; compare with:\n {2}diffoscope .*report\/a\.config\.json .*report\/b\.config\.json\n {2}diffoscope .*report\/a .*report\/b\n/);
  assert.equal(readFileSync(path.join(report, 'a', 'app', 'main.js'), 'utf8'), 'console.log(1);\n');
  assert.equal(readFileSync(path.join(report, 'b', 'app', 'main.js'), 'utf8'), 'console.log(2);\n');
  assert.equal(readFileSync(path.join(report, 'a', 'app', 'old.txt'), 'utf8'), 'old\n', 'a removed file: its one version');
  assert.equal(statSync(path.join(report, 'b', 'app', 'main.js')).mode & 0o7777, 0o644, 'never the image mode (setuid here)');
  assert.deepEqual(readdirSync(report).sort(), ['a', 'a.config.json', 'b', 'b.config.json', 'diff.json']);
  assert.deepEqual((JSON.parse(readFileSync(path.join(report, 'b.config.json'), 'utf8')) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids.length, 2);
  assert.equal((JSON.parse(readFileSync(path.join(report, 'diff.json'), 'utf8')) as DiffResult).verdict, 'different');
  const again = await runCliInProcess(['diff', a, b, '--diff-report', report]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /--diff-report .*report exists and is not an empty folder; remove it or name another/);
  assert.deepEqual(readdirSync(dir).sort(), ['a.tar', 'b.tar', 'report'], 'nothing else written');
});

test('diff: a missing file is named as such; a bare name that is no file is also tried as a registry reference', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const dir = tempTree(t, {});
  const good = await writeTarFile(path.join(dir, 'good.tar'), dockerToolsEntries(image([customLayer(BASE)])));
  const missing = await runCliInProcess(['diff', good, path.join(dir, 'result-amd64')]);
  assert.equal(missing.status, 2);
  assert.equal(missing.stderr.trim(), `addonix: error: ${path.join(dir, 'result-amd64')}: no such file or folder [not-found]`);
  const registry = await startRegistry(t);
  const ref = `${registry.host}/nothing/here:1`;
  const bare = await runCliAsync(['diff', good, ref]);
  assert.equal(bare.status, 2);
  assert.ok(bare.stderr.startsWith(`addonix: error: ${ref}: no such file or folder, and as the registry reference ${ref}: `), bare.stderr);
  assert.ok(!hasStackTrace(bare.stderr), bare.stderr);
});

test('diff (CLI): a hostile archive exits 2 (trouble, as diff(1) says it) with the reason and no stack trace, writes no report and fills no cache; a bad --arch is usage', async (t) => {
  const dir = tempTree(t, {});
  const good = image([customLayer(BASE), customLayer(APP)]);
  const goodFile = await writeTarFile(path.join(dir, 'good.tar'), dockerToolsEntries(good));
  const file = path.join(dir, 'dotdot.tar');
  writeFileSync(file, await tarBuffer([{ path: '../escape.json', body: Buffer.from('{}') }, ...dockerToolsEntries(good)]));
  const report = path.join(dir, 'report');
  const result = await runCliInProcess(['diff', file, goodFile, '--diff-report', report], { env: { ADDONIX_CACHE_DIR: path.join(dir, 'cache') } });
  assert.equal(result.status, 2, `signal ${result.signal}; stdout: ${result.stdout}; stderr: ${result.stderr}`);
  assert.match(result.stderr, /refusing entry \.\.\/escape\.json: '\.\.' would point outside/);
  assert.ok(!hasStackTrace(result.stderr), result.stderr);
  assert.ok(!existsSync(report), 'no report folder');
  assert.ok(!existsSync(path.join(dir, 'cache')), 'diff fills no cache');
  assert.ok(!existsSync(path.join(dir, '..', 'escape.json')));
  const bad = await runCliInProcess(['diff', goodFile, goodFile, '--arch', 'sparc']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--arch sparc: not a Home Assistant arch/);
});
