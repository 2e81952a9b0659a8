/** Readers: every input shape gives the same image; hostile archives are refused and leave nothing behind. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';
import type { TestContext } from 'node:test';
import { needTools, tempTree } from './helpers.js';
import { addArtifacts, archLayers, docker25Entries, dockerToolsEntries, editLayoutIndex, imageConfig, layer, noise, putBlob, sha, sourceText, tarBuffer, writeStreamScript, writeTarFile, writeTarGz, type TestImage } from './images.js';
import type { TarWriteEntry } from '../src/oci/tar.js';
import { readInput as readInputWith, readInputs as readInputsWith, type CoreShare, type ReadOptions } from '../src/oci/inputs.js';
import { DEFAULT_LAYER_RULES } from '../src/oci/layer-rules.js';
import { assembleIndex, writeLayout } from '../src/oci/assemble.js';
import { compressorRecord, deflateEngine, GZIP_LEVEL, GzipBlocks, zstdAvailable } from '../src/oci/compression.js';
import { UserError } from '../src/util/errors.js';
import type { LayerPolicy } from '../src/oci/import.js';

/** The readers under the default layer rules, with a policy. */
const readInput = async (input: string, policy: LayerPolicy) => (await readInputWith(input, { policy, rules: DEFAULT_LAYER_RULES })).images;
const readInputs = async (inputs: string[], policy: LayerPolicy, options: Partial<ReadOptions> = {}) => (await readInputsWith(inputs, { policy, rules: DEFAULT_LAYER_RULES, ...options })).images;

const GZIP: LayerPolicy = { compression: 'gzip', keepCompressed: true };

function workdir(t: TestContext): string {
  const dir = tempTree(t, {});
  process.env['ADDONIX_CACHE_DIR'] = path.join(dir, 'cache');
  return dir;
}

async function armImage(): Promise<TestImage> {
  return { goarch: 'arm64', layers: await archLayers('aarch64'), labels: { 'io.hass.arch': 'aarch64' } };
}

/** Files left in the cache's blob folder: no partial file may remain, and only complete blobs. */
function cacheFiles(dir: string): string[] {
  const blobs = path.join(dir, 'cache', 'oci', 'blobs', 'sha256');
  return existsSync(blobs) ? readdirSync(blobs) : [];
}

test('readers: dockerTools tar, its .tar.gz, the stream script and a Docker 25 archive give the same image', async (t) => {
  const dir = workdir(t);
  const image = await armImage();
  const tar = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries(image));
  const inputs = [
    tar,
    await writeTarGz(path.join(dir, 'image.tar.gz'), dockerToolsEntries(image)),
    writeStreamScript(path.join(dir, 'stream'), tar),
    await writeTarFile(path.join(dir, 'docker25.tar'), docker25Entries(image)),
  ];
  const digests = new Set<string>();
  for (const input of inputs) {
    const [read] = await readInput(input, GZIP);
    assert.equal(read!.arch, 'aarch64', input);
    assert.deepEqual(read!.platform, { architecture: 'arm64', os: 'linux', variant: 'v8' }, input);
    assert.deepEqual(read!.config.rootfs.diff_ids, image.layers.map((l) => sha(l)), input);
    assert.equal(read!.configBytes.toString(), imageConfig(image).toString(), `${input}: config kept byte for byte`);
    for (const descriptor of read!.manifest.layers) {
      assert.equal(descriptor.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
      const stored = readFileSync(read!.store.path(descriptor.digest));
      assert.equal(sha(stored), descriptor.digest, 'stored blob matches its digest');
      assert.equal(stored[9], 3, 'gzip OS byte pinned to Unix');
    }
    digests.add(read!.manifestDigest);
  }
  assert.equal(digests.size, 1, 'all four shapes give one manifest');
});

test('readers: gzip output is the same bytes in a fresh cache; none and explicit gzip are honoured', async (t) => {
  const dir = workdir(t);
  const tar = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries(await armImage()));
  const [first] = await readInput(tar, GZIP);
  process.env['ADDONIX_CACHE_DIR'] = path.join(dir, 'cache2');
  const [second] = await readInput(tar, GZIP);
  assert.equal(second!.manifestDigest, first!.manifestDigest);
  assert.match(first!.manifest.layers[0]!.annotations?.['io.addonix.layer.compressor'] ?? '', /^gzip level=2 /);
  const [plain] = await readInput(tar, { compression: 'none', keepCompressed: false });
  assert.deepEqual(plain!.manifest.layers.map((l) => l.digest), plain!.config.rootfs.diff_ids, 'uncompressed layers are their diff_ids');
  assert.equal(plain!.manifest.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar');
});

const MiB = 1 << 20;

/**
 * The layer compressor's gzip output for `input`, fed in chunks of `chunkSize` that are views of one
 * buffer, overwritten (with junk first) before the next chunk: the output can only be right if the
 * compressor keeps no reference to what it was given, as the tar file reader's reused buffer needs;
 * `threads` blocks deflated at once.
 */
async function gzipLayer(input: Buffer, chunkSize: number, threads = 1): Promise<Buffer> {
  const out: Buffer[] = [];
  // The sink's pieces are valid only during the call: copied.
  const gzip = new GzipBlocks((pieces) => out.push(...pieces.map((piece) => Buffer.from(piece))), threads);
  const reused = Buffer.alloc(Math.max(1, Math.min(chunkSize, input.length)));
  for (let at = 0; at < input.length; at += chunkSize) {
    reused.fill(0xa5);
    const length = input.copy(reused, 0, at, at + chunkSize);
    await gzip.write(reused.subarray(0, length));
  }
  reused.fill(0x5a);
  await gzip.end();
  return Buffer.concat(out);
}

test('gzip: one member, random blocks stored and text deflated, the same bytes however the input arrives', async () => {
  const text = Buffer.from('lorem ipsum dolor sit amet, consectetur adipiscing elit\n'.repeat(60000)).subarray(0, 2.5 * MiB);
  const input = Buffer.concat([noise('a', 2 * MiB + 100), text, noise('b', MiB / 2)]);
  const whole = await gzipLayer(input, input.length);
  for (const chunkSize of [4096, MiB + 7, 3 * MiB]) assert.ok((await gzipLayer(input, chunkSize)).equals(whole), `fed in chunks of ${chunkSize}`);
  // Blocks deflated on zlib's thread pool, several at once, give the same bytes.
  for (const [chunkSize, threads] of [[MiB, 2], [4096, 3], [MiB + 7, 8]] as const) {
    assert.ok((await gzipLayer(input, chunkSize, threads)).equals(whole), `${threads} threads, chunks of ${chunkSize}`);
  }
  assert.ok(gunzipSync(whole).equals(input));
  // One member: the 10-byte header (mtime 0, OS Unix), one deflate stream, CRC-32 and size of the whole input.
  assert.deepEqual([...whole.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  assert.ok(inflateRawSync(whole.subarray(10, whole.length - 8)).equals(input));
  assert.equal(whole.readUInt32LE(whole.length - 8), crc32(input));
  assert.equal(whole.readUInt32LE(whole.length - 4), input.length);

  // Random blocks are stored: each MiB is 17 stored deflate blocks of 5-byte headers, then a final empty block.
  const random = noise('c', 3 * MiB);
  assert.equal((await gzipLayer(random, MiB)).length, 10 + random.length + 3 * 17 * 5 + 5 + 8);
  // Text blocks are deflated, each primed with the 32 KiB before it: hardly more than one stream of it.
  const deflated = (await gzipLayer(text, 64 * 1024)).length;
  assert.ok(deflated < gunzipSync(whole).length / 100, `text deflated to ${deflated} bytes`);
  const oneStream = (await import('node:zlib')).gzipSync(text, { level: GZIP_LEVEL, memLevel: 9 }).length;
  assert.ok(deflated < 1.1 * oneStream, `${deflated} bytes in blocks, ${oneStream} as one stream at the same level`);

  const empty = await gzipLayer(Buffer.alloc(0), 1);
  assert.equal(gunzipSync(empty).length, 0);
  assert.match(compressorRecord('gzip') ?? '', /^gzip level=2 memLevel=9 mtime=0 os=3; one member of 1048576-byte blocks, each raw-deflated .* or stored/);
});

test('gzip: the layer compressor gives the bytes it gave when its settings were chosen (a changed level, hash table or block layout changes every published digest), whichever zlib this Node.js links', async (t) => {
  // Text deflated in blocks, an incompressible MiB stored, a short last block.
  const input = Buffer.concat([sourceText('golden', 3 * MiB), noise('golden', MiB), sourceText('golden-2', 100_000)]);
  assert.equal(sha(input), 'sha256:b19b94cccf941d8673fd5ba9e4b28ed3a5c86e165a80f5f3fffb9ddf26bcdd4e', 'the test data itself is unchanged');
  // Where this Node.js's zlib writes pako's bytes (official builds) it deflates, else pako does; pako alone too.
  t.diagnostic(`Node.js ${process.version}: ${deflateEngine()}`);
  for (const engine of ['chosen', 'pako'] as const) {
    if (engine === 'pako') process.env['ADDONIX_DEFLATE'] = 'pako';
    try {
      for (const threads of [1, 2]) {
        const gzipped = await gzipLayer(input, 64 * 1024, threads);
        assert.equal(gzipped.length, 2_031_863, `${engine}, ${threads} thread(s): size`);
        assert.equal(sha(gzipped), 'sha256:3f12f2a10bb65e3ec86ec6a359c65b960455e646509347dd585ed1631421a859', `${engine}, ${threads} thread(s): the bytes of ${compressorRecord('gzip')!.split(';')[0]}`);
      }
    } finally {
      delete process.env['ADDONIX_DEFLATE'];
    }
  }
});

test('readers: stored events tell of each layer once it is in the cache; a cache hit reads nothing', async (t) => {
  const dir = workdir(t);
  const arm = await writeTarFile(path.join(dir, 'arm.tar'), dockerToolsEntries(await armImage()));
  const amd = await writeTarFile(path.join(dir, 'amd.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') }));
  const heard: string[] = [];
  const events = {
    stored: (_id: number, descriptor: { digest: string }, store: { path(digest: string): string }) => {
      assert.ok(existsSync(store.path(descriptor.digest as `sha256:${string}`)), 'the blob is in the store when it is announced');
      heard.push(descriptor.digest);
    },
  };
  const images = await readInputs([arm, amd], GZIP, { events });
  assert.deepEqual(heard.sort(), images.flatMap((image) => image.manifest.layers.map((l) => l.digest)).sort());
  heard.length = 0;
  await readInputs([arm, amd], GZIP, { events });
  assert.deepEqual(heard, [], 'from the cache: nothing imported, nothing announced');
});

test('readers: the first failing input is the error reported; the others stop and nothing half-written stays', { timeout: 60_000 }, async (t) => {
  const dir = workdir(t);
  const good = await writeTarFile(path.join(dir, 'good.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') }));
  // A stream script that stalls in the middle of its image: only being stopped ends its import.
  const stalled = path.join(dir, 'stalled');
  writeFileSync(stalled, `#!/bin/sh\nhead -c 70000 ${JSON.stringify(good)}\nexec sleep 600\n`);
  chmodSync(stalled, 0o755);
  const bad = path.join(dir, 'cut.tar');
  writeFileSync(bad, (await tarBuffer(dockerToolsEntries(await armImage()))).subarray(0, 3000));
  await assert.rejects(readInputs([stalled, good, bad], GZIP), (error: Error) => error instanceof UserError && /cut\.tar: entry .* declares \d+ bytes but the whole archive has only 3000/.test(error.message));
  for (const name of cacheFiles(dir)) {
    assert.doesNotMatch(name, /partial/);
    assert.equal(sha(readFileSync(path.join(dir, 'cache', 'oci', 'blobs', 'sha256', name))), `sha256:${name}`, 'only complete blobs stay');
  }
});

test('readers: zstd is refused with a clear message on a Node.js without it, and works where it has it', async (t) => {
  const dir = workdir(t);
  const tar = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries(await armImage()));
  if (zstdAvailable()) {
    const [read] = await readInput(tar, { compression: 'zstd', keepCompressed: false });
    assert.equal(read!.manifest.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
  } else {
    await assert.rejects(readInput(tar, { compression: 'zstd', keepCompressed: false }), (error: Error) => error instanceof UserError && /Node\.js has zstd in zlib from 22\.15/.test(error.message));
  }
});

test('readers: an OCI layout written by assemble reads back as the same images, in place', async (t) => {
  const dir = workdir(t);
  const arm = await writeTarFile(path.join(dir, 'arm.tar'), dockerToolsEntries(await armImage()));
  const amd = await writeTarFile(path.join(dir, 'amd.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') }));
  const images = await readInputs([amd, arm], GZIP);
  const assembled = assembleIndex(images, {});
  const layout = path.join(dir, 'result-multiarch');
  await writeLayout(layout, assembled, 'latest');
  const back = await readInput(layout, GZIP);
  assert.deepEqual(back.map((i) => [i.arch, i.manifestDigest]).sort(), images.map((i) => [i.arch, i.manifestDigest]).sort());
  assert.equal(back[0]!.store.dir, layout, 'layers are read where they are');
  assert.equal(assembleIndex(back, {}).digest, assembled.digest, 'argument order does not change the index');
  // Asking for another compression converts into the cache.
  const converted = await readInput(layout, { compression: 'none', keepCompressed: false });
  assert.deepEqual(converted.map((i) => i.manifest.layers.map((l) => l.digest)).flat().sort(), images.map((i) => i.config.rootfs.diff_ids).flat().sort());
  // A folder that is there but is no layout is not replaced.
  writeFileSync(path.join(dir, 'notes.txt'), 'keep me');
  await assert.rejects(writeLayout(dir, assembled, 'x'), /not an OCI layout/);
  assert.equal(readFileSync(path.join(dir, 'notes.txt'), 'utf8'), 'keep me');
});

test('readers: OCI layouts and archives made by skopeo (directory and tarball) read with the same diff_ids', async (t) => {
  if (!needTools(t, 'skopeo')) return;
  const dir = workdir(t);
  const image = await armImage();
  const tar = await writeTarFile(path.join(dir, 'image.tar'), dockerToolsEntries(image));
  execFileSync('skopeo', ['copy', '-q', `docker-archive:${tar}`, `oci:${path.join(dir, 'layout')}:1.0`]);
  execFileSync('skopeo', ['copy', '-q', `docker-archive:${tar}`, `oci-archive:${path.join(dir, 'layout.tar')}:1.0`]);
  for (const input of [path.join(dir, 'layout'), path.join(dir, 'layout.tar')]) {
    const [read] = await readInput(input, GZIP);
    assert.equal(read!.arch, 'aarch64');
    assert.deepEqual(read!.config.rootfs.diff_ids, image.layers.map((l) => sha(l)), input);
  }
});

/** An archive's bytes with one change, to make hostile variants of a good archive. */
async function hostile(t: TestContext, name: string, build: (image: TestImage) => Promise<Buffer> | Buffer): Promise<{ dir: string; file: string }> {
  const dir = workdir(t);
  const file = path.join(dir, name);
  writeFileSync(file, await build(await armImage()));
  return { dir, file };
}

async function refused(file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(readInput(file, GZIP), (error: Error) => {
    assert.ok(error instanceof UserError, `a UserError, not ${error.stack}`);
    assert.match(error.message, pattern);
    return true;
  });
}

test('hostile: a truncated archive is refused and leaves no blob in the cache', async (t) => {
  const { dir, file } = await hostile(t, 'cut.tar', async (image) => {
    const full = await tarBuffer(dockerToolsEntries(image));
    return full.subarray(0, 3000);
  });
  await refused(file, /truncated|declares/);
  assert.deepEqual(cacheFiles(dir), []);
});

test('hostile: a truncated .tar.gz is refused', async (t) => {
  const { dir, file } = await hostile(t, 'cut.tar.gz', async (image) => {
    const { gzipSync } = await import('node:zlib');
    const gz = gzipSync(await tarBuffer(dockerToolsEntries(image)));
    return gz.subarray(0, Math.floor(gz.length / 2));
  });
  await refused(file, /truncated|not a valid gzip/);
  assert.deepEqual(cacheFiles(dir), []);
});

test('hostile: a layer that does not match the config diff_ids is refused', async (t) => {
  const { dir, file } = await hostile(t, 'swapped.tar', async (image) => {
    const entries = dockerToolsEntries(image);
    const evil = await layer({ 'etc/passwd': 'root::0:0::/:/bin/sh\n' });
    const at = entries.findIndex((e) => e.path.endsWith('/layer.tar'));
    entries[at] = { ...entries[at]!, body: evil };
    return tarBuffer(entries);
  });
  await refused(file, /diff_id .* but the config says/);
  assert.deepEqual(cacheFiles(dir), []);
});

test('hostile: a Docker 25 blob that does not match its name is refused', async (t) => {
  const { file } = await hostile(t, 'blob.tar', async (image) => {
    const entries = docker25Entries(image);
    const at = entries.findIndex((e) => e.path.startsWith('blobs/sha256/') && Buffer.isBuffer(e.body) && e.body.toString().startsWith('{"created"'));
    const config = JSON.parse((entries[at]!.body as Buffer).toString()) as { config: { Cmd: string[] } };
    config.config.Cmd = ['/bin/evil'];
    entries[at] = { ...entries[at]!, body: Buffer.from(JSON.stringify(config)) };
    return tarBuffer(entries);
  });
  await refused(file, /does not match its digest/);
});

test('hostile: entries with .. or absolute paths are refused', async (t) => {
  for (const name of ['../escape.json', '/etc/escape.json', 'a/../../escape.json']) {
    const { file } = await hostile(t, 'paths.tar', async (image) => tarBuffer([{ path: name, body: Buffer.from('{}') }, ...dockerToolsEntries(image)]));
    await refused(file, /refusing entry|outside/);
    assert.equal(existsSync(path.join(path.dirname(file), '..', 'escape.json')), false);
  }
});

test('hostile: a symlink pointing outside the archive is refused; one inside (docker save dedup) is followed', async (t) => {
  const { file } = await hostile(t, 'link.tar', async (image) => {
    const entries = dockerToolsEntries(image);
    const at = entries.findIndex((e) => e.path.endsWith('/layer.tar'));
    entries[at] = { path: entries[at]!.path, type: 'symlink', linkpath: '../../../etc/shadow' };
    return tarBuffer(entries);
  });
  await refused(file, /points outside the archive/);

  const { file: good } = await hostile(t, 'dedup.tar', async (image) => {
    // The second layer dir holds a link to the first one's layer.tar, as docker save writes duplicates.
    const twice: TestImage = { ...image, layers: [image.layers[0]!, image.layers[0]!] };
    const dupEntries = dockerToolsEntries(twice);
    const second = dupEntries.filter((e) => e.path.endsWith('/layer.tar'))[1]!;
    return tarBuffer([
      { path: 'other/layer.tar', type: 'symlink', linkpath: `../${dupEntries.find((e) => e.path.endsWith('/layer.tar'))!.path}` },
      ...dupEntries.filter((e) => e !== second && e.path !== 'manifest.json'),
      {
        path: 'manifest.json',
        body: Buffer.from(JSON.stringify([{ Config: dupEntries.find((e) => e.path.endsWith('.json') && e.path !== 'manifest.json')!.path, RepoTags: null, Layers: [dupEntries.find((e) => e.path.endsWith('/layer.tar'))!.path, 'other/layer.tar'] }])),
      },
    ]);
  });
  const [read] = await readInput(good, GZIP);
  assert.equal(read!.manifest.layers.length, 2);
  assert.equal(read!.manifest.layers[0]!.digest, read!.manifest.layers[1]!.digest);
});

test('hostile: a manifest.json naming a missing file is refused, and nothing of it stays in the cache', async (t) => {
  const { dir, file } = await hostile(t, 'missing.tar', async (image) => {
    const entries = dockerToolsEntries(image).filter((e) => !(e.path.endsWith('/layer.tar') && e.path.startsWith(sha(image.layers[1]!).slice(7))));
    return tarBuffer(entries);
  });
  await refused(file, /manifest\.json names the layer '.*layer\.tar', which is not in the archive|is not in the archive/);
  assert.deepEqual(cacheFiles(dir), []);
});

test('hostile: a 4 GB layer declared in a 1 MB file is refused at once', async (t) => {
  const { dir, file } = await hostile(t, 'huge.tar', async () => {
    // A header that declares 4 GiB, followed by 1 MiB of data and no more.
    const { Header } = await import('tar');
    const block = Buffer.alloc(512);
    new Header({ path: 'big/layer.tar', size: 4 * 1024 ** 3, mode: 0o644, mtime: new Date(1000), type: 'File' }).encode(block);
    return Buffer.concat([block, Buffer.alloc(1024 * 1024, 1)]);
  });
  await refused(file, /declares 4294967296 bytes but the whole archive has only/);
  assert.deepEqual(cacheFiles(dir), []);
});

test('hostile: not an archive at all, and an archive with no manifest', async (t) => {
  const { file } = await hostile(t, 'text.tar', () => Buffer.from('hello, this is not a tarball\n'.repeat(40)));
  await refused(file, /is not an image/);
  const { file: empty } = await hostile(t, 'empty.tar', () => tarBuffer([{ path: 'README', body: Buffer.from('hi') }]));
  await refused(empty, /neither manifest\.json .* nor index\.json/);
});

test('readers: 32-bit ARM without a variant or label needs its arch named; a named arch must match', async (t) => {
  const dir = workdir(t);
  const file = await writeTarFile(path.join(dir, 'arm.tar'), dockerToolsEntries({ goarch: 'arm', layers: await archLayers('armv7') }));
  await refused(file, /could be armv7 or armhf; name its arch .* armv7=/);
  const [named] = await readInput(`armhf=${file}`, GZIP);
  assert.deepEqual(named!.platform, { architecture: 'arm', os: 'linux', variant: 'v6' });
  await assert.rejects(readInput(`aarch64=${file}`, GZIP), /was named aarch64, but its config says architecture 'arm'/);
});

test('index: an entry listed twice, a size that is off and a config of a layer type are refused; attestations and artifacts are carried, never taken for an arch', async (t) => {
  const dir = workdir(t);
  const amd = await writeTarFile(path.join(dir, 'amd.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') }));
  const arm = await writeTarFile(path.join(dir, 'arm.tar'), dockerToolsEntries(await armImage()));
  const images = await readInputs([amd, arm], GZIP);
  const layout = (name: string) => {
    const at = path.join(dir, name);
    return writeLayout(at, assembleIndex(images, {}), 'latest').then(() => at);
  };
  const refusals: [string, (index: Parameters<Parameters<typeof editLayoutIndex>[1]>[0], at: string) => void, RegExp][] = [
    ['twice', (index) => index.manifests.push({ ...index.manifests[0]! }), /the index names sha256:[a-f0-9]{64} twice/],
    ['thousand', (index) => index.manifests.push(...Array.from({ length: 999 }, () => ({ ...index.manifests[1]! }))), /the index names sha256:[a-f0-9]{64} twice/],
    ['size', (index) => (index.manifests[0]!.size += 100), /sha256:[a-f0-9]{64} is (\d+) bytes, but its descriptor says \d+/],
    ['config-type', (index, at) => {
      const manifest = JSON.parse(readFileSync(path.join(at, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { config: { mediaType: string } };
      manifest.config.mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip';
      Object.assign(index.manifests[0]!, putBlob(at, Buffer.from(JSON.stringify(manifest))));
    }, /has the media type application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip, which is no config/],
    ['same-platform', (index) => {
      const other = index.manifests[1]!;
      other.platform = { ...index.manifests[0]!.platform! };
    }, /the index lists two images for linux\/(arm64\/v8|amd64)/],
  ];
  for (const [name, edit, reason] of refusals) {
    const at = await layout(name);
    editLayoutIndex(at, (index) => edit(index, at));
    await assert.rejects(readInputWith(at, { policy: GZIP, rules: DEFAULT_LAYER_RULES }), (error: Error) => error instanceof UserError && error.code === 'image-invalid' && reason.test(error.message), name);
  }

  // Attestations and artifacts beside the images: carried through as they are, into the index a push writes.
  const withArtifacts = await layout('artifacts');
  const digests = addArtifacts(withArtifacts);
  const read = await readInputWith(withArtifacts, { policy: GZIP, rules: DEFAULT_LAYER_RULES });
  assert.deepEqual(read.images.map((image) => image.arch).sort(), ['aarch64', 'amd64'], 'no artifact is taken for an arch');
  assert.deepEqual(read.artifacts.map((artifact) => artifact.descriptor.digest), [digests.attestation, digests.sbom]);
  const assembled = assembleIndex(read.images, {}, read.artifacts);
  assert.deepEqual(assembled.index.manifests.slice(2).map((entry) => [entry.digest, entry.platform?.os ?? null, entry.artifactType ?? null]), [[digests.attestation, 'unknown', null], [digests.sbom, null, 'application/spdx+json']]);
  const copy = path.join(dir, 'copy');
  await writeLayout(copy, assembled, 'latest');
  const again = await readInputWith(copy, { policy: GZIP, rules: DEFAULT_LAYER_RULES });
  assert.deepEqual(again.artifacts.map((artifact) => artifact.descriptor.digest), [digests.attestation, digests.sbom], 'a layout written with them reads back with them');
  // The same in a layout tarball: the artifact blobs are documents read as the archive passes.
  const tarball = await writeTarFile(path.join(dir, 'artifacts.tar'), layoutEntries(withArtifacts));
  const fromTar = await readInputWith(tarball, { policy: GZIP, rules: DEFAULT_LAYER_RULES });
  assert.deepEqual(fromTar.artifacts.map((artifact) => artifact.descriptor.digest), [digests.attestation, digests.sbom]);
  // Images whose manifests change (layers recompressed) leave behind the artifacts about them, which name the old manifests.
  const converted = await readInputWith(withArtifacts, { policy: { compression: 'none', keepCompressed: false }, rules: DEFAULT_LAYER_RULES });
  const reassembled = assembleIndex(converted.images, {}, converted.artifacts);
  assert.deepEqual(reassembled.artifacts, []);
  assert.equal(reassembled.dropped.length, 2);
});

/** The files of a layout folder as tar entries (a layout tarball). */
function layoutEntries(dir: string): TarWriteEntry[] {
  const entries: TarWriteEntry[] = [];
  for (const name of ['oci-layout', 'index.json']) entries.push({ path: name, body: readFileSync(path.join(dir, name)) });
  for (const blob of readdirSync(path.join(dir, 'blobs', 'sha256'))) entries.push({ path: `blobs/sha256/${blob}`, body: readFileSync(path.join(dir, 'blobs', 'sha256', blob)) });
  return entries;
}

test('readers: a layout folder is read whole once, on a worker; then its record serves until a blob read in place changes', async (t) => {
  const dir = workdir(t);
  const amd = await writeTarFile(path.join(dir, 'amd.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') }));
  const layout = path.join(dir, 'layout');
  await writeLayout(layout, assembleIndex(await readInputs([amd], GZIP), {}), 'latest');
  // The cores' share sees every import worker started.
  let workers = 0;
  const share = { threads: () => 1, join: () => void workers++, leave: () => undefined, done: () => undefined } as unknown as CoreShare;
  const first = await readInputWith(layout, { policy: GZIP, rules: DEFAULT_LAYER_RULES, share });
  assert.equal(workers, 1, 'read whole the first time');
  const second = await readInputWith(layout, { policy: GZIP, rules: DEFAULT_LAYER_RULES, share });
  assert.equal(workers, 1, 'from its record the second time: no layer read');
  assert.equal(second.images[0]!.manifestDigest, first.images[0]!.manifestDigest);
  assert.equal(second.images[0]!.store.dir, layout, 'its blobs still read in place');
  // A layer blob changed where it lies: the record no longer serves, and the layer is read and refused.
  const blob = path.join(layout, 'blobs', 'sha256', first.images[0]!.manifest.layers[0]!.digest.slice(7));
  const bytes = readFileSync(blob);
  bytes[bytes.length - 20]! ^= 0xff;
  writeFileSync(blob, bytes);
  await assert.rejects(readInputWith(layout, { policy: GZIP, rules: DEFAULT_LAYER_RULES, share }), (error: Error) => error instanceof UserError && error.code === 'image-invalid');
  assert.equal(workers, 2);
});
