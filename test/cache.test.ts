/**
 * addonix's cache keeps only what it verified: a damaged layout cannot poison it, a damaged blob is
 * replaced (or, found by a registry, removed), a stream script that fails leaves nothing, a killed or
 * interrupted run's temporaries are removed by the next (an interrupted push removes its own); and a layer the cache knows is neither compressed nor uploaded
 * again when a rebuilt image has it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CLI, hasStackTrace, needTools, runCliAsync, tempTree } from './helpers.js';
// The CLI in this process where the test is about what a command does to the cache; as processes where it is about processes (killed, interrupted, several at once).
import { runCliHere } from './in-process-cli.js';
import { archLayers, dockerToolsEntries, imageConfig, layer, sha, sourceText, tarBuffer, writeTarFile, type TestImage } from './images.js';
import { BlobStore } from '../src/oci/store.js';
import { sha256 } from '../src/oci/digest.js';
import { startRegistry, tagDigests } from './registry-helpers.js';

function blobs(cache: string): string[] {
  const dir = path.join(cache, 'oci', 'blobs', 'sha256');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** A layout folder in Docker's media types (as `skopeo copy --format v2s2` writes one), its blobs as given. */
function dockerLayout(dir: string, image: TestImage, layers: Buffer[], swap?: { index: number; bytes: Buffer }): string {
  const blobDir = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobDir, { recursive: true });
  const put = (bytes: Buffer, as = bytes) => {
    writeFileSync(path.join(blobDir, sha(as).slice(7)), bytes);
    return sha(as);
  };
  const config = imageConfig(image);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: put(config), size: config.length },
      layers: layers.map((gz, i) => {
        // The wrong blob under the name (digest) of the good one.
        const stored = i === swap?.index ? swap.bytes : gz;
        return { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: put(stored, gz), size: gz.length };
      }),
    }),
  );
  const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: put(manifest), size: manifest.length }] };
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
  writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return dir;
}

test('cache: a layout with a damaged blob is refused and poisons nothing; the next correct push of that layer succeeds', { timeout: 120_000 }, async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const dir = tempTree(t, {});
  const cache = path.join(dir, 'cache');
  const env = { ADDONIX_CACHE_DIR: cache };
  const image: TestImage = { goarch: 'amd64', layers: await archLayers('amd64'), labels: { 'io.hass.arch': 'amd64' } };
  const gz = image.layers.map((l) => gzipSync(l));
  // Layer 2's blob with one byte changed (bit rot, a bad copy): its size is right, its content is not.
  const rotten = Buffer.from(gz[1]!);
  rotten[Math.floor(rotten.length / 2)] = rotten[Math.floor(rotten.length / 2)]! ^ 0x10;
  const poisoned = dockerLayout(path.join(dir, 'poisoned'), image, gz, { index: 1, bytes: rotten });
  const refused = await runCliHere(['push', '--to', `${registry.host}/me/addon`, '--tag', '1', poisoned], { env });
  assert.equal(refused.status, 1);
  // Refused while it is read (its gzip no longer checks out), or after (its digest): named either way.
  assert.match(refused.stderr, new RegExp(`poisoned: layer 2 (\\(${sha(gz[1]!)}\\): the layer is not valid gzip data|hashes to sha256:[a-f0-9]{64}, but the manifest says ${sha(gz[1]!)})`));
  assert.ok(!hasStackTrace(refused.stderr), refused.stderr);
  assert.ok(!blobs(cache).includes(sha(gz[1]!).slice(7)), 'the damaged blob did not enter the cache under the good name');
  // The same layer, correct, in a layout of its own: it goes through.
  const good = dockerLayout(path.join(dir, 'good'), image, gz);
  const pushed = await runCliHere(['push', '--json', '--to', `${registry.host}/me/addon`, '--tag', '1', good], { env });
  assert.equal(pushed.status, 0, pushed.stderr);
  const head = await fetch(`${registry.url}/v2/me/addon/blobs/${sha(gz[1]!)}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
});

test('cache: a blob file that does not match its name is replaced by the next import that makes it', async (t) => {
  const dir = tempTree(t, {});
  const cache = path.join(dir, 'cache');
  const env = { ADDONIX_CACHE_DIR: cache };
  const file = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') }));
  const inspected = await runCliHere(['inspect-image', '--json', file], { env });
  const layers = (JSON.parse(inspected.stdout) as { images: { layers: { digest: string }[] }[] }).images[0]!.layers;
  const damaged = path.join(cache, 'oci', 'blobs', 'sha256', layers[0]!.digest.slice(7));
  // A fresh cache holding a wrong file under the layer's name (the records of the first import gone).
  const fresh = path.join(dir, 'fresh');
  mkdirSync(path.join(fresh, 'oci', 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(fresh, 'oci', 'blobs', 'sha256', layers[0]!.digest.slice(7)), 'not the layer');
  const again = await runCliHere(['inspect-image', '--json', file], { env: { ADDONIX_CACHE_DIR: fresh } });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(sha(readFileSync(path.join(fresh, 'oci', 'blobs', 'sha256', layers[0]!.digest.slice(7)))), layers[0]!.digest, 'the good blob took its place');
  assert.ok(existsSync(damaged));
});

test('cache: a cached blob damaged after it was written is found by the registry, removed, and the push says to run again', { timeout: 120_000 }, async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const dir = tempTree(t, {});
  const cache = path.join(dir, 'cache');
  const env = { ADDONIX_CACHE_DIR: cache };
  const image = dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') });
  const file = await writeTarFile(path.join(dir, 'image.tar'), image);
  const inspected = await runCliHere(['inspect-image', '--json', file], { env });
  const digest = (JSON.parse(inspected.stdout) as { images: { layers: { digest: string }[] }[] }).images[0]!.layers[0]!.digest;
  const blob = path.join(cache, 'oci', 'blobs', 'sha256', digest.slice(7));
  const bytes = readFileSync(blob);
  bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
  writeFileSync(blob, bytes);
  // A rebuilt archive (another file) with the same layers: the cache knows them and sends its blob.
  const rebuilt = await writeTarFile(path.join(dir, 'rebuilt.tar'), image);
  const failed = await runCliHere(['push', '--to', `${registry.host}/me/addon`, '--tag', '1', rebuilt], { env });
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, new RegExp(`${digest.slice(7)} is damaged \\(its content does not match its digest ${digest}\\); it was removed: run the push again`));
  assert.ok(!existsSync(blob));
  const again = await runCliHere(['push', '--json', '--to', `${registry.host}/me/addon`, '--tag', '1', rebuilt], { env });
  assert.equal(again.status, 0, again.stderr);
  assert.notEqual((await tagDigests(registry.url, 'me/addon', ['1']))['1'], null);
});

test('cache: a stream script that fails after a valid stream leaves no blob, and its own words are the error', async (t) => {
  const dir = tempTree(t, {});
  const cache = path.join(dir, 'cache');
  const tar = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') }));
  const script = path.join(dir, 'stream');
  writeFileSync(script, `#!/bin/sh\ncat ${JSON.stringify(tar)}\necho "error: the build store went away" >&2\nexit 3\n`);
  chmodSync(script, 0o755);
  const result = await runCliHere(['inspect-image', script], { env: { ADDONIX_CACHE_DIR: cache } });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /the stream script .*stream failed \(exit 3\):\nerror: the build store went away/);
  assert.deepEqual(blobs(cache), []);
});

test('cache: temporaries of a killed import are removed by the next run', { timeout: 60_000 }, async (t) => {
  const dir = tempTree(t, {});
  const cache = path.join(dir, 'cache');
  const env = { ADDONIX_CACHE_DIR: cache };
  const tar = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries({ goarch: 'amd64', layers: [await layer({ big: Buffer.alloc(8_000_000, 7) })] }));
  // A stream that stops in the middle of its layer and waits: the import has a temporary half written.
  const stalled = path.join(dir, 'stalled');
  writeFileSync(stalled, `#!/bin/sh\nhead -c 4000000 ${JSON.stringify(tar)}\nexec sleep 600\n`);
  chmodSync(stalled, 0o755);
  // In a process group of its own, so that the stream script it leaves behind is stopped after the test.
  const child = spawn(process.execPath, [CLI, 'inspect-image', stalled], { env: { ...process.env, ...env }, stdio: 'ignore', detached: true });
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  });
  const blobDir = path.join(cache, 'oci', 'blobs', 'sha256');
  while (!(existsSync(blobDir) && readdirSync(blobDir).some((name) => name.includes('.partial-')))) await new Promise((resolve) => setTimeout(resolve, 20));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('close', resolve));
  assert.ok(readdirSync(blobDir).some((name) => name.includes('.partial-')), 'a killed run leaves its temporary');
  // Records it was writing elsewhere in the cache, as a run killed a moment later would have left them.
  const records = ['layers', 'layers/by-digest', 'imports', 'locations/127.0.0.1_5000'].map((folder) => path.join(cache, folder, `.record.json.partial-${child.pid}-0123456789ab`));
  for (const file of records) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '{"half":');
  }
  const next = await runCliHere(['inspect-image', tar], { env });
  assert.equal(next.status, 0, next.stderr);
  assert.deepEqual(readdirSync(blobDir).filter((name) => name.includes('.partial-')), [], 'the next run removed it');
  assert.deepEqual(records.filter((file) => existsSync(file)), [], 'and the half-written records in every folder of the cache');
});

test('cache: the cache folder removed in the middle of a push is a user error saying so; the next push fills it anew', { timeout: 60_000 }, async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const dir = tempTree(t, {});
  const cache = path.join(dir, 'cache');
  const env = { ADDONIX_CACHE_DIR: cache };
  const tar = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries({ goarch: 'amd64', layers: [await layer({ big: sourceText('gone', 8_000_000) })] }));
  // A stream that removes the whole cache half-way through its layer, while addonix writes the layer's blob there.
  const script = path.join(dir, 'stream');
  writeFileSync(script, `#!/bin/sh
head -c 4000000 ${JSON.stringify(tar)}
rm -rf "$ADDONIX_CACHE_DIR"
tail -c +4000001 ${JSON.stringify(tar)}
`);
  chmodSync(script, 0o755);
  const pushArgs = ['push', '--to', `${registry.host}/me/gone`, '--tag', '1', script];
  const gone = await runCliHere(pushArgs, { env });
  assert.equal(gone.status, 1, gone.stderr);
  assert.match(gone.stderr, /addonix's cache .* was removed while addonix was using it; run the command again .*\[cache-gone\]/);
  assert.ok(!hasStackTrace(gone.stderr), gone.stderr);
  assert.deepEqual(await tagDigests(registry.url, 'me/gone', ['1']), { '1': null }, 'no tag moved');
  const again = await runCliHere(['push', '--to', `${registry.host}/me/gone`, '--tag', '1', tar], { env });
  assert.equal(again.status, 0, again.stderr);
});

test('cache: Ctrl-C in the middle of an import: push removes its temporary itself, and no .partial file survives the next run', { timeout: 120_000 }, async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const dir = tempTree(t, {});
  const tar = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries({ goarch: 'amd64', layers: [await layer({ big: Buffer.alloc(8_000_000, 7) })] }));
  const stalled = path.join(dir, 'stalled');
  writeFileSync(stalled, `#!/bin/sh\nhead -c 4000000 ${JSON.stringify(tar)}\nexec sleep 60\n`);
  chmodSync(stalled, 0o755);
  for (const args of [
    ['push', '--to', `${registry.host}/me/addon`, '--tag', '1', stalled],
    ['inspect-image', stalled],
    ['assemble', '--out', path.join(dir, 'layout'), stalled],
  ]) {
    // A cache each: one that holds the layer already would not compress it into a temporary.
    const cache = path.join(dir, `cache-${args[0]}`);
    const env = { ADDONIX_CACHE_DIR: cache };
    const blobDir = path.join(cache, 'oci', 'blobs', 'sha256');
    const partials = () => (existsSync(blobDir) ? readdirSync(blobDir).filter((name) => name.includes('.partial-')) : []);
    // In a process group of its own, as a terminal's foreground job is: Ctrl-C reaches addonix and the stream script.
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    t.after(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    let exited = false;
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('close', (code, signal) => {
        exited = true;
        resolve([code, signal]);
      }),
    );
    while (!exited && partials().length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(!exited, `${args[0]}: still importing when interrupted\n${stderr}`);
    process.kill(-child.pid!, 'SIGINT');
    const [code, signal] = await closed;
    assert.ok(code === 130 || signal === 'SIGINT', `${args[0]}: stopped by Ctrl-C (exit ${code}, signal ${signal})\n${stderr}`);
    assert.ok(!hasStackTrace(stderr), `${args[0]}: ${stderr}`);
    if (args[0] === 'push') {
      assert.match(stderr, /^addonix: interrupted: 0 blobs uploaded .*no tag was moved/m);
      assert.deepEqual(partials(), [], 'push: its temporary is removed before it exits');
    }
    const next = await runCliHere(['inspect-image', tar], { env });
    assert.equal(next.status, 0, next.stderr);
    assert.deepEqual(partials(), [], `${args[0]}: no .partial file after the next run`);
  }
  assert.ok(!existsSync(path.join(dir, 'layout')), 'an interrupted assemble leaves no layout');
  assert.deepEqual(await tagDigests(registry.url, 'me/addon', ['1']), { '1': null }, 'an interrupted push tags nothing');
});

test('cache: a failed import removes only its own copy of a blob: one another run has put in its place since stays', async (t) => {
  const dir = tempTree(t, {});
  const store = new BlobStore(dir);
  const bytes = Buffer.from('a layer two runs compressed alike\n');
  const digest = sha256(bytes);
  const own = await store.create();
  own.write([bytes]);
  const ino = await own.commit(digest);
  assert.equal(statSync(store.path(digest)).ino, ino, 'commit answers the inode of the file it put there');
  // Another run renames its own copy of the same blob into place.
  const theirs = path.join(store.blobDir, 'theirs');
  writeFileSync(theirs, bytes);
  const theirIno = statSync(theirs).ino;
  renameSync(theirs, store.path(digest));
  await store.removeOwn(digest, ino);
  assert.equal(statSync(store.path(digest)).ino, theirIno, "the other run's copy is still there");
  assert.deepEqual(readdirSync(store.blobDir), [digest.slice(7)], 'and nothing was left aside');
  await store.removeOwn(digest, theirIno);
  assert.deepEqual(readdirSync(store.blobDir), [], 'its own copy is removed');
  await store.removeOwn(digest, theirIno);
});

test('cache: runs sharing a cache that refuse the same archive at once each give the reason; none fails otherwise, nothing stays', { timeout: 300_000 }, async (t) => {
  const dir = tempTree(t, {});
  // A first layer each run compresses to the same blob, then a layer whose content is not what the config says.
  const entries = dockerToolsEntries({ goarch: 'amd64', layers: [await layer({ 'lib/big.js': sourceText('shared', 3_000_000) }), await layer({ 'app/main.js': '1\n' })] });
  const last = entries.filter((entry) => entry.path.endsWith('/layer.tar'))[1]!;
  entries[entries.lastIndexOf(last)] = { ...last, body: await layer({ 'etc/passwd': 'root::0:0::/:/bin/sh\n' }) };
  const archive = path.join(dir, 'swapped.tar');
  writeFileSync(archive, await tarBuffer(entries));
  // Timing decides whether runs meet in the cache: several rounds of several runs.
  for (let round = 0; round < 4; round++) {
    const cache = path.join(dir, `cache-${round}`);
    const results = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) => runCliAsync(['assemble', '--out', path.join(dir, `layout-${round}-${i}`), archive], { env: { ADDONIX_CACHE_DIR: cache } })),
    );
    for (const result of results) {
      assert.equal(result.status, 1, result.stderr);
      assert.match(result.stderr, /has diff_id sha256:[a-f0-9]{64}, but the config says sha256:[a-f0-9]{64}/, `round ${round}`);
      assert.ok(!hasStackTrace(result.stderr), result.stderr);
    }
    assert.deepEqual(blobs(cache), [], `round ${round}: nothing stays in the cache`);
  }
});

test('cache: a rebuilt image whose layers the cache knows compresses and uploads only its new layer', { timeout: 120_000 }, async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const dir = tempTree(t, {});
  const env = { ADDONIX_CACHE_DIR: path.join(dir, 'cache') };
  // Layers named by their diff_id, as nixpkgs' streamLayeredImage names them.
  const nixEntries = async (extra: string) => {
    const image: TestImage = { goarch: 'amd64', layers: await archLayers('amd64', extra), labels: { 'io.hass.arch': 'amd64' } };
    return dockerToolsEntries(image);
  };
  const first = await writeTarFile(path.join(dir, 'first.tar'), await nixEntries(''));
  const pushed = await runCliHere(['push', '--json', '--to', `${registry.host}/me/addon`, '--tag', '1', first], { env });
  assert.equal(pushed.status, 0, pushed.stderr);
  const inspected = await runCliHere(['inspect-image', '--json', first], { env });
  const kept = path.join(dir, 'cache', 'oci', 'blobs', 'sha256', (JSON.parse(inspected.stdout) as { images: { layers: { digest: string }[] }[] }).images[0]!.layers[0]!.digest.slice(7));
  const inode = statSync(kept).ino;
  // One layer changed; the stream script of the rebuild is another file, so nothing comes from the import record.
  const rebuiltTar = await writeTarFile(path.join(dir, 'rebuilt.tar'), await nixEntries(' v2'));
  const script = path.join(dir, 'stream');
  writeFileSync(script, `#!/bin/sh\nexec cat ${JSON.stringify(rebuiltTar)}\n`);
  chmodSync(script, 0o755);
  const second = await runCliHere(['push', '--json', '--to', `${registry.host}/me/addon`, '--tag', '2', script], { env });
  assert.equal(second.status, 0, second.stderr);
  const blobsSent = (JSON.parse(second.stdout) as { blobs: { uploaded: number; skipped: number } }).blobs;
  assert.deepEqual([blobsSent.uploaded, blobsSent.skipped], [2, 1], 'the new layer and the config uploaded; the known layer skipped');
  assert.equal(statSync(kept).ino, inode, 'the known layer was not compressed again (its blob file is the same file)');
  const records = readdirSync(path.join(dir, 'cache', 'layers')).filter((name) => name.endsWith('.json'));
  assert.equal(records.length, 3, 'one record per layer read: two of the first image, the new one');
});

test('cache: a layout\'s layers read once are only hashed by the next import: the cache\'s record of each is what it goes by, and bytes that do not hash to their name are still refused', async (t) => {
  const dir = tempTree(t, {});
  const cache = path.join(dir, 'cache');
  const env = { ADDONIX_CACHE_DIR: cache };
  const image: TestImage = { goarch: 'amd64', layers: await archLayers('amd64'), labels: { 'io.hass.arch': 'amd64' } };
  const gz = image.layers.map((l) => gzipSync(l));
  const first = await runCliHere(['inspect-image', dockerLayout(path.join(dir, 'first'), image, gz)], { env });
  assert.equal(first.status, 0, first.stderr);
  const recordOf = (diffId: string) => path.join(cache, 'layers', `${diffId.slice(7)}.json`);
  gz.forEach((blob, i) => {
    assert.equal(readFileSync(path.join(cache, 'layers', 'by-digest', sha(blob).slice(7)), 'utf8'), sha(image.layers[i]!), `layer ${i + 1} recorded under its digest`);
    assert.ok(existsSync(recordOf(sha(image.layers[i]!))));
  });
  // Records saying layer 1's blob is layer 2's content (not what addonix wrote): a copy of the layout (no
  // import record of its own) goes by them without reading the layer, and its config then disagrees.
  const second = JSON.parse(readFileSync(recordOf(sha(image.layers[1]!)), 'utf8')) as { forms: { digest: string; size: number; compression: string; compressor: null }[] };
  writeFileSync(recordOf(sha(image.layers[1]!)), JSON.stringify({ ...second, forms: [...second.forms, { digest: sha(gz[0]!), size: gz[0]!.length, compression: 'gzip', compressor: null }] }));
  writeFileSync(path.join(cache, 'layers', 'by-digest', sha(gz[0]!).slice(7)), sha(image.layers[1]!));
  const misled = await runCliHere(['inspect-image', dockerLayout(path.join(dir, 'copy'), image, gz)], { env });
  assert.equal(misled.status, 1);
  assert.match(misled.stderr, new RegExp(`layer 1 \\(${sha(gz[0]!)}\\) has diff_id ${sha(image.layers[1]!)}, but the config says ${sha(image.layers[0]!)}`));
  // A recorded blob whose file does not hash to its name (one byte changed) is refused.
  const rotten = Buffer.from(gz[1]!);
  rotten[Math.floor(rotten.length / 2)] = rotten[Math.floor(rotten.length / 2)]! ^ 0x10;
  const refused = await runCliHere(['inspect-image', dockerLayout(path.join(dir, 'poisoned'), image, gz, { index: 1, bytes: rotten })], { env });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, new RegExp(`layer 2 \\(${sha(gz[1]!)}\\): it hashes to ${sha(rotten)}, but the manifest says ${sha(gz[1]!)}: the layout is damaged`));
  assert.ok(!hasStackTrace(refused.stderr), refused.stderr);
});
