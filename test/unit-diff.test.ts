/**
 * `addonix diff` in process: inputs opened and scanned (oci/scan.ts, through the image sources of every
 * input shape), paired and compared (verify/diff.ts, verify/compare.ts), rendered as JSON and text
 * (verify/render.ts); hostile archives refused by the scanner as the importers refuse them. The command
 * as a user runs it (exit statuses, --diff-report, registry references, usage) is diff.test.ts.
 */
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempTree } from './helpers.js';
import { docker25Entries, dockerToolsEntries, layer, sha, tarBuffer, writeStreamScript, writeTarFile, writeTarGz } from './images.js';
import { APP, BASE, customLayer, image } from './diff-images.js';
import * as forge from './tar-forge.js';
import { readInputs } from '../src/oci/inputs.js';
import { DEFAULT_LAYER_RULES } from '../src/oci/layer-rules.js';
import { assembleIndex, writeLayout } from '../src/oci/assemble.js';
import { diffImages, openImages, openInputs } from '../src/verify/diff.js';
import { diffJson as renderJson, renderDiff } from '../src/verify/render.js';
import { UserError } from '../src/util/errors.js';
import { RangeHasher } from '../src/oci/scan-pool.js';
import { hashFileRange } from '../src/oci/digest.js';
import type { DiffResult, FileChange } from '../src/verify/compare.js';

/** What `addonix diff --json A B` prints (as data), its text form, and its exit status (0 only when identical). */
async function diffJson(a: string, b: string): Promise<{ status: number; result: DiffResult; stdout: string }> {
  const options = { insecure: false, rules: DEFAULT_LAYER_RULES };
  const outcome = await diffImages(await openImages(a, options), await openImages(b, options));
  return { status: outcome.result.verdict === 'identical' ? 0 : 1, result: JSON.parse(renderJson(outcome.result)) as DiffResult, stdout: renderDiff(outcome.result) };
}

/** The same as the command opens them: two plain archives are read on this thread, their layers hashed on a worker. */
async function diffInputs(a: string, b: string): Promise<DiffResult> {
  const [ia, ib] = await openInputs(a, b, { insecure: false, rules: DEFAULT_LAYER_RULES }, undefined);
  return (await diffImages(ia, ib)).result;
}

test('diff: one image as dockerTools tar, its .tar.gz, a stream script, a Docker 25 archive and an OCI layout: identical, or same content', async (t) => {
  const dir = tempTree(t, {});
  const same = image([customLayer(BASE), customLayer(APP)]);
  const tar = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries(same));
  const gz = await writeTarGz(path.join(dir, 'image.tar.gz'), dockerToolsEntries(same));
  const script = writeStreamScript(path.join(dir, 'stream'), tar);
  const docker25 = await writeTarFile(path.join(dir, 'docker25.tar'), docker25Entries(same));
  for (const other of [gz, script, docker25]) {
    const { status, result, stdout } = await diffJson(tar, other);
    assert.equal(status, 0, JSON.stringify(result));
    assert.equal(result.verdict, 'identical');
    if (other === gz) assert.match(stdout, /^identical: A = .*image\.tar \(linux\/amd64, amd64\)/);
  }
  // An OCI layout with gzip layers (what addonix assemble writes) against the Docker 25 archive's plain layers.
  process.env['ADDONIX_CACHE_DIR'] = path.join(dir, 'cache');
  const layout = path.join(dir, 'layout');
  await writeLayout(layout, assembleIndex((await readInputs([tar], { policy: { compression: 'gzip', keepCompressed: true }, rules: DEFAULT_LAYER_RULES })).images, {}), '1.0.0');
  const { status, result, stdout } = await diffJson(docker25, layout);
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
  const { status, result, stdout } = await diffJson(fa, fb);
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

test('diff: hostile archives are refused by the scanner like the importing readers refuse them, and nothing is written', async (t) => {
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
  process.env['ADDONIX_CACHE_DIR'] = path.join(dir, 'cache');
  for (const [name, build, pattern] of variants) {
    const file = path.join(dir, name);
    writeFileSync(file, await build());
    for (const diff of [diffJson, diffInputs]) {
      await assert.rejects(diff(file, goodFile), (error: unknown) => {
        assert.ok(error instanceof UserError, `${name} (${diff.name}): a UserError, not ${String(error)}`);
        assert.match(error.message, pattern, `${name} (${diff.name})`);
        return true;
      });
    }
  }
  assert.ok(!existsSync(path.join(dir, 'cache')), 'diff fills no cache');
  assert.ok(!existsSync(path.join(dir, '..', 'escape.json')) && !existsSync(path.join(dir, 'escape')));
});

test('diff: extended attributes (a file capability added) are a difference of their own; identical images list no file', async (t) => {
  const dir = tempTree(t, {});
  const capability = '\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00';
  const top = (withCapability: boolean) =>
    forge.archive(forge.entry({ name: 'usr/', type: '5' }), forge.entry({ name: 'usr/bin/', type: '5' }), ...(withCapability ? [forge.pax([['SCHILY.xattr.security.capability', capability]])] : []), forge.file('usr/bin/ping', 'ping\n'));
  const base = customLayer(BASE);
  const a = await writeTarFile(path.join(dir, 'a.tar'), dockerToolsEntries(image([base, top(false)])));
  const b = await writeTarFile(path.join(dir, 'b.tar'), dockerToolsEntries(image([base, top(true)])));
  const { status, result, stdout } = await diffJson(a, b);
  assert.equal(status, 1);
  const files = result.images[0]!.layers.flatMap((l) => l.files);
  assert.deepEqual(files.map((f) => [f.path, f.change, f.differences.map((d) => [d.kind, d.a, d.b])]), [['/usr/bin/ping', 'changed', [['xattrs', null, 'security.capability=0x0100000200200000000000000000000000000000']]]]);
  assert.deepEqual((files[0]!.b as unknown as { xattrs: { name: string; value: string }[] }).xattrs, [{ name: 'security.capability', value: Buffer.from(capability, 'latin1').toString('base64') }]);
  assert.match(stdout, /changed +\/usr\/bin\/ping +xattrs - -> security\.capability=0x01000002/);
  // The same image twice: its layers are the same diff_ids, none of their files is listed.
  const same = await diffJson(a, a);
  assert.equal(same.status, 0);
  assert.deepEqual(same.result.images[0]!.layers.map((l) => [l.status, l.files.length]), [['same', 0], ['same', 0]]);
});

test('diff: layers of many files, their records over several buffers, a folder named after the files in it; one read on this thread and one on a worker', async (t) => {
  const dir = tempTree(t, {});
  // 12,000 entries of some 150 bytes of record each: two MiB of records, so some record is moved to the
  // next buffer when what the scan adds to it does not fit after the path the rules recorded.
  const folder = `nix/store/${'x'.repeat(70)}`;
  const entries = (b: boolean): Buffer => {
    const list: Buffer[] = [];
    for (let i = 0; i < 12_000; i++) {
      if (b && i === 11_999) continue;
      list.push(forge.file(`${folder}-pkg${Math.floor(i / 100)}/file-${i}`, b && i === 7000 ? 'FILE 7000' : `file ${i}`));
    }
    // Named after the files in it: the rules know its path already, the table records it anew.
    list.push(forge.entry({ name: `${folder}-pkg3/`, type: '5', mode: b ? 0o700 : 0o755 }));
    if (b) list.push(forge.file('extra', 'extra'));
    return forge.archive(...list);
  };
  const a = await writeTarFile(path.join(dir, 'a.tar'), dockerToolsEntries(image([entries(false)])));
  const b = await writeTarFile(path.join(dir, 'b.tar'), dockerToolsEntries(image([entries(true)])));
  const options = { insecure: false, rules: DEFAULT_LAYER_RULES };
  const outcome = await diffImages(await openImages(a, { ...options, inProcess: true }), await openImages(b, options));
  const files = outcome.result.images[0]!.layers.flatMap((l) => l.files);
  assert.deepEqual(
    files.map((f) => [f.path, f.change, f.differences.map((d) => d.kind)]),
    [
      ['/extra', 'added', []],
      [`/${folder}-pkg119/file-11999`, 'removed', []],
      [`/${folder}-pkg3`, 'changed', ['mode']],
      [`/${folder}-pkg70/file-7000`, 'changed', ['content']],
    ],
  );
  assert.equal(files[2]!.b!.kind, 'directory');
  assert.equal(files[1]!.a!.size, 'file 11999'.length);
  // Both read on this thread, their layers hashed on a worker: the same result.
  assert.deepEqual(JSON.parse(renderJson(await diffInputs(a, b))), JSON.parse(renderJson(outcome.result)));
});

test('scan pool: a worker started ahead and never taken is ended once started, and the process ends with its own status', (t) => {
  // What a diff refused before it scans does: it stops the spare worker straight away, while the worker
  // is still starting, then exits with its status. Without the worker held while it starts, the event loop
  // was empty and Node ended the process with 13 (a top-level await never settled).
  const pool = new URL('../src/oci/scan-pool.js', import.meta.url).href;
  const script = `const pool = await import(${JSON.stringify(pool)}); pool.prestartScanWorker(); await pool.stopSpareScanWorker(); process.exitCode = 2;`;
  // A file, not --eval: the worker would inherit --input-type and refuse to start.
  const file = path.join(tempTree(t, { 'stop-spare.mjs': script }), 'stop-spare.mjs');
  for (let run = 0; run < 3; run++) {
    const result = spawnSync(process.execPath, [file], { encoding: 'utf8' });
    assert.equal(result.status, 2, `run ${run}: status ${result.status}, signal ${result.signal}: ${result.stderr}`);
  }
});

test('range hasher: ranges hashed on the worker as on this thread; the second archive is read by the worker only when it ran dry before half of the first was read', async (t) => {
  const dir = tempTree(t, {});
  const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
  const [fileA, fileB] = ['a.bin', 'b.bin'].map((name) => path.join(dir, name));
  writeFileSync(fileA!, bytes);
  writeFileSync(fileB!, bytes.subarray(1000));
  for (const halfRead of [false, true]) {
    const hasher = new RangeHasher();
    const ranges = [
      { file: fileA!, offset: 0, size: 100_000 },
      { file: fileA!, offset: 100_000, size: 200_000 },
      { file: fileB!, offset: 10, size: 1000 },
      // Past the end: what is there is hashed, as the reader of the archive hashes it.
      { file: fileB!, offset: 299_000 - 500, size: 1000 },
    ];
    const hashed = await Promise.all(ranges.map((range) => hasher.hash(range)));
    const expected = ranges.map(({ file, offset, size }) => hashFileRange(file, offset, size));
    assert.deepEqual(hashed, expected);
    assert.deepEqual(expected[3], { digest: sha(bytes.subarray(1000 + 299_000 - 500)), bytes: 500 });
    // The worker has hashed everything: the first archive is being read, a quarter or three quarters of it.
    let releaseA!: () => void;
    const gateA = new Promise<void>((resolve) => (releaseA = resolve));
    const order: string[] = [];
    const first = hasher.turn(
      fileA!,
      async () => {
        hasher.reached(fileA!, halfRead ? 225_000 : 75_000);
        await gateA;
        order.push('A here');
      },
      async () => void order.push('A there'),
    );
    const second = hasher.turn(
      fileB!,
      async () => void order.push('B here'),
      async () => void order.push('B there'),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    releaseA();
    await Promise.all([first, second]);
    assert.deepEqual(order, halfRead ? ['A here', 'B here'] : ['B there', 'A here']);
  }
});

test('range hasher: a range is hashed once, by the thread that claims it first: taken here before the worker comes to it, it is left to the caller', async (t) => {
  const dir = tempTree(t, {});
  const file = path.join(dir, 'ranges.bin');
  writeFileSync(file, Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) % 253)));
  const hasher = new RangeHasher();
  const first = { file, offset: 0, size: 100_000 };
  const second = { file, offset: 100_000, size: 100_000 };
  // Never asked: nothing to claim, the caller hashes it.
  assert.equal(hasher.take({ file, offset: 5, size: 10 }), null);
  // Asked, then taken at once: the worker has not even been sent it yet, so this thread has it.
  const askedFirst = hasher.hash(first);
  askedFirst.catch(() => undefined);
  assert.equal(hasher.take(first), null);
  // Asked and answered by the worker: taking it gives the worker's digest, the one this thread would compute.
  assert.deepEqual(await hasher.hash(second), hashFileRange(file, 100_000, 100_000));
  assert.deepEqual(await hasher.take(second), hashFileRange(file, 100_000, 100_000));
  // The worker, sent the first after this thread claimed it, left it: awaiting its answer says so.
  await assert.rejects(askedFirst, /claimed by the thread that reads it/);
});

test('diff: a plain archive written to after its documents were read, its layers hashed apart from their reading, is refused', async (t) => {
  const dir = tempTree(t, {});
  const good = image([customLayer(BASE), customLayer(APP)]);
  const a = await writeTarFile(path.join(dir, 'a.tar'), dockerToolsEntries(good));
  const b = await writeTarFile(path.join(dir, 'b.tar'), dockerToolsEntries(good));
  const [ia, ib] = await openInputs(a, b, { insecure: false, rules: DEFAULT_LAYER_RULES }, undefined);
  // A write changes the file's times (utimes stands for it: the same bytes, so only this check can tell).
  const later = new Date(Date.now() + 60_000);
  utimesSync(b, later, later);
  await assert.rejects(diffImages(ia, ib), (error: unknown) => error instanceof UserError && /b\.tar changed while it was read/.test(error.message));
});
