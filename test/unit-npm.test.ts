/**
 * The npm stage on the real lockfiles of ../shared/corpus/lockfiles (written by npm 11.19) and on
 * hand-made broken ones: install sets per target, native plans, sources, and clear refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { resolveDeps, type TargetDeps } from '../src/npm/deps.js';
import { parseTarget, targetName } from '../src/npm/target.js';
import type { NativePlan } from '../src/npm/native.js';
import { registryTarballUrl, strongestIntegrity } from '../src/npm/packages.js';
import { HA_ARCHES } from '../src/addon/arch.js';
import { loadPaths, relativeDisplay } from '../src/addon/load.js';
import { DEFAULT_ERA } from '../src/addon/eras.js';
import { addonFiles } from '../src/nixgen/addon-files.js';
import { UserError } from '../src/util/errors.js';
import { FoldedNameMap, loadVirtual } from '../src/npm/lockfile.js';
import type { ArboristNode } from '@npmcli/arborist';
import { corpus, hasStackTrace, MINIMAL_CONFIG, tempTree } from './helpers.js';
import { badInputs, GOOD_ENTRY } from './npm-inputs.js';

const ALL_TARGETS = HA_ARCHES.flatMap((arch) => [`${arch}-musl`, `${arch}-glibc`]).map(parseTarget);

async function deps(t: import('node:test').TestContext, name: string, targets = ALL_TARGETS) {
  const dir = corpus(t, `lockfiles/${name}`);
  if (!dir) return undefined;
  const result = await resolveDeps(dir, targets);
  return Object.fromEntries(result.targets.map((target) => [target.target, target])) as Record<string, TargetDeps>;
}

function plan(target: TargetDeps, name: string) {
  return target.native.find((n) => n.name === name);
}

test('sharp: aarch64-musl gets exactly its musl arm64 packages; armv7-musl has none (an error)', async (t) => {
  const byTarget = await deps(t, 'photo-notes-sharp');
  if (!byTarget) return;
  const img = (target: string) => byTarget[target]!.packages.filter((p) => p.name.startsWith('@img/')).map((p) => p.name).sort();
  // @img/colour is a regular dependency of sharp, installed everywhere; every other @img/* is a platform package.
  assert.deepEqual(img('aarch64-musl'), ['@img/colour', '@img/sharp-libvips-linuxmusl-arm64', '@img/sharp-linuxmusl-arm64']);
  assert.deepEqual(img('amd64-glibc'), ['@img/colour', '@img/sharp-libvips-linux-x64', '@img/sharp-linux-x64']);
  assert.deepEqual(img('armv7-glibc'), ['@img/colour', '@img/sharp-libvips-linux-arm', '@img/sharp-linux-arm']);
  const aarch64 = plan(byTarget['aarch64-musl']!, 'sharp')!;
  assert.equal(aarch64.plan, 'platform-package');
  assert.deepEqual(aarch64.settings.platformPackages, ['node_modules/@img/sharp-libvips-linuxmusl-arm64', 'node_modules/@img/sharp-linuxmusl-arm64']);
  for (const target of ['armv7-musl', 'armhf-musl', 'i386-musl']) {
    assert.equal(plan(byTarget[target]!, 'sharp')!.plan, 'unsupported', target);
    assert.ok(byTarget[target]!.errors.some((e) => e.code === 'unsupported' && e.name === 'sharp'), target);
  }
  assert.match(plan(byTarget['armv7-musl']!, 'sharp')!.reason, /there is one for armv7-glibc/);
  assert.deepEqual(byTarget['aarch64-musl']!.errors, []);
  // The wasm fallback is only reachable through packages for other platforms: npm leaves it out.
  assert.ok(!byTarget['amd64-musl']!.packages.some((p) => p.name === '@img/sharp-wasm32'));
});

test('better-sqlite3 v13 is prebuilt-in-tarball on every target, with the settings a source build needs', async (t) => {
  const byTarget = await deps(t, 'photo-notes-sharp');
  if (!byTarget) return;
  for (const target of ALL_TARGETS.map(targetName)) {
    const bs3: NativePlan = plan(byTarget[target]!, 'better-sqlite3')!;
    assert.equal(bs3.plan, 'prebuilt-in-tarball', target);
    assert.equal(bs3.version, '13.2.0');
    assert.deepEqual(bs3.settings.deletePaths, ['prebuilds']);
    assert.equal(bs3.settings.env['npm_config_force_build'], '1');
    assert.deepEqual(bs3.settings.nodeGypArgs, ['--force_build=1']);
    assert.equal(plan(byTarget[target]!, 'bcrypt')!.plan, 'build-from-source');
  }
});

test('better-sqlite3 v11/v12, bcrypt 5 and @serialport/bindings-cpp are build-from-source', async (t) => {
  const nodeRed = await deps(t, 'node-red-better-sqlite3', [parseTarget('aarch64-musl')]);
  const actual = await deps(t, 'actual-sync-server', [parseTarget('armv7-musl')]);
  const zigbee = await deps(t, 'zigbee2mqtt', [parseTarget('amd64-musl')]);
  if (!nodeRed || !actual || !zigbee) return;
  const bs12 = plan(nodeRed['aarch64-musl']!, 'better-sqlite3')!;
  assert.equal(bs12.plan, 'build-from-source');
  assert.match(bs12.version, /^12\./);
  assert.equal(bs12.settings.env['npm_config_build_from_source'], 'true');
  assert.equal(plan(actual['armv7-musl']!, 'better-sqlite3')!.plan, 'build-from-source');
  assert.equal(plan(actual['armv7-musl']!, 'bcrypt')!.plan, 'build-from-source');
  assert.equal(plan(actual['armv7-musl']!, 'bcrypt')!.settings.env['npm_config_build_from_source'], 'true');
  const serial = plan(zigbee['amd64-musl']!, '@serialport/bindings-cpp')!;
  assert.equal(serial.plan, 'build-from-source');
  assert.deepEqual(serial.settings.deletePaths, ['prebuilds']);
});

test("node-red's bundled packages are listed but not fetched", async (t) => {
  const byTarget = await deps(t, 'node-red-better-sqlite3', [parseTarget('amd64-musl')]);
  if (!byTarget) return;
  const bundled = byTarget['amd64-musl']!.packages.filter((p) => p.bundled);
  assert.equal(bundled.length, 195);
  for (const p of bundled) {
    assert.equal(p.url, null, p.location);
    assert.equal(p.integrity, null, p.location);
    assert.match(p.location, /^node_modules\/npm\/node_modules\//);
  }
  const fetched = byTarget['amd64-musl']!.packages.filter((p) => !p.bundled);
  assert.ok(fetched.every((p) => p.url?.startsWith('https://registry.npmjs.org/') && /^sha(1|512)-/.test(p.integrity!)));
  // An optional family without a binary for the target is not an error: node-red falls back to bcryptjs.
  const i386 = await deps(t, 'node-red-better-sqlite3', [parseTarget('i386-musl')]);
  assert.equal(plan(i386!['i386-musl']!, '@node-rs/bcrypt')!.plan, 'unsupported');
  assert.deepEqual(i386!['i386-musl']!.errors, []);
});

test('a lockfile written without resolved URLs gets the URLs npm would use', async (t) => {
  const withUrls = await deps(t, 'zigbee2mqtt', [parseTarget('aarch64-musl')]);
  const without = await deps(t, 'zigbee2mqtt-no-resolved', [parseTarget('aarch64-musl')]);
  if (!withUrls || !without) return;
  const urls = (d: Record<string, TargetDeps>) => d['aarch64-musl']!.packages.map((p) => [p.location, p.url, p.integrity]);
  assert.equal(without['aarch64-musl']!.packages.length, 114);
  assert.deepEqual(urls(without), urls(withUrls));
  assert.equal(registryTarballUrl('@serialport/bindings-cpp', '13.0.1'), 'https://registry.npmjs.org/@serialport/bindings-cpp/-/bindings-cpp-13.0.1.tgz');
  assert.equal(registryTarballUrl('debug', '4.4.0', 'https://npm.example/repo'), 'https://npm.example/repo/debug/-/debug-4.4.0.tgz');
});

test('platform families: a prebuilt package per target, or a source build where the package can, or unsupported', async (t) => {
  const byTarget = await deps(t, 'react-toolchain-1583');
  if (!byTarget) return;
  assert.equal(plan(byTarget['amd64-glibc']!, '@parcel/watcher')!.plan, 'platform-package');
  assert.deepEqual(plan(byTarget['amd64-musl']!, '@parcel/watcher')!.settings.platformPackages, ['node_modules/@parcel/watcher-linux-x64-musl']);
  // No i386 package, but its install script builds from source.
  assert.equal(plan(byTarget['i386-musl']!, '@parcel/watcher')!.plan, 'build-from-source');
  assert.equal(plan(byTarget['i386-musl']!, 'typescript')!.plan, 'unsupported');
  assert.equal(plan(byTarget['aarch64-musl']!, 'typescript')!.plan, 'platform-package');
  // Install scripts that only print messages are not native code.
  assert.equal(plan(byTarget['amd64-musl']!, 'core-js'), undefined);
});

test('integrity: the strongest hash of an SRI list', () => {
  assert.equal(strongestIntegrity('sha1-abc= sha512-xyz=='), 'sha512-xyz==');
  assert.equal(strongestIntegrity('md5-nope'), null);
});

// --- bad input ----------------------------------------------------------------------------------

for (const bad of badInputs) {
  test(`bad npm input: ${bad.name} gives a clear error, for generate and deps alike, before anything is written`, async (t) => {
    const dir = tempTree(t, { 'config.yaml': MINIMAL_CONFIG, ...bad.files });
    // generate: the add-on's files are all planned before any is written; planning fails.
    const { addons } = await loadPaths([dir], { era: DEFAULT_ERA });
    assert.equal(addons.length, 1);
    const planned = await addonFiles(addons[0]!, { era: DEFAULT_ERA, display: relativeDisplay() }).then(
      () => assert.fail('generate planned files for a broken npm project'),
      (error: unknown) => error,
    );
    assertNpmProjectError(planned, bad.message);
    assert.ok(!existsSync(path.join(dir, 'nix')), 'nothing written');
    // deps: the same error, with its code and exit status (what --json prints).
    const resolved = await resolveDeps(dir, [parseTarget('amd64-musl')]).then(
      () => assert.fail('deps resolved a broken npm project'),
      (error: unknown) => error,
    );
    assertNpmProjectError(resolved, bad.message);
  });
}

function assertNpmProjectError(error: unknown, message: RegExp): void {
  assert.ok(error instanceof UserError, `a UserError, not ${String(error)}`);
  assert.equal(error.code, 'npm-project');
  assert.equal(error.toJSON().exit, 1);
  assert.match(error.message, message);
  assert.ok(!hasStackTrace(error.message), error.message);
}

test('deps: workspace links are built from their folder, dev packages left out unless asked', async (t) => {
  const dir = tempTree(t, {
    'package.json': JSON.stringify({ name: 'app', version: '1.0.0', workspaces: ['packages/lib'], dependencies: { lib: '*' }, devDependencies: { debug: '^4' } }),
    'packages/lib/package.json': JSON.stringify({ name: 'lib', version: '2.0.0', bin: { 'lib-cli': 'cli.js' } }),
    'package-lock.json': JSON.stringify({
      name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true,
      packages: {
        '': { name: 'app', version: '1.0.0', workspaces: ['packages/lib'], dependencies: { lib: '*' }, devDependencies: { debug: '^4' } },
        'node_modules/debug': { ...GOOD_ENTRY, dev: true },
        'node_modules/lib': { resolved: 'packages/lib', link: true },
        'packages/lib': { name: 'lib', version: '2.0.0', bin: { 'lib-cli': 'cli.js' } },
      },
    }),
  });
  const prod = (await resolveDeps(dir, [parseTarget('amd64-musl')])).targets[0]!;
  assert.deepEqual(prod.packages, [{ location: 'node_modules/lib', name: 'lib', version: '2.0.0', url: null, integrity: null, bundled: false, link: true, optional: false }]);
  const withDev = (await resolveDeps(dir, [parseTarget('amd64-musl')], { includeDev: true })).targets[0]!;
  assert.deepEqual(withDev.packages.map((p) => p.location), ['node_modules/debug', 'node_modules/lib']);
});

/** Everything addonix reads of a lockfile tree, node by node: to compare two loadings of it. */
function treeFacts(tree: ArboristNode): unknown[] {
  const nodes = [...tree.inventory.values()].sort((a, b) => (a.location < b.location ? -1 : a.location > b.location ? 1 : 0));
  const facts = (node: ArboristNode) => ({
    location: node.location,
    name: node.name,
    packageName: node.packageName,
    version: node.version,
    resolved: node.resolved,
    integrity: node.integrity,
    flags: [node.dev, node.optional, node.devOptional, node.peer, node.extraneous, node.inBundle, node.isLink, node.isWorkspace, node.isRoot].map(String).join(','),
    target: node.isLink ? node.target?.location : null,
    package: node.package,
    workspaces: node.isRoot ? [...((node as { workspaces?: Map<string, string> }).workspaces ?? new Map())] : null,
    edgesOut: [...node.edgesOut.values()].map((edge) => [edge.name, edge.type, edge.spec, edge.to?.location ?? null, edge.valid, edge.missing, edge.invalid]),
    edgesIn: [...node.edgesIn].map((edge) => [edge.from?.location ?? null, edge.name, edge.type]).sort(),
  });
  return nodes.map(facts);
}

test('lockfiles are read by Arborist\'s loadVirtual alone (without the rest of Arborist) into the very tree Arborist makes', async (t) => {
  const workspace = tempTree(t, {
    'package.json': JSON.stringify({ name: 'app', version: '1.0.0', workspaces: ['packages/lib'], dependencies: { lib: '*' }, devDependencies: { debug: '^4' }, optionalDependencies: { debug: '^4' } }),
    'packages/lib/package.json': JSON.stringify({ name: 'lib', version: '2.0.0', dependencies: { debug: '^4' } }),
    'package-lock.json': JSON.stringify({
      name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true,
      packages: {
        '': { name: 'app', version: '1.0.0', workspaces: ['packages/lib'], dependencies: { lib: '*' }, devDependencies: { debug: '^4' }, optionalDependencies: { debug: '^4' } },
        'node_modules/debug': { ...GOOD_ENTRY, optional: true },
        'node_modules/lib': { resolved: 'packages/lib', link: true },
        'packages/lib': { name: 'lib', version: '2.0.0', dependencies: { debug: '^4' } },
      },
    }),
  });
  const dirs = [workspace];
  // The largest lockfile, one without `resolved`, one of platform packages (each read twice: some seconds).
  for (const name of ['react-toolchain-1583', 'zigbee2mqtt-no-resolved', 'photo-notes-sharp']) {
    const dir = corpus(t, `lockfiles/${name}`);
    if (dir) dirs.push(dir);
  }
  const { default: Arborist } = (await import('@npmcli/arborist')) as unknown as { default: typeof import('@npmcli/arborist') };
  for (const dir of dirs) {
    const own = await loadVirtual(dir);
    const arborists = await new Arborist({ path: dir }).loadVirtual();
    assert.ok(own.inventory.size > 1, dir);
    assert.deepEqual(treeFacts(own), treeFacts(arborists), dir);
  }
  // npm's query language still works on such a tree (loaded when first used).
  const queried = await (await loadVirtual(workspace)).querySelectorAll('.workspace');
  assert.deepEqual(queried.map((node: ArboristNode) => node.location), ['node_modules/lib', 'packages/lib']);
});

test('FoldedNameMap behaves as Arborist\'s CaseInsensitiveMap under the same operations (case, NFKD forms, non-string keys, replacement order)', () => {
  // Arborist's own class, compiled from its file here: the module cache holds addonix's in its place once
  // a lockfile was read.
  const file = createRequire(import.meta.url).resolve('@npmcli/arborist/lib/case-insensitive-map.js');
  const loaded = { exports: {} as new (items?: Iterable<[unknown, unknown]>) => Map<unknown, unknown> };
  new Function('module', 'exports', readFileSync(file, 'utf8'))(loaded, loaded.exports);
  const Arborists = loaded.exports;
  const keys: unknown[] = ['foo', 'FOO', 'Foo', '\ufb01le', 'file', 'FILE', '\u00c5', 'A\u030a', '\u00e5', '@scope/Pkg', '@SCOPE/pkg', 'stra\u00dfe', 'STRASSE', 1, null, undefined];
  const run = (map: Map<unknown, unknown>) => {
    const seen: unknown[] = [];
    keys.forEach((key, i) => {
      if (i % 3 === 0) seen.push(['delete', map.delete(key)]);
      map.set(key, i);
      seen.push(['entries', [...map.entries()]]);
      for (const other of keys) seen.push([map.get(other), map.has(other)]);
    });
    for (const key of keys) seen.push(['delete', map.delete(key), map.size]);
    return seen;
  };
  assert.deepEqual(run(new FoldedNameMap()), run(new Arborists()));
  assert.deepEqual([...new FoldedNameMap([['A', 1], ['a', 2]])], [...new Arborists([['A', 1], ['a', 2]])]);
});
