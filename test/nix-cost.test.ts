/**
 * What a first build costs, computed from the derivation graph of each default image with the nixpkgs
 * stand-in's marks (which of its packages the public binary cache serves, and what the others cost):
 * for amd64 and aarch64 a user compiles nothing of nixpkgs, from either build system; the deprecated
 * arches compile a cross toolchain and Node.js, never running Node's test suite for an image. Also: the
 * package sets are imported once per evaluation, overlays reach every set, and strategies nixpkgs
 * cannot serve fail with what to do. Evaluation only (nothing is built here).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { needTools, REPO, tempTree } from './helpers.js';
// The CLI in this process where the test is not about the process (a process each cost a third of a second of CPU to start).
import { runCliInProcess } from './in-process-cli.js';
import { spawnSync } from 'node:child_process';
import { buildCost, derivationGraph, evalJson, evalRaw, instantiate, NIX_OPTIONS, nixPath, STAND_IN, type BuildCost } from './nix-helpers.js';
import { compareVersions, parseNixVersion } from '../src/nix/install.js';
import { BuildMonitor } from '../src/nix/log.js';
import { derivationSystems, readDryRun } from '../src/nix/build.js';
import { buildableSystems, foreignBuilds } from '../src/nix/cost.js';

/** Whether this machine's Nix is at least `version` (`drv^*` installables need 2.13). */
function nixAtLeast(version: string): boolean {
  const found = parseNixVersion(spawnSync('nix', ['--version'], { encoding: 'utf8' }).stdout ?? '');
  return found !== undefined && compareVersions(found, version) >= 0;
}

const EXAMPLE = path.join(REPO, 'examples', 'sqlite-notes');
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'garage-door');

/** The library on a stand-in package set built on `system`, with extra mkAddonImages arguments. */
function imagesOf(dir: string, system: string, args = '', pkgsArgs = ''): string {
  return `let
  pkgs = import ${nixPath(STAND_IN)} { localSystem = { system = "${system}"; }; ${pkgsArgs} };
  addonix = import ${nixPath(path.join(REPO, 'nix', 'lib.nix'))} { addonixSrc = ${nixPath(REPO)}; };
  dataOf = name: import (${nixPath(dir)} + "/nix/\${name}.generated.nix");
in addonix.mkAddonImages { inherit pkgs; src = ${nixPath(dir)}; addon = dataOf "addon"; npmDeps = dataOf "npm-deps"; ${args} }`;
}

/** The .drv of each stream, instantiated: { arch: drv }. */
function streamDrvs(expression: string): Record<string, string> {
  const arches = evalJson<string[]>(`builtins.attrNames (${expression}).streams`);
  const drvs = instantiate(`(${expression}).streams`, arches);
  return Object.fromEntries(arches.map((arch, i) => [arch, drvs[i]!]));
}

function costs(expression: string): Record<string, BuildCost> {
  const drvs = streamDrvs(expression);
  const graph = derivationGraph(Object.values(drvs));
  return Object.fromEntries(Object.entries(drvs).map(([arch, drv]) => [arch, buildCost(graph, [drv])]));
}

function ready(t: TestContext): boolean {
  return needTools(t, 'nix-instantiate', 'nix');
}

test('cost: a default build of amd64 and aarch64 compiles nothing of nixpkgs, from x86_64-linux or aarch64-linux', (t) => {
  if (!ready(t)) return;
  for (const system of ['x86_64-linux', 'aarch64-linux']) {
    const bySystem = costs(imagesOf(EXAMPLE, system));
    for (const arch of ['amd64', 'aarch64']) {
      const cost = bySystem[arch]!;
      assert.deepEqual(cost.nixpkgsBuilt.map((d) => `${d.name}: ${d.cost}`), [], `${arch} built on ${system} compiles nixpkgs derivations`);
      // What it does build is addonix's own: the addon, node_modules, the app, the image.
      assert.ok(cost.own.some((name) => name.startsWith('better-sqlite3-13.2.0-')), `${arch} on ${system}: ${cost.own.join(', ')}`);
      assert.ok(cost.own.some((name) => name.startsWith('sqlite_notes-node-modules-')));
      // Node.js, the libc and the compiler come from the cache.
      assert.ok(cost.substituted.some((name) => name.startsWith('nodejs-slim-')), `${arch} on ${system}: Node.js is substituted`);
      const foreign = (system === 'x86_64-linux') !== (arch === 'amd64');
      if (foreign) assert.ok(cost.own.includes(`addonix-cc-${arch}-glibc`) && cost.substituted.some((name) => name.startsWith('clang-')), `${arch} on ${system}: clang from the cache, a sysroot of our own`);
      else assert.ok(!cost.own.some((name) => name.startsWith('addonix-cc-')), `${arch} on ${system}: the native compiler`);
    }
  }
});

test('cost: the deprecated armv7 compiles a cross toolchain and Node.js (without its test suite); the README says so', (t) => {
  if (!ready(t)) return;
  const armv7 = costs(imagesOf(EXAMPLE, 'x86_64-linux')).armv7!;
  const built = armv7.nixpkgsBuilt.map((d) => d.name);
  // What a first armv7 build compiles of nixpkgs, in the test's output.
  for (const d of armv7.nixpkgsBuilt) t.diagnostic(`armv7 compiles ${d.name}: ${d.cost}`);
  assert.ok(built.some((name) => name.startsWith('nodejs-slim-')), built.join(', '));
  assert.ok(built.some((name) => name.startsWith('cc-wrapper-armv7l-unknown-linux-musleabihf-')), built.join(', '));
  const node = armv7.nixpkgsBuilt.find((d) => d.name.startsWith('nodejs-slim-'))!;
  assert.match(node.cost, /compiles Node\.js for armv7l-unknown-linux-musleabihf/);
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  assert.match(readme, /armv7.*cross.*hours/i, 'the README states what a first armv7 build costs');
});

test('cost: Node.js compiled for an image never runs its test suite, though nixpkgs would (doCheck = canExecute)', (t) => {
  if (!ready(t)) return;
  // x86_64-linux runs x86_64 musl code: nixpkgs' cross Node.js for musl64 has doCheck on.
  const nixpkgsDefault = evalJson<boolean>(`(import ${nixPath(STAND_IN)} { localSystem = { system = "x86_64-linux"; }; crossSystem = { config = "x86_64-unknown-linux-musl"; }; }).nodejs-slim.doCheck`);
  assert.equal(nixpkgsDefault, true);
  for (const args of ['strategy = "cross"; libc = "musl";', 'strategy = "native"; libc = "musl";', '']) {
    const drvs = streamDrvs(imagesOf(EXAMPLE, 'x86_64-linux', args));
    const graph = derivationGraph(Object.values(drvs));
    let nodes = 0;
    for (const node of graph.values()) {
      if (!node.name.startsWith('nodejs-slim-') || node.env['standInCache'] !== 'built') continue;
      nodes++;
      assert.equal(node.env['doCheck'], '', `${node.name} (${args || 'defaults'}) would run Node's test suite`);
    }
    assert.ok(args === '' || nodes > 0, `${args}: a Node.js is compiled`);
  }
});

test('cost: every package set is imported once per evaluation, the example and its prebuilds sharing them', (t) => {
  if (!ready(t)) return;
  const expression = `let
  pkgs = import ${nixPath(STAND_IN)} { localSystem = { system = "x86_64-linux"; }; standInNested = true; };
  addonix = import ${nixPath(path.join(REPO, 'nix', 'lib.nix'))} { addonixSrc = ${nixPath(REPO)}; };
  packageSets = addonix.packageSets { inherit pkgs; };
  dataOf = name: import (${nixPath(EXAMPLE)} + "/nix/\${name}.generated.nix");
  built = addonix.mkAddonImages { inherit pkgs packageSets; src = ${nixPath(EXAMPLE)}; addon = dataOf "addon"; npmDeps = dataOf "npm-deps"; };
in map (d: d.drvPath) (builtins.attrValues built.streams ++ builtins.attrValues built.images ++ map (arch: addonix.prebuildsFor { inherit pkgs arch packageSets; }) [ "amd64" "aarch64" "armv7" ])`;
  const result = evalRaw(expression, { ADDONIX_STAND_IN_TRACE: '1' });
  assert.equal(result.status, 0, result.stderr);
  const imports = [...result.stderr.matchAll(/nixpkgs stand-in: package set for (\S+) on (\S+)/g)].map((m) => `${m[1]} on ${m[2]}`).sort();
  assert.deepEqual(imports, [
    'aarch64-unknown-linux-gnu on aarch64-unknown-linux-gnu',
    'aarch64-unknown-linux-musl on x86_64-unknown-linux-gnu',
    'armv7l-unknown-linux-musleabihf on x86_64-unknown-linux-gnu',
    'x86_64-unknown-linux-musl on x86_64-unknown-linux-gnu',
  ]);
});

test('cost: overlays and config of the build machine\'s package set reach every target set', (t) => {
  if (!ready(t)) return;
  const overlay = 'overlays = [ (self: super: { tzdata = super.tzdata.overrideAttrs (old: { name = "tzdata-from-overlay"; }); }) ];';
  const check = (expression: string, label: string) => {
    const drvs = streamDrvs(expression);
    const graph = derivationGraph(Object.values(drvs));
    for (const [arch, drv] of Object.entries(drvs)) {
      const cost = buildCost(graph, [drv]);
      // An overlaid package is another derivation: the cache does not have it.
      assert.ok(cost.nixpkgsBuilt.some((d) => d.name === 'tzdata-from-overlay'), `${label}: ${arch} has the overlay's tzdata`);
    }
  };
  check(imagesOf(EXAMPLE, 'x86_64-linux', '', overlay), 'carried from pkgs.overlays');
  check(imagesOf(EXAMPLE, 'x86_64-linux', overlay), 'given to mkAddonImages');
});

test('cost: a second add-on without a start command says what to give', async (t) => {
  if (!ready(t)) return;
  const dir = tempTree(t, {});
  cpSync(FIXTURE, dir, { recursive: true, filter: (file) => path.relative(FIXTURE, file).split(path.sep)[0] !== 'nix' });
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  delete pkg.main;
  delete pkg.scripts;
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  const generated = await runCliInProcess(['generate', dir]);
  assert.equal(generated.status, 0, generated.stderr);
  const result = evalRaw(`(${imagesOf(dir, 'x86_64-linux')}).images.amd64.drvPath`);
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /add-on 'garage_door_log': the image needs a command: its package\.json has neither a start script nor main; give run = \[/);
});

test('cost: addonix build --dry-run says per arch how it is built and what Nix would build and fetch, building nothing', async (t) => {
  if (!needTools(t, 'nix', 'git')) return;
  const args = ['build', EXAMPLE, '--flake', REPO, '--override-input', 'nixpkgs', `path:${STAND_IN}`, '--substituters', '', '--dry-run'];
  const result = await runCliInProcess([...args, '--json']);
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { dryRun: boolean; images: { arch: string; plan: { strategy: string; libc: string; fromCache: boolean; compiles: string[]; firstBuild: string }; willBuild: string[]; willFetch: number; expensive: { what: string }[]; foreign: unknown[]; advice: string | null }[] };
  assert.equal(report.dryRun, true);
  assert.deepEqual(report.images.map((i) => [i.arch, i.plan.strategy, i.plan.libc, i.plan.fromCache]), [
    ['aarch64', 'cached', 'glibc', true],
    ['amd64', 'cached', 'glibc', true],
    ['armv7', 'cross', 'musl', false],
  ]);
  for (const image of report.images) {
    assert.deepEqual(image.plan.compiles, ['better-sqlite3@13.2.0']);
    // Nothing of another system to build: the aarch64 packages all come from the (stand-in's) cache.
    assert.deepEqual([image.foreign, image.advice], [[], null], image.arch);
    // Nix's own dry run of the image: the image's stream derivation is among what it builds or in the store.
    assert.ok(image.willBuild.every((name) => typeof name === 'string' && !name.startsWith('/nix/store')), image.willBuild.join(', '));
  }
  assert.match(report.images[2]!.plan.firstBuild, /^hours/);
  // Nothing was built: no result link, and a second dry run says the same.
  assert.ok(!existsSync(path.join(EXAMPLE, 'result-amd64')));
  const text = await runCliInProcess(args);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^aarch64 {2}strategy cached, glibc; Node\.js and glibc from the binary cache \(aarch64-linux\); compiles better-sqlite3@13\.2\.0\n {9}builds \d+/m);
  assert.match(text.stdout, /^armv7 {2}strategy cross, musl; Node\.js and musl compiled for armv7-musl/m);
  assert.match(text.stdout, /first build: hours: a cross GCC/);
});

test('cost: a Hydra miss (the stand-in\'s aarch64 jq) is named before anything is built: Nix\'s dry run read as addonix reads it, then Nix refusing to build it here', async (t) => {
  if (!ready(t)) return;
  const withJq = imagesOf(EXAMPLE, 'x86_64-linux', 'buildArches = [ "aarch64" ]; extraContents = set: [ set.jq ];');
  const stream = streamDrvs(withJq)['aarch64']!;
  const dryRun = (drv: string) => {
    const result = spawnSync('nix', ['--extra-experimental-features', 'nix-command', 'build', '--dry-run', '--log-format', 'internal-json', ...NIX_OPTIONS, `${drv}${nixAtLeast('2.13') ? '^*' : ''}`], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const monitor = new BuildMonitor();
    for (const line of result.stderr.split('\n')) monitor.line(line);
    const willBuild = new Set<string>();
    readDryRun(monitor, willBuild, new Set());
    return willBuild;
  };
  // This machine as Nix describes it by default: x86_64-linux with i686 beside it, no builders.
  const here = buildableSystems('x86_64-linux', ['i686-linux'], '');
  const willBuild = dryRun(stream);
  const foreign = foreignBuilds(willBuild, await derivationSystems(willBuild), here);
  assert.deepEqual(foreign.map((f) => [f.name, f.system]), [['jq-1.8.2', 'aarch64-linux']]);
  // Without it nothing of aarch64-linux is built: every other aarch64 package comes from the cache.
  const plain = streamDrvs(imagesOf(EXAMPLE, 'x86_64-linux', 'buildArches = [ "aarch64" ];'))['aarch64']!;
  const plainBuild = dryRun(plain);
  assert.deepEqual(foreignBuilds(plainBuild, await derivationSystems(plainBuild), here), []);
  // What Nix itself says when it gets there (Nix 2.8 and 2.26 alike), and addonix's hint for it.
  const jq = foreign[0]!.drv;
  const built = spawnSync('nix-store', ['--realise', jq, ...NIX_OPTIONS], { encoding: 'utf8' });
  assert.notEqual(built.status, 0);
  assert.match(built.stderr, /a 'aarch64-linux' with features \{[^}]*\} is required to build '[^']+-jq-1\.8\.2\.drv', but I am a 'x86_64-linux'/);
});

test('cost: a cross Node.js stops at configure at the pin (nixpkgs #536002, #543641); the library\'s cross sets run configure.py with the build machine\'s Python (#546154); native sets are untouched', (t) => {
  if (!ready(t)) return;
  const armv7 = 'armv7l-unknown-linux-musleabihf';
  const expression = `let
  standIn = args: import ${nixPath(STAND_IN)} ({ localSystem = { system = "x86_64-linux"; }; } // args);
  pkgs = standIn { };
  addonix = import ${nixPath(path.join(REPO, 'nix', 'lib.nix'))} { addonixSrc = ${nixPath(REPO)}; };
  sets = addonix.packageSets { inherit pkgs; };
  pinned = standIn { crossSystem = { config = "${armv7}"; }; };
  fixed = sets.cross."${armv7}";
in {
  pinned = pinned.nodejs-slim;
  fixed = fixed.nodejs-slim;
  joined = fixed.nodejs;
  facts = {
    pinnedScript = pinned.nodejs-slim.configureScript;
    fixedScript = fixed.nodejs-slim.configureScript;
    buildPython = "\${pkgs.python3}";
    fixedDrv = fixed.nodejs-slim.drvPath;
    joinedDrv = fixed.nodejs.drvPath;
    nativeSame = sets.native.aarch64-linux.glibc.nodejs-slim.drvPath == (standIn { localSystem = { system = "aarch64-linux"; }; }).nodejs-slim.drvPath
      && sets.native.x86_64-linux.musl.nodejs-slim.drvPath == (standIn { localSystem = { config = "x86_64-unknown-linux-musl"; }; }).nodejs-slim.drvPath
      && sets.build.nodejs-slim.drvPath == pkgs.nodejs-slim.drvPath;
  };
}`;
  const facts = evalJson<{ pinnedScript: string; fixedScript: string; buildPython: string; fixedDrv: string; joinedDrv: string; nativeSame: boolean }>(`(${expression}).facts`);
  // At the pin: the target's Python (pkgsCross.<x>.python3), which this machine cannot run.
  assert.match(facts.pinnedScript, new RegExp(`^/nix/store/[a-z0-9]{32}-python3-${armv7}-3\\.11/bin/python3 configure\\.py$`));
  assert.equal(facts.fixedScript, `${facts.buildPython}/bin/python3 configure.py`);
  assert.ok(facts.nativeSame, 'the native sets (what the binary cache serves) keep their own Node.js derivations');
  // nodejs (npm beside it) is made from the fixed nodejs-slim, as in nixpkgs.
  const [joinedDrv, fixedDrv] = instantiate(expression, ['joined', 'fixed']);
  assert.deepEqual([joinedDrv, fixedDrv], [facts.joinedDrv, facts.fixedDrv]);
  assert.ok(derivationGraph([joinedDrv!]).has(fixedDrv!), 'nodejs joins the fixed nodejs-slim');
  // The example's armv7 image takes the fixed one.
  const stream = streamDrvs(imagesOf(EXAMPLE, 'x86_64-linux', 'buildArches = [ "armv7" ];'))['armv7']!;
  const nodes = [...derivationGraph([stream]).values()].filter((node) => node.name.startsWith('nodejs-slim-'));
  assert.ok(nodes.length > 0 && nodes.every((node) => node.env['configureScript'] === facts.fixedScript), nodes.map((n) => n.env['configureScript']).join(', '));
  // Built: the pin's stops at configure with the error of #543641; the fixed one configures and builds.
  const failed = spawnSync('nix-build', ['--no-out-link', ...NIX_OPTIONS, '--expr', expression, '-A', 'pinned'], { encoding: 'utf8' });
  assert.notEqual(failed.status, 0);
  assert.match(failed.stderr, new RegExp(`python3-${armv7}-3\\.11/bin/python3: Exec format error`));
  const built = spawnSync('nix-build', ['--no-out-link', ...NIX_OPTIONS, '--expr', expression, '-A', 'fixed'], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr.split('\n').slice(-20).join('\n'));
});

test('cost: addonix build refuses an image with a Hydra miss before building anything, and --dry-run names it, each saying what to do', async (t) => {
  if (!needTools(t, 'nix', 'git')) return;
  // An add-on as `addonix init` writes it, asking for the aarch64 set's jq (the stand-in's Hydra miss).
  const dir = tempTree(t, {});
  cpSync(EXAMPLE, dir, { recursive: true, filter: (source) => !/(^|\/)(flake\.(nix|lock)|nix|result[^/]*)$/.test(path.relative(EXAMPLE, source)) });
  assert.equal((await runCliInProcess(['init', dir])).status, 0);
  const flake = path.join(dir, 'flake.nix');
  const text = readFileSync(flake, 'utf8');
  assert.match(text, /mkAddonFlake \{ src = \.\/\.; \}/);
  writeFileSync(flake, text.replace('mkAddonFlake { src = ./.; }', 'mkAddonFlake { src = ./.; extraContents = set: [ set.jq ]; }'));
  const git = spawnSync('sh', ['-c', 'git init -q && git add -A && git -c user.name=t -c user.email=t@t.invalid commit -q -m addon'], { cwd: dir, encoding: 'utf8' });
  assert.equal(git.status, 0, git.stderr);
  const args = ['build', dir, '--arch', 'aarch64', '--override-input', 'addonix', `git+file://${REPO}`, '--override-input', 'addonix/nixpkgs', `path:${STAND_IN}`, '--substituters', ''];
  const dry = await runCliInProcess([...args, '--dry-run']);
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /cannot build here: aarch64: a derivation for aarch64-linux would have to be built, and this x86_64-linux machine cannot build for aarch64-linux \(no builder, no extra-platforms\): jq-1\.8\.2\./);
  const build = await runCliInProcess([...args, '--json']);
  assert.equal(build.status, 1, build.stderr);
  const report = JSON.parse(build.stdout) as { images: { arch: string; status: string; failure: { message: string } | null }[] };
  assert.deepEqual(report.images.map((i) => [i.arch, i.status]), [['aarch64', 'failed']]);
  const message = report.images[0]!.failure!.message;
  assert.match(message, /jq-1\.8\.2/);
  assert.match(message, /strategy "native"/);
  assert.match(message, /pin another nixpkgs revision/);
  // Refused before Nix built anything: not even the derivations this machine could build.
  assert.doesNotMatch(build.stderr, /building '/);
  assert.ok(!existsSync(path.join(dir, 'result-aarch64')));
});
