/** addonix load into Podman (its own storage in a temporary folder), assemble, and usage mistakes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hasStackTrace, needTools, tempTree } from './helpers.js';
// The CLI in this process (a process each cost a third of a second of CPU to start).
import { runCliHere } from './in-process-cli.js';
import { archLayers, dockerToolsEntries, sha, writeStreamScript, writeTarFile } from './images.js';

/** Podman with storage of its own in a temporary folder, so tests touch nothing of the machine's. */
function podmanEnv(dir: string): Record<string, string> {
  writeFileSync(path.join(dir, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`);
  writeFileSync(path.join(dir, 'containers.conf'), '[engine]\nevents_logger = "none"\ncgroup_manager = "cgroupfs"\n');
  return { CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf'), CONTAINERS_CONF: path.join(dir, 'containers.conf') };
}

test('load: podman load accepts the stream for the asked arch (tarball, stream script, multi-arch layout)', async (t) => {
  if (!needTools(t, 'podman')) return;
  const dir = tempTree(t, {});
  const podman = podmanEnv(dir);
  const env = { ...podman, ADDONIX_CACHE_DIR: path.join(dir, 'cache') };
  const armLayers = await archLayers('aarch64');
  const arm = await writeTarFile(path.join(dir, 'arm.tar'), dockerToolsEntries({ goarch: 'arm64', layers: armLayers, repoTag: 'test/notes:1.0.0' }));
  const amd = await writeTarFile(path.join(dir, 'amd.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64'), repoTag: 'test/notes:1.0.0' }));
  const script = writeStreamScript(path.join(dir, 'stream-arm'), arm);

  const loaded = await runCliHere(['load', '--engine', 'podman', '--arch', 'aarch64', script, amd], { env });
  assert.equal(loaded.status, 0, loaded.stderr);
  assert.match(loaded.stdout.trim(), /test\/notes:1\.0\.0$/);
  const inspect = JSON.parse(execFileSync('podman', ['image', 'inspect', 'test/notes:1.0.0'], { env: { ...process.env, ...podman }, encoding: 'utf8' })) as { Architecture: string; RootFS: { Layers: string[] } }[];
  assert.equal(inspect[0]!.Architecture, 'arm64');
  assert.deepEqual(inspect[0]!.RootFS.Layers, armLayers.map((l) => sha(l)));

  // A multi-arch layout (gzip layers, as pushed) loads too; --tag names it.
  const assembled = await runCliHere(['assemble', '--out', path.join(dir, 'result-multiarch'), arm, amd], { env });
  assert.equal(assembled.status, 0, assembled.stderr);
  const fromLayout = await runCliHere(['load', '--engine', 'podman', '--arch', 'amd64', '--name', 'test/notes:amd', path.join(dir, 'result-multiarch')], { env });
  assert.equal(fromLayout.status, 0, fromLayout.stderr);
  const amdInspect = JSON.parse(execFileSync('podman', ['image', 'inspect', 'test/notes:amd'], { env: { ...process.env, ...podman }, encoding: 'utf8' })) as { Architecture: string }[];
  assert.equal(amdInspect[0]!.Architecture, 'amd64');

  const none = await runCliHere(['load', '--engine', 'podman', '--arch', 'armv7', arm, amd], { env });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no image for armv7 among the inputs \(they hold aarch64 \(linux\/arm64\/v8\), amd64 \(linux\/amd64\)\)/);
});

test('load: without --engine, where the docker client has no daemon, the image goes into Podman, as doctor says', async (t) => {
  if (!needTools(t, 'podman')) return;
  const dir = tempTree(t, {});
  const podman = podmanEnv(dir);
  // A docker client with no daemon behind it, answering as the real one does.
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'docker'), '#!/bin/sh\necho "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2\nexit 1\n', { mode: 0o755 });
  const env = { ...podman, ADDONIX_CACHE_DIR: path.join(dir, 'cache'), PATH: `${bin}:${process.env['PATH'] ?? ''}` };
  const amd = await writeTarFile(path.join(dir, 'amd.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64'), repoTag: 'test/default-engine:1.0.0' }));
  const loaded = await runCliHere(['load', '--arch', 'amd64', amd, '--json'], { env });
  assert.equal(loaded.status, 0, loaded.stderr);
  assert.equal((JSON.parse(loaded.stdout) as { engine: string }[])[0]!.engine, 'podman');
  execFileSync('podman', ['image', 'exists', 'test/default-engine:1.0.0'], { env: { ...process.env, ...podman } });
  const doctor = await runCliHere(['doctor', '--json'], { env });
  const engine = (JSON.parse(doctor.stdout) as { check: string; message: string }[]).find((check) => check.check === 'engine');
  assert.match(engine!.message, /addonix load uses Podman [\d.]+ unless --engine says otherwise \(the docker client is here, but no Docker daemon answers\)/);
  // With neither a Docker daemon nor Podman, the error says so before any image is read.
  const none = await runCliHere(['load', path.join(dir, 'missing.tar')], { env: { ...env, PATH: bin } });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /nothing to load the image into: the docker client is here, but no Docker daemon answers, and there is no Podman; start the Docker daemon, or install Podman/);
});

test('assemble: the layout skopeo reads has the index with variants and the add-on annotations', async (t) => {
  if (!needTools(t, 'skopeo', 'git')) return;
  const dir = tempTree(t, {
    'addon/config.yaml': 'name: Notes\nversion: "1.2.3"\nslug: notes\ndescription: Notes\nurl: https://example.com/notes\narch: [aarch64, amd64]\n',
  });
  execFileSync('git', ['init', '-q', path.join(dir, 'addon')]);
  execFileSync('git', ['-C', path.join(dir, 'addon'), '-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '--allow-empty', '-m', 'x']);
  const revision = execFileSync('git', ['-C', path.join(dir, 'addon'), 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const env = { ADDONIX_CACHE_DIR: path.join(dir, 'cache') };
  const arm = await writeTarFile(path.join(dir, 'arm.tar'), dockerToolsEntries({ goarch: 'arm64', layers: await archLayers('aarch64') }));
  const amd = await writeTarFile(path.join(dir, 'amd.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') }));
  const out = path.join(dir, 'result-multiarch');
  const result = await runCliHere(['assemble', '--json', '--addon', path.join(dir, 'addon'), '--out', out, amd, arm], { env });
  assert.equal(result.status, 0, result.stderr);
  const printed = JSON.parse(result.stdout) as { index: string };
  const raw = execFileSync('skopeo', ['inspect', '--raw', `oci:${out}`]);
  assert.equal(sha(raw), printed.index);
  const index = JSON.parse(raw.toString()) as { manifests: { platform: Record<string, string> }[]; annotations: Record<string, string> };
  assert.deepEqual(index.manifests.map((m) => m.platform), [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux', variant: 'v8' }]);
  assert.deepEqual(index.annotations, {
    'org.opencontainers.image.version': '1.2.3',
    'org.opencontainers.image.created': '1970-01-01T00:00:01Z',
    'org.opencontainers.image.source': 'https://example.com/notes',
    'org.opencontainers.image.revision': revision,
  });
  assert.equal(JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8')).manifests[0].annotations['org.opencontainers.image.ref.name'], '1.2.3');
  // skopeo can copy one arch out of it.
  execFileSync('skopeo', ['copy', '-q', '--override-arch', 'arm64', `oci:${out}`, `oci:${path.join(dir, 'copy')}:x`]);
  // Assembling again gives the same index (reproducible), whatever the argument order.
  const again = await runCliHere(['assemble', '--json', '--addon', path.join(dir, 'addon'), '--out', out, arm, amd], { env });
  assert.equal((JSON.parse(again.stdout) as { index: string }).index, printed.index);
});

test('usage: wrong or missing options exit 2 with a message; missing inputs exit 1 without a stack trace', async (t) => {
  const dir = tempTree(t, {});
  const noTag = await runCliHere(['push', '--to', '127.0.0.1:1/x', path.join(dir, 'x.tar')]);
  assert.equal(noTag.status, 2);
  assert.match(noTag.stderr, /give at least one --tag/);
  const withTag = await runCliHere(['push', '--to', '127.0.0.1:1/x:1', '--tag', '1', path.join(dir, 'x.tar')]);
  assert.equal(withTag.status, 2);
  assert.match(withTag.stderr, /tags go in --tag/);
  const password = await runCliHere(['push', '--to', '127.0.0.1:1/x', '--tag', '1', '--username', 'me', path.join(dir, 'x.tar')]);
  assert.equal(password.status, 2);
  assert.match(password.stderr, /--username needs --password-stdin/);
  const missing = await runCliHere(['push', '--to', '127.0.0.1:1/x', '--tag', '1', path.join(dir, 'x.tar')], { env: { ADDONIX_CACHE_DIR: path.join(dir, 'cache') } });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /x\.tar does not exist/);
  assert.equal(hasStackTrace(missing.stderr), false);
  const badRef = await runCliHere(['inspect-image', 'Not A Ref']);
  assert.equal(badRef.status, 2, 'a reference that cannot be one is a usage error');
  assert.match(badRef.stderr, /is not an image reference/);
});
