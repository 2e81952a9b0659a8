/**
 * The Nix library's logic built for real, through the nixpkgs stand-in (test/nixpkgs-stand-in: host
 * compilers, Debian's cross compilers, zig for musl, official Node.js builds; npm tarballs fetched by
 * their lockfile hash): node_modules laid out as `npm ci` lays them out, better-sqlite3 compiled from
 * source for amd64 and aarch64 and answering SQLite's version (aarch64 under qemu-aarch64-static), the
 * musl prebuilds linked against musl, a second add-on's images loading into Podman and its app running
 * under QEMU for armv7.
 *
 * Everything is built by one nix-build (two jobs at once): a cold run takes a few minutes, mostly zig
 * building musl and libc++ for aarch64 and compiling SQLite; the Nix store keeps the results.
 */
import { before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hasTool, REPO, runCli } from './helpers.js';
import { buildAttrs, nixPath, withLibrary } from './nix-helpers.js';

const EXAMPLE = path.join(REPO, 'examples', 'sqlite-notes');
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'garage-door');
const TOOLS = ['nix-build', 'qemu-aarch64-static', 'qemu-arm-static', 'aarch64-linux-gnu-g++', 'arm-linux-gnueabihf-g++', 'readelf', 'podman', 'npm'];
const SQLITE_VERSION = "const D = require('better-sqlite3'); console.log(new D(':memory:').prepare('select sqlite_version() as v').get().v)";

interface Built {
  exampleAmd64: string;
  exampleAarch64: string;
  exampleAarch64Musl: string;
  prebuildsAarch64: string;
  garageModulesAmd64: string;
  garageImageAmd64: string;
  garageImageArmv7: string;
  garageStreamArmv7: string;
  nodeAmd64: string;
  nodeAarch64: string;
  nodeArmv7: string;
  cli: string;
}

let built: Built | undefined;
let skipReason: string | undefined;
let garageDir: string | undefined;

function expression(garage: string): string {
  const images = (dir: string, args: string) => `addonix.mkAddonImages {
    inherit pkgs;
    src = ${nixPath(dir)};
    addon = dataOf ${nixPath(dir)} "addon";
    npmDeps = dataOf ${nixPath(dir)} "npm-deps";
    ${args}
  }`;
  return withLibrary(`let
  exampleGlibc = ${images(EXAMPLE, 'libc = "glibc";')};
  exampleMusl = ${images(EXAMPLE, '')};
  garage = ${images(garage, 'libc = "glibc";')};
  target = config: import ${nixPath(path.join(REPO, 'test', 'nixpkgs-stand-in'))} { crossSystem = { inherit config; }; };
in {
  exampleAmd64 = exampleGlibc.nodeModules.amd64;
  exampleAarch64 = exampleGlibc.nodeModules.aarch64;
  exampleAarch64Musl = exampleMusl.nodeModules.aarch64;
  prebuildsAarch64 = addonix.prebuildsFor { inherit pkgs; arch = "aarch64"; };
  garageModulesAmd64 = garage.nodeModules.amd64;
  garageImageAmd64 = garage.images.amd64;
  garageImageArmv7 = garage.images.armv7;
  garageStreamArmv7 = garage.streams.armv7;
  nodeAmd64 = pkgs.nodejs;
  nodeAarch64 = (target "aarch64-unknown-linux-gnu").nodejs;
  nodeArmv7 = (target "armv7l-unknown-linux-gnueabihf").nodejs;
  cli = addonix.cli pkgs;
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
  const attrs = ['exampleAmd64', 'exampleAarch64', 'exampleAarch64Musl', 'prebuildsAarch64', 'garageModulesAmd64', 'garageImageAmd64', 'garageImageArmv7', 'garageStreamArmv7', 'nodeAmd64', 'nodeAarch64', 'nodeArmv7', 'cli'];
  const paths = buildAttrs(expression(garageDir), attrs, ['--max-jobs', '2', '--cores', '1']);
  built = Object.fromEntries(attrs.map((attr, i) => [attr, paths[i]])) as unknown as Built;
});

function ready(t: TestContext): Built | undefined {
  if (skipReason) {
    t.skip(skipReason);
    return undefined;
  }
  return built;
}

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

test('nix build: node_modules holds what npm ci lays out, bin links included (second add-on)', (t) => {
  const result = ready(t);
  if (!result) return;
  const nix = tree(path.join(result.garageModulesAmd64, 'node_modules'));
  const npm = npmCiTree(t, garageDir!, () => false);
  assert.deepEqual([...nix.entries()], [...npm.entries()]);
  // The nested copy and the bin link are there.
  assert.equal(nix.get('debug/node_modules/ms'), 'dir');
  assert.equal(nix.get('.bin/semver'), 'link:../semver/bin/semver.js');
});

test('nix build: the example node_modules is npm ci\'s, plus better-sqlite3 compiled, minus its prebuilds', (t) => {
  const result = ready(t);
  if (!result) return;
  const compiled = (relative: string) => /^better-sqlite3\/(build|prebuilds)(\/|$)/.test(relative);
  const nix = tree(path.join(result.exampleAmd64, 'node_modules'), compiled);
  const npm = npmCiTree(t, EXAMPLE, compiled);
  assert.deepEqual([...nix.keys()], [...npm.keys()]);
  assert.ok(existsSync(path.join(result.exampleAmd64, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')));
  assert.ok(!existsSync(path.join(result.exampleAmd64, 'node_modules/better-sqlite3/prebuilds')), 'the shipped prebuilds are deleted');
});

test('nix build: better-sqlite3 compiled for amd64 answers select sqlite_version()', (t) => {
  const result = ready(t);
  if (!result) return;
  const addon = path.join(result.exampleAmd64, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
  assert.match(execFileSync('readelf', ['-h', addon], { encoding: 'utf8' }), /Machine:\s+Advanced Micro Devices X86-64/);
  const version = execFileSync(path.join(result.nodeAmd64, 'bin', 'node'), ['-e', SQLITE_VERSION], { cwd: result.exampleAmd64, encoding: 'utf8' }).trim();
  assert.match(version, /^3\.\d+\.\d+$/);
});

test('nix build: better-sqlite3 cross-compiled for aarch64 loads in an aarch64 Node.js under QEMU', (t) => {
  const result = ready(t);
  if (!result) return;
  const addon = path.join(result.exampleAarch64, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
  assert.match(execFileSync('readelf', ['-h', addon], { encoding: 'utf8' }), /Machine:\s+AArch64/);
  const node = path.join(result.nodeAarch64, 'bin', 'node');
  assert.match(execFileSync('readelf', ['-h', node], { encoding: 'utf8' }), /Machine:\s+AArch64/, 'the Node.js that loads it is an aarch64 one');
  const run = spawnSync('qemu-aarch64-static', ['-L', '/usr/aarch64-linux-gnu', node, '-e', SQLITE_VERSION], { cwd: result.exampleAarch64, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout.trim(), /^3\.\d+\.\d+$/);
  // The same SQLite the amd64 build answers: one source, two targets.
  const amd64 = execFileSync(path.join(result.nodeAmd64, 'bin', 'node'), ['-e', SQLITE_VERSION], { cwd: result.exampleAmd64, encoding: 'utf8' }).trim();
  assert.equal(run.stdout.trim(), amd64);
});

/** The libc an ELF file links against, from its dynamic section and version needs. */
function linkedLibc(file: string): { machine: string; needed: string[]; glibcVersions: boolean } {
  const header = execFileSync('readelf', ['-h', file], { encoding: 'utf8' });
  const dynamic = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
  const versions = execFileSync('readelf', ['-V', file], { encoding: 'utf8' });
  return {
    machine: /Machine:\s+(.+)/.exec(header)![1]!.trim(),
    needed: [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]!),
    glibcVersions: /GLIBC_\d/.test(versions),
  };
}

test('nix build: the musl prebuilds for aarch64 are linked against musl, in both better-sqlite3 forms', (t) => {
  const result = ready(t);
  if (!result) return;
  const files = readdirSync(result.prebuildsAarch64).sort();
  const v12 = files.find((name) => name.endsWith('.tar.gz'));
  const v13 = files.find((name) => name.startsWith('better-sqlite3-v13'));
  assert.ok(v12 && v13, files.join(', '));
  // prebuild-install's name: better-sqlite3-v<version>-node-v<NODE_MODULE_VERSION>-linuxmusl-<cpu>.tar.gz
  assert.match(v12, /^better-sqlite3-v12\.\d+\.\d+-node-v\d+-linuxmusl-arm64\.tar\.gz$/);
  const unpacked = mkdtempSync(path.join(tmpdir(), 'addonix-prebuild-'));
  t.after(() => rmSync(unpacked, { recursive: true, force: true }));
  execFileSync('tar', ['-xzf', path.join(result.prebuildsAarch64, v12), '-C', unpacked]);
  assert.deepEqual(readdirSync(path.join(unpacked, 'build', 'Release')), ['better_sqlite3.node']);
  const v13File = path.join(result.prebuildsAarch64, v13, 'prebuilds', 'linuxmusl-arm64.node');
  for (const file of [path.join(unpacked, 'build/Release/better_sqlite3.node'), v13File]) {
    const elf = linkedLibc(file);
    assert.equal(elf.machine, 'AArch64', file);
    assert.ok(elf.needed.some((name) => /^libc\.so$|^ld-musl-/.test(name)), `${file} needs musl's libc.so: ${elf.needed.join(', ')}`);
    assert.ok(!elf.needed.includes('libc.so.6'), `${file} needs glibc`);
    assert.equal(elf.glibcVersions, false, `${file} asks for GLIBC_ symbol versions`);
  }
  // The example's own aarch64 musl node_modules is compiled the same way.
  const example = linkedLibc(path.join(result.exampleAarch64Musl, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'));
  assert.equal(example.machine, 'AArch64');
  assert.ok(!example.needed.includes('libc.so.6') && !example.glibcVersions);
});

/** The docker-archive's manifest and config. */
function readArchive(t: TestContext, archive: string): { manifest: { Config: string; RepoTags: string[]; Layers: string[] }; config: any; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'addonix-archive-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('tar', ['-xzf', archive, '-C', dir]);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))[0];
  return { manifest, config: JSON.parse(readFileSync(path.join(dir, manifest.Config), 'utf8')), dir };
}

test('nix build: the second add-on\'s images: config from the add-on, the stream loadable by Podman', (t) => {
  const result = ready(t);
  if (!result) return;
  const inspected = JSON.parse(runCli(['inspect', garageDir!, '--json']).stdout);
  for (const [arch, archive] of [['amd64', result.garageImageAmd64], ['armv7', result.garageImageArmv7]] as const) {
    const { manifest, config } = readArchive(t, archive);
    const model = inspected.arches.find((a: { arch: string }) => a.arch === arch);
    assert.deepEqual(manifest.RepoTags, [model.image]);
    assert.equal(config.architecture, model.platform.architecture);
    assert.equal(config.os, 'linux');
    assert.equal(config.created, '1970-01-01T00:00:01Z');
    assert.deepEqual(config.config.Labels, model.labels);
    assert.deepEqual(config.config.Entrypoint, ['/bin/node', 'index.js']);
    assert.ok(config.config.Env.includes('LOG_FORMAT=json'));
    assert.deepEqual(Object.keys(config.config.ExposedPorts), ['8123/tcp']);
    assert.equal(config.config.WorkingDir, '/app');
    assert.equal(config.rootfs.diff_ids.length, manifest.Layers.length);
  }
  // Podman takes the stream script's output, which is what the load-<arch> app pipes into it. (The
  // .tar.gz holds the same archive, gzipped: Docker reads it as it is, Podman 4 only once gunzipped.)
  const storage = mkdtempSync(path.join(tmpdir(), 'addonix-podman-'));
  t.after(() => rmSync(storage, { recursive: true, force: true }));
  const podman = `podman --root '${storage}/root' --runroot '${storage}/run' --storage-driver vfs`;
  const armv7 = inspected.arches.find((a: { arch: string }) => a.arch === 'armv7').image;
  for (const source of [`'${result.garageStreamArmv7}'`]) {
    const load = spawnSync('bash', ['-c', `set -o pipefail; ${source} | ${podman} load && ${podman} image inspect '${armv7}' && ${podman} rmi -a >/dev/null`], { encoding: 'utf8' });
    assert.equal(load.status, 0, load.stderr);
    const image = JSON.parse(load.stdout.slice(load.stdout.indexOf('[')))[0];
    assert.equal(image.Architecture, 'arm', source);
    assert.equal(image.Labels['io.hass.arch'], 'armv7');
    assert.deepEqual(image.Config.Entrypoint, ['/bin/node', 'index.js']);
  }
});

test('nix build: the second add-on\'s armv7 image holds its app, node_modules and an armv7 Node.js that runs them under QEMU', (t) => {
  const result = ready(t);
  if (!result) return;
  const { manifest, dir } = readArchive(t, result.garageImageArmv7);
  const root = path.join(dir, 'rootfs');
  execFileSync('mkdir', ['-p', root]);
  for (const layer of manifest.Layers) execFileSync('tar', ['-xf', path.join(dir, layer), '-C', root]);
  // The image root links into /nix/store, which the layers hold: the same paths as on this machine.
  const node = readlinkSync(path.join(root, 'bin', 'node'));
  const app = path.dirname(readlinkSync(path.join(root, 'app', 'index.js')));
  const modules = readlinkSync(path.join(root, 'app', 'node_modules'));
  for (const stored of [node, app, modules]) assert.ok(existsSync(path.join(root, stored)), `${stored} is in the image`);
  assert.match(execFileSync('readelf', ['-h', path.join(root, node)], { encoding: 'utf8' }), /Machine:\s+ARM/);
  assert.ok(existsSync(path.join(root, 'etc/ssl/certs/ca-bundle.crt')), 'CA certificates');
  // The entrypoint, /bin/node index.js in /app, run by the image's own armv7 Node.js.
  const run = spawnSync('qemu-arm-static', ['-L', '/usr/arm-linux-gnueabihf', path.join(root, node), 'index.js'], { cwd: app, encoding: 'utf8', timeout: 120_000 });
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
  // Only what runs: no dev dependencies, no TypeScript sources beside the compiled ones.
  const installed = path.join(result.cli, 'lib', 'node_modules', 'addonix');
  assert.ok(existsSync(path.join(installed, 'dist', 'src', 'cli', 'main.js')));
  assert.ok(!existsSync(path.join(installed, 'node_modules', 'typescript')), 'typescript was pruned');
});
