/**
 * The install set for amd64-glibc (this machine's platform) equals what npm itself lays out with
 * `npm ci --omit=dev --ignore-scripts`, on every real lockfile of the corpus. Needs the npm registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { resolveDeps } from '../src/npm/deps.js';
import { parseTarget } from '../src/npm/target.js';
import { CORPUS, corpus, tempTree } from './helpers.js';

/**
 * npm ci refuses react-toolchain-1583 (peer ranges the lockfile breaks, platform entries it lacks), so
 * for it the oracle is `npm install --legacy-peer-deps --no-save`, which lays out the lockfile's versions.
 */
const NPM_CI_REFUSES = new Set(['react-toolchain-1583']);

/** Package folders under node_modules (scoped and nested), as lockfile locations. */
function laidOut(dir: string, prefix = '', out = new Set<string>()): Set<string> {
  const modules = path.join(dir, 'node_modules');
  if (!existsSync(modules)) return out;
  for (const name of readdirSync(modules)) {
    if (name.startsWith('.')) continue;
    const names = name.startsWith('@') ? readdirSync(path.join(modules, name)).map((inner) => `${name}/${inner}`) : [name];
    for (const folder of names) {
      const location = `${prefix}node_modules/${folder}`;
      out.add(location);
      const full = path.join(modules, folder);
      if (!lstatSync(full).isSymbolicLink()) laidOut(full, `${location}/`, out);
    }
  }
  return out;
}

/** npm from its cache when it has the packages (as a second run of the suite does), else from the registry. */
function npm(args: string[], cwd: string) {
  return spawnSync('npm', [...args, '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd, encoding: 'utf8' });
}

// One test per lockfile; without the corpus, one test that skips (or fails under CI) saying so.
const LOCKFILES = path.join(CORPUS, 'lockfiles');
const names = existsSync(LOCKFILES) ? readdirSync(LOCKFILES).filter((name) => !name.includes('.')) : ['(corpus)'];

for (const name of names) {
  test(`npm oracle: ${name} on amd64-glibc lays out what npm does`, async (t) => {
    const source = corpus(t, `lockfiles/${name}`);
    if (!source) return;
    const dir = tempTree(t, {});
    copyFileSync(path.join(source, 'package.json'), path.join(dir, 'package.json'));
    copyFileSync(path.join(source, 'package-lock.json'), path.join(dir, 'package-lock.json'));
    const ours = await resolveDeps(dir, [parseTarget('amd64-glibc')], { nodeVersion: process.version });

    const ci = npm(['ci'], dir);
    if (NPM_CI_REFUSES.has(name)) {
      assert.notEqual(ci.status, 0, 'npm ci accepts this lockfile now: drop it from NPM_CI_REFUSES');
      assert.match(ci.stderr, /can only install packages when your package\.json and package-lock\.json .* are in sync/);
      const install = npm(['install', '--legacy-peer-deps', '--no-save'], dir);
      assert.equal(install.status, 0, install.stderr);
    } else {
      assert.equal(ci.status, 0, ci.stderr);
    }
    const expected = [...laidOut(dir)].sort();
    const actual = ours.targets[0]!.packages.map((p) => p.location).sort();
    assert.ok(expected.length > 50, `npm laid out ${expected.length} packages`);
    assert.deepEqual(actual, expected);
  });
}
