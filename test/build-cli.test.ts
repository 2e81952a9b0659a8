/**
 * addonix build with real Nix (Debian's 2.8) on test flakes whose images are built from host tools in the
 * sandbox: links and the table, a failing arch explained while the others build, Ctrl-C, and machines
 * whose Nix is missing, too old or refuses flakes (fake `nix` programs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { CLI, hasStackTrace, needTools, REPO, tempTree } from './helpers.js';
// The CLI in this process where the test is not about the process (a process each cost a third of a second of CPU to start).
import { runCliInProcess } from './in-process-cli.js';
import { fakeNix, processesWith, testFlake } from './build-cli-helpers.js';
import { summarizeArchive } from '../src/oci/scan.js';
import { BuildMonitor } from '../src/nix/log.js';
import { BuildProgress } from '../src/nix/progress.js';
import { hintsFor } from '../src/nix/hints.js';
import { compareVersions, parseNixVersion } from '../src/nix/install.js';
import { imageOutputs } from '../src/nix/build.js';
import { renderTable, type BuiltImage } from '../src/cli/commands/build.js';

test('build: three arches in one Nix run; the failing one is named with its log tail, the others are linked and tabled', async (t) => {
  if (!needTools(t, 'nix', 'git')) return;
  const flake = testFlake(t, { fail: 'aarch64' });
  const result = await runCliInProcess(['build', flake.dir, '--out-link', path.join(flake.dir, 'result')], { env: flake.env });
  assert.equal(result.status, 1, result.stderr);
  assert.ok(!hasStackTrace(result.stderr), result.stderr);
  // One invocation: the dependency all three images share is built once.
  assert.equal(result.stderr.match(/building base-files/g)?.length, 1, result.stderr);
  for (const arch of ['amd64', 'armv7']) {
    const link = path.join(flake.dir, `result-${arch}`);
    assert.ok(lstatSync(link).isSymbolicLink(), `${arch} is linked`);
    const target = readlinkSync(link);
    assert.match(target, /^\/nix\/store\/[a-z0-9]{32}-docker-image-test-addon-/);
    const summary = await summarizeArchive(link);
    assert.equal(summary?.layers, 2);
    assert.equal(summary?.architecture, arch === 'amd64' ? 'amd64' : 'arm');
    assert.match(result.stdout, new RegExp(`^${arch} +built +\\d[\\d.]* kB +2 +[\\d.]+ s +${link.replace(/[/.]/g, '\\$&')} -> ${target.replace(/[/.]/g, '\\$&')}$`, 'm'));
    // A garbage-collector root, as nix build makes: Nix's auto roots point at the link.
    const roots = readdirSync('/nix/var/nix/gcroots/auto').map((root) => readlinkSync(path.join('/nix/var/nix/gcroots/auto', root)));
    assert.ok(roots.includes(link), `${link} is a GC root`);
  }
  assert.ok(!existsSync(path.join(flake.dir, 'result-aarch64')), 'no link for the failed arch');
  assert.match(result.stdout, /^aarch64 +failed +- +- +- +-$/m);
  assert.match(result.stderr, /aarch64 failed: builder for '\/nix\/store\/[a-z0-9]{32}-docker-image-test-addon-aarch64\.tar\.gz\.drv' failed/);
  assert.match(result.stderr, /last lines of the log of \/nix\/store\/\S+-docker-image-test-addon-aarch64\.tar\.gz\.drv:\n {4}building the test image for aarch64\n {4}compiling the native module for aarch64\n {4}error: no C compiler for aarch64-unknown-linux-musl/);
  assert.doesNotMatch(result.stderr, /amd64 failed|armv7 failed/);

  // Fixed: every arch builds; --json; the shared dependency is not built again.
  flake.settings({}, flake.nonce);
  const again = await runCliInProcess(['build', flake.dir, '--json', '--out-link', path.join(flake.dir, 'result')], { env: flake.env });
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /building base-files/);
  const json = JSON.parse(again.stdout) as { system: string; images: { label: string; status: string; outPath: string; link: string; layers: number; size: number; configDigest: string }[] };
  assert.deepEqual(json.images.map((i) => [i.label, i.status]), [['amd64', 'cached'], ['aarch64', 'built'], ['armv7', 'cached']]);
  for (const image of json.images) {
    assert.equal(readlinkSync(image.link), image.outPath);
    assert.equal(image.layers, 2);
    assert.match(image.configDigest, /^sha256:[a-f0-9]{64}$/);
  }
});

test('build: scripts/build-all-images builds every image of the flake (build --all) with arguments passed on', (t) => {
  if (!needTools(t, 'nix', 'git')) return;
  const flake = testFlake(t, {}, { arches: ['amd64'] });
  const result = runCliScript(path.join(REPO, 'scripts', 'build-all-images'), ['--out-link', 'out', '--json'], flake.dir, flake.env);
  assert.equal(result.status, 0, result.stderr);
  const json = JSON.parse(result.stdout) as { images: { label: string; link: string }[] };
  // --all ignores the add-on's arches (config.yaml lists amd64 only): every image of the flake.
  assert.deepEqual(json.images.map((i) => i.label).sort(), ['aarch64', 'amd64', 'armv7']);
  for (const arch of ['amd64', 'aarch64', 'armv7']) assert.ok(lstatSync(path.join(flake.dir, `out-${arch}`)).isSymbolicLink());
});

function runCliScript(script: string, args: string[], cwd: string, env: Record<string, string>) {
  const result = spawnSync(script, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('build: Ctrl-C (SIGINT) stops Nix and its builders and leaves the result links as they were', async (t) => {
  if (!needTools(t, 'nix', 'git')) return;
  const flake = testFlake(t, {}, { arches: ['amd64', 'aarch64'] });
  const first = await runCliInProcess(['build', flake.dir, '--out-link', path.join(flake.dir, 'result')], { env: flake.env });
  assert.equal(first.status, 0, first.stderr);
  const before = ['amd64', 'aarch64'].map((arch) => readlinkSync(path.join(flake.dir, `result-${arch}`)));

  const nonce = flake.settings({ slow: true });
  const child = spawn(process.execPath, [CLI, 'build', flake.dir, '--out-link', path.join(flake.dir, 'result')], { env: { ...process.env, NO_COLOR: '1', ...flake.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const building = new Promise<void>((resolve) =>
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/building docker-image-test-addon/.test(stderr)) resolve();
    }),
  );
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  await Promise.race([building, exited]);
  // The builder is sleeping inside the sandbox: wait until it is there, then interrupt addonix (not Nix).
  for (let i = 0; i < 100 && processesWith(`1000.${nonce}`).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(processesWith(`1000.${nonce}`).length > 0, `the slow builder runs: ${stderr}`);
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted: Nix was stopped; no result link was changed/);
  assert.equal(stdout, '', 'no table for an interrupted build');
  for (let i = 0; i < 100 && processesWith(`1000.${nonce}`).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(processesWith(`1000.${nonce}`), [], 'no builder left running');
  assert.deepEqual(['amd64', 'aarch64'].map((arch) => readlinkSync(path.join(flake.dir, `result-${arch}`))), before, 'links unchanged');
});

test('build: a missing Nix, a Nix without flakes (2.3) and a Nix that refuses flakes get the fix, not a stack trace', async (t) => {
  const addon = tempTree(t, { 'config.yaml': 'name: T\nversion: "1"\nslug: t\ndescription: d\narch: [amd64]\n', 'flake.nix': '{ outputs = { self }: { }; }\n' });
  const run = (bin: string) => runCliInProcess(['build', addon], { env: { PATH: bin } });

  const missing = await run(tempTree(t, {}));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /Nix is not installed \(no 'nix' on PATH\): install Nix >= 2\.18 \(https:\/\/nixos\.org\/download/);

  const old = await run(fakeNix(t, 'echo "nix (Nix) 2.3.16"'));
  assert.equal(old.status, 1);
  assert.match(old.stderr, /Nix 2\.3\.16 \(.*\) has no flakes, which addonix builds with: install Nix >= 2\.18/);

  // A Nix 2.24 whose configuration disables the features, and which refuses them even when asked.
  const log = path.join(tempTree(t, {}), 'argv');
  const refusing = fakeNix(
    t,
    [
      `echo "$@" >> ${log}`,
      'case "$*" in',
      '  --version) echo "nix (Nix) 2.24.0" ;;',
      "  show-config*) echo \"error: experimental Nix feature 'nix-command' is disabled; use '--extra-experimental-features nix-command' to override\" >&2; exit 1 ;;",
      '  *show-config*) echo \'{"system":{"value":"x86_64-linux"}}\' ;;',
      "  *) echo \"@nix {\\\"action\\\":\\\"msg\\\",\\\"level\\\":0,\\\"msg\\\":\\\"error: experimental Nix feature 'flakes' is disabled; use '--extra-experimental-features flakes' to override\\\"}\" >&2; exit 1 ;;",
      'esac',
    ].join('\n'),
  );
  const refused = await run(refusing);
  assert.equal(refused.status, 1, refused.stderr);
  assert.ok(!hasStackTrace(refused.stderr), refused.stderr);
  assert.match(readFileSync(log, 'utf8'), /^--extra-experimental-features nix-command flakes eval --json .*#packages\.x86_64-linux --apply builtins\.attrNames --log-format internal-json$/m, 'addonix asked for the features itself');
  assert.match(refused.stderr, /experimental Nix feature 'flakes' is disabled/);
  assert.match(refused.stderr, /hint: this Nix refuses the 'flakes' feature even with --extra-experimental-features: add 'experimental-features = nix-command flakes' to \/etc\/nix\/nix\.conf/);
});

test('build: usage errors and a folder without flake', async (t) => {
  const addon = tempTree(t, { 'config.yaml': 'name: T\nversion: "1"\nslug: t\ndescription: d\narch: [amd64]\n' });
  const both = await runCliInProcess(['build', addon, '--all', '--arch', 'amd64']);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--all and --arch exclude each other/);
  const badArch = await runCliInProcess(['build', addon, '--arch', 'amd64,sparc']);
  assert.equal(badArch.status, 2);
  assert.match(badArch.stderr, /--arch sparc: not a Home Assistant arch/);
  const dockerName = await runCliInProcess(['build', addon, '--arch', 'arm/v7']);
  assert.equal(dockerName.status, 2);
  assert.match(dockerName.stderr, /--arch arm\/v7: not a Home Assistant arch .*Did you mean armv7\?/);
  const notListed = await runCliInProcess(['build', addon, '--arch', 'amd64,armv7', '--json']);
  assert.equal(notListed.status, 2, 'an arch config.yaml does not list is a usage mistake');
  assert.match((JSON.parse(notListed.stdout) as { error: { message: string } }).error.message, /--arch armv7: t is not built for armv7 \(its config\.yaml lists amd64\)/);
  const noFlake = await runCliInProcess(['build', addon]);
  assert.equal(noFlake.status, 1);
  assert.match(noFlake.stderr, /has no flake\.nix: addonix init .* writes one, or name the flake with --flake REF/);
});

test('nix log: events of a build become totals, phases, log tails and failures', () => {
  let clock = 1000;
  const monitor = new BuildMonitor(() => clock);
  const drv = '/nix/store/sx48ql5mvg8p47j45hkad5gd27hdfqfk-image-aarch64.drv';
  const lines = [
    '@nix {"action":"start","id":1,"level":0,"text":"","type":104}',
    `@nix {"action":"start","fields":["${drv}","",1,1],"id":2,"level":3,"text":"building","type":105}`,
    '@nix {"action":"result","fields":["unpackPhase"],"id":2,"type":104}',
    '@nix {"action":"result","fields":["compiling"],"id":2,"type":101}',
    '@nix {"action":"result","fields":[0,2,1,0],"id":1,"type":105}',
    '@nix {"action":"result","fields":["\\u001b[31merror: boom\\u001b[0m"],"id":2,"type":101}',
    '@nix {"action":"stop","id":2}',
    `@nix {"action":"msg","level":0,"msg":"\\u001b[31;1merror:\\u001b[0m builder for '\\u001b[35;1m${drv}\\u001b[0m' failed with exit code 3"}`,
    'not an event',
  ];
  for (const line of lines) {
    clock += 10;
    monitor.line(line);
  }
  const build = monitor.builds.get(drv)!;
  assert.equal(build.phase, 'unpackPhase');
  assert.deepEqual(build.log, ['compiling', 'error: boom']);
  assert.equal(build.stoppedAt! - build.startedAt, 50);
  assert.deepEqual(monitor.totals, { done: 0, expected: 2, running: 1, failed: 0 });
  assert.deepEqual([...monitor.failedDerivations()], [drv]);
  assert.deepEqual(monitor.text, ['not an event']);
});

test('nix hints: Nix messages for network, hash mismatch, platform and nondeterminism get their causes', () => {
  const context = { version: '2.8.0', system: 'x86_64-linux', olderThanMinimum: true };
  const causes = (text: string, evaluation = false) => hintsFor(text, context, evaluation).map((h) => h.cause);
  assert.deepEqual(causes("unable to download 'https://github.com/NixOS/nixpkgs/archive/abc.tar.gz': Couldn't resolve host name (6)", true), ['network'], 'no Nix-version hint for a network failure');
  assert.deepEqual(causes("error: syntax error, unexpected ':', expecting '}'\n  at /nix/store/abc-source/lib/fixed-points.nix:12:5", true), ['old-nix'], 'nixpkgs syntax an old Nix does not know');
  assert.deepEqual(causes("hash mismatch in fixed-output derivation '/nix/store/x-foo.tgz.drv':\n         specified: sha512-AAA\n            got:    sha512-BBB"), ['hash-mismatch']);
  assert.deepEqual(causes("a 'aarch64-linux' with features {} is required to build '/nix/store/x.drv', but I am a 'x86_64-linux' with features {benchmark, big-parallel}"), ['platform']);
  assert.match(hintsFor("a 'aarch64-linux' with features {} is required to build '/nix/store/x.drv', but I am a 'x86_64-linux' with features {}", context)[0]!.text, /--builders 'ssh:\/\/HOST aarch64-linux'.*extra-platforms = aarch64-linux/);
  assert.deepEqual(causes('This version of Nixpkgs requires Nix >= 2.18, please upgrade', true), ['old-nix']);
  assert.deepEqual(causes('builder failed with exit code 2'), [], 'a build failure on an old Nix is not blamed on the Nix');
  assert.deepEqual(causes("path '/nix/store/abc-source/nix/addon.generated.nix' does not exist"), ['untracked-file']);
  // What a git checkout whose flake.nix is not tracked gives, and the library's own message for untracked data.
  assert.deepEqual(causes("error: getting status of '/nix/store/z1x-source/flake.nix': No such file or directory", true), ['untracked-file']);
  assert.match(hintsFor("error: getting status of '/nix/store/z1x-source/flake.nix': No such file or directory", context, true)[0]!.text, /git add flake\.nix nix\//);
  assert.deepEqual(causes('error: addonix: no nix/addon.generated.nix in the add-on folder: run `addonix generate`', true), ['untracked-file']);
});

test('nix: versions and image outputs are read as Nix and flakes write them', () => {
  assert.equal(parseNixVersion('nix (Nix) 2.8.0'), '2.8.0');
  assert.equal(parseNixVersion('nix (Determinate Nix 3.6.2) 2.29.0'), '2.29.0');
  assert.equal(parseNixVersion('nix (Lix, like Nix) 2.91.1'), '2.91.1');
  assert.ok(compareVersions('2.8.0', '2.18') < 0 && compareVersions('2.18.1', '2.18') > 0 && compareVersions('2.24.6', '2.24.6') === 0);
  assert.deepEqual(
    imageOutputs(['dockerImage-amd64', 'dockerImage-my.addon-aarch64', 'streamImage-amd64', 'dockerImage-sparc', 'prebuilds-better-sqlite3-amd64']).map((t) => [t.label, t.slug, t.arch]),
    [
      ['amd64', null, 'amd64'],
      ['my.addon-aarch64', 'my.addon', 'aarch64'],
    ],
  );
});

test('build progress: on a terminal, a block redrawn in place with each image\'s count and current build', () => {
  const written: string[] = [];
  const stream = { isTTY: true, columns: 80, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
  const shared = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-base-files.drv';
  const amd = '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-image-amd64.drv';
  const arm = '/nix/store/cccccccccccccccccccccccccccccccc-image-aarch64.drv';
  const target = (arch: string, drv: string) => ({ label: arch, arch, slug: null, attribute: `dockerImage-${arch}`, drvPath: drv, outPath: drv.replace('.drv', ''), closure: new Set([shared, drv]) });
  const plan = { planned: [target('amd64', amd), target('aarch64', arm)], unplanned: [], willBuild: new Set([shared, amd, arm]), willFetch: new Set<string>(), foreign: new Map() };
  const previous = process.env['TERM'];
  process.env['TERM'] = 'xterm';
  const progress = new BuildProgress(stream, plan);
  const monitor = new BuildMonitor();
  const feed = (line: string) => progress.onEvent(monitor.line(line)!, monitor);
  feed('@nix {"action":"start","id":1,"type":104,"text":"","fields":[]}');
  feed('@nix {"action":"result","id":1,"type":105,"fields":[0,3,1,0]}');
  feed(`@nix {"action":"start","id":2,"type":105,"text":"","fields":["${shared}","",1,1]}`);
  feed('@nix {"action":"result","id":2,"type":104,"fields":["unpackPhase"]}');
  (progress as unknown as { draw(): void }).draw();
  feed('@nix {"action":"stop","id":2}');
  feed(`@nix {"action":"start","id":3,"type":105,"text":"","fields":["${arm}","",1,1]}`);
  (progress as unknown as { draw(): void }).draw();
  progress.finish();
  process.env['TERM'] = previous;
  const output = written.join('');
  assert.match(output, /^addonix: building amd64, aarch64: 3 derivations to build\n/);
  assert.match(output, / {2}amd64 {4} {4}0\/2 {2}base-files \(unpackPhase\)\n {2}aarch64 {6}0\/2 {2}base-files \(unpackPhase\)\n/);
  assert.match(output, /\u001b\[3F\u001b\[J0\/3 built, 0:00\n {2}amd64 {4} {4}1\/2 {2}waiting\n {2}aarch64 {6}1\/2 {2}image-aarch64\n/);
  assert.ok(output.endsWith('\u001b[3F\u001b[J'), 'the block is cleared at the end');
});

test('build: one derivation and one path are said in the singular; the table shows SIZE and LAYERS only where they are known', () => {
  const written: string[] = [];
  const stream = { isTTY: false, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
  const drv = '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-image-amd64.drv';
  const plan = { planned: [{ label: 'amd64', arch: 'amd64', slug: null, attribute: 'streamImage-amd64', drvPath: drv, outPath: drv.replace('.drv', ''), closure: new Set([drv]) }], unplanned: [], willBuild: new Set([drv]), willFetch: new Set(['/nix/store/x']), foreign: new Map() };
  new BuildProgress(stream, plan).finish();
  assert.equal(written[0], 'addonix: building amd64: 1 derivation to build, 1 path to fetch\n');

  const image = (label: string, size: number | null, layers: number | null): BuiltImage => ({ label, arch: label, status: 'built', attribute: `streamImage-${label}`, drvPath: null, outPath: `/nix/store/${label}`, link: `result-${label}`, size, layers, configDigest: null, seconds: 1, failure: null });
  const streams = renderTable([image('amd64', null, null), image('aarch64', null, null)]);
  assert.match(streams, /^IMAGE +STATUS +TIME +OUT PATH\n/);
  assert.doesNotMatch(streams, /SIZE|LAYERS/);
  assert.match(streams, /addonix inspect-image result-amd64 shows an image's size and layers\n$/);
  const tarballs = renderTable([image('amd64', 52_000_000, 7)]);
  assert.match(tarballs, /^IMAGE +STATUS +SIZE +LAYERS +TIME +OUT PATH\namd64 +built +52\.0 MB +7 +1\.0 s +result-amd64 -> \/nix\/store\/amd64\n$/);
});
