/**
 * The README's first screen as a newcomer pastes it: "Build your add-on" in a copy of the bundled example
 * add-on in a git repository of its own, command by command as the README prints them, up to a built
 * image loaded into Podman and pushed. The only changes are the ones this machine forces, each said
 * where it is made: the CLI is put on PATH as `npm link` would; nixpkgs (and addonix's own flake, which
 * is not published where this machine can reach) come through the `--override-input` option the README
 * documents, as the test stand-in for nixpkgs; the registry is a local one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLI, REPO, needTools, podmanEnv, tempTree } from './helpers.js';
import { STAND_IN } from './nix-helpers.js';
import { TEST_NIX_CONFIG } from './build-cli-helpers.js';
import { startRegistry } from './registry-helpers.js';

const EXAMPLE = path.join(REPO, 'examples', 'sqlite-notes');

/** The shell lines of the README's "Build your add-on" block, without their comments. */
function buildYourAddon(): string[] {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Build your add-on'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'the README has a "Build your add-on" section with a sh block');
  // A comment is two spaces and more before '#': `.#build-all-images` is no comment.
  return block.split('\n').map((line) => line.replace(/\s{2,}#.*$/, '').trim()).filter(Boolean);
}

function sh(command: string, cwd: string, env: Record<string, string>) {
  const result = spawnSync('sh', ['-c', command], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('newcomer: the README\'s "build your add-on" commands, pasted into a copy of a real add-on in a git repository, build and load and push its images', async (t) => {
  if (!needTools(t, 'nix', 'git', 'podman', 'runc', 'docker-registry', 'htpasswd')) return;
  const lines = buildYourAddon();
  assert.ok(lines.length <= 7, `at most seven commands (${lines.length})`);
  const expected = [/npm ci && npm link/, /^addonix init$/, /^addonix build$/, /^git add flake\.lock && git commit/, /^addonix run$/, /^addonix load result-\*$/, /^addonix push --to \S+ --tag \S+ result-\*$/];
  expected.forEach((pattern, i) => assert.match(lines[i] ?? '', pattern, `README command ${i + 1}`));

  const dir = tempTree(t, {});
  const registry = await startRegistry(t);
  // `npm link` puts bin/addonix.js on PATH; here a one-line shim does the same without touching npm's global folder.
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'addonix'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(path.join(bin, 'addonix'), 0o755);
  const repo = path.join(dir, 'my-addon');
  cpSync(EXAMPLE, repo, { recursive: true, filter: (source) => !/(^|\/)(flake\.(nix|lock)|nix|result[^/]*)$/.test(path.relative(EXAMPLE, source)) });
  const env = {
    PATH: `${bin}:${process.env['PATH']}`,
    HOME: dir,
    GIT_AUTHOR_NAME: 'New Comer',
    GIT_AUTHOR_EMAIL: 'new@comer.invalid',
    GIT_COMMITTER_NAME: 'New Comer',
    GIT_COMMITTER_EMAIL: 'new@comer.invalid',
    NIX_CONFIG: TEST_NIX_CONFIG,
    ADDONIX_CACHE_DIR: path.join(dir, 'cache'),
  };
  const setup = sh('git init -q && git add -A && git commit -q -m "my add-on"', repo, env);
  assert.equal(setup.status, 0, setup.stderr);

  // 2. init: the files it writes are staged.
  const init = sh(lines[1]!, repo, env);
  assert.equal(init.status, 0, init.stderr);
  assert.match(init.stdout, /staged \(git add, Nix reads only tracked files\): .*flake\.nix/);
  assert.match(init.stdout, /next: addonix build/);

  // 3. build, every arch of config.yaml. This machine cannot fetch nixpkgs nor addonix's published flake:
  // both come from here through --override-input, as the README's "Building with another nixpkgs" shows.
  const overrides = `--override-input addonix git+file://${REPO} --override-input addonix/nixpkgs path:${STAND_IN}`;
  const build = sh(`${lines[2]!} ${overrides}`, repo, env);
  assert.equal(build.status, 0, `${build.stdout}\n${build.stderr}`);
  for (const arch of ['aarch64', 'amd64', 'armv7']) {
    assert.match(readlinkSync(path.join(repo, `result-${arch}`)), /^\/nix\/store\//, `result-${arch} is a built image in the store`);
  }

  // The other way init names: the flake's own app builds with the inputs it was run with (its pins), not flake.lock's.
  const app = sh(`nix --extra-experimental-features 'nix-command flakes' run .#build-all-images ${overrides}`, repo, { ...env, ADDONIX_CACHE_DIR: path.join(dir, 'cache') });
  assert.equal(app.status, 0, `${app.stdout}\n${app.stderr}`);
  assert.match(app.stdout, /amd64 +(cached|built)/);
  assert.doesNotMatch(app.stdout + app.stderr, /failed|unable to download/);

  // 4. Nix writes no flake.lock for a run with --override-input (it would pin the stand-in), so only the commit is left of this line.
  assert.ok(!existsSync(path.join(repo, 'flake.lock')), 'no lock file is written for a run with overridden inputs');
  assert.match(build.stderr, /addonix: Nix writes no flake\.lock for a build with --override-input; to have one to commit: nix flake lock --override-input addonix \S+ --override-input addonix\/nixpkgs \S+/);
  const commit = sh(lines[3]!.replace(/^git add flake\.lock && /, ''), repo, env);
  assert.equal(commit.status, 0, commit.stderr);
  assert.equal(sh('git status --porcelain --untracked-files=no', repo, env).stdout, '', 'everything init wrote is committed');

  // 5. run, in Podman: this arch built (already, so only evaluated), loaded, started with its options and
  // the API double; the app's start line names the option's value; Ctrl-C stops it and removes its containers.
  const port = 20000 + Math.floor(Math.random() * 10000);
  const podman = podmanEnv(dir);
  writeFileSync(path.join(dir, 'options.yaml'), 'title: My notes\n');
  const running = spawn('sh', ['-c', `exec ${lines[4]!} --engine podman --options ${path.join(dir, 'options.yaml')} --port ${port}:8099 --api-log ${overrides}`], { cwd: repo, env: { ...process.env, NO_COLOR: '1', ...env, ...podman }, detached: true });
  let runOutput = '';
  running.stdout.on('data', (chunk: Buffer) => (runOutput += chunk.toString('utf8')));
  running.stderr.on('data', (chunk: Buffer) => (runOutput += chunk.toString('utf8')));
  const runExit = new Promise<number | null>((resolve) => running.on('close', resolve));
  for (let waited = 0; !/My notes: listening on 8099, data in \/data/.test(runOutput); waited += 250) {
    assert.ok(waited < 180_000, `addonix run: no start line:\n${runOutput}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(page.status, 200, 'the ingress port answers');
  process.kill(-running.pid!, 'SIGINT');
  assert.equal(await runExit, 130, runOutput);
  const left = spawnSync('podman', ['ps', '-a', '--filter', 'label=io.addonix.run', '-q'], { env: { ...process.env, ...podman }, encoding: 'utf8' });
  assert.equal(left.stdout.trim(), '', 'no container left after Ctrl-C');

  // 6. load, into Podman (the README's comment names --engine podman for it).
  const load = sh(`${lines[5]!} --engine podman`, repo, { ...env, ...podman });
  assert.equal(load.status, 0, load.stderr);
  assert.match(load.stdout, /sqlite-notes/);

  // 7. push, to a local registry in place of ghcr.io.
  const push = sh(lines[6]!.replace(/--to \S+/, `--to ${registry.host}/my-addon`), repo, env);
  assert.equal(push.status, 0, push.stderr);
  const index = await fetch(`http://${registry.host}/v2/my-addon/manifests/1.2.3`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
  assert.equal(index.status, 200);
  const platforms = ((await index.json()) as { manifests: { platform: { architecture: string; variant?: string } }[] }).manifests.map((m) => [m.platform.architecture, m.platform.variant].filter(Boolean).join('/'));
  assert.deepEqual(platforms.sort(), ['amd64', 'arm/v7', 'arm64/v8']);
});

test('newcomer: the README\'s first command, in a fresh clone, builds the bundled example\'s images', (t) => {
  if (!needTools(t, 'nix', 'git')) return;
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const first = /```sh\n([^\n]*)\n/.exec(readme)?.[1]?.replace(/\s{2,}#.*$/, '').trim();
  assert.equal(first, 'nix run .#build-all-images', "the README's first command");
  const dir = tempTree(t, {});
  const clone = path.join(dir, 'addonix');
  const cloned = sh(`git clone -q ${REPO} ${clone}`, dir, {});
  assert.equal(cloned.status, 0, cloned.stderr);
  // A clone has what is committed; the working tree under test may hold more: test that.
  const changes = sh('git diff HEAD --binary', REPO, {});
  if (changes.stdout) {
    writeFileSync(path.join(dir, 'changes.patch'), changes.stdout);
    const applied = sh(`git apply --whitespace=nowarn ${path.join(dir, 'changes.patch')}`, clone, {});
    assert.equal(applied.status, 0, applied.stderr);
  }
  // The README says how on a stock Nix; nixpkgs comes as the stand-in, through the documented option.
  const run = sh(`nix --extra-experimental-features 'nix-command flakes' run .#build-all-images --override-input nixpkgs path:${STAND_IN}`, clone, { NIX_CONFIG: TEST_NIX_CONFIG, ADDONIX_CACHE_DIR: path.join(dir, 'cache'), HOME: dir });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  for (const arch of ['aarch64', 'amd64', 'armv7']) {
    assert.match(readlinkSync(path.join(clone, `result-${arch}`)), /^\/nix\/store\/\S+-stream-\S+-sqlite-notes$/, `result-${arch}`);
  }
});
