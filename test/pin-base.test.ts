/**
 * addonix pin-base and the flavor "base", end to end: a tiny fake Home Assistant base image (an /init
 * script, a bashio stub, an s6 Env) pushed as a multi-arch index to a real docker-registry on 127.0.0.1,
 * pinned by `addonix pin-base` with the nixpkgs stand-in's pullImage (a real fixed-output derivation
 * running skopeo), then the add-on's images built on it with nix/lib.nix and read back layer by layer.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { hasStackTrace, needTools, REPO, tempTree } from './helpers.js';
// The CLI in this process (a process each cost a third of a second of CPU to start).
import { runCliHere } from './in-process-cli.js';
import { imageConfig, sha, tarBuffer, type TestImage } from './images.js';
import { freePort, startRegistry, type Registry } from './registry-helpers.js';
import { NixValueError, parseNixData, toNix, type NixValue } from '../src/nixgen/nix.js';

const STAND_IN = path.join(REPO, 'test', 'nixpkgs-stand-in');
/** Nix here has no binary cache to ask; the stand-in's pullImage runs skopeo from the host (sandbox off, whatever nix.conf says). */
const NIX_ENV = { NIX_CONFIG: 'substituters =\nsandbox = false\n' };
const NIX_OPTIONS = ['--option', 'substituters', '', '--option', 'sandbox', 'false'];

const BASE_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'S6_BEHAVIOUR_IF_STAGE2_FAILS=2', 'S6_CMD_WAIT_FOR_SERVICES_MAXTIME=0'];
const INIT_SCRIPT = '#!/bin/sh\n# s6-overlay stand-in: run the command it is given\nexec "$@"\n';
const GOARCH: Record<string, string> = { amd64: 'amd64', aarch64: 'arm64' };

/** Two layers per arch, like a real base: the system with /init, then bashio; each arch's own bytes. */
async function baseLayers(arch: string, release = '3.24'): Promise<Buffer[]> {
  return [
    await tarBuffer([
      { path: 'etc/', type: 'directory' },
      { path: 'etc/base-release', body: Buffer.from(`${release} ${arch}\n`) },
      { path: 'init', body: Buffer.from(INIT_SCRIPT), mode: 0o755 },
    ]),
    await tarBuffer([
      { path: 'usr/', type: 'directory' },
      { path: 'usr/bin/', type: 'directory' },
      { path: 'usr/bin/bashio', body: Buffer.from(`#!/bin/sh\necho "bashio stub (${arch})"\n`), mode: 0o755 },
    ]),
  ];
}

function baseImage(arch: string, layers: Buffer[]): TestImage {
  return {
    goarch: GOARCH[arch]!,
    layers,
    labels: { 'io.hass.base.name': 'test-base', 'io.hass.base.arch': arch },
    config: { Env: BASE_ENV, Entrypoint: ['/init'], Cmd: [], WorkingDir: '/' },
  };
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** Uploads a blob in one POST + PUT (docker-registry 2.8 wants the octet-stream type). */
async function putBlob(registry: Registry, repository: string, data: Buffer): Promise<void> {
  const started = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  assert.equal(started.status, 202);
  const location = new URL(started.headers.get('location')!, registry.url);
  location.searchParams.set('digest', sha(data));
  const put = await fetch(location, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(put.status, 201, await put.text());
}

async function putManifest(registry: Registry, repository: string, reference: string, document: object, mediaType: string): Promise<string> {
  const bytes = Buffer.from(JSON.stringify(document));
  const put = await fetch(`${registry.url}/v2/${repository}/manifests/${reference}`, { method: 'PUT', body: bytes, headers: { 'content-type': mediaType } });
  assert.equal(put.status, 201, await put.text());
  return sha(bytes);
}

/**
 * Pushes the fake base image straight over the Distribution API (no CLI start): per arch its layers
 * (uncompressed), config and manifest, then the index under TAG; with perArch, one single-arch
 * repository per arch (test/<arch>-base:TAG) instead.
 */
async function pushBase(registry: Registry, arches: string[], options: { tag?: string; alsoTag?: string; release?: string; perArch?: boolean } = {}) {
  const tag = options.tag ?? '3.24';
  const layers: Record<string, Buffer[]> = {};
  const manifests: Record<string, string> = {};
  const entries = [];
  for (const arch of arches) {
    const repository = options.perArch ? `test/${arch}-base` : 'test/base';
    layers[arch] = await baseLayers(arch, options.release);
    const config = imageConfig(baseImage(arch, layers[arch]!));
    for (const blob of [...layers[arch]!, config]) await putBlob(registry, repository, blob);
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: layers[arch]!.map((layer) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length })),
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    manifests[arch] = await putManifest(registry, repository, options.perArch ? tag : sha(bytes), manifest, OCI_MANIFEST);
    const platform = arch === 'aarch64' ? { architecture: 'arm64', os: 'linux', variant: 'v8' } : { architecture: GOARCH[arch]!, os: 'linux' };
    entries.push({ mediaType: OCI_MANIFEST, digest: manifests[arch], size: bytes.length, platform });
  }
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries };
  const indexDigest = options.perArch ? null : await putManifest(registry, 'test/base', tag, index, OCI_INDEX);
  if (indexDigest && options.alsoTag) await putManifest(registry, 'test/base', options.alsoTag, index, OCI_INDEX);
  return { layers, index: indexDigest, digest: (arch: string) => manifests[arch]! };
}

function addon(t: TestContext, files: { config: string; dockerfile?: string; build?: string }): string {
  return tempTree(t, {
    'config.yaml': files.config,
    'run.sh': '#!/bin/sh\necho "the add-on runs"\n',
    ...(files.dockerfile !== undefined ? { Dockerfile: files.dockerfile } : {}),
    ...(files.build !== undefined ? { 'build.yaml': files.build } : {}),
  });
}

const config = (extra: string, arches = ['aarch64', 'amd64']) =>
  `name: Base test\nversion: "1.0.0"\nslug: base_test\ndescription: An add-on on a Home Assistant base image\narch:\n${arches.map((a) => `  - ${a}\n`).join('')}${extra}`;

interface LockEntry {
  imageName: string;
  imageDigest: string;
  hash: string | null;
  finalImageName: string;
  finalImageTag: string;
  os: string;
  arch: string;
  tlsVerify: boolean;
  reference: string;
  config?: { Env?: string[]; Entrypoint?: string[]; Cmd?: string[]; Labels?: Record<string, string>; WorkingDir?: string };
}

/** The lock as Nix itself reads it (so it is proven to be valid Nix, not just text addonix can parse). */
function nixLock(dir: string): { dataVersion: number; images: Record<string, LockEntry> } {
  return JSON.parse(execFileSync('nix-instantiate', ['--eval', '--strict', '--json', path.join(dir, 'nix', 'base-images.lock.nix')], { encoding: 'utf8' }));
}

const lockText = (dir: string) => readFileSync(path.join(dir, 'nix', 'base-images.lock.nix'), 'utf8');

/** The add-on's images (flavor "base") through the stand-in, glibc so that no compiler runs: a Nix expression. */
function imagesOf(dir: string): string {
  const s = (value: string) => JSON.stringify(value);
  return `(lib.mkAddonImages { inherit pkgs; src = /. + ${s(dir)}; addon = import (/. + ${s(dir + '/nix/addon.generated.nix')}); flavor = "base"; libc = "glibc"; run = [ "/app/run.sh" ]; }).images`;
}

const withLibrary = (body: string) =>
  `let lib = import ${JSON.stringify(path.join(REPO, 'nix', 'lib.nix'))} { addonixSrc = ${JSON.stringify(REPO)}; }; pkgs = import ${JSON.stringify(STAND_IN)} { }; in ${body}`;

/** Builds images (`[ (imagesOf a).amd64 ... ]`) in one nix-build; their store paths by `<slug>-<arch>`. */
function buildImages(list: string[]): Record<string, string> {
  const result = spawnSync('nix-build', ['--no-out-link', ...NIX_OPTIONS, '--expr', withLibrary(`[ ${list.join(' ')} ]`)], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return Object.fromEntries(result.stdout.trim().split('\n').map((out) => {
    const [, arch, slug] = /-(aarch64|amd64)-addon-([a-z_]+)\.tar\.gz$/.exec(out)!;
    return [`${slug}-${arch}`, out];
  }));
}

interface ImageConfigJson {
  architecture: string;
  os: string;
  config: { Env?: string[]; Entrypoint?: string[]; Cmd?: string[]; Labels?: Record<string, string>; WorkingDir?: string };
  rootfs: { diff_ids: string[] };
}

/** A built image (.tar.gz docker-archive) unpacked: its config and its layers, each as a list of entries. */
function readImage(t: TestContext, archive: string) {
  const dir = tempTree(t, {});
  execFileSync('tar', ['-xzf', archive, '-C', dir]);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { Config: string; Layers: string[] }[];
  assert.equal(manifest.length, 1);
  const configJson = JSON.parse(readFileSync(path.join(dir, manifest[0]!.Config), 'utf8')) as ImageConfigJson;
  const layers = manifest[0]!.Layers.map((name) => {
    const file = path.join(dir, name);
    const listing = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' }).trim().split('\n');
    return { file, digest: sha(readFileSync(file)), listing, names: listing.map((line) => line.split(/\s+/)[5]!) };
  });
  return { config: configJson, layers };
}

/** What the nixpkgs pullImage archive hashes to, fetched here with skopeo as the derivation does. */
function archiveHash(t: TestContext, imageName: string, digest: string, tag: string): string {
  const dir = tempTree(t, {});
  const file = path.join(dir, 'image.tar');
  execFileSync('skopeo', ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${imageName}@${digest}`, `docker-archive:${file}:${imageName}:${tag}`]);
  return `sha256-${createHash('sha256').update(readFileSync(file)).digest('base64')}`;
}

test('pin-base: each arch pinned to its manifest in the index, with the Nix hash of the pullImage archive; the flavor "base" builds on it', async (t) => {
  if (!needTools(t, 'docker-registry', 'skopeo', 'nix', 'nix-store', 'nix-build', 'nix-instantiate')) return;
  const registry = await startRegistry(t);
  const base = await pushBase(registry, ['amd64', 'aarch64'], { alsoTag: 'stable' });
  // s6 (init: false), the base image named in the Dockerfile; and a plain app (init: true), named per arch in build.yaml.
  const dir = addon(t, {
    config: config('init: false\nenvironment:\n  S6_BEHAVIOUR_IF_STAGE2_FAILS: "0"\n  ADDON_MODE: test\n'),
    dockerfile: `ARG BUILD_FROM=${registry.host}/test/base:3.24\nFROM $BUILD_FROM\nENV LANG=en_US.UTF-8 ADDON_HOME=/app\nCOPY run.sh /app/\n`,
  });
  const plain = addon(t, {
    config: config('', ['amd64']).replace('slug: base_test', 'slug: plain_test'),
    build: `build_from:\n  amd64: ${registry.host}/test/base:stable\n`,
  });
  const pin = (folder: string, ...more: string[]) => runCliHere(['pin-base', folder, '--nixpkgs', `path:${STAND_IN}`, ...more], { env: NIX_ENV });

  const [pinned, pinnedPlain] = await Promise.all([pin(dir), pin(plain)]);
  assert.equal(pinned.status, 0, pinned.stderr);
  assert.equal(pinnedPlain.status, 0, pinnedPlain.stderr);
  assert.match(pinned.stdout, /^wrote .*nix\/base-images\.lock\.nix$/m);
  assert.match(pinned.stderr, /aarch64: .*test\/base:3\.24 -> sha256:[0-9a-f]{64} \(linux\/arm64\/v8 in index/, 'progress on stderr');
  assert.match(pinned.stderr, /computing the Nix hashes: .* for 2 images/);
  assert.equal(hasStackTrace(pinned.stderr), false);

  const lock = nixLock(dir);
  assert.equal(lock.dataVersion, 2);
  assert.deepEqual(Object.keys(lock.images).sort(), ['aarch64', 'amd64']);
  for (const arch of ['aarch64', 'amd64']) {
    const entry = lock.images[arch]!;
    assert.equal(entry.imageDigest, base.digest(arch), `${arch}: the digest of that arch's manifest, as the registry serves it`);
    assert.notEqual(entry.imageDigest, base.index, `${arch}: not the index`);
    assert.equal(entry.imageName, `${registry.host}/test/base`);
    assert.equal(entry.finalImageName, entry.imageName);
    assert.equal(entry.finalImageTag, '3.24');
    assert.equal(entry.arch, GOARCH[arch]);
    assert.equal(entry.os, 'linux');
    assert.equal(entry.tlsVerify, false, 'a loopback registry speaks plain HTTP');
    assert.equal(entry.reference, `${registry.host}/test/base:3.24`);
    assert.match(entry.hash ?? '', /^sha256-[A-Za-z0-9+/]{43}=$/);
    // What an image built FROM it inherits, read from the registry's config blob.
    assert.deepEqual(entry.config, { Entrypoint: ['/init'], Cmd: [], Env: BASE_ENV, WorkingDir: '/', Labels: { 'io.hass.base.name': 'test-base', 'io.hass.base.arch': arch } });
    assert.notEqual(entry.hash, `sha256-${Buffer.from(entry.imageDigest.slice(7), 'hex').toString('base64')}`, 'not the registry digest');
  }
  const amd64 = lock.images['amd64']!;
  assert.equal(amd64.hash, archiveHash(t, amd64.imageName, amd64.imageDigest, amd64.finalImageTag), 'the hash of the archive skopeo writes');
  assert.notEqual(lock.images['aarch64']!.hash, amd64.hash);
  const plainPin = nixLock(plain).images['amd64']!;
  assert.equal(plainPin.imageDigest, amd64.imageDigest, 'another tag of the same index: the same manifest');
  assert.equal(plainPin.finalImageTag, 'stable');
  assert.equal(plainPin.reference, `${registry.host}/test/base:stable`);
  assert.match(plainPin.hash ?? '', /^sha256-/);

  const before = lockText(dir);
  assert.match(before, /^# .*\n# Generated by `addonix pin-base`: do not edit; regenerate instead\. Data only\.\n\{\n/);
  const [again, checked, generated, generatedPlain] = await Promise.all([
    pin(dir),
    runCliHere(['pin-base', dir, '--check', '--nixpkgs', `path:${STAND_IN}`]),
    runCliHere(['generate', dir]),
    runCliHere(['generate', plain]),
  ]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /^unchanged /m);
  assert.equal(lockText(dir), before, 'byte-identical when regenerated');
  assert.equal(checked.status, 0, checked.stdout + checked.stderr);
  assert.match(checked.stdout, /^up to date: .*\(2 arches\)/m);
  assert.equal(generated.status, 0, generated.stderr);
  assert.equal(generatedPlain.status, 0, generatedPlain.stderr);

  // Both add-ons' images on the pinned base, built by Nix through the stand-in.
  const images = buildImages([`(${imagesOf(dir)}).aarch64`, `(${imagesOf(dir)}).amd64`, `(${imagesOf(plain)}).amd64`]);
  assert.deepEqual(Object.keys(images).sort(), ['base_test-aarch64', 'base_test-amd64', 'plain_test-amd64']);
  for (const arch of ['aarch64', 'amd64']) {
    const image = readImage(t, images[`base_test-${arch}`]!);
    const baseIds = base.layers[arch]!.map((layer) => sha(layer));
    assert.deepEqual(image.config.rootfs.diff_ids.slice(0, 2), baseIds, `${arch}: the base layers first`);
    assert.ok(image.config.rootfs.diff_ids.length > 2, `${arch}: then the Nix layers`);
    assert.deepEqual(image.layers.map((layer) => layer.digest), image.config.rootfs.diff_ids, `${arch}: every layer intact`);
    assert.match(image.layers[0]!.listing.find((line) => line.endsWith(' init'))!, /^-rwxr-xr-x /, '/init is there and executable');
    assert.equal(execFileSync('tar', ['-xOf', image.layers[0]!.file, 'init'], { encoding: 'utf8' }), INIT_SCRIPT);
    assert.equal(execFileSync('tar', ['-xOf', image.layers[0]!.file, 'etc/base-release'], { encoding: 'utf8' }), `3.24 ${arch}\n`, `${arch}: that arch's base`);
    assert.ok(image.layers[1]!.names.includes('usr/bin/bashio'));
    assert.ok(image.layers.slice(2).some((layer) => layer.names.includes('./app/run.sh')), 'the app in the customisation layer, where COPY put it');
    assert.equal(image.config.architecture, GOARCH[arch]);
    assert.equal(image.config.os, 'linux');
    // As Docker builds FROM the base: its Env with the Dockerfile's ENV over it (config.yaml's environment
    // is the Supervisor's, at run time), its entrypoint and labels under the builder's, run as the Cmd.
    assert.deepEqual(image.config.config.Env, [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'LANG=en_US.UTF-8',
      'S6_BEHAVIOUR_IF_STAGE2_FAILS=2',
      'S6_CMD_WAIT_FOR_SERVICES_MAXTIME=0',
      'ADDON_HOME=/app',
    ], 'the base Env in its order, the Dockerfile\'s values winning, its new variables after');
    assert.deepEqual(image.config.config.Entrypoint, ['/init'], 'init: false: s6-overlay is PID 1, from the base image');
    assert.deepEqual(image.config.config.Cmd, ['/app/run.sh']);
    assert.equal(image.config.config.WorkingDir, '/', 'the base image\'s working folder (the Dockerfile sets none)');
    assert.equal(image.config.config.Labels?.['io.hass.arch'], arch);
    assert.equal(image.config.config.Labels?.['io.hass.version'], '1.0.0');
    assert.equal(image.config.config.Labels?.['io.hass.base.name'], 'test-base', 'the base image\'s labels kept, as Docker keeps them');
  }
  // The SBOM of a flavor "base" image names the pinned base image by its digest.
  const sbom = await runCliHere(['sbom', dir, '--arch', 'amd64', '--image', images['base_test-amd64']!]);
  assert.equal(sbom.status, 0, sbom.stderr);
  const bom = JSON.parse(sbom.stdout) as { metadata: { component: { properties: { name: string; value: string }[] } }; components: { type: string; name: string; version?: string; purl?: string }[] };
  assert.ok(bom.metadata.component.properties.some((p) => p.name === 'addonix:flavor' && p.value === 'base'));
  const baseComponent = bom.components.find((c) => c.type === 'container');
  assert.equal(baseComponent?.name, `${registry.host}/test/base`);
  assert.equal(baseComponent?.version, base.digest('amd64'));
  assert.ok(baseComponent?.purl?.includes(encodeURIComponent(base.digest('amd64'))), baseComponent?.purl);
  const plainImage = readImage(t, images['plain_test-amd64']!);
  assert.deepEqual(plainImage.config.rootfs.diff_ids.slice(0, 2), base.layers['amd64']!.map((layer) => sha(layer)));
  assert.deepEqual(plainImage.config.config.Entrypoint, ['/app/run.sh'], 'init: true: Docker\'s init is PID 1, the app starts directly');
  assert.equal(plainImage.config.config.Cmd, undefined);
  assert.ok(plainImage.config.config.Env?.includes('S6_BEHAVIOUR_IF_STAGE2_FAILS=2'), 'the base Env kept');
  assert.equal(plainImage.config.config.Labels?.['io.hass.arch'], 'amd64');

  // The tag moves on: --check says so, naming each arch, and writes nothing.
  const moved = await pushBase(registry, ['amd64', 'aarch64'], { release: '3.25' });
  const stale = await runCliHere(['pin-base', dir, '--check', '--nixpkgs', `path:${STAND_IN}`]);
  assert.equal(stale.status, 1, stale.stdout + stale.stderr);
  assert.match(stale.stdout, /^stale: /m);
  assert.ok(stale.stdout.includes(`amd64: ${registry.host}/test/base:3.24 is now ${moved.digest('amd64')} (the lock has ${base.digest('amd64')})`), stale.stdout);
  assert.ok(stale.stdout.includes(`aarch64: ${registry.host}/test/base:3.24 is now ${moved.digest('aarch64')}`), stale.stdout);
  assert.equal(lockText(dir), before);
});

test('pin-base: a single-arch image is checked against the arch; --no-hash pins that the build refuses; nix failing writes nothing', async (t) => {
  if (!needTools(t, 'docker-registry', 'nix', 'nix-instantiate')) return;
  const registry = await startRegistry(t);
  const base = await pushBase(registry, ['amd64'], { perArch: true });
  const from = `ARG BUILD_FROM=${registry.host}/test/amd64-base:3.24\nFROM $BUILD_FROM\n`;
  const right = addon(t, { config: config('', ['amd64']), dockerfile: from });
  const wrong = addon(t, { config: config('', ['aarch64']), dockerfile: from });
  const [ok, refused] = await Promise.all([runCliHere(['pin-base', right, '--no-hash']), runCliHere(['pin-base', wrong, '--no-hash'])]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /warning: --no-hash/);
  const pinned = nixLock(right).images['amd64']!;
  assert.equal(pinned.imageDigest, base.digest('amd64'));
  assert.equal(pinned.hash, null);
  // The Nix side refuses a pin without a hash, saying what to do.
  const lockFile = path.join(right, 'nix', 'base-images.lock.nix');
  const expression = `import ${JSON.stringify(path.join(REPO, 'nix', 'base-image.nix'))} { util = import ${JSON.stringify(path.join(REPO, 'nix', 'util.nix'))}; } { pkgs = import ${JSON.stringify(STAND_IN)} { }; lock = import ${JSON.stringify(lockFile)}; slug = "base_test"; arch = "amd64"; }`;
  const evaluated = spawnSync('nix-instantiate', ['--eval', ...NIX_OPTIONS, '--expr', `builtins.seq (${expression}).drvPath true`], { encoding: 'utf8' });
  assert.notEqual(evaluated.status, 0);
  assert.match(evaluated.stderr, /addonix: the base image of add-on 'base_test' for amd64 is pinned by digest but has no Nix hash yet: run `addonix pin-base` where Nix can fetch it/);

  assert.equal(refused.status, 1);
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
  assert.match(refused.stderr, /aarch64: base image .*amd64-base:3\.24 \(.*Dockerfile:2\): .* is a single-arch image for linux\/amd64, not linux\/arm64\/v8/);
  assert.equal(existsSync(path.join(wrong, 'nix')), false);

  // A lock already there stays as it was when Nix fails (here: a nixpkgs that does not exist).
  const before = lockText(right);
  const failed = await runCliHere(['pin-base', right, '--nixpkgs', `path:${path.join(right, 'no-such-nixpkgs')}`], { env: NIX_ENV });
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /addonix: error: nix could not evaluate pullImage of path:.*no-such-nixpkgs for .*test\/amd64-base@sha256:/);
  assert.match(failed.stderr, /--no-hash/);
  assert.equal(hasStackTrace(failed.stderr), false);
  assert.equal(lockText(right), before);
  assert.deepEqual(readdirSync(path.join(right, 'nix')), ['base-images.lock.nix'], 'no temporary file left');
});

test('pin-base --verify-key: a base image signed by cosign itself is pinned; with another key, or unsigned, nothing is', async (t) => {
  if (!needTools(t, 'docker-registry', 'cosign')) return;
  const registry = await startRegistry(t);
  const base = await pushBase(registry, ['amd64', 'aarch64']);
  const keys = tempTree(t, {});
  const cosignEnv = { ...process.env, COSIGN_PASSWORD: '' };
  for (const prefix of ['publisher', 'other']) execFileSync('cosign', ['generate-key-pair', '--output-key-prefix', prefix], { cwd: keys, env: cosignEnv, stdio: 'pipe' });
  const from = `ARG BUILD_FROM=${registry.host}/test/base:3.24\nFROM $BUILD_FROM\n`;
  const dir = addon(t, { config: config(''), dockerfile: from });

  // Only amd64's manifest signed so far: aarch64's is refused, and nothing is written.
  const sign = (arch: string) =>
    execFileSync('cosign', ['sign', '--key', path.join(keys, 'publisher.key'), '--tlog-upload=false', '--allow-http-registry', '-y', `${registry.host}/test/base@${base.digest(arch)}`], { env: cosignEnv, stdio: 'pipe' });
  sign('amd64');
  const unsigned = await runCliHere(['pin-base', dir, '--no-hash', '--verify-key', path.join(keys, 'publisher.pub')]);
  assert.equal(unsigned.status, 1, unsigned.stderr);
  assert.match(unsigned.stderr, /aarch64: base image .*test\/base:3\.24 .* is not signed with \S+publisher\.pub:\n\s+manifest sha256:[a-f0-9]{64}: no signatures found/);
  assert.equal(existsSync(path.join(dir, 'nix')), false);

  sign('aarch64');
  const other = await runCliHere(['pin-base', dir, '--no-hash', '--verify-key', path.join(keys, 'other.pub')]);
  assert.equal(other.status, 1, other.stderr);
  assert.match(other.stderr, /no matching signatures: invalid signature when validating ASN\.1 encoded signature/);
  assert.equal(existsSync(path.join(dir, 'nix')), false);

  const pinned = await runCliHere(['pin-base', dir, '--no-hash', '--verify-key', path.join(keys, 'publisher.pub')]);
  assert.equal(pinned.status, 0, pinned.stderr);
  assert.match(pinned.stderr, /amd64: sha256:[a-f0-9]{64} is signed with \S+publisher\.pub/);
  assert.equal(nixLock(dir).images['aarch64']!.imageDigest, base.digest('aarch64'));
});

test('pin-base: no base image, an unreachable registry, an unknown tag: one clear line each, exit 1, nothing written', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const oneLine = (result: { status: number | null; stderr: string }, pattern: RegExp, dir: string) => {
    assert.equal(result.status, 1, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^addonix: error: /);
    assert.match(lines[0]!, pattern);
    assert.equal(hasStackTrace(result.stderr), false);
    assert.equal(existsSync(path.join(dir, 'nix', 'base-images.lock.nix')), false);
  };

  const registry = await startRegistry(t);
  await pushBase(registry, ['amd64', 'aarch64']);
  const port = await freePort();
  const from = (image: string) => `ARG BUILD_FROM=${image}\nFROM $BUILD_FROM\n`;
  const bare = addon(t, { config: config('') });
  const noDefault = addon(t, { config: config(''), dockerfile: '# syntax comment\nARG BUILD_FROM\n\nFROM ${BUILD_FROM}\n' });
  const unreachable = addon(t, { config: config(''), dockerfile: from(`127.0.0.1:${port}/test/base:3.24`) });
  const unknown = addon(t, { config: config(''), dockerfile: from(`${registry.host}/test/base:9.99`) });
  const missingArch = addon(t, { config: config('', ['aarch64', 'amd64', 'armv7']), dockerfile: from(`${registry.host}/test/base:3.24`) });
  // Independent runs, side by side: the machine's time goes to Node's start-up.
  const [bareRun, noDefaultRun, unreachableRun, unknownRun, armv7, help] = await Promise.all([
    runCliHere(['pin-base', bare]),
    runCliHere(['pin-base', noDefault]),
    runCliHere(['pin-base', unreachable]),
    runCliHere(['pin-base', unknown]),
    runCliHere(['pin-base', missingArch, '--no-hash']),
    runCliHere(['pin-base', '--help']),
  ]);
  oneLine(bareRun, /config\.yaml: add-on 'base_test' names no base image for aarch64, amd64: set build_from in build\.yaml, or .*ARG BUILD_FROM=/, bare);
  oneLine(noDefaultRun, /Dockerfile:4: FROM \$\{BUILD_FROM\} names no base image for aarch64, amd64 .*build_from in build\.yaml/, noDefault);
  oneLine(unreachableRun, new RegExp(`aarch64, amd64: base image 127\\.0\\.0\\.1:${port}/test/base:3\\.24 \\(.*Dockerfile:2\\): cannot connect to 127\\.0\\.0\\.1:${port} .*connection refused`), unreachable);
  oneLine(unknownRun, /base image .*test\/base:9\.99 .*: not found: .*404 MANIFEST_UNKNOWN/, unknown);
  assert.equal(armv7.status, 1);
  assert.match(armv7.stderr.trim().split('\n').at(-1)!, /^addonix: error: armv7: base image .*test\/base:3\.24 .*has no image for linux\/arm\/v7; it offers linux\/amd64, linux\/arm64\/v8 \[platform-missing\]$/);
  assert.equal(hasStackTrace(armv7.stderr), false);
  assert.equal(existsSync(path.join(missingArch, 'nix')), false, 'the arches that resolved are not written either');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /pin-base my-addon --check/);
  assert.match(help.stdout, /--no-hash/);
});

test('parseNixData reads back what toNix writes, and refuses anything that is not data', () => {
  const value: NixValue = {
    dataVersion: 1,
    'quoted key': 'a "b" \\ c ${d} $e\n\t\r é ✓',
    nested: { empty: {}, list: [], items: [1, -2, 0.5, -1.5e-7, true, false, null, ['x', { y: 'z' }]] },
    if: 'keyword as a name',
  };
  assert.deepEqual(parseNixData(`# header\n${toNix(value)}\n`), value);
  for (const bad of ['import ./x', '{ a = ./b; }', '{ a = "${b}"; }', '{ a = 1; a = 2; }', '{ a = 1 }', '[ 1 ] 2', 'let a = 1; in a']) {
    assert.throws(() => parseNixData(bad), NixValueError, bad);
  }
});
