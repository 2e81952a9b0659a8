/**
 * The Nix flake and library, evaluated (test/nix-build.test.ts builds): every .nix parses, the flake
 * lists its outputs with the nixpkgs stand-in in place of nixpkgs, the arch table is the one `addonix
 * inspect` uses, images say what the add-on says, nothing in nix/ is tied to the example, and bad input
 * fails evaluation with a message that says what to fix.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { corpus, hasStackTrace, needTools, REPO, tempTree } from './helpers.js';
// The CLI in this process (a process each cost a third of a second of CPU to start, generate's more).
import { runCliInProcess } from './in-process-cli.js';
import { evalJson, evalRaw, nixFlake, nixPath, OVERRIDE_NIXPKGS, withLibrary } from './nix-helpers.js';
import { ARCH_TABLE, STRATEGIES } from '../src/addon/arch.js';
import { nixTableFiles } from '../src/nixgen/tables.js';
import { readNixError } from '../src/nix/log.js';

const EXAMPLE = path.join(REPO, 'examples', 'sqlite-notes');
export const FIXTURE = path.join(REPO, 'test', 'fixtures', 'garage-door');

function nixFiles(dir: string, found: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (['node_modules', 'dist', '.git'].includes(name) || name.startsWith('result')) continue;
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) nixFiles(file, found);
    else if (name.endsWith('.nix')) found.push(file);
  }
  return found;
}

/** A copy of an add-on folder (its own nix/ left out) with its Nix data written by `addonix generate`. */
async function generatedCopy(t: TestContext, source: string, replace: Record<string, string> = {}): Promise<string> {
  const dir = tempTree(t, {});
  cpSync(source, dir, { recursive: true, filter: (file) => path.relative(source, file).split(path.sep)[0] !== 'nix' });
  for (const [name, content] of Object.entries(replace)) writeFileSync(path.join(dir, name), content);
  const result = await runCliInProcess(['generate', dir]);
  assert.equal(result.status, 0, result.stderr);
  return dir;
}

/** The images of an add-on folder through mkAddonImages, with extra arguments (Nix source). */
function imagesExpression(dir: string, args = '', then = 'built'): string {
  return withLibrary(`let built = addonix.mkAddonImages {
  inherit pkgs;
  src = ${nixPath(dir)};
  addon = dataOf ${nixPath(dir)} "addon";
  npmDeps = if builtins.pathExists (${nixPath(dir)} + "/nix/npm-deps.generated.nix") then dataOf ${nixPath(dir)} "npm-deps" else null;
  ${args}
}; in ${then}`);
}

/**
 * Evaluation fails with addonix's own message (what to fix): Nix's message, the last `error:` block, is
 * addonix's, whatever trace Nix >= 2.9 prints before it. The derivation's path is forced (drvPath),
 * which is what `nix build` does first.
 */
function assertEvalFails(expression: string, expected: RegExp): string {
  const result = evalRaw(expression);
  assert.notEqual(result.status, 0, 'evaluation should fail');
  assert.match(result.stderr, /error:/, result.stderr);
  const { message } = readNixError(result.stderr);
  assert.match(message, /^addonix: /, result.stderr);
  assert.match(message, expected);
  assert.doesNotMatch(message, /while evaluating|while calling|from call site/, `the message holds a trace:\n${message}`);
  assert.ok(!hasStackTrace(message));
  return `error: ${message}`;
}

test('nix: nix-instantiate --parse accepts every .nix file', (t) => {
  if (!needTools(t, 'nix-instantiate')) return;
  const files = nixFiles(REPO);
  for (const required of ['flake.nix', 'nix/lib.nix', 'nix/node-modules.nix', 'nix/image.nix', 'nix/base-image.nix', 'nix/arches.nix', 'templates/default/flake.nix', 'test/nixpkgs-stand-in/default.nix']) {
    assert.ok(files.includes(path.join(REPO, required)), `${required} is missing`);
  }
  for (const file of files) {
    const result = spawnSync('nix-instantiate', ['--parse', file], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${path.relative(REPO, file)} does not parse:\n${result.stderr}`);
  }
});

test('nix: flake.lock pins nixpkgs to a released nixos branch with rev, narHash and lastModified', () => {
  const lock = JSON.parse(readFileSync(path.join(REPO, 'flake.lock'), 'utf8'));
  const nixpkgs = lock.nodes.nixpkgs;
  assert.equal(nixpkgs.original.type, 'github');
  assert.match(nixpkgs.original.ref, /^nixos-\d\d\.\d\d$/);
  assert.match(nixpkgs.locked.rev, /^[0-9a-f]{40}$/);
  assert.match(nixpkgs.locked.narHash, /^sha256-[A-Za-z0-9+/]{43}=$/);
  assert.equal(typeof nixpkgs.locked.lastModified, 'number');
  assert.ok(nixpkgs.locked.lastModified > 1_700_000_000);
  const flake = readFileSync(path.join(REPO, 'flake.nix'), 'utf8');
  assert.ok(flake.includes(`github:NixOS/nixpkgs/${nixpkgs.original.ref}`), 'flake.nix and flake.lock name the same branch');
});

test('nix: with the stand-in for nixpkgs, the flake lists every package, app, check and the template', (t) => {
  if (!needTools(t, 'nix')) return;
  for (const system of ['x86_64-linux', 'aarch64-linux']) {
    const packages = nixFlake(['eval', '--json', `.#packages.${system}`, '--apply', 'builtins.attrNames', ...OVERRIDE_NIXPKGS]);
    assert.equal(packages.status, 0, packages.stderr);
    const names: string[] = JSON.parse(packages.stdout);
    for (const arch of ['amd64', 'aarch64', 'armv7']) {
      assert.ok(names.includes(`dockerImage-${arch}`), `dockerImage-${arch} on ${system}`);
      assert.ok(names.includes(`streamImage-${arch}`), `streamImage-${arch} on ${system}`);
    }
    for (const arch of ['amd64', 'aarch64', 'armv7', 'armhf']) assert.ok(names.includes(`prebuilds-better-sqlite3-${arch}`), `prebuilds-better-sqlite3-${arch}`);
    assert.ok(names.includes('addonix') && names.includes('default'));
    assert.ok(!names.some((name) => name.endsWith('-armhf') && name.startsWith('dockerImage')), 'the example has no armhf image');
    // Every image and prebuild evaluates to a derivation on both build systems (an aarch64-linux
    // machine cross-compiles amd64's addons with clang, as an x86_64-linux one does aarch64's).
    const drvs = nixFlake(['eval', '--json', `.#packages.${system}`, '--apply', 'p: builtins.mapAttrs (_: d: d.drvPath) (removeAttrs p [ "addonix" "default" ])', ...OVERRIDE_NIXPKGS]);
    assert.equal(drvs.status, 0, drvs.stderr);
    const paths: Record<string, string> = JSON.parse(drvs.stdout);
    for (const [name, drv] of Object.entries(paths)) assert.match(drv, /^\/nix\/store\/[a-z0-9]{32}-.*\.drv$/, `${name} on ${system}`);
  }
  const apps = nixFlake(['eval', '--json', '.#apps.x86_64-linux', '--apply', 'builtins.attrNames', ...OVERRIDE_NIXPKGS]);
  assert.equal(apps.status, 0, apps.stderr);
  assert.deepEqual(JSON.parse(apps.stdout), ['addonix', 'build-all-images', 'default', 'load-aarch64', 'load-amd64', 'load-armv7']);
  const checks = nixFlake(['eval', '--json', '.#checks.x86_64-linux', '--apply', 'builtins.attrNames', ...OVERRIDE_NIXPKGS]);
  assert.equal(checks.status, 0, checks.stderr);
  assert.deepEqual(JSON.parse(checks.stdout), ['e2e-images', 'e2e-node-modules']);
  const template = nixFlake(['eval', '--json', '.#templates', '--apply', '(t: builtins.mapAttrs (_: v: { inherit (v) description; flake = builtins.pathExists (v.path + "/flake.nix"); }) t)', ...OVERRIDE_NIXPKGS]);
  assert.equal(template.status, 0, template.stderr);
  const templates = JSON.parse(template.stdout);
  assert.deepEqual(Object.keys(templates), ['default']);
  assert.equal(templates.default.flake, true);
  const lib = nixFlake(['eval', '--json', '.#lib', '--apply', 'builtins.attrNames', ...OVERRIDE_NIXPKGS]);
  assert.equal(lib.status, 0, lib.stderr);
  for (const name of ['mkAddonImages', 'mkAddonFlake', 'mkRepositoryFlake', 'arches', 'prebuildsFor', 'ciTools']) assert.ok(JSON.parse(lib.stdout).includes(name), name);
  // What the CI files run, from the flake's own nixpkgs (here the stand-in's jq): never nixpkgs#… of the global registry.
  const ci = nixFlake(['eval', '--json', '.#legacyPackages.x86_64-linux.ci', '--apply', '(c: { names = builtins.attrNames c; jq = c.jq.name; })', ...OVERRIDE_NIXPKGS]);
  assert.equal(ci.status, 0, ci.stderr);
  assert.deepEqual(JSON.parse(ci.stdout), { names: ['attic-client', 'cachix', 'cosign', 'jq'], jq: 'jq-1.8.2' });
});

/** The text of a flake app's script, from its derivation (without building what it runs). */
function appScript(app: string): string {
  const context = nixFlake(['eval', '--json', `.#apps.x86_64-linux.${app}`, '--apply', 'a: { inherit (a) type program; drvs = builtins.attrNames (builtins.getContext a.program); }', ...OVERRIDE_NIXPKGS]);
  assert.equal(context.status, 0, context.stderr);
  const { type, program, drvs } = JSON.parse(context.stdout) as { type: string; program: string; drvs: string[] };
  assert.equal(type, 'app');
  assert.match(program, new RegExp(`^/nix/store/[a-z0-9]{32}-${app}$`));
  assert.equal(drvs.length, 1);
  const shown = nixFlake(['show-derivation', drvs[0]!]);
  assert.equal(shown.status, 0, shown.stderr);
  return (Object.values(JSON.parse(shown.stdout))[0] as { env: { text: string } }).env.text;
}

test('nix: the load and build-all-images apps are scripts that do what they say', (t) => {
  if (!needTools(t, 'nix')) return;
  const load = appScript('load-aarch64');
  assert.match(load, /docker info/);
  assert.match(load, /command -v podman/);
  assert.match(load, /\/nix\/store\/[a-z0-9]{32}-stream-aarch64-sqlite-notes \| "\$engine" load/);
  const buildAll = appScript('build-all-images');
  // The build the app runs evaluates the flake again: with the nixpkgs this app was evaluated with, not flake.lock's.
  assert.match(buildAll, /\/nix\/store\/[a-z0-9]{32}-addonix-[0-9.]+\/bin\/addonix build --all --override-input nixpkgs path:\/nix\/store\/[a-z0-9]{32}-\S+ "\$@"/);
});

test('nix: nix/arches.nix and nix/strategies.nix are generated from the TypeScript tables, and current', (t) => {
  for (const [file, content] of Object.entries(nixTableFiles())) {
    assert.equal(readFileSync(path.join(REPO, file), 'utf8'), content, `${file} is stale: run npm run generate:nix-tables`);
  }
  if (!needTools(t, 'nix-instantiate')) return;
  const nixTable = evalJson<Record<string, Record<string, unknown>>>(`import ${nixPath(path.join(REPO, 'nix', 'arches.nix'))}`);
  assert.deepEqual(Object.keys(nixTable).sort(), Object.keys(ARCH_TABLE).sort());
  for (const [arch, info] of Object.entries(ARCH_TABLE)) {
    assert.deepEqual(nixTable[arch], {
      nixSystem: info.nixSystem,
      muslTarget: info.muslTarget,
      glibcTarget: info.glibcTarget,
      goarch: info.goarch,
      variant: info.platform.variant ?? null,
      npmCpu: info.npmCpu,
      supervisor: info.supervisor,
      defaultStrategy: info.defaultStrategy,
      inBinaryCache: info.inBinaryCache,
      nativeMusl: info.nativeMusl,
    }, arch);
  }
  const strategies = evalJson<Record<string, Record<string, unknown>>>(`import ${nixPath(path.join(REPO, 'nix', 'strategies.nix'))}`);
  assert.deepEqual(strategies, Object.fromEntries(Object.entries(STRATEGIES).map(([name, info]) => [name, { libc: info.libc, firstBuild: info.firstBuild }])));
  // The library exports the same tables (the flake's lib.arches and lib.strategies).
  assert.deepEqual(evalJson(withLibrary('addonix.arches')), nixTable);
  assert.deepEqual(evalJson(withLibrary('addonix.strategies')), strategies);
});

interface ImageInfo {
  name: string;
  tag: string;
  architecture: string;
  variant: string | null;
  created: string;
  flavor: string;
  config: { Entrypoint?: string[]; Cmd?: string[]; Env: string[]; WorkingDir: string; ExposedPorts: Record<string, object>; Labels: Record<string, string> };
}

test('nix: each image carries the labels, architecture and variant addonix inspect shows for its arch', async (t) => {
  if (!needTools(t, 'nix-instantiate')) return;
  for (const dir of [EXAMPLE, await generatedCopy(t, FIXTURE)]) {
    const inspected = JSON.parse((await runCliInProcess(['inspect', dir, '--json'])).stdout);
    const infos = evalJson<Record<string, ImageInfo>>(imagesExpression(dir, '', 'built.imageInfo'));
    assert.deepEqual(Object.keys(infos).sort(), inspected.arches.map((a: { arch: string }) => a.arch).sort(), dir);
    for (const arch of inspected.arches) {
      const info = infos[arch.arch]!;
      assert.equal(`${info.name}:${info.tag}`, arch.image);
      assert.equal(info.architecture, arch.platform.architecture);
      assert.equal(info.variant, arch.platform.variant ?? null);
      assert.deepEqual(info.config.Labels, arch.labels);
      assert.equal(info.config.Labels['io.hass.arch'], arch.arch);
      assert.equal(info.created, '1970-01-01T00:00:01Z', 'created is fixed');
      assert.equal(info.config.WorkingDir, '/app');
      for (const [name, value] of Object.entries(inspected.environment as Record<string, string>)) assert.ok(info.config.Env.includes(`${name}=${value}`), `${name} in Env`);
    }
  }
});

test('nix: ports, entrypoint and command come from the add-on and package.json', async (t) => {
  if (!needTools(t, 'nix-instantiate')) return;
  const example = evalJson<Record<string, ImageInfo>>(imagesExpression(EXAMPLE, '', 'built.imageInfo'));
  // Ingress port, and package.json's start script "node server.js".
  assert.deepEqual(Object.keys(example['amd64']!.config.ExposedPorts), ['8099/tcp']);
  assert.deepEqual(example['amd64']!.config.Entrypoint, ['/bin/node', 'server.js']);
  const garage = await generatedCopy(t, FIXTURE);
  const infos = evalJson<Record<string, ImageInfo>>(imagesExpression(garage, '', 'built.imageInfo'));
  assert.deepEqual(Object.keys(infos['armv7']!.config.ExposedPorts), ['8123/tcp']);
  // No start script: package.json's main.
  assert.deepEqual(infos['armv7']!.config.Entrypoint, ['/bin/node', 'index.js']);
  assert.equal(infos['armv7']!.config.Cmd, undefined);
  const explicit = evalJson<Record<string, ImageInfo>>(imagesExpression(garage, 'run = [ "/bin/node" "index.js" "--verbose" ];', 'built.imageInfo'));
  assert.deepEqual(explicit['amd64']!.config.Entrypoint, ['/bin/node', 'index.js', '--verbose']);
  // A start script that needs a shell runs under one.
  const shelled = await generatedCopy(t, FIXTURE, {
    'package.json': readFileSync(path.join(FIXTURE, 'package.json'), 'utf8').replace('"main": "index.js",', '"main": "index.js",\n  "scripts": { "start": "node index.js > /tmp/log" },'),
  });
  const shell = evalJson<Record<string, ImageInfo>>(imagesExpression(shelled, '', 'built.imageInfo'));
  assert.deepEqual(shell['amd64']!.config.Entrypoint, ['/bin/sh', '-c', 'node index.js > /tmp/log']);
});

test('nix: nothing in nix/ names the example add-on or its packages', () => {
  for (const file of readdirSync(path.join(REPO, 'nix'))) {
    if (!file.endsWith('.nix')) continue;
    const text = readFileSync(path.join(REPO, 'nix', file), 'utf8');
    assert.doesNotMatch(text, /sqlite.notes|sqlite_notes|server\.js/i, `nix/${file} names the example`);
    if (file !== 'lib.nix') assert.doesNotMatch(text, /better-sqlite3|better_sqlite3/, `nix/${file} names a package (only prebuildsFor in lib.nix may)`);
  }
});

test('nix: a second add-on (its own name, arches and packages) goes through the same mkAddonImages', async (t) => {
  if (!needTools(t, 'nix-instantiate')) return;
  const garage = await generatedCopy(t, FIXTURE);
  const result = evalJson<{ packages: string[]; modules: Record<string, string>; names: string[] }>(imagesExpression(garage, 'libc = "glibc";', `{
    packages = builtins.attrNames built.packages;
    modules = builtins.mapAttrs (_: m: m.name) built.nodeModules;
    names = builtins.attrNames built.images;
  }`));
  assert.deepEqual(result.packages, ['dockerImage-amd64', 'dockerImage-armv7', 'streamImage-amd64', 'streamImage-armv7']);
  assert.deepEqual(result.modules, { amd64: 'garage_door_log-node-modules-amd64-glibc', armv7: 'garage_door_log-node-modules-armv7-glibc' });
  // The flake helper works on the same folder (what an add-on repository's flake calls).
  const flake = evalJson<string[]>(withLibrary(`builtins.attrNames ((addonix.mkAddonFlakeWith { legacyPackages.x86_64-linux = pkgs; } { src = ${nixPath(garage)}; systems = [ "x86_64-linux" ]; libc = "glibc"; }).packages.x86_64-linux)`));
  assert.deepEqual(flake, ['addonix', 'dockerImage-amd64', 'dockerImage-armv7', 'streamImage-amd64', 'streamImage-armv7']);
  // riscv64 is built only when the add-on opts in (`addonix generate --riscv64`), through the same table.
  assertEvalFails(imagesExpression(garage, 'buildArches = [ "riscv64" ];', 'built.images.riscv64.drvPath'), /has no arch 'riscv64' .*run `addonix generate` --riscv64/);
  const optedIn = tempTree(t, {});
  cpSync(garage, optedIn, { recursive: true });
  const generated = await runCliInProcess(['generate', optedIn, '--riscv64']);
  assert.equal(generated.status, 0, generated.stderr);
  assert.match(generated.stderr, /Home Assistant does not run riscv64 images/);
  const riscv = evalJson<{ info: ImageInfo; modules: string; arches: string[] }>(imagesExpression(optedIn, '', '{ info = built.imageInfo.riscv64; modules = built.nodeModules.riscv64.name; arches = builtins.attrNames built.images; }'));
  assert.deepEqual(riscv.arches, ['amd64', 'armv7', 'riscv64']);
  assert.equal(riscv.info.architecture, 'riscv64');
  assert.equal(riscv.info.variant, null);
  assert.equal(riscv.modules, 'garage_door_log-node-modules-riscv64-musl');
});

test('nix: bad input fails evaluation with a message that says what to fix', async (t) => {
  if (!needTools(t, 'nix-instantiate')) return;
  const garage = await generatedCopy(t, FIXTURE);
  // An arch the library does not know (data edited by hand, or from a newer addonix).
  assertEvalFails(
    imagesExpression(garage, '', '(addonix.mkAddonImages { inherit pkgs; src = ' + nixPath(garage) + '; addon = (dataOf ' + nixPath(garage) + ' "addon") // { archNames = [ "amd64" "mips" ]; }; npmDeps = dataOf ' + nixPath(garage) + ' "npm-deps"; }).images.mips.drvPath'),
    /lists arch 'mips', which addonix does not know; the arches are .*aarch64.*amd64/,
  );
  // A Node.js add-on without its npm data (no package-lock.json, so `addonix generate` wrote none).
  assertEvalFails(imagesExpression(garage, '', '(addonix.mkAddonImages { inherit pkgs; src = ' + nixPath(garage) + '; addon = dataOf ' + nixPath(garage) + ' "addon"; }).images.amd64.drvPath'),
    /has a Node\.js app \(package\.json\) but no npm data: run `addonix generate` \(it needs package-lock\.json\)/);
  // The same through the flake helper, where the file is simply missing.
  const noLock = tempTree(t, {});
  cpSync(garage, noLock, { recursive: true });
  rmSync(path.join(noLock, 'nix', 'npm-deps.generated.nix'));
  assertEvalFails(withLibrary(`(addonix.mkAddonFlakeWith { legacyPackages.x86_64-linux = pkgs; } { src = ${nixPath(noLock)}; systems = [ "x86_64-linux" ]; }).packages.x86_64-linux.dockerImage-amd64.drvPath`),
    /no npm data: run `addonix generate`/);
  // Data from another addonix version.
  assertEvalFails(imagesExpression(garage, '', '(addonix.mkAddonImages { inherit pkgs; src = ' + nixPath(garage) + '; addon = (dataOf ' + nixPath(garage) + ' "addon") // { dataVersion = 7; }; }).images.amd64.drvPath'),
    /dataVersion 7; this addonix reads version 3: run `addonix generate` again/);
  // Unknown strategy, libc, flavor.
  assertEvalFails(imagesExpression(garage, 'strategy = "emulated";', 'built.images.armv7.drvPath'), /strategy must be one of cached, cross, native, not "emulated"/);
  assertEvalFails(imagesExpression(garage, 'libc = "uclibc";', 'built.images.armv7.drvPath'), /libc must be "glibc" or "musl", not "uclibc"/);
  // Strategies nixpkgs cannot serve: "cached" for a system the binary cache does not have, or for musl;
  // "native" musl where nixpkgs has no musl bootstrap tools (pkgs/stdenv/linux/default.nix would throw
  // "unsupported platform for the pure Linux stdenv" deep inside the evaluation).
  assertEvalFails(imagesExpression(garage, 'strategy = "cached";', 'built.images.armv7.drvPath'), /armv7: strategy "cached" takes the target system's packages from the public binary cache, which has none for armv7l-linux: use strategy "cross"/);
  assertEvalFails(imagesExpression(garage, 'libc = "musl"; strategy = "cached";', 'built.images.amd64.drvPath'), /amd64: strategy "cached" builds with the binary cache's glibc package set; the cache has no musl one/);
  const i386 = await generatedCopy(t, FIXTURE, { 'config.yaml': readFileSync(path.join(FIXTURE, 'config.yaml'), 'utf8').replace('  - armv7', '  - armv7\n  - i386') });
  assertEvalFails(imagesExpression(i386, 'strategy = "native"; libc = "musl";', 'built.images.i386.drvPath'), /i386: strategy "native" with libc "musl" needs nixpkgs' musl bootstrap tools for i686-linux, which do not exist .*use strategy "cross"/);
  assertEvalFails(imagesExpression(garage, 'flavor = "distroless";', 'built.images.amd64.drvPath'), /flavor must be "nix" or "base", not "distroless"/);
  // flavor "base" without a pinned base image.
  assertEvalFails(imagesExpression(garage, 'flavor = "base"; libc = "glibc";', 'built.images.amd64.drvPath'), /has no nix\/base-images\.lock\.nix: run `addonix pin-base`/);
});

test('nix: a native addon marked unsupported for a target fails evaluation with the reason', async (t) => {
  if (!needTools(t, 'nix-instantiate')) return;
  const source = corpus(t, 'lockfiles/photo-notes-sharp');
  if (!source) return;
  const config = readFileSync(path.join(FIXTURE, 'config.yaml'), 'utf8');
  const dir = tempTree(t, { 'config.yaml': config, 'index.js': '' });
  cpSync(path.join(source, 'package.json'), path.join(dir, 'package.json'));
  cpSync(path.join(source, 'package-lock.json'), path.join(dir, 'package-lock.json'));
  assert.equal((await runCliInProcess(['generate', dir])).status, 0);
  // sharp has no linux-arm-musl binary (armv7, musl): the npm stage says so, Nix refuses with its words.
  const message = assertEvalFails(imagesExpression(dir, '', 'built.nodeModules.armv7.drvPath'), /node_modules cannot be built for armv7-musl:\n\s+- .*sharp/);
  assert.match(message, /Use libc = "glibc" where a package has glibc binaries only, or drop the arch/);
  // amd64 musl is fine: @img/sharp-linuxmusl-x64 exists.
  const fine = evalRaw(imagesExpression(dir, '', 'built.nodeModules.amd64.drvPath'));
  assert.equal(fine.status, 0, fine.stderr);
});

test('nix: the example add-on and the prebuild inputs have up-to-date generated data', async (t) => {
  if (!needTools(t, 'nix-instantiate')) return;
  const example = await runCliInProcess(['generate', EXAMPLE, '--check']);
  assert.equal(example.status, 0, example.stdout + example.stderr);
  for (const major of ['12', '13']) {
    const dir = path.join(REPO, 'nix', 'prebuilds', `better-sqlite3-v${major}`);
    // The musl prebuilds of every arch, and amd64's glibc twins that official Node.js builds load (the tests' ABI proof).
    const targets = [...['amd64', 'aarch64', 'armv7', 'armhf'].map((arch) => `${arch}-musl`), 'amd64-glibc'].flatMap((target) => ['--target', target]);
    const result = await runCliInProcess(['generate', dir, '--check', ...targets]);
    assert.equal(result.status, 0, result.stdout + result.stderr);
  }
  assert.ok(existsSync(path.join(EXAMPLE, 'package-lock.json')));
});

test('nix: the end-to-end checks with real nixpkgs', (t) => {
  // checks.<system>.e2e-* build with the real nixpkgs: the example's node_modules for the machine's own
  // arch (strategy cached: Node.js from the binary cache, better-sqlite3 compiled here) answering
  // SQLite's version, and the amd64 and aarch64 images. They need GitHub and cache.nixos.org and
  // Nix >= 2.18; this repository's CI runs them on a runner of each system. Opt in with ADDONIX_E2E=1.
  if (process.env['ADDONIX_E2E'] !== '1') {
    t.skip('needs real nixpkgs (GitHub, cache.nixos.org) and Nix >= 2.18, which this machine cannot reach or has not; set ADDONIX_E2E=1 where they are (this repository\'s e2e CI jobs do)');
    return;
  }
  const result = spawnSync('nix', ['--extra-experimental-features', 'nix-command flakes', 'flake', 'check', '-L'], { cwd: REPO, encoding: 'utf8', stdio: 'inherit' });
  assert.equal(result.status, 0);
});
