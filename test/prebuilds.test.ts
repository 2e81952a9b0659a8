/**
 * The better-sqlite3 prebuilds for Alpine's Node.js versions (nix/lib.nix prebuildsFor,
 * nix/node-headers.nix): one v12 tarball per Node.js ABI (115: Node 20, 127: Node 22, 137: Node 24), each
 * compiled against that release's headers, named as prebuild-install looks for them. There is no official
 * musl Node.js to load the musl files in, so the header-to-ABI step is proved on the same recipe built
 * for glibc (prebuildsFor libc = "glibc"): each twin loads in the official Node.js of its ABI (from the npm
 * registry, the very tarballs the headers come from) and answers SQLite's version, and is refused by
 * another. The musl files (armv7) are checked for their structure: the ABI's registration symbol, only
 * musl's libc needed, no RUNPATH.
 *
 * Cost on a cold store: three v12 compiles for amd64 glibc and four for armv7 musl (shared with
 * nix-build.test.ts's prebuilds), and the three official x64 Node.js tarballs (about 30 MB each); warm,
 * a few seconds.
 */
import { before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hasTool, REPO } from './helpers.js';
import { buildAttrs, nixPath, withLibrary } from './nix-helpers.js';

const ABIS = ['115', '127', '137'] as const;
const MAJORS: Record<(typeof ABIS)[number], string> = { '115': '20', '127': '22', '137': '24' };
const SQLITE_VERSION = "const D = require('better-sqlite3'); console.log(process.versions.modules + ' ' + new D(':memory:').prepare('select sqlite_version() as v').get().v)";

const ATTRS = ['twins', 'armv7', ...ABIS.map((abi) => `modules${abi}`), ...ABIS.map((abi) => `node${abi}`)];
let built: Record<string, string> | undefined;
let skipReason: string | undefined;
let work: string | undefined;

before(() => {
  const missing = ['nix-build', 'readelf', 'tar'].filter((tool) => !hasTool(tool));
  if (missing.length > 0) {
    skipReason = `needs ${missing.join(', ')} (scripts/test-all installs them with apt-get)`;
    if (process.env['CI'] === 'true') throw new Error(`${skipReason}; under CI=true a missing tool is a failure`);
    return;
  }
  const expression = withLibrary(`let
  packageSets = addonix.packageSets { inherit pkgs; };
  twins = addonix.prebuildsFor { inherit pkgs packageSets; arch = "amd64"; libc = "glibc"; };
  headers = import ${nixPath(path.join(REPO, 'nix', 'node-headers.nix'))} { util = import ${nixPath(path.join(REPO, 'nix', 'util.nix'))}; } { inherit pkgs; };
in {
  inherit twins;
  armv7 = addonix.prebuildsFor { inherit pkgs packageSets; arch = "armv7"; };
  ${ABIS.map((abi) => `modules${abi} = twins.nodeModules.v12."${abi}"; node${abi} = headers."${abi}".source;`).join('\n  ')}
}`);
  const paths = buildAttrs(expression, ATTRS, ['--max-jobs', '2', '--cores', '1']);
  built = Object.fromEntries(ATTRS.map((attr, i) => [attr, paths[i]!]));
  work = mkdtempSync(path.join(tmpdir(), 'addonix-prebuilds-'));
});

function ready(t: TestContext): Record<string, string> | undefined {
  if (skipReason) t.skip(skipReason);
  return built;
}

/** The official Node.js of an ABI: bin/node of its npm tarball, unpacked once. */
function officialNode(result: Record<string, string>, abi: string): string {
  const dir = path.join(work!, `node-${abi}`);
  execFileSync('mkdir', ['-p', dir]);
  execFileSync('tar', ['-xzf', result[`node${abi}`]!, '-C', dir, '--strip-components=1', 'package/bin/node']);
  return path.join(dir, 'bin', 'node');
}

test('prebuilds: a v12 tarball per Node.js ABI (115, 127, 137), named as prebuild-install looks for them, and the Node-API v13 file', (t) => {
  const result = ready(t);
  if (!result) return;
  for (const [dir, platform, cpu] of [[result['twins']!, 'linux', 'x64'], [result['armv7']!, 'linuxmusl', 'arm']] as const) {
    const names = readdirSync(dir).sort();
    assert.deepEqual(names, [...ABIS.map((abi) => `better-sqlite3-v12.11.1-node-v${abi}-${platform}-${cpu}.tar.gz`), 'better-sqlite3-v13.2.0'], dir);
    assert.deepEqual(readdirSync(path.join(dir, 'better-sqlite3-v13.2.0', 'prebuilds')), [`${platform}-${cpu}.node`]);
  }
});

test('prebuilds: each glibc twin loads in the official Node.js of its ABI, answers SQLite\'s version, and is refused by another', (t) => {
  const result = ready(t);
  if (!result) return;
  t.after(() => rmSync(work!, { recursive: true, force: true }));
  for (const abi of ABIS) {
    const node = officialNode(result, abi);
    assert.match(execFileSync(node, ['--version'], { encoding: 'utf8' }), new RegExp(`^v${MAJORS[abi]}\\.`));
    const modules: string = result[`modules${abi}`]!;
    // The tarball holds the very file the node_modules has.
    const unpacked = path.join(work!, `tar-${abi}`);
    execFileSync('mkdir', ['-p', unpacked]);
    execFileSync('tar', ['-xzf', path.join(result['twins']!, `better-sqlite3-v12.11.1-node-v${abi}-linux-x64.tar.gz`), '-C', unpacked]);
    assert.ok(readFileSync(path.join(unpacked, 'build/Release/better_sqlite3.node')).equals(readFileSync(path.join(modules, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'))), `ABI ${abi}: the tarball's file is the compiled one`);
    const run: { status: number | null; stdout: string; stderr: string } = spawnSync(node, ['-e', SQLITE_VERSION], { cwd: modules, encoding: 'utf8' });
    assert.equal(run.status, 0, `Node ${MAJORS[abi]} loading the ABI ${abi} build: ${run.stderr}`);
    assert.match(run.stdout.trim(), new RegExp(`^${abi} 3\\.\\d+\\.\\d+$`));
  }
  // Another Node.js refuses it, naming both ABIs: the headers made the difference.
  const other = spawnSync(officialNode(result, '127'), ['-e', SQLITE_VERSION], { cwd: result['modules115']!, encoding: 'utf8' });
  assert.notEqual(other.status, 0);
  assert.match(other.stderr, /NODE_MODULE_VERSION 115\. This version of Node\.js requires\s+NODE_MODULE_VERSION 127/);
});

test('prebuilds: each musl file registers itself for its ABI, needs only musl\'s libc, and has no RUNPATH (armv7)', (t) => {
  const result = ready(t);
  if (!result) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'addonix-prebuilds-musl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const abi of ABIS) {
    execFileSync('tar', ['-xzf', path.join(result['armv7']!, `better-sqlite3-v12.11.1-node-v${abi}-linuxmusl-arm.tar.gz`), '-C', dir]);
    const file = path.join(dir, 'build/Release/better_sqlite3.node');
    assert.match(execFileSync('readelf', ['-h', file], { encoding: 'utf8' }), /Machine:\s+ARM\n/);
    const symbols = execFileSync('readelf', ['--dyn-syms', '-W', file], { encoding: 'utf8' });
    const registered = [...symbols.matchAll(/\sGLOBAL\s+DEFAULT\s+\d+\s+node_register_module_v(\d+)\s*$/gm)].map((m) => m[1]);
    assert.deepEqual(registered, [abi], `ABI ${abi}: the registration symbols it defines`);
    const section = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
    assert.deepEqual([...section.matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]), ['libc.so'], `ABI ${abi}: what it needs`);
    assert.doesNotMatch(section, /\((RUNPATH|RPATH)\)/, `ABI ${abi}: a RUNPATH`);
    rmSync(path.join(dir, 'build'), { recursive: true });
  }
});
