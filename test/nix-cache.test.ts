/**
 * The binary cache step of the CI templates pushes what makes a second machine build nothing: the
 * closure of an image's stream script (whose conf.json names every layer's store path). Proved with Nix
 * here: the build job's commands from `addonix init --ci gitlab --cache s3`, with a file:// cache in
 * place of the bucket; then, in a fresh store (a chroot store) with that cache as the only substituter,
 * Nix's dry run has nothing to build and the build fetches everything. (The gzip tarball would not do:
 * gzip hides its store paths from Nix's reference scan, so its closure is itself alone.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { needTools, REPO, tempTree } from './helpers.js';
import { NIX_OPTIONS, OVERRIDE_NIXPKGS } from './nix-helpers.js';
import { DEFAULT_NIX_IMAGE, gitlabCi } from '../src/init/ci.js';

const FLAKES = ['--extra-experimental-features', 'nix-command flakes'];

function nix(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('nix', [...FLAKES, ...args], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 20 * 60_000 });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

test('cache: what the CI template pushes lets a fresh store build the image with zero derivations built', (t) => {
  if (!needTools(t, 'nix', 'git')) return;
  // The template's build job for aarch64, as `addonix init --ci gitlab --cache s3` writes it.
  const ci = YAML.parse(gitlabCi([{ slug: 'sqlite_notes', dir: '.', arches: ['aarch64', 'amd64'], imageTemplate: null }], { cache: 's3', nixImage: DEFAULT_NIX_IMAGE }));
  const script: string[] = ci['build-aarch64'].script;
  const build = script.find((line) => line.startsWith('nix build $ADDONIX_NIX_FLAGS'));
  const copy = /^ {2}(nix copy \$ADDONIX_NIX_FLAGS .*)$/m.exec(script.join('\n'))?.[1];
  assert.equal(build, 'nix build $ADDONIX_NIX_FLAGS -L .#streamImage-aarch64 --out-link result-aarch64');
  assert.match(copy ?? '', /^nix copy \$ADDONIX_NIX_FLAGS --to "s3:\/\/.*" \.\/result-aarch64$/);
  assert.deepEqual(ci['build-aarch64'].tags, ['saas-linux-small-arm64'], 'aarch64 builds on an arm64 runner');

  const work = tempTree(t, {});
  const cache = `file://${path.join(work, 'cache')}?compression=none`;
  // The build job: the flake is this repository, nixpkgs the stand-in.
  const built = nix(['build', '.#streamImage-aarch64', '--out-link', path.join(work, 'result-aarch64'), ...OVERRIDE_NIXPKGS, ...NIX_OPTIONS], REPO);
  assert.equal(built.status, 0, built.stderr.split('\n').slice(-30).join('\n'));
  const stream = readlinkSync(path.join(work, 'result-aarch64'));
  // Its cache step, with the file:// cache for the bucket.
  const copied = nix(['copy', '--to', cache, './result-aarch64', ...NIX_OPTIONS], work);
  assert.equal(copied.status, 0, copied.stderr);

  // A second machine: a store of its own, the cache its only substituter.
  const root = path.join(work, 'second-machine');
  const second = ['--store', `local?root=${root}`, '--option', 'substituters', cache, '--option', 'require-sigs', 'false', '--option', 'sandbox', 'false', ...OVERRIDE_NIXPKGS];
  const dry = nix(['build', '--dry-run', '.#streamImage-aarch64', ...second], REPO);
  assert.equal(dry.status, 0, dry.stderr);
  assert.doesNotMatch(dry.stderr, /will be built/, `the second machine would build:\n${dry.stderr}`);
  assert.match(dry.stderr, /will be fetched/);
  const real = nix(['build', '--no-link', '-L', '.#streamImage-aarch64', ...second], REPO);
  assert.equal(real.status, 0, real.stderr);
  assert.doesNotMatch(real.stderr, /^building '/m, 'nothing was built');
  assert.ok(existsSync(path.join(root, stream)), `${stream} is in the second store`);
  // The whole image came along: its Node.js, node_modules and the layer with the add-on's files are in the second store.
  const secondStore = readdirSync(path.join(root, 'nix', 'store'));
  for (const part of ['nodejs-slim-', 'sqlite_notes-node-modules-aarch64-glibc', 'aarch64-sqlite-notes-customisation-layer']) assert.ok(secondStore.some((name) => name.includes(part)), `${part} in the second store`);
});
