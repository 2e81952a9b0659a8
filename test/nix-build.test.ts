/**
 * The Nix library's logic built for real, through the nixpkgs stand-in (test/nixpkgs-stand-in: host
 * compilers, Debian's clang, lld and cross sysroots, zig for musl, official Node.js builds linked to the
 * stand-in's glibc; npm tarballs fetched by their lockfile hash), and the images opened:
 * - node_modules laid out as `npm ci` lays them out, native addons compiled for the target, stripped,
 *   without gyp's build tree, and nothing of the build machine inside any image (every ELF file of the
 *   image's machine, no store path of the build machine's python3, node-gyp, Node.js or compilers);
 * - the example's amd64 and aarch64 images (strategy "cached") run their app's SQLite with their own
 *   Node.js, aarch64 under QEMU with nothing of the host's;
 * - the musl prebuilds for Alpine: the C++ runtime linked in, no RUNPATH, only musl's libc needed;
 * - every ELF file of every image finds its libraries in the image: no RUNPATH folder that provides
 *   nothing (nixpkgs' self RUNPATH), nothing needed that is missing; the image root holds only what runs;
 * - an addon that links a system library (the stand-in's zlib, from Debian's amd64 and arm64 packages)
 *   gets a RUNPATH to its store path, which the image holds, and loads (aarch64 under QEMU);
 * - the stand-in's stdenv links as nixpkgs' does (CC set, self RUNPATH, -L RUNPATHs, shrink in fixup);
 * - a binary the lockfile pins (better-sqlite3's own prebuild) used when asked;
 * - a second add-on's images load into Podman and its armv7 app runs under QEMU.
 *
 * Everything is built by one nix-build (two jobs at once): a cold run takes several minutes, mostly
 * compiling SQLite (five times: three arches of the example, two versions of the armv7 prebuilds) and
 * zig building musl and libc++ for armv7; the Nix store keeps the results. The aarch64 prebuilds, the
 * same recipe for another target, are evaluated, not built.
 */
import { before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hasTool, hostLlvm, REPO, runCli } from './helpers.js';
import { buildAttrs, derivationGraph, evalJson, instantiate, nixPath, withLibrary } from './nix-helpers.js';
import { ELF_MACHINES, foreignElfFiles, libraryProblems, rootProblems, storePaths, unpackImage, type UnpackedImage } from './image-audit.js';

const EXAMPLE = path.join(REPO, 'examples', 'sqlite-notes');
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'garage-door');
const ZLIB_FIXTURE = path.join(REPO, 'test', 'fixtures', 'zlib-reader');
const LLVM = hostLlvm();
const TOOLS = ['nix-build', 'qemu-aarch64-static', 'qemu-arm-static', LLVM ? `clang-${LLVM}` : 'clang', LLVM ? `ld.lld-${LLVM}` : 'ld.lld', 'aarch64-linux-gnu-g++', 'arm-linux-gnueabihf-g++', 'readelf', 'patchelf', 'podman', 'npm'];
const SQLITE_VERSION = "const D = require('better-sqlite3'); console.log(new D(':memory:').prepare('select sqlite_version() as v').get().v)";

const ATTRS = [
  'exampleStreamAmd64', 'exampleStreamAarch64', 'exampleStreamArmv7',
  'exampleModulesAmd64', 'exampleModulesAarch64', 'exampleModulesArmv7', 'prebuiltModulesAarch64',
  'prebuildsArmv7',
  'garageModulesAmd64', 'garageImageAmd64', 'garageStreamArmv7', 'cli', 'leakyStreamAarch64',
  'zlibStreamAmd64', 'zlibStreamAarch64', 'zlibModulesAarch64', 'zlibAarch64',
  'linkPlain', 'linkNoSelfRpath', 'linkDontSetRpath', 'linkPhases',
] as const;
type Built = Record<(typeof ATTRS)[number], string>;

let built: Built | undefined;
let skipReason: string | undefined;
let garageDir: string | undefined;
let zlibDir: string | undefined;
/** Store paths of the build machine's tools, which no image may hold. */
let buildTools: Record<string, string> = {};

function expression(garage: string, zlibReader: string): string {
  const images = (dir: string, args: string) => `addonix.mkAddonImages {
    inherit pkgs packageSets;
    src = ${nixPath(dir)};
    addon = dataOf ${nixPath(dir)} "addon";
    npmDeps = dataOf ${nixPath(dir)} "npm-deps";
    ${args}
  }`;
  return withLibrary(`let
  packageSets = addonix.packageSets { inherit pkgs; };
  example = ${images(EXAMPLE, '')};
  prebuilt = ${images(EXAMPLE, 'usePrebuilt = [ "better-sqlite3" ];')};
  garage = ${images(garage, 'libc = "glibc";')};
  zlibReader = ${images(zlibReader, 'systemLibraries = { zlib-version = [ "zlib" ]; };')};
  selfRunpath = pkgs.stdenv.mkDerivation { name = "self-runpath"; buildCommand = "mkdir -p $out/lib; echo 'int f(void) { return 0; }' > f.c; $CC -shared -fPIC f.c -o $out/lib/libselfrunpath.so"; };
  zlibProbe = builtins.toFile "probe.c" "#include <zlib.h>\nconst char *probe(void) { return zlibVersion(); }\n";
  linkCommand = "mkdir -p $out/lib; echo CC=$CC > $out/cc; $CC -shared -fPIC \${zlibProbe} -lz -o $out/lib/probe.so";
  link = attrs: pkgs.stdenv.mkDerivation ({ name = "stand-in-link"; buildInputs = [ pkgs.zlib ]; } // attrs);
in {
  exampleStreamAmd64 = example.streams.amd64;
  exampleStreamAarch64 = example.streams.aarch64;
  exampleStreamArmv7 = example.streams.armv7;
  exampleModulesAmd64 = example.nodeModules.amd64;
  exampleModulesAarch64 = example.nodeModules.aarch64;
  exampleModulesArmv7 = example.nodeModules.armv7;
  prebuiltModulesAarch64 = prebuilt.nodeModules.aarch64;
  prebuildsArmv7 = addonix.prebuildsFor { inherit pkgs packageSets; arch = "armv7"; };
  garageModulesAmd64 = garage.nodeModules.amd64;
  garageImageAmd64 = garage.images.amd64;
  garageStreamArmv7 = garage.streams.armv7;
  cli = addonix.cli pkgs;
  # A control for the audit: the build machine's python3, an x86_64 shell (busybox whole: its
  # default.script at /) and a library linked with nixpkgs' self RUNPATH put into an aarch64 image.
  leakyStreamAarch64 = (${images(EXAMPLE, 'buildArches = [ "aarch64" ]; extraContents = _: [ pkgs.python3 pkgs.busybox selfRunpath ];')}).streams.aarch64;
  zlibStreamAmd64 = zlibReader.streams.amd64;
  zlibStreamAarch64 = zlibReader.streams.aarch64;
  zlibModulesAarch64 = zlibReader.nodeModules.aarch64;
  zlibAarch64 = packageSets.native.aarch64-linux.glibc.zlib;
  # The stand-in's stdenv: one shared object linking zlib, four ways.
  linkPlain = link { buildCommand = linkCommand; };
  linkNoSelfRpath = link { NIX_NO_SELF_RPATH = true; buildCommand = linkCommand; };
  linkDontSetRpath = link { NIX_DONT_SET_RPATH = true; buildCommand = linkCommand; };
  linkPhases = link { buildPhase = "$CC -shared -fPIC \${zlibProbe} -lz -o probe.so"; installPhase = "mkdir -p $out/lib; cp probe.so $out/lib/"; };
}`);
}

before(() => {
  const missing = TOOLS.filter((tool) => !hasTool(tool));
  if (missing.length > 0) {
    skipReason = `needs ${missing.join(', ')} (scripts/test-all installs them with apt-get)`;
    if (process.env['CI'] === 'true') throw new Error(`${skipReason}; under CI=true a missing tool is a failure`);
    return;
  }
  garageDir = mkdtempSync(path.join(tmpdir(), 'addonix-garage-'));
  cpSync(FIXTURE, garageDir, { recursive: true });
  const generated = runCli(['generate', garageDir]);
  assert.equal(generated.status, 0, generated.stderr);
  // The zlib add-on's dependency packed and locked as npm does it (a file: tarball beside package.json).
  zlibDir = mkdtempSync(path.join(tmpdir(), 'addonix-zlib-reader-'));
  cpSync(ZLIB_FIXTURE, zlibDir, { recursive: true });
  execFileSync('npm', ['pack', '--pack-destination', zlibDir], { cwd: path.join(zlibDir, 'zlib-version'), stdio: 'pipe' });
  execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], { cwd: zlibDir, stdio: 'pipe' });
  const zlibGenerated = runCli(['generate', zlibDir]);
  assert.equal(zlibGenerated.status, 0, zlibGenerated.stderr);
  const paths = buildAttrs(expression(garageDir, zlibDir), [...ATTRS], ['--max-jobs', '2', '--cores', '1']);
  built = Object.fromEntries(ATTRS.map((attr, i) => [attr, paths[i]])) as Built;
  buildTools = evalJson<Record<string, string>>(withLibrary(`{
    python3 = pkgs.python3.outPath;
    node-gyp = pkgs.node-gyp.outPath;
    nodejs = pkgs.nodejs.outPath;
    cc = pkgs.stdenv.cc.outPath;
    clang = pkgs.llvmPackages.clang-unwrapped.outPath;
    clang-lib = pkgs.llvmPackages.clang-unwrapped.lib.outPath;
    bintools = pkgs.llvmPackages.bintools-unwrapped.outPath;
  }`));
});

function ready(t: TestContext): Built | undefined {
  if (skipReason) {
    t.skip(skipReason);
    return undefined;
  }
  return built;
}

const unpacked = new Map<string, UnpackedImage>();
/** The image a stream script streams, unpacked once (removed when the tests end). */
function image(stream: string): UnpackedImage {
  let found = unpacked.get(stream);
  if (!found) {
    found = unpackImage(stream);
    unpacked.set(stream, found);
  }
  return found;
}
process.on('exit', () => {
  for (const { root } of unpacked.values()) rmSync(path.dirname(root), { recursive: true, force: true });
  if (garageDir) rmSync(garageDir, { recursive: true, force: true });
  if (zlibDir) rmSync(zlibDir, { recursive: true, force: true });
});

/** Every entry under a folder: path → 'dir' | 'file' | 'link:<target>'. */
function tree(root: string, skip: (relative: string) => boolean = () => false): Map<string, string> {
  const entries = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      const relative = path.relative(root, file);
      if (skip(relative)) continue;
      const stat = lstatSync(file);
      if (stat.isSymbolicLink()) entries.set(relative, `link:${readlinkSync(file)}`);
      else if (stat.isDirectory()) {
        entries.set(relative, 'dir');
        walk(file);
      } else entries.set(relative, 'file');
    }
  };
  walk(root);
  return entries;
}

/** What `npm ci --omit=dev --ignore-scripts` lays out for a project (the oracle the npm stage uses). */
function npmCiTree(t: TestContext, project: string, skip: (relative: string) => boolean): Map<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'addonix-npm-ci-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(path.join(project, 'package.json'), path.join(dir, 'package.json'));
  cpSync(path.join(project, 'package-lock.json'), path.join(dir, 'package-lock.json'));
  execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'pipe', env: { ...process.env, npm_config_nodedir: '' } });
  return tree(path.join(dir, 'node_modules'), (relative) => relative === '.package-lock.json' || skip(relative));
}

/** The dynamic section and version needs of an ELF file. */
function dynamic(file: string): { machine: string; needed: string[]; runpath: string[]; glibcVersions: boolean; glibcxxVersions: boolean } {
  const header = execFileSync('readelf', ['-h', file], { encoding: 'utf8' });
  const section = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
  const versions = execFileSync('readelf', ['-V', file], { encoding: 'utf8' });
  return {
    machine: /Machine:\s+(.+)/.exec(header)![1]!.trim(),
    needed: [...section.matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]!),
    runpath: [...section.matchAll(/\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[(.+?)\]/g)].flatMap((m) => m[1]!.split(':')),
    glibcVersions: /GLIBC_\d/.test(versions),
    glibcxxVersions: /GLIBCXX_\d/.test(versions),
  };
}

/** The image's Node.js (resolved inside its root) and the folder its app is in. */
function imageApp(root: string): { node: string; app: string } {
  return { node: path.join(root, readlinkSync(path.join(root, 'bin', 'node'))), app: path.join(root, 'app') };
}

test('nix build: node_modules holds what npm ci lays out, bin links included (second add-on)', (t) => {
  const result = ready(t);
  if (!result) return;
  const nix = tree(path.join(result.garageModulesAmd64, 'node_modules'));
  const npm = npmCiTree(t, garageDir!, () => false);
  assert.deepEqual([...nix.entries()], [...npm.entries()]);
  assert.equal(nix.get('debug/node_modules/ms'), 'dir');
  assert.equal(nix.get('.bin/semver'), 'link:../semver/bin/semver.js');
});

test('nix build: the example node_modules is npm ci\'s, with better-sqlite3\'s stripped .node files instead of its prebuilds and gyp\'s build tree', (t) => {
  const result = ready(t);
  if (!result) return;
  const compiled = (relative: string) => /^better-sqlite3\/(build|prebuilds)(\/|$)/.test(relative);
  for (const modules of [result.exampleModulesAmd64, result.exampleModulesAarch64, result.exampleModulesArmv7]) {
    const nix = tree(path.join(modules, 'node_modules'), compiled);
    const npm = npmCiTree(t, EXAMPLE, compiled);
    assert.deepEqual([...nix.keys()], [...npm.keys()], modules);
    const build = path.join(modules, 'node_modules/better-sqlite3/build');
    assert.deepEqual(readdirSync(build), ['Release'], `${modules}: only build/Release is kept`);
    const release = readdirSync(path.join(build, 'Release'));
    assert.ok(release.includes('better_sqlite3.node') && release.every((name) => name.endsWith('.node')), release.join(', '));
    assert.ok(!existsSync(path.join(modules, 'node_modules/better-sqlite3/prebuilds')), 'the shipped prebuilds are deleted');
    const section = execFileSync('readelf', ['-S', path.join(build, 'Release', 'better_sqlite3.node')], { encoding: 'utf8' });
    assert.doesNotMatch(section, /\.debug_info/, 'stripped');
  }
});

test('nix build: the amd64 image (strategy cached) runs its app\'s SQLite with its own Node.js', (t) => {
  const result = ready(t);
  if (!result) return;
  const { root, config } = image(result.exampleStreamAmd64);
  assert.equal(config.architecture, 'amd64');
  const { node, app } = imageApp(root);
  const version = execFileSync(node, ['-e', SQLITE_VERSION], { cwd: app, encoding: 'utf8' }).trim();
  assert.match(version, /^3\.\d+\.\d+$/);
});

test('nix build: the aarch64 image (strategy cached, better-sqlite3 compiled by clang over the cached glibc) runs its SQLite under QEMU with nothing of the host', (t) => {
  const result = ready(t);
  if (!result) return;
  const { root, config } = image(result.exampleStreamAarch64);
  assert.equal(config.architecture, 'arm64');
  const { node, app } = imageApp(root);
  const addon = dynamic(path.join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'));
  assert.equal(addon.machine, 'AArch64');
  // libstdc++ of the image's own Node.js (the target's GCC), not the build machine's.
  assert.ok(addon.needed.includes('libstdc++.so.6') && addon.runpath.every((dir) => existsSync(path.join(root, dir))), `${addon.runpath.join(':')} is in the image`);
  // -L is the image root: the loader, libc and libstdc++ are the image's.
  const run = spawnSync('qemu-aarch64-static', ['-L', root, node, '-e', SQLITE_VERSION], { cwd: app, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout.trim(), /^3\.\d+\.\d+$/);
});

/**
 * What an image holds of the build machine (ELF files of another machine, store paths of its tools),
 * how its ELF files find their libraries (image-audit.ts: libraryProblems; `needed: false` for the musl
 * images, whose Node.js the stand-in takes from a glibc build), and what its root holds that does not run.
 */
function auditImage(stream: string, { needed = true }: { needed?: boolean } = {}): string[] {
  const forbidden = new Map(Object.entries(buildTools).map(([name, outPath]) => [outPath, name]));
  // Compilers and their runtimes by name: a cross compiler, zig, the clang sysroot.
  const compilerName = /-(cc-wrapper-[^/]*|zig-[0-9][^/]*|zig-cache-[^/]*|addonix-cc-[^/]*|clang-(?:[0-9][^/]*|host)|llvm-binutils-[^/]*|gcc-(?:[0-9.]+|host)|glibc-[0-9.]+-dev|node-gyp-[^/]*|python3-[^/]*)$/;
  const { root, config } = image(stream);
  const problems = foreignElfFiles(root, ELF_MACHINES[config.architecture]!).map((f) => `${f.file} is an ELF file for machine ${f.machine}`);
  const paths = storePaths(root);
  if (paths.length === 0) problems.push('the image holds no store path');
  for (const stored of paths) {
    if (forbidden.has(stored)) problems.push(`the build machine's ${forbidden.get(stored)} (${stored})`);
    else if (compilerName.test(stored)) problems.push(`a compiler's path (${stored})`);
  }
  problems.push(...libraryProblems(root, { needed }), ...rootProblems(root));
  return problems;
}

test('nix build: no image holds anything of the build machine: every ELF file is of the image\'s machine, no store path of its tools', (t) => {
  const result = ready(t);
  if (!result) return;
  const images = [
    ['amd64', result.exampleStreamAmd64, true],
    ['aarch64', result.exampleStreamAarch64, true],
    ['armv7 (musl)', result.exampleStreamArmv7, false],
    ['armv7 (second add-on, musl)', result.garageStreamArmv7, false],
    ['amd64 (zlib add-on)', result.zlibStreamAmd64, true],
    ['aarch64 (zlib add-on)', result.zlibStreamAarch64, true],
  ] as const;
  for (const [arch, stream, needed] of images) {
    assert.deepEqual(auditImage(stream, { needed }).slice(0, 5), [], arch);
  }
  // The audit sees a leak where there is one.
  const leaky = auditImage(result.leakyStreamAarch64);
  assert.ok(leaky.some((problem) => /is an ELF file for machine 62/.test(problem)), leaky.join('\n'));
  assert.ok(leaky.some((problem) => /the build machine's python3/.test(problem)), leaky.join('\n'));
  assert.ok(leaky.some((problem) => /libselfrunpath\.so: its RUNPATH folder \/nix\/store\/[a-z0-9]{32}-self-runpath\/lib holds none of the libraries it needs/.test(problem)), leaky.join('\n'));
  assert.ok(leaky.some((problem) => problem === '/default.script is at the image root'), leaky.join('\n'));
});

test('nix build: the stand-in links as nixpkgs\' stdenv does: CC set by the wrapper, -rpath $out/lib unless NIX_NO_SELF_RPATH (NIX_DONT_SET_RPATH does not stop it), a RUNPATH to each -L folder holding a -l library unless NIX_DONT_SET_RPATH, shrunk only where the fixup phase runs', (t) => {
  const result = ready(t);
  if (!result) return;
  const runpath = (out: string) => dynamic(path.join(out, 'lib', 'probe.so')).runpath;
  const zlib = (dirs: string[]) => dirs.filter((dir) => /-zlib-[0-9.]+\/lib$/.test(dir));
  assert.equal(readFileSync(path.join(result.linkPlain, 'cc'), 'utf8').trim(), 'CC=gcc');
  const plain = runpath(result.linkPlain);
  assert.equal(plain[0], `${result.linkPlain}/lib`, 'the self RUNPATH comes first, as setup.sh prepends it');
  assert.equal(zlib(plain).length, 1, plain.join(':'));
  assert.deepEqual(runpath(result.linkNoSelfRpath), plain.slice(1));
  assert.deepEqual(runpath(result.linkDontSetRpath), [`${result.linkDontSetRpath}/lib`]);
  // patchelf --shrink-rpath keeps the folders that hold a needed library: zlib's.
  assert.deepEqual(runpath(result.linkPhases), zlib(plain));
});

test('nix build: an addon linking a system library (zlib, its own store path from Debian\'s packages) gets a RUNPATH to it and no self RUNPATH; the image holds the library; it loads in amd64 and, under QEMU, aarch64', (t) => {
  const result = ready(t);
  if (!result) return;
  const addonFile = 'node_modules/zlib-version/build/Release/zlib_version.node';
  const addon = dynamic(path.join(result.zlibModulesAarch64, addonFile));
  assert.equal(addon.machine, 'AArch64');
  assert.ok(addon.needed.includes('libz.so.1'), addon.needed.join(', '));
  assert.ok(addon.runpath.includes(`${result.zlibAarch64}/lib`), `${addon.runpath.join(':')} names ${result.zlibAarch64}/lib`);
  for (const [stream, qemu] of [[result.zlibStreamAmd64, null], [result.zlibStreamAarch64, 'qemu-aarch64-static']] as const) {
    const { root } = image(stream);
    const { node, app } = imageApp(root);
    const inImage = dynamic(path.join(app, addonFile));
    const zlibDir = inImage.runpath.find((dir) => /-zlib-[0-9.]+\/lib$/.test(dir));
    assert.ok(zlibDir && existsSync(path.join(root, zlibDir, 'libz.so.1')), `${stream}: the RUNPATH ${inImage.runpath.join(':')} leads to libz.so.1 inside the image`);
    assert.ok(!inImage.runpath.some((dir) => /-zlib-version-/.test(dir)), `${stream}: no self RUNPATH: ${inImage.runpath.join(':')}`);
    const run = qemu
      ? spawnSync(qemu, ['-L', root, node, 'index.js'], { cwd: app, encoding: 'utf8', timeout: 120_000 })
      : spawnSync(node, ['index.js'], { cwd: app, encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    // zlib 1.3.1 (Debian 13's, as nixpkgs' 2026 revisions have it); crc32("addonix") computed by that zlib.
    assert.equal(run.stdout.trim(), 'zlib 1.3.1 crc32=84972c71');
  }
});

test('nix build: the musl prebuilds for Alpine link the C++ runtime in, need only musl\'s libc, and have no RUNPATH (armv7 built; the musl image\'s addon alike)', (t) => {
  const result = ready(t);
  if (!result) return;
  const names = readdirSync(result.prebuildsArmv7).sort();
  const v12 = names.find((name) => name.endsWith('.tar.gz'));
  const v13 = names.find((name) => name.startsWith('better-sqlite3-v13'));
  assert.ok(v12 && v13, names.join(', '));
  // prebuild-install's name: better-sqlite3-v<version>-node-v<NODE_MODULE_VERSION>-linuxmusl-<cpu>.tar.gz
  assert.match(v12, /^better-sqlite3-v12\.\d+\.\d+-node-v\d+-linuxmusl-arm\.tar\.gz$/);
  const unpackedTar = mkdtempSync(path.join(tmpdir(), 'addonix-prebuild-'));
  t.after(() => rmSync(unpackedTar, { recursive: true, force: true }));
  execFileSync('tar', ['-xzf', path.join(result.prebuildsArmv7, v12), '-C', unpackedTar]);
  assert.deepEqual(readdirSync(path.join(unpackedTar, 'build', 'Release')), ['better_sqlite3.node']);
  const files = [
    path.join(unpackedTar, 'build/Release/better_sqlite3.node'),
    path.join(result.prebuildsArmv7, v13, 'prebuilds', 'linuxmusl-arm.node'),
    path.join(result.exampleModulesArmv7, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'),
  ];
  for (const file of files) {
    const elf = dynamic(file);
    assert.equal(elf.machine, 'ARM', file);
    assert.deepEqual(elf.runpath, [], `${file} has a RUNPATH`);
    assert.deepEqual(elf.needed.filter((name) => !/^libc\.so$|^ld-musl-/.test(name)), [], `${file} needs more than musl's libc`);
    assert.equal(elf.glibcVersions, false, `${file} asks for GLIBC_ symbol versions`);
    assert.equal(elf.glibcxxVersions, false, `${file} asks for GLIBCXX_ symbol versions`);
  }
});

test('nix build: the aarch64 prebuilds are the same recipe for another target: v12 for three Node.js ABIs and v13, each compiled for aarch64-musl by that target\'s compiler (evaluated; armv7 is built above)', (t) => {
  if (!ready(t)) return;
  // Building them too would add zig's musl and libc++ for one more target and four SQLite compiles
  // (about 400 s of CPU on a cold store) to prove what armv7 proves; the derivations show the difference.
  const prebuilds = `(addonix.prebuildsFor { inherit pkgs; packageSets = addonix.packageSets { inherit pkgs; }; arch = "aarch64"; }).addons`;
  const addons = evalJson<{ name: string; target: string }[]>(withLibrary(`map (d: { inherit (d) name target; }) ${prebuilds}`));
  assert.deepEqual(addons.map((addon) => `${addon.name} ${addon.target}`), [
    ...['115', '127', '137'].map(() => 'better-sqlite3-12.11.1-aarch64-musl aarch64-musl'),
    'better-sqlite3-13.2.0-aarch64-musl aarch64-musl',
  ]);
  // Instantiated (the .drv files written), then their inputs read.
  const drvs = instantiate(withLibrary(`let addons = ${prebuilds}; in { v12 = builtins.elemAt addons 0; v13 = builtins.elemAt addons 3; }`), ['v12', 'v13']);
  const graph = derivationGraph(drvs);
  for (const drv of drvs) {
    const inputs = graph.get(drv)!.inputDrvs.map((input) => graph.get(input)?.name);
    assert.ok(inputs.includes('cc-wrapper-aarch64-unknown-linux-musl-'), `${graph.get(drv)!.name} is compiled by the aarch64-musl compiler: ${inputs.join(', ')}`);
  }
});

test('nix build: one better-sqlite3 compile per version and target, shared by a musl image and the prebuilds', (t) => {
  if (!ready(t)) return;
  // A musl image whose Node.js has the build machine's version compiles against the same headers as the
  // prebuilds. (The stand-in's armv7 Node.js is an older official build, so its armv7 image compiles
  // against its own: aarch64 shows the sharing.)
  const shared = evalJson<{ image: string[]; prebuilds: string[] }>(withLibrary(`let
  packageSets = addonix.packageSets { inherit pkgs; };
  dataOf = name: import (${nixPath(EXAMPLE)} + "/nix/\${name}.generated.nix");
  musl = addonix.mkAddonImages { inherit pkgs packageSets; src = ${nixPath(EXAMPLE)}; addon = dataOf "addon"; npmDeps = dataOf "npm-deps"; buildArches = [ "aarch64" ]; strategy = "cross"; libc = "musl"; };
in { image = map (d: d.drvPath) musl.nodeModules.aarch64.addons; prebuilds = map (d: d.drvPath) (addonix.prebuildsFor { inherit pkgs packageSets; arch = "aarch64"; }).addons; }`));
  assert.equal(shared.image.length, 1);
  assert.ok(shared.prebuilds.includes(shared.image[0]!), `${shared.image[0]} is among ${shared.prebuilds.join(', ')}`);
});

test('nix build: usePrebuilt takes the binary better-sqlite3\'s tarball ships for the target, which the aarch64 image\'s Node.js loads', (t) => {
  const result = ready(t);
  if (!result) return;
  const pkg = path.join(result.prebuiltModulesAarch64, 'node_modules/better-sqlite3');
  assert.deepEqual(readdirSync(path.join(pkg, 'prebuilds')), ['linux-arm64.node']);
  assert.ok(!existsSync(path.join(pkg, 'build')), 'nothing compiled');
  const { root } = image(result.exampleStreamAarch64);
  const { node } = imageApp(root);
  const run = spawnSync('qemu-aarch64-static', ['-L', root, node, '-e', SQLITE_VERSION], { cwd: result.prebuiltModulesAarch64, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout.trim(), /^3\.\d+\.\d+$/);
});

test('nix build: the second add-on\'s images: config from the add-on, the stream loadable by Podman, the armv7 app running under QEMU', (t) => {
  const result = ready(t);
  if (!result) return;
  const inspected = JSON.parse(runCli(['inspect', garageDir!, '--json']).stdout);
  // The gzip tarball (buildLayeredImage) for amd64.
  const dir = mkdtempSync(path.join(tmpdir(), 'addonix-archive-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('tar', ['-xzf', result.garageImageAmd64, '-C', dir]);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))[0];
  const config = JSON.parse(readFileSync(path.join(dir, manifest.Config), 'utf8'));
  const model = inspected.arches.find((a: { arch: string }) => a.arch === 'amd64');
  assert.deepEqual(manifest.RepoTags, [model.image]);
  assert.equal(config.architecture, model.platform.architecture);
  assert.equal(config.created, '1970-01-01T00:00:01Z');
  assert.deepEqual(config.config.Labels, model.labels);
  assert.deepEqual(config.config.Entrypoint, ['/bin/node', 'index.js']);
  assert.ok(config.config.Env.includes('LOG_FORMAT=json'));
  assert.deepEqual(Object.keys(config.config.ExposedPorts), ['8123/tcp']);
  assert.equal(config.config.WorkingDir, '/app');
  assert.equal(config.rootfs.diff_ids.length, manifest.Layers.length);
  // Podman takes the stream script's output, which is what the load-<arch> app pipes into it.
  const storage = mkdtempSync(path.join(tmpdir(), 'addonix-podman-'));
  t.after(() => rmSync(storage, { recursive: true, force: true }));
  const podman = `podman --root '${storage}/root' --runroot '${storage}/run' --storage-driver vfs`;
  const armv7 = inspected.arches.find((a: { arch: string }) => a.arch === 'armv7').image;
  const load = spawnSync('bash', ['-c', `set -o pipefail; '${result.garageStreamArmv7}' | ${podman} load && ${podman} image inspect '${armv7}' && ${podman} rmi -a >/dev/null`], { encoding: 'utf8' });
  assert.equal(load.status, 0, load.stderr);
  const loaded = JSON.parse(load.stdout.slice(load.stdout.indexOf('[')))[0];
  assert.equal(loaded.Architecture, 'arm');
  assert.equal(loaded.Labels['io.hass.arch'], 'armv7');
  assert.deepEqual(loaded.Config.Entrypoint, ['/bin/node', 'index.js']);
  // The entrypoint, /bin/node index.js in /app, run by the image's own armv7 Node.js and libc.
  const { root } = image(result.garageStreamArmv7);
  const { node, app } = imageApp(root);
  const run = spawnSync('qemu-arm-static', ['-L', root, node, 'index.js'], { cwd: app, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { is: 'function', debug: 'function', ms: 7_200_000, semver: '1.2.3' });
});

test('nix build: the addonix CLI package (what `nix run .#addonix` and the apps run) works', (t) => {
  const result = ready(t);
  if (!result) return;
  const cli = path.join(result.cli, 'bin', 'addonix');
  const version = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;
  assert.equal(execFileSync(cli, ['--version'], { encoding: 'utf8' }).trim(), version);
  const validate = spawnSync(cli, ['validate', EXAMPLE], { encoding: 'utf8' });
  assert.equal(validate.status, 0, validate.stdout + validate.stderr);
  const installed = path.join(result.cli, 'lib', 'node_modules', 'addonix');
  assert.ok(existsSync(path.join(installed, 'dist', 'src', 'cli', 'main.js')));
  assert.ok(!existsSync(path.join(installed, 'node_modules', 'typescript')), 'typescript was pruned');
});
