/**
 * Reproducibility, measured with real Nix: an image built and pushed under one environment, rebuilt under
 * another (TMPDIR, umask, time, locale, working directory), is verified identical to the pushed one; images
 * with a timestamp, a random byte or real mtimes planted are reported as different, naming the layer, the
 * file and the kind of difference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { CLI, hasStackTrace, needTools, runCli, runCliAsync, tempTree } from './helpers.js';
import { startRegistry } from './registry-helpers.js';
import { testFlake } from './build-cli-helpers.js';
import type { VerifyReport } from '../src/verify/verify.js';
import type { DiffResult } from '../src/verify/compare.js';

/** The CLI under a given umask, working directory and environment. */
function runUnder(umask: string, cwd: string, env: Record<string, string>, args: string[]) {
  const result = spawnSync('sh', ['-c', `umask ${umask}; exec "$0" "$@"`, process.execPath, CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function nextSecond(): Promise<void> {
  const now = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 1000 - (now % 1000) + 50));
}

test('verify: built and pushed (signed) in one environment, rebuilt in another (TMPDIR, umask, time, locale, cwd): identical to the published image, its signature checked first', async (t) => {
  if (!needTools(t, 'nix', 'git', 'docker-registry', 'openssl')) return;
  const registry = await startRegistry(t);
  const flake = testFlake(t, {}, { arches: ['amd64', 'aarch64'], image: `${registry.host}/{arch}-test-addon` });
  const first = { ...flake.env, TMPDIR: tempTree(t, {}), LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
  const built = runUnder('077', flake.dir, first, ['build']);
  assert.equal(built.status, 0, built.stderr);
  const keys = tempTree(t, {});
  for (const name of ['signer', 'other']) {
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path.join(keys, `${name}.pem`)]);
    execFileSync('openssl', ['pkey', '-in', path.join(keys, `${name}.pem`), '-pubout', '-out', path.join(keys, `${name}.pub`)]);
  }
  const pushed = await runCliAsync(['push', '--json', '--addon', flake.dir, '--to', `${registry.host}/{arch}-test-addon`, '--per-arch-repos', '--tag', '1.0.0', '--sign', path.join(keys, 'signer.pem'), path.join(flake.dir, 'result-amd64'), path.join(flake.dir, 'result-aarch64')], { env: first });
  assert.equal(pushed.status, 0, pushed.stderr);
  const published = (JSON.parse(pushed.stdout) as { manifests: { arch: string; digest: string }[] }).manifests.find((m) => m.arch === 'aarch64')!.digest;

  await nextSecond();
  const elsewhere = tempTree(t, {});
  const second = { ...flake.env, TMPDIR: tempTree(t, {}), LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8', TZ: 'Pacific/Kiritimati', ADDONIX_CACHE_DIR: path.join(elsewhere, 'cache') };
  // Another key: refused before anything is built.
  const refused = runUnder('022', elsewhere, second, ['verify', flake.dir, '--arch', 'aarch64', '--key', path.join(keys, 'other.pub')]);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stderr, /is not signed with \S+other\.pub:\n.*no matching signatures: invalid signature/);
  assert.doesNotMatch(refused.stderr, /rebuilding/);
  const verified = runUnder('022', elsewhere, second, ['verify', flake.dir, '--arch', 'aarch64', '--attest', 'aarch64.intoto.json', '--key', path.join(keys, 'signer.pub')]);
  assert.equal(verified.status, 0, verified.stderr + verified.stdout);
  assert.match(verified.stderr, /signatures of \S+\/aarch64-test-addon:1\.0\.0 with \S+signer\.pub:\n.*: signed \(/);
  assert.ok(!hasStackTrace(verified.stderr), verified.stderr);
  assert.match(verified.stdout, /rebuild: deterministic/);
  assert.match(verified.stdout, /verified: identical to the reference/);
  assert.match(verified.stdout, /\n {2}compressor gzip level=2 memLevel=9 mtime=0 os=3 \(deflate of pako [\d.]+, the bytes of official Node\.js builds' zlib\) \(both\)\n/, 'which compressor made the published layers');
  assert.match(verified.stderr, /rebuilding \/nix\/store\/\S+-docker-image-test-addon-aarch64\.tar\.gz/);

  const report = JSON.parse(readFileSync(path.join(elsewhere, 'verify-test_addon-aarch64.json'), 'utf8')) as VerifyReport;
  assert.equal(report.verdict, 'identical');
  assert.equal(report.rebuild.deterministic, true);
  assert.equal(report.reference.source, `${registry.host}/aarch64-test-addon:1.0.0`, 'the default reference is the published image of config.yaml');
  assert.equal(report.reference.manifestDigest, published);
  assert.equal(report.outputs.manifestDigest, published, 'the rebuilt image, compressed as push does, has the published manifest digest');
  assert.equal(report.outputs.configDigest, report.reference.configDigest);
  assert.match(report.outputs.compressor ?? '', /^gzip level=/);
  assert.equal(report.reference.compressor, report.outputs.compressor, 'the reference records the compressor that made it');
  assert.equal(report.inputs.nixpkgs?.rev, flake.nixpkgs.rev, 'the nixpkgs revision flake.lock pins');
  assert.equal(report.inputs.outPath, readlinkSync(path.join(flake.dir, 'result-aarch64')));
  assert.match(report.inputs.derivation, /^\/nix\/store\/[a-z0-9]{32}-docker-image-test-addon-aarch64\.tar\.gz\.drv$/);
  assert.equal(report.comparison.verdict, 'identical');

  const statement = JSON.parse(readFileSync(path.join(elsewhere, 'aarch64.intoto.json'), 'utf8')) as {
    _type: string;
    subject: { name: string; digest: { sha256: string } }[];
    predicateType: string;
    predicate: {
      buildDefinition: { externalParameters: { attribute: string; arch: string }; resolvedDependencies: { uri?: string; digest: Record<string, string> }[] };
      runDetails: { builder: { id: string; version: { nix: string } }; byproducts: { annotations: { verdict: string } }[] };
    };
  };
  assert.equal(statement._type, 'https://in-toto.io/Statement/v1');
  assert.deepEqual(statement.subject, [{ name: `${registry.host}/aarch64-test-addon:1.0.0`, digest: { sha256: published.slice(7) } }]);
  assert.equal(statement.predicateType, 'https://slsa.dev/provenance/v1');
  assert.deepEqual(statement.predicate.buildDefinition.externalParameters.attribute, 'packages.x86_64-linux.dockerImage-aarch64');
  assert.equal(statement.predicate.runDetails.builder.version.nix, report.inputs.nix, 'the builder names the Nix that rebuilt it');
  assert.equal(statement.predicate.runDetails.byproducts[0]!.annotations.verdict, 'identical');
  const nixpkgs = statement.predicate.buildDefinition.resolvedDependencies.find((m) => m.uri?.startsWith(`git+file://${flake.nixpkgs.dir}`));
  assert.equal(nixpkgs?.digest['gitCommit'], flake.nixpkgs.rev);
  assert.match(nixpkgs?.digest['narHash'] ?? '', /^[a-f0-9]{64}$/);
});

test('verify: a timestamp planted in one file makes the rebuild differ: that layer, that file, content (sandbox off, build users on)', (t) => {
  if (!needTools(t, 'nix', 'git')) return;
  const flake = testFlake(t, { plant: 'timestamp', plantArch: 'amd64' }, { arches: ['amd64'] });
  // Debian's default nix.conf: no sandbox, builds run as the nixbld users, who must be able to enter the
  // rebuild's temporary folder (the first test verifies with the sandbox on).
  flake.env['NIX_CONFIG'] = ['substituters =', 'sandbox = false', 'build-users-group = nixbld'].join('\n');
  const built = runCli(['build', flake.dir, '--out-link', path.join(flake.dir, 'result')], { env: flake.env });
  assert.equal(built.status, 0, built.stderr);
  const work = tempTree(t, {});
  copyFileSync(path.join(flake.dir, 'result-amd64'), path.join(work, 'first.tar.gz'));
  const why = path.join(work, 'why');
  const verified = runCli(['verify', flake.dir, '--against', path.join(work, 'first.tar.gz'), '--report', path.join(work, 'report.json'), '--diff-report', why, '--attest', path.join(work, 'x.intoto.json')], { env: flake.env });
  assert.equal(verified.status, 1, verified.stderr);
  assert.match(verified.stdout, /rebuild: NOT deterministic: two builds of \/nix\/store\/\S+\.drv differ/);
  assert.match(verified.stdout, /2\/2 +changed .*: 1 changed\n +changed +\/app\/build-info\.txt +content [a-f0-9]{12} -> [a-f0-9]{12}/);
  assert.match(verified.stdout, /not verified: the build is not reproducible/);
  assert.match(verified.stderr, /no attestation written to .*x\.intoto\.json: the image was not reproduced \(not-reproducible\)/);

  const report = JSON.parse(readFileSync(path.join(work, 'report.json'), 'utf8')) as VerifyReport;
  assert.equal(report.verdict, 'not-reproducible');
  assert.match(report.rebuild.checkPath ?? '', /\.check$/);
  const changed = report.rebuild.comparison!.layers.filter((l) => l.status !== 'same');
  assert.deepEqual(
    changed.map((l) => [l.a?.position, l.b?.position, l.files.map((f) => [f.path, f.change, f.differences.map((d) => d.kind)])]),
    [[2, 2, [['/app/build-info.txt', 'changed', ['content']]]]],
  );
  const a = readFileSync(path.join(why, 'a', 'app', 'build-info.txt'), 'utf8');
  const b = readFileSync(path.join(why, 'b', 'app', 'build-info.txt'), 'utf8');
  assert.match(a, /^built \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\n$/);
  assert.match(b, /^built \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\n$/);
  assert.notEqual(a, b);
});

test('diff of two Nix builds: random bytes are a content change of one file, real mtimes are mtime changes of a layer', async (t) => {
  if (!needTools(t, 'nix', 'git')) return;
  const flake = testFlake(t, { plant: 'random', plantArch: 'amd64' }, { arches: ['amd64'] });
  const work = tempTree(t, {});
  const build = (name: string) => {
    const result = runCli(['build', flake.dir, '--out-link', path.join(work, name)], { env: flake.env });
    assert.equal(result.status, 0, result.stderr);
    return path.join(work, `${name}-amd64`);
  };
  const diff = (a: string, b: string) => {
    const result = runCli(['diff', '--json', a, b]);
    assert.equal(result.status, 1, result.stderr);
    return JSON.parse(result.stdout) as DiffResult;
  };
  const one = build('one');
  flake.settings({ plant: 'random', plantArch: 'amd64' });
  const two = build('two');
  const random = diff(one, two).images[0]!;
  const changes = random.layers.flatMap((l) => l.files.map((f) => ({ layer: l.a?.position, path: f.path, kinds: f.differences.map((d) => d.kind) })));
  assert.deepEqual(changes, [{ layer: 2, path: '/app/data.txt', kinds: ['content'] }]);
  assert.equal(random.layers[0]!.status, 'same');

  flake.settings({ plant: 'mtime', plantArch: 'amd64' });
  const three = build('three');
  await nextSecond();
  flake.settings({ plant: 'mtime', plantArch: 'amd64' });
  const four = build('four');
  const mtimes = diff(three, four).images[0]!;
  const layer = mtimes.layers.find((l) => l.status === 'changed')!;
  assert.equal(layer.a?.position, 2);
  assert.deepEqual([...new Set(layer.files.flatMap((f) => f.differences.map((d) => d.kind)))], ['mtime']);
  assert.deepEqual(layer.files.map((f) => f.path), ['/', '/app', '/app/build-info.txt', '/app/data.txt', '/app/main.js', '/etc', '/etc/addon-release']);
});

test('verify: without an image in config.yaml there is no published image; --against is asked for', (t) => {
  const addon = tempTree(t, { 'config.yaml': 'name: T\nversion: "1"\nslug: t\ndescription: d\narch: [amd64]\n', 'flake.nix': '{ outputs = { self }: { }; }\n' });
  const result = runCli(['verify', addon, '--arch', 'amd64']);
  assert.equal(result.status, 2, 'a missing option is a usage error');
  assert.match(result.stderr, /t has no image in config\.yaml \(the Supervisor builds it locally\), so nothing is published to compare with: give --against REF or a local image/);
  const notListed = runCli(['verify', addon, '--arch', 'amd64,aarch64']);
  assert.equal(notListed.status, 2, 'an arch the add-on does not list is a usage error');
  assert.match(notListed.stderr, /--arch aarch64: t is not built for aarch64 \(its config\.yaml lists amd64\)/);
});

test('verify: several arches need {arch} in the names of the files written per arch', (t) => {
  const addon = tempTree(t, { 'config.yaml': 'name: T\nversion: "1"\nslug: t\ndescription: d\nimage: example.org/t\narch: [amd64, aarch64]\n', 'flake.nix': '{ outputs = { self }: { }; }\n' });
  for (const option of ['--report', '--attest', '--diff-report']) {
    const result = runCli(['verify', addon, '--arch', 'amd64', '--arch', 'aarch64', option, 'out']);
    assert.equal(result.status, 2, `${option} without {arch}`);
    assert.match(result.stderr, new RegExp(`${option} out: with several arches put \\{arch\\} in it`));
  }
  const otherName = runCli(['verify', addon, '--arch', 'arm64']);
  assert.equal(otherName.status, 2);
  assert.match(otherName.stderr, /--arch arm64: not a Home Assistant arch .*Did you mean aarch64\?/);
});
