/** addonix push against a real registry (Debian's docker-registry on 127.0.0.1), checked with skopeo. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { TestContext } from 'node:test';
import { hasStackTrace, jsonError, needTools, tempTree } from './helpers.js';
// The CLI in this process (a process each cost a third of a second of CPU to start), as a process where it reads stdin.
import { runCliHere } from './in-process-cli.js';
import { addArtifacts, archLayers, dockerToolsEntries, sha, writeTarFile, type TestImage } from './images.js';
import { startFaultProxy, startRegistry, startRelay, startTokenServer, tagDigests } from './registry-helpers.js';

interface PushJson {
  index: string | null;
  manifests: { arch: string; digest: string }[];
  blobs: { uploaded: number; skipped: number; mounted: number; bytesUploaded: number };
  published?: { reference: string; digest: string; thisImage: boolean }[];
}

const ARM: () => Promise<TestImage> = async () => ({ goarch: 'arm64', layers: await archLayers('aarch64'), labels: { 'org.opencontainers.image.version': '1.0.0' } });
const AMD: () => Promise<TestImage> = async () => ({ goarch: 'amd64', layers: await archLayers('amd64'), labels: { 'org.opencontainers.image.version': '1.0.0' } });

async function setup(t: TestContext, given?: TestImage[]) {
  const images = given ?? [await ARM(), await AMD()];
  const dir = tempTree(t, {});
  const files = [];
  for (const [i, image] of images.entries()) files.push(await writeTarFile(path.join(dir, `image-${i}.tar`), dockerToolsEntries(image)));
  return { dir, files, images, env: { ADDONIX_CACHE_DIR: path.join(dir, 'cache'), DOCKER_CONFIG: path.join(dir, 'docker') } };
}

async function pushJson(args: string[], env: Record<string, string>, input?: string): Promise<PushJson> {
  const result = await runCliHere(['push', '--json', ...args], { env, ...(input !== undefined ? { input } : {}) });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as PushJson;
}

/** The diff_ids of an image pulled back by skopeo copy: layers decompressed and hashed here. */
function pulledDiffIds(dir: string, source: string): string[] {
  execFileSync('skopeo', ['copy', '-q', '--src-tls-verify=false', source, `oci:${dir}:pulled`]);
  const blob = (digest: string) => readFileSync(path.join(dir, 'blobs', 'sha256', digest.slice(7)));
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(blob(index.manifests[0]!.digest).toString()) as { layers: { digest: string; mediaType: string }[] };
  return manifest.layers.map((layer) => sha(layer.mediaType.endsWith('gzip') ? gunzipSync(blob(layer.digest)) : blob(layer.digest)));
}

test('push: two arches; skopeo sees an OCI index with both platforms and pulls back the same diff_ids', async (t) => {
  if (!needTools(t, 'docker-registry', 'skopeo')) return;
  const registry = await startRegistry(t);
  const { dir, files, images, env } = await setup(t);
  const repo = `${registry.host}/me/my-addon`;
  const result = await pushJson(['--to', repo, '--tag', '1.0.0', '--tag', 'latest', ...files], env);
  assert.equal(result.blobs.uploaded, 6, 'two configs and four layers');
  assert.equal(result.blobs.skipped, 0);

  const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${repo}:1.0.0`], { encoding: 'utf8' })) as {
    mediaType: string;
    manifests: { digest: string; platform: { architecture: string; os: string; variant?: string } }[];
    annotations?: Record<string, string>;
  };
  assert.equal(raw.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(raw.manifests.map((m) => m.platform).sort((a, b) => a.architecture.localeCompare(b.architecture)), [
    { architecture: 'amd64', os: 'linux' },
    { architecture: 'arm64', os: 'linux', variant: 'v8' },
  ]);
  assert.equal(sha(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${repo}:latest`])), result.index);
  assert.equal(raw.annotations?.['org.opencontainers.image.version'], '1.0.0', 'annotation from the labels both images share');

  for (const [i, image] of images.entries()) {
    const arch = i === 0 ? 'aarch64' : 'amd64';
    const digest = result.manifests.find((m) => m.arch === arch)!.digest;
    assert.deepEqual(pulledDiffIds(path.join(dir, `pulled-${arch}`), `docker://${repo}@${digest}`), image.layers.map((l) => sha(l)), arch);
  }
});

test('push: the same images again upload nothing; one changed layer uploads exactly that layer and the new config', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { dir, files, env } = await setup(t);
  const repo = `${registry.host}/me/my-addon`;
  const first = await pushJson(['--to', repo, '--tag', '1', ...files], env);
  const again = await pushJson(['--to', repo, '--tag', '1', ...files], env);
  assert.deepEqual(again.blobs, { uploaded: 0, skipped: 6, mounted: 0, bytesUploaded: 0 });
  assert.equal(again.index, first.index);

  const changed: TestImage = { goarch: 'arm64', layers: await archLayers('aarch64', ' v2'), labels: { 'org.opencontainers.image.version': '1.0.0' } };
  const changedFile = await writeTarFile(path.join(dir, 'changed.tar'), dockerToolsEntries(changed));
  const third = await pushJson(['--to', repo, '--tag', '2', changedFile, files[1]!], env);
  assert.equal(third.blobs.uploaded, 2, 'the changed layer and the config that lists it');
  assert.equal(third.blobs.skipped, 4);
  const inspect = JSON.parse((await runCliHere(['inspect-image', '--json', changedFile], { env })).stdout) as { images: { config: { size: number }; layers: { size: number }[] }[] };
  assert.equal(third.blobs.bytesUploaded, inspect.images[0]!.layers[1]!.size + inspect.images[0]!.config.size);
  assert.notEqual(third.index, first.index);
});

test('push: a version is published once: a tag pointing at another image is refused and left alone unless --force; at this image, nothing to do', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { dir, files, env } = await setup(t);
  const repo = `${registry.host}/me/once`;
  const first = await pushJson(['--to', repo, '--tag', '1.0.0', ...files], env);
  const same = await pushJson(['--to', repo, '--tag', '1.0.0', ...files], env);
  assert.equal(same.index, first.index);
  assert.equal(same.blobs.uploaded, 0);
  const changed = await writeTarFile(path.join(dir, 'changed-once.tar'), dockerToolsEntries({ goarch: 'arm64', layers: await archLayers('aarch64', ' once'), labels: { 'org.opencontainers.image.version': '1.0.0' } }));
  const refused = await runCliHere(['push', '--json', '--to', repo, '--tag', '1.0.0', '--tag', 'latest', changed, files[1]!], { env });
  assert.equal(refused.status, 1, refused.stderr);
  const error = jsonError(refused.stdout, 'a moved tag');
  assert.equal(error.code, 'exists');
  assert.match(error.message, new RegExp(`^${repo.replace(/[.]/g, '\\.')}:1\\.0\\.0 points at ${first.index}, not at this image \\(sha256:[a-f0-9]{64}\\): a version is published once.*--force.*No tag was moved$`));
  assert.deepEqual(await tagDigests(registry.url, 'me/once', ['1.0.0', 'latest']), { '1.0.0': first.index, latest: null }, 'the tag stays where it was, and no other was set');
  const forced = await pushJson(['--force', '--to', repo, '--tag', '1.0.0', changed, files[1]!], env);
  assert.notEqual(forced.index, first.index);
  assert.deepEqual(await tagDigests(registry.url, 'me/once', ['1.0.0']), { '1.0.0': forced.index });
});

test('push --skip-published: a version published already, at this image or another, is left alone and the push passes; unpublished, it is pushed', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { dir, files, env } = await setup(t);
  const repo = `${registry.host}/me/skip`;
  const first = await pushJson(['--skip-published', '--to', repo, '--tag', '1.0.0', ...files], env);
  assert.equal(first.published, undefined, 'not published yet: pushed');
  assert.deepEqual(await tagDigests(registry.url, 'me/skip', ['1.0.0']), { '1.0.0': first.index });
  const changed = await writeTarFile(path.join(dir, 'changed-skip.tar'), dockerToolsEntries({ goarch: 'arm64', layers: await archLayers('aarch64', ' skip'), labels: { 'org.opencontainers.image.version': '1.0.0' } }));
  const skipped = await runCliHere(['push', '--skip-published', '--to', repo, '--tag', '1.0.0', changed, files[1]!], { env });
  assert.equal(skipped.status, 0, skipped.stderr);
  assert.match(skipped.stdout, new RegExp(`^published already: ${repo.replace(/[.]/g, '\\.')}:1\\.0\\.0 = ${first.index} \\(another image: publish changes under a new version\\)\nnothing pushed \\(--skip-published\\)$`, 'm'));
  const same = await pushJson(['--skip-published', '--to', repo, '--tag', '1.0.0', ...files], env);
  assert.deepEqual(same.published, [{ reference: `${repo}:1.0.0`, digest: first.index, thisImage: true }]);
  assert.deepEqual(await tagDigests(registry.url, 'me/skip', ['1.0.0']), { '1.0.0': first.index }, 'no tag moved');
  const both = await runCliHere(['push', '--skip-published', '--force', '--to', repo, '--tag', '1.0.0', ...files], { env });
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--skip-published and --force contradict each other/);
});

test('login: one login per registry in Docker\'s config.json, each used for its own registry alone; push takes them', async (t) => {
  if (!needTools(t, 'docker-registry', 'htpasswd')) return;
  const first = await startRegistry(t, { htpasswd: { user: 'alice', password: 'first-pass' } });
  const second = await startRegistry(t, { htpasswd: { user: 'bob', password: 'second-pass' } });
  const { dir, files, env } = await setup(t);
  const dockerConfig = path.join(dir, 'login-config');
  const loginEnv = { ...env, DOCKER_CONFIG: dockerConfig };
  for (const [registry, user, password] of [[first.host, 'alice', 'first-pass'], [`${second.host}/me/addon`, 'bob', 'second-pass']] as const) {
    const login = await runCliHere(['login', registry, '--username', user, '--password-stdin'], { env: loginEnv, input: `${password}\n` });
    assert.equal(login.status, 0, login.stderr);
    assert.doesNotMatch(login.stdout + login.stderr, new RegExp(password));
  }
  const config = JSON.parse(readFileSync(path.join(dockerConfig, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.deepEqual(Object.keys(config.auths).sort(), [first.host, second.host].sort(), 'keyed by host (a reference names its host)');
  assert.equal(statSync(path.join(dockerConfig, 'config.json')).mode & 0o777, 0o600);
  const pushed = await pushJson(['--to', `${first.host}/me/addon`, '--to', `${second.host}/me/addon`, '--tag', '1', ...files], loginEnv);
  assert.deepEqual(await tagDigests(first.url, 'me/addon', ['1'], { authorization: `Basic ${Buffer.from('alice:first-pass').toString('base64')}` }), { '1': pushed.index });
  assert.deepEqual(await tagDigests(second.url, 'me/addon', ['1'], { authorization: `Basic ${Buffer.from('bob:second-pass').toString('base64')}` }), { '1': pushed.index });
  const empty = await runCliHere(['login', first.host, '--username', 'alice', '--password-stdin'], { env: loginEnv, input: '' });
  assert.equal(empty.status, 2, empty.stderr);
  assert.match(empty.stderr, /standard input was empty/);
});

test('push: --per-arch-repos mounts blobs into the per-arch repositories and tags each with its manifest', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { files, env } = await setup(t);
  const result = await pushJson(['--to', `${registry.host}/me/addon`, '--to', `${registry.host}/me/{arch}-addon`, '--per-arch-repos', '--tag', '1.0.0', ...files], env);
  assert.equal(result.blobs.uploaded, 6);
  assert.equal(result.blobs.mounted, 6, 'each per-arch repository mounts its three blobs');
  for (const manifest of result.manifests) {
    const tags = await tagDigests(registry.url, `me/${manifest.arch}-addon`, ['1.0.0']);
    assert.equal(tags['1.0.0'], manifest.digest);
  }
  const usage = await runCliHere(['push', '--to', `${registry.host}/me/{arch}-addon`, '--tag', '1', ...files], { env });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /pass --per-arch-repos/);
});

test('push: htpasswd auth with --username/--password-stdin and with Docker config; refusals are clear and secret-free', async (t) => {
  if (!needTools(t, 'docker-registry', 'htpasswd')) return;
  const registry = await startRegistry(t, { htpasswd: { user: 'alice', password: 's3cret-pass' } });
  const { dir, files, env } = await setup(t);
  const repo = `${registry.host}/me/addon`;
  const anonymous = await runCliHere(['push', '--to', repo, '--tag', '1', ...files], { env });
  assert.equal(anonymous.status, 1);
  assert.match(anonymous.stderr, /needs a login: run docker login/);
  assert.equal(hasStackTrace(anonymous.stderr), false);

  const wrong = await runCliHere(['push', '--to', repo, '--tag', '1', '--username', 'alice', '--password-stdin', ...files], { env, input: 'not-the-password\n' });
  assert.equal(wrong.status, 1);
  assert.doesNotMatch(wrong.stderr + wrong.stdout, /not-the-password/);

  const piped = await pushJson(['--to', repo, '--tag', '1', '--username', 'alice', '--password-stdin', ...files], env, 's3cret-pass\n');
  assert.equal(piped.blobs.uploaded, 6);

  writeFileSync(path.join(dir, 'docker-config.json'), '');
  const dockerDir = path.join(dir, 'docker');
  execFileSync('mkdir', ['-p', dockerDir]);
  writeFileSync(path.join(dockerDir, 'config.json'), JSON.stringify({ auths: { [`http://${registry.host}`]: { auth: Buffer.from('alice:s3cret-pass').toString('base64') } } }));
  const fromConfig = await pushJson(['--to', repo, '--tag', '2', ...files], env);
  assert.equal(fromConfig.blobs.skipped, 6);
  assert.deepEqual(await tagDigests(registry.url, 'me/addon', ['1', '2'], { authorization: `Basic ${Buffer.from('alice:s3cret-pass').toString('base64')}` }), { '1': piped.index, '2': piped.index });
});

test('push: bearer tokens from a token server, credentials from a credential helper, scopes for push and mount', async (t) => {
  if (!needTools(t, 'docker-registry', 'openssl')) return;
  const tokens = await startTokenServer(t, { user: { name: 'bob', password: 'helper-secret' } });
  const registry = await startRegistry(t, { token: tokens });
  const { dir, files, env } = await setup(t);
  const bin = path.join(dir, 'bin');
  execFileSync('mkdir', ['-p', bin, path.join(dir, 'docker')]);
  const helper = path.join(bin, 'docker-credential-testhelper');
  writeFileSync(helper, `#!/bin/sh\nread server\n[ "$server" = "${registry.host}" ] || { echo "credentials not found in native keychain"; exit 1; }\necho '{"ServerURL":"'$server'","Username":"bob","Secret":"helper-secret"}'\n`);
  chmodSync(helper, 0o755);
  writeFileSync(path.join(dir, 'docker', 'config.json'), JSON.stringify({ credHelpers: { [registry.host]: 'testhelper' } }));
  const withHelper = { ...env, PATH: `${bin}:${process.env['PATH']}` };
  const result = await pushJson(['--to', `${registry.host}/me/addon`, '--to', `${registry.host}/me/{arch}-addon`, '--per-arch-repos', '--tag', '1.0.0', ...files], withHelper);
  assert.equal(result.blobs.uploaded, 6);
  assert.equal(result.blobs.mounted, 6);
  const asked = tokens.requests.filter((r) => r.user === 'bob').flatMap((r) => r.scopes);
  assert.ok(asked.includes('repository:me/addon:pull,push'), JSON.stringify(tokens.requests));
  assert.ok(asked.includes('repository:me/aarch64-addon:pull,push'));

  const refused = await runCliHere(['push', '--to', `${registry.host}/me/addon`, '--tag', '1', ...files], { env: { ...withHelper, DOCKER_CONFIG: path.join(dir, 'nowhere') } });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /refused the credentials|needs a login/);
});

test('push: through a proxy that resets uploads, answers 500 and 429 and delays, the result equals a clean push', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const clean = await startRegistry(t);
  const faulty = await startRegistry(t);
  const { files, env } = await setup(t);
  const proxy = await startFaultProxy(t, faulty.host, [
    { method: 'PATCH', fault: 'reset-mid-body', times: 2 },
    { method: 'PUT', path: /\/blobs\/uploads\//, fault: 'reset-mid-body', times: 1 },
    { method: 'HEAD', fault: '500', times: 2 },
    { method: 'POST', fault: '429', times: 1 },
    { method: 'PUT', path: /\/manifests\//, fault: '500', times: 2 },
    { fault: 'delay', delayMs: 150, times: 3 },
  ]);
  const args = ['--tag', '1.0.0', '--chunk-size', '32k', ...files];
  const expected = await pushJson(['--to', `${clean.host}/me/addon`, ...args], env);
  const through = await pushJson(['--to', `${proxy.host}/me/addon`, ...args], env);
  assert.equal(through.index, expected.index);
  assert.deepEqual(through.manifests, expected.manifests);
  assert.ok(proxy.injected.some((f) => f.startsWith('reset-mid-body PATCH')), proxy.injected.join('\n'));
  assert.ok(proxy.injected.some((f) => f.startsWith('500 HEAD')));
  assert.ok(proxy.injected.some((f) => f.startsWith('429 POST')));
  assert.deepEqual(await tagDigests(faulty.url, 'me/addon', ['1.0.0']), await tagDigests(clean.url, 'me/addon', ['1.0.0']));
  const pulled = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${faulty.host}/me/addon@${expected.manifests[0]!.digest}`]);
  assert.equal(sha(pulled), expected.manifests[0]!.digest, 'the registry behind the proxy serves the same manifest');
});

test('push: a push that finally fails leaves the tags where they were', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { dir, files, env } = await setup(t);
  const first = await pushJson(['--to', `${registry.host}/me/addon`, '--tag', '1.0.0', '--tag', 'latest', ...files], env);
  const proxy = await startFaultProxy(t, registry.host, [{ method: 'PUT', path: /\/blobs\/uploads\//, fault: '500', times: 1000 }]);
  const changed = await writeTarFile(path.join(dir, 'changed.tar'), dockerToolsEntries({ goarch: 'arm64', layers: await archLayers('aarch64', ' broken') }));
  const failed = await runCliHere(['push', '--force', '--to', `${proxy.host}/me/addon`, '--tag', '1.0.0', '--tag', 'latest', changed, files[1]!], { env });
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /answered 500/);
  assert.equal(hasStackTrace(failed.stderr), false);
  assert.deepEqual(await tagDigests(registry.url, 'me/addon', ['1.0.0', 'latest']), { '1.0.0': first.index, latest: first.index });
});

test('push: layers go while the images are read; an input that turns out broken then fails the push and the tags stay', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { dir, files, env } = await setup(t);
  const repo = `${registry.host}/me/addon`;
  const first = await pushJson(['--to', repo, '--tag', '1.0.0', ...files], env);
  const changed = await writeTarFile(path.join(dir, 'changed.tar'), dockerToolsEntries({ goarch: 'arm64', layers: await archLayers('aarch64', ' v2') }));
  // A stream script that waits, then ends in the middle of its image: the other input is read (and its layers sent) by then.
  const broken = path.join(dir, 'broken');
  writeFileSync(broken, `#!/bin/sh\nsleep 3\nhead -c ${Math.floor(readFileSync(files[1]!).length / 2)} ${JSON.stringify(files[1]!)}\n`);
  chmodSync(broken, 0o755);
  const failed = await runCliHere(['push', '--force', '--to', repo, '--tag', '1.0.0', changed, broken], { env });
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /broken is truncated/);
  assert.equal(hasStackTrace(failed.stderr), false);
  assert.deepEqual(await tagDigests(registry.url, 'me/addon', ['1.0.0']), { '1.0.0': first.index });
  const inspect = JSON.parse((await runCliHere(['inspect-image', '--json', changed], { env })).stdout) as { images: { layers: { digest: string }[] }[] };
  const head = await fetch(`${registry.url}/v2/me/addon/blobs/${inspect.images[0]!.layers[1]!.digest}`, { method: 'HEAD' });
  assert.equal(head.status, 200, 'the changed layer went to the registry while the broken input was still being read');
});

test('inspect-image: a registry reference shows platforms, labels and layers without downloading layers', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { files, images, env } = await setup(t);
  const pushed = await pushJson(['--to', `${registry.host}/me/addon`, '--tag', '1.0.0', ...files], env);
  const result = await runCliHere(['inspect-image', '--json', `${registry.host}/me/addon:1.0.0`], { env });
  assert.equal(result.status, 0, result.stderr);
  const remote = JSON.parse(result.stdout) as { kind: string; digest: string; images: { arch: string; platform: { variant?: string }; labels: Record<string, string>; layers: { diffId: string }[] }[] };
  assert.equal(remote.kind, 'index');
  assert.equal(remote.digest, pushed.index);
  const arm = remote.images.find((i) => i.arch === 'aarch64')!;
  assert.equal(arm.platform.variant, 'v8');
  assert.equal(arm.labels['org.opencontainers.image.version'], '1.0.0');
  assert.deepEqual(arm.layers.map((l) => l.diffId), images[0]!.layers.map((l) => sha(l)));
  const text = await runCliHere(['inspect-image', `${registry.host}/me/addon:1.0.0`], { env });
  assert.match(text.stdout, /linux\/arm64\/v8 \(aarch64\)/);
  const missing = await runCliHere(['inspect-image', `${registry.host}/me/addon:nope`], { env });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /answered 404/);
});

test('push: blobs another push left in other repositories of the registry are mounted, not uploaded; a remembered one that is gone is uploaded and forgotten', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { files, env } = await setup(t);
  const first = await pushJson(['--to', `${registry.host}/me/one`, '--tag', '1', ...files], env);
  assert.equal(first.blobs.uploaded, 6);
  // Another run, another repository: the cache remembers where the blobs are.
  const second = await pushJson(['--to', `${registry.host}/me/two`, '--tag', '1', ...files], env);
  assert.deepEqual(second.blobs, { uploaded: 0, skipped: 0, mounted: 6, bytesUploaded: 0 });
  // The blobs deleted from both (as a registry's garbage collection would): remembered, but not there.
  const gone = first.manifests.length > 0 ? JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/me/one@${first.manifests[0]!.digest}`], { encoding: 'utf8' })) as { layers: { digest: string }[] } : undefined;
  const digest = gone!.layers[0]!.digest;
  for (const repo of ['me/one', 'me/two']) assert.equal((await fetch(`${registry.url}/v2/${repo}/blobs/${digest}`, { method: 'DELETE' })).status, 202);
  const third = await pushJson(['--to', `${registry.host}/me/three`, '--tag', '1', ...files], env);
  assert.deepEqual([third.blobs.uploaded, third.blobs.mounted], [1, 5], 'the layer no remembered repository has is uploaded');
  const memory = JSON.parse(readFileSync(path.join(env.ADDONIX_CACHE_DIR, 'locations', registry.host.replace(':', '_'), digest.slice(7)), 'utf8')) as Record<string, number>;
  assert.deepEqual(Object.keys(memory), ['me/three'], 'where it was not is forgotten');
});

test('push: a layout with attestations and an artifact pushes them as they are beside the images; pushing it again sends nothing', async (t) => {
  if (!needTools(t, 'docker-registry', 'skopeo')) return;
  const registry = await startRegistry(t);
  const { dir, files, env } = await setup(t);
  const layout = path.join(dir, 'layout');
  const assembled = await runCliHere(['assemble', '--out', layout, ...files], { env });
  assert.equal(assembled.status, 0, assembled.stderr);
  const artifacts = addArtifacts(layout);
  const relay = await startRelay(t, registry.host);
  const pushed = await pushJson(['--to', `${relay.host}/me/attested`, '--tag', '1', layout], env);
  const index = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/me/attested:1`], { encoding: 'utf8' })) as { manifests: { digest: string; platform?: { os: string }; artifactType?: string }[] };
  assert.equal(sha(Buffer.from(JSON.stringify(index))), pushed.index, 'the index pushed is the one read back');
  assert.deepEqual(index.manifests.map((entry) => entry.platform?.os ?? entry.artifactType), ['linux', 'linux', 'unknown', 'application/spdx+json']);
  for (const digest of [artifacts.attestation, artifacts.sbom]) {
    const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/me/attested@${digest}`]);
    assert.equal(sha(raw), digest, 'the artifact manifest as it was');
  }
  // Nothing changed: the tag points at this index already; nothing is put, posted or patched.
  relay.seen.length = 0;
  const again = await pushJson(['--to', `${relay.host}/me/attested`, '--tag', '1', layout], env);
  assert.equal(again.index, pushed.index);
  assert.equal(again.blobs.uploaded, 0);
  assert.deepEqual(relay.seen.filter((request) => request.method !== 'GET' && request.method !== 'HEAD'), []);
});
