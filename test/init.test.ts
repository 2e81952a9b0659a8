/** addonix init: the thin flake, the generated data, .gitignore, CI files that parse and name their jobs; twice changes nothing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { hasTool, MINIMAL_CONFIG, needTools, REPO, tempTree } from './helpers.js';
// The CLI in this process (a process each cost a third of a second of CPU to start, generate's and init's more).
import { runCliInProcess } from './in-process-cli.js';
import { ACTIONS, CACHE_KINDS } from '../src/init/ci.js';

const ADDON = `${MINIMAL_CONFIG}image: ghcr.io/me/{arch}-test\n`;

function snapshot(dir: string, files: string[]): Record<string, [string, number]> {
  return Object.fromEntries(files.map((file) => [file, [readFileSync(path.join(dir, file), 'utf8'), statSync(path.join(dir, file)).mtimeMs]]));
}

test('init: one add-on gets the thin flake, its generated data and .gitignore entries; a second run changes nothing', async (t) => {
  const dir = tempTree(t, { 'config.yaml': ADDON, '.gitignore': 'node_modules\n' });
  const first = await runCliInProcess(['init', dir, '--addonix', 'github:me/addonix-fork']);
  assert.equal(first.status, 0, first.stderr);
  const flake = readFileSync(path.join(dir, 'flake.nix'), 'utf8');
  assert.ok(
    flake.endsWith(
      '{\n  description = "Home Assistant add-on Test add-on (test_addon), built with addonix";\n  inputs.addonix.url = "github:me/addonix-fork";\n' +
        '  outputs = { self, addonix }: addonix.lib.mkAddonFlake {\n    src = ./.;\n' +
        '    # This add-on has no package.json: addonix builds the image of a Node.js app, and has none to build\n' +
        '    # here. Say what the container runs and which packages of the target system it needs, e.g.:\n' +
        '    #   run = [ "/bin/sh" "/app/run.sh" ];\n' +
        '    #   extraContents = pkgs: [ pkgs.bash pkgs.jq ];\n' +
        '    # Until then a build stops with "the image needs a command".\n  };\n}\n',
    ),
    flake,
  );
  if (hasTool('nix-instantiate')) execFileSync('nix-instantiate', ['--parse', path.join(dir, 'flake.nix')], { stdio: 'ignore' });
  assert.equal(readFileSync(path.join(dir, '.gitignore'), 'utf8'), 'node_modules\n# Nix build results and verify reports (addonix build, nix build, addonix verify)\nresult\nresult-*\nverify-*.json\n');
  const check = await runCliInProcess(['generate', dir, '--check']);
  assert.equal(check.status, 0, `init wrote what generate writes: ${check.stdout}`);
  for (const file of ['nix/addon.generated.nix', 'flake.nix', '.gitignore']) assert.match(first.stdout, new RegExp(`^wrote .*${file.replace('.', '\\.')}$`, 'm'));
  assert.match(first.stdout, /^next: cd .*addonix build {3}\(every arch; or nix run \.#build-all-images\)\. Not a git repository: Nix reads the folder as it is$/m);

  const files = ['flake.nix', '.gitignore', 'nix/addon.generated.nix'];
  const before = snapshot(dir, files);
  const second = await runCliInProcess(['init', dir, '--addonix', 'github:me/addonix-fork']);
  assert.equal(second.status, 0, second.stderr);
  assert.doesNotMatch(second.stdout, /^wrote/m);
  assert.equal(second.stdout.match(/^unchanged /gm)?.length, 3);
  assert.deepEqual(snapshot(dir, files), before, 'same bytes, not even rewritten');
});

test('init: a file with other content is not replaced without --force, and then nothing at all is written', async (t) => {
  const dir = tempTree(t, { 'config.yaml': ADDON, 'flake.nix': '{ outputs = { self }: { }; }\n' });
  const refused = await runCliInProcess(['init', dir, '--ci', 'gitlab']);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /flake\.nix exists with other content; nothing was written\. Pass --force to replace it\./);
  for (const file of ['.gitlab-ci.yml', '.gitignore', 'nix/addon.generated.nix']) assert.ok(!existsSync(path.join(dir, file)), `${file} not written`);
  assert.equal(readFileSync(path.join(dir, 'flake.nix'), 'utf8'), '{ outputs = { self }: { }; }\n');
  const forced = await runCliInProcess(['init', dir, '--ci', 'gitlab', '--force']);
  assert.equal(forced.status, 0, forced.stderr);
  assert.match(readFileSync(path.join(dir, 'flake.nix'), 'utf8'), /addonix\.lib\.mkAddonFlake/);
  assert.ok(existsSync(path.join(dir, '.gitlab-ci.yml')));
});

test('init --ci gitlab: per-arch jobs in the Nix image on a runner of their own system, the stream script\'s closure cached (skipped without its secrets), one push job with a login per registry', async (t) => {
  for (const cache of CACHE_KINDS) {
    const dir = tempTree(t, { 'config.yaml': ADDON });
    const result = await runCliInProcess(['init', dir, '--ci', 'gitlab', '--cache', cache]);
    assert.equal(result.status, 0, result.stderr);
    const text = readFileSync(path.join(dir, '.gitlab-ci.yml'), 'utf8');
    const ci = YAML.parse(text) as Record<string, { image?: string; extends?: string; stage?: string; tags?: string[]; timeout?: string; needs?: string[]; script?: string[]; before_script?: string[]; artifacts?: { paths: string[] }; rules?: unknown[]; id_tokens?: unknown }> & {
      variables: Record<string, string>;
      stages: string[];
    };
    const jobs = Object.keys(ci).filter((k) => !['variables', 'stages', '.nix'].includes(k));
    assert.deepEqual(jobs, ['build-aarch64', 'build-amd64', 'push'], cache);
    assert.deepEqual(ci.stages, ['build', 'push']);
    // Nix's multi-arch release image (an arm64 one for the arm64 runner).
    assert.match(ci['.nix']!.image!, /^ghcr\.io\/nixos\/nix:2\.\d+\.\d+$/);
    assert.equal(ci.variables['NIX_CONFIG'], 'experimental-features = nix-command flakes');
    assert.equal(ci.variables['ADDONIX_NIX_FLAGS'], '');
    // Every job stops first without flake.lock, saying the command that writes it.
    assert.match(ci['.nix']!.before_script![0]!, /if \[ ! -f flake\.lock \]; then echo 'addonix: flake\.lock is missing: run nix flake lock/);
    // Tools from the flake's locked nixpkgs, never the global registry's.
    assert.doesNotMatch(text, /nixpkgs#/);
    for (const arch of ['aarch64', 'amd64']) {
      const job = ci[`build-${arch}`]!;
      assert.equal(job.extends, '.nix');
      assert.equal(job.stage, 'build');
      assert.equal(job.script![0], `nix build $ADDONIX_NIX_FLAGS -L .#streamImage-${arch} --out-link result-${arch}`);
      assert.deepEqual(job.script!.slice(-3), [
        `./result-${arch} > image-${arch}.tar`,
        `nix run $ADDONIX_NIX_FLAGS .#addonix -- sbom . --arch ${arch} --image image-${arch}.tar > sbom-${arch}.cdx.json`,
        `nix run $ADDONIX_NIX_FLAGS .#addonix -- provenance . --arch ${arch} --flake . > provenance-${arch}.json`,
      ]);
      assert.deepEqual(job.artifacts!.paths, [`image-${arch}.tar`, `sbom-${arch}.cdx.json`, `provenance-${arch}.json`]);
      // Each on a hosted runner of its own system: the binary cache has everything but addonix's own.
      assert.deepEqual(job.tags, [arch === 'aarch64' ? 'saas-linux-small-arm64' : 'saas-linux-small-amd64']);
      assert.equal(job.timeout, '60 minutes');
    }
    const steps = [...(ci['.nix']!.before_script ?? []), ...ci['build-amd64']!.script!].join('\n');
    const expected: Record<string, RegExp | null> = {
      none: null,
      cachix: /if \[ -n "\$CACHIX_CACHE" \]; then\n {2}nix run \$ADDONIX_NIX_FLAGS .#ci\.cachix -- use "\$CACHIX_CACHE"\nelse[\s\S]*if \[ -n "\$CACHIX_CACHE" \] && \[ -n "\$CACHIX_AUTH_TOKEN" \]; then\n {2}nix run \$ADDONIX_NIX_FLAGS .#ci\.cachix -- push "\$CACHIX_CACHE" \.\/result-amd64\nelse\n {2}echo "addonix: CACHIX_CACHE, CACHIX_AUTH_TOKEN not set \(a fork's pipeline has no secrets\): filling the binary cache skipped"/,
      attic: /nix shell \$ADDONIX_NIX_FLAGS \.#ci\.attic-client --command attic login ci "\$ATTIC_SERVER" "\$ATTIC_TOKEN"[\s\S]*attic push "\$ATTIC_CACHE" \.\/result-amd64/,
      s3: /extra-substituters = %s[\s\S]*"s3:\/\/\$NIX_CACHE_BUCKET\?region=\$AWS_REGION"[\s\S]*nix copy \$ADDONIX_NIX_FLAGS --to "s3:\/\/\$NIX_CACHE_BUCKET\?region=\$AWS_REGION&secret-key=\$HOME\/nix-signing-key" \.\/result-amd64/,
    };
    if (expected[cache]) assert.match(steps, expected[cache]!, cache);
    else assert.doesNotMatch(steps, /cachix|attic|nix copy/);
    const push = ci['push']!;
    assert.deepEqual(push.needs, ['build-aarch64', 'build-amd64']);
    assert.equal(push.stage, 'push');
    // Tags, and the default branch whatever its name.
    assert.deepEqual(push.rules, [{ if: '$CI_COMMIT_TAG' }, { if: '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH' }]);
    assert.deepEqual(push.id_tokens, { SIGSTORE_ID_TOKEN: { aud: 'sigstore' } });
    const script = push.script!.join('\n');
    // A login per registry, into Docker's config.json: the job token for GitLab's, a pair named in the header for ghcr.io.
    assert.match(script, /printf '%s' "\$CI_REGISTRY_PASSWORD" \| addonix login "\$CI_REGISTRY" --username "\$CI_REGISTRY_USER" --password-stdin/);
    assert.match(script, /: "\$\{REGISTRY_GHCR_IO_PASSWORD:\?addonix: REGISTRY_GHCR_IO_PASSWORD is not set[^"]*"\nprintf '%s' "\$REGISTRY_GHCR_IO_PASSWORD" \| addonix login "ghcr\.io" --username "\$REGISTRY_GHCR_IO_USER" --password-stdin/);
    assert.match(text, /^# {3}REGISTRY_GHCR_IO_USER and REGISTRY_GHCR_IO_PASSWORD: a login to ghcr\.io/m);
    assert.doesNotMatch(script, /--username "\$REGISTRY_USER"|push [^\n]*--password-stdin/, 'no shared login on the push');
    assert.match(script, /^addonix\(\) \{ nix run \$ADDONIX_NIX_FLAGS .#addonix -- "\$@"; \}$/m);
    assert.match(script, /if \[ -n "\$CI_COMMIT_TAG" \]; then PUBLISHED=''; else PUBLISHED='--skip-published'; fi/);
    assert.match(script, /addonix push --addon \. --to "\$CI_REGISTRY_IMAGE" --to "ghcr\.io\/me\/\{arch\}-test" --per-arch-repos --tag "\$VERSION" \$PUBLISHED --json image-aarch64\.tar image-amd64\.tar > push\.json/);
    assert.match(script, /cosign sign --yes --recursive "\$REF"[\s\S]*cosign attest --yes --type cyclonedx --predicate "sbom-\$ARCH\.cdx\.json" "\$REF"\n {4}cosign attest --yes --type slsaprovenance1 --predicate "provenance-\$ARCH\.json" "\$REF"/);
  }
  // A deprecated arch is cross-compiled on x86_64 with GitLab.com's longest timeout.
  const dir = tempTree(t, { 'config.yaml': ADDON.replace('  - amd64\n', '  - amd64\n  - armv7\n') });
  assert.equal((await runCliInProcess(['init', dir, '--ci', 'gitlab'])).status, 0);
  const ci = YAML.parse(readFileSync(path.join(dir, '.gitlab-ci.yml'), 'utf8'));
  assert.deepEqual(ci['build-armv7'].tags, ['saas-linux-small-amd64']);
  assert.equal(ci['build-armv7'].timeout, '180 minutes');
});

test('init --ci github, for a repository of two add-ons: the repository flake, data in each, jobs per add-on and arch', async (t) => {
  const dir = tempTree(t, {
    'repository.yaml': 'name: My add-ons\nurl: https://example.invalid/addons\n',
    'one/config.yaml': MINIMAL_CONFIG.replace('slug: test_addon', 'slug: one'),
    'two/config.yaml': MINIMAL_CONFIG.replace('slug: test_addon', 'slug: two').replace('  - aarch64\n', ''),
  });
  const result = await runCliInProcess(['init', dir, '--ci', 'github', '--cache', 'cachix', '--cache-name', 'my-cache']);
  assert.equal(result.status, 0, result.stderr);
  const flake = readFileSync(path.join(dir, 'flake.nix'), 'utf8');
  assert.match(flake, /outputs = \{ self, addonix \}: addonix\.lib\.mkRepositoryFlake \{\n {4}src = \.\/\.;\n {4}addons = \[\n {6}"one"\n {6}"two"\n {4}\];\n {2}\};/);
  if (hasTool('nix-instantiate')) execFileSync('nix-instantiate', ['--parse', path.join(dir, 'flake.nix')], { stdio: 'ignore' });
  for (const addon of ['one', 'two']) assert.ok(existsSync(path.join(dir, addon, 'nix', 'addon.generated.nix')), addon);
  const workflow = YAML.parse(readFileSync(path.join(dir, '.github', 'workflows', 'addonix.yml'), 'utf8')) as {
    env: Record<string, string>;
    jobs: Record<string, { needs?: string[]; steps: { uses?: string; run?: string; with?: Record<string, unknown> }[] }>;
  };
  assert.deepEqual(Object.keys(workflow.jobs), ['build-one-aarch64', 'build-one-amd64', 'push-one', 'build-two-amd64', 'push-two']);
  assert.equal(workflow.env['NIX_CONFIG'], 'experimental-features = nix-command flakes');
  assert.equal(workflow.env['ADDONIX_NIX_FLAGS'], '${{ vars.ADDONIX_NIX_FLAGS }}');
  assert.deepEqual(workflow.jobs['push-two']!.needs, ['build-two-amd64']);
  // Tags and the default branch, whatever its name; signing keyless needs the job's OIDC token.
  const pushJob = workflow.jobs['push-one'] as { if?: string; permissions?: Record<string, string> };
  assert.equal(pushJob.if, "github.event_name == 'push' && (github.ref_type == 'tag' || github.ref_name == github.event.repository.default_branch)");
  assert.deepEqual(pushJob.permissions, { contents: 'read', packages: 'write', 'id-token': 'write' });
  const build = workflow.jobs['build-one-aarch64']!.steps;
  assert.ok(build.some((s) => s.uses === ACTIONS.cachix.uses && s.with?.['name'] === 'my-cache'));
  assert.ok(build.some((s) => s.run?.includes('nix build $ADDONIX_NIX_FLAGS -L .#streamImage-one-aarch64 --out-link result-one-aarch64')));
  assert.match(readFileSync(path.join(dir, '.github', 'workflows', 'addonix.yml'), 'utf8'), /uses: cachix\/cachix-action@[0-9a-f]{40} # v17$/m);
  assert.equal((workflow.jobs['build-one-aarch64'] as { 'runs-on'?: string })['runs-on'], 'ubuntu-24.04-arm');
  assert.equal((workflow.jobs['build-one-amd64'] as { 'runs-on'?: string })['runs-on'], 'ubuntu-24.04');
  const push = workflow.jobs['push-one']!.steps.map((s) => s.run ?? '').join('\n');
  assert.match(push, /addonix inspect one --json \| jq -r \.version/);
  assert.match(push, /printf '%s' "\$GITHUB_TOKEN" \| addonix login "ghcr\.io" --username "\$GITHUB_ACTOR" --password-stdin/);
  // Each add-on's index in a repository of its own, under the repository's name lowercased (ghcr.io takes no capitals).
  assert.match(push, /^IMAGE_REPOSITORY="ghcr\.io\/\$\(printf '%s' "\$GITHUB_REPOSITORY" \| tr '\[:upper:\]' '\[:lower:\]'\)"$/m);
  assert.match(push, /addonix push --addon one --to "\$IMAGE_REPOSITORY\/one" --tag "\$VERSION" .* image-one-aarch64\.tar image-one-amd64\.tar/);
  const pushTwo = workflow.jobs['push-two']!.steps.map((s) => s.run ?? '').join('\n');
  assert.match(pushTwo, /addonix push --addon two --to "\$IMAGE_REPOSITORY\/two" --tag "\$VERSION"/);
  // The steps every job shares are written out in each: no YAML anchors or aliases.
  assert.doesNotMatch(readFileSync(path.join(dir, '.github', 'workflows', 'addonix.yml'), 'utf8'), /(^|\s)[&*]a\d+\b/m);
  // The same init again: nothing changes.
  const again = await runCliInProcess(['init', dir, '--ci', 'github', '--cache', 'cachix', '--cache-name', 'my-cache']);
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /^wrote/m);
});

test('init: a folder without an add-on, and an add-on with errors, write nothing', async (t) => {
  const empty = tempTree(t, { 'README.md': 'hi\n' });
  const none = await runCliInProcess(['init', empty]);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /holds no add-on/);
  const broken = tempTree(t, { 'config.yaml': 'name: x\n' });
  const bad = await runCliInProcess(['init', broken]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /missing-key/);
  assert.ok(!existsSync(path.join(broken, 'flake.nix')) && !existsSync(path.join(empty, 'flake.nix')));
});

test('init: in a git repository the files it writes are staged, since Nix reads only tracked files; an add-on without package.json is told what to add', async (t) => {
  if (!needTools(t, 'git')) return;
  const dir = tempTree(t, { 'config.yaml': ADDON, 'Dockerfile': 'FROM scratch\n' });
  execFileSync('git', ['init', '-q', dir]);
  const result = await runCliInProcess(['init', dir]);
  assert.equal(result.status, 0, result.stderr);
  const staged = execFileSync('git', ['-C', dir, 'diff', '--cached', '--name-only'], { encoding: 'utf8' }).trim().split('\n').sort();
  assert.deepEqual(staged, ['.gitignore', 'flake.nix', 'nix/addon.generated.nix']);
  assert.match(result.stdout, /^staged \(git add, Nix reads only tracked files\): flake\.nix \.gitignore nix\/addon\.generated\.nix$/m);
  assert.match(result.stdout, /^next: cd .*addonix build {3}\(every arch; or nix run \.#build-all-images\), then git add flake\.lock and commit$/m);
  // No Node.js app: nothing is built for it automatically, and the flake shows what to give.
  assert.match(result.stderr, /warning: test_addon has no package\.json: addonix builds the image of a Node\.js app/);
  const flake = readFileSync(path.join(dir, 'flake.nix'), 'utf8');
  assert.match(flake, /# {3}run = \[ "\/bin\/sh" "\/app\/run\.sh" \];\n {4}# {3}extraContents = pkgs: \[ pkgs\.bash pkgs\.jq \];/);
  if (hasTool('nix-instantiate')) execFileSync('nix-instantiate', ['--parse', path.join(dir, 'flake.nix')], { stdio: 'ignore' });
});

test('init: an add-on with a bashio launcher is told how its image runs, which flavor and why, and what to pin; a Dockerfile Docker would stop at writes nothing', async (t) => {
  const fixture = path.join(REPO, 'test', 'fixtures', 'addons', 'spa-bridge');
  const dir = tempTree(t, {});
  cpSync(fixture, dir, { recursive: true });
  const result = await runCliInProcess(['init', dir]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^How the image runs\n {2}flavor +base: Dockerfile:17: CMD runs \/usr\/src\/app\/run\.sh, a launcher that needs the base image \(run\.sh:1: #!\/usr\/bin\/with-contenv bashio\)$/m);
  assert.match(result.stdout, /^ {2}node_modules +\/usr\/src\/app \(npm install, Dockerfile:13\)$/m);
  assert.match(result.stdout, /^ {2}the flavor "base" builds on the pinned base image: run addonix pin-base \(it writes nix\/base-images\.lock\.nix\), then addonix generate$/m);
  const json = await runCliInProcess(['init', dir, '--json', '--force']);
  assert.equal(JSON.parse(json.stdout).runtime.spa_bridge.amd64.flavor, 'base');

  const broken = tempTree(t, {});
  cpSync(fixture, broken, { recursive: true });
  writeFileSync(path.join(broken, 'Dockerfile'), readFileSync(path.join(fixture, 'Dockerfile'), 'utf8').replace('COPY . .', 'COPY missing-folder .'));
  const refused = await runCliInProcess(['init', broken]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /the Dockerfile has an instruction Docker would stop at; nothing was written:\n {2}\S*Dockerfile:14:1: error: COPY: missing-folder: no such file or folder in the add-on folder \(the build context\) \[dockerfile-invalid\]/);
  assert.ok(!existsSync(path.join(broken, 'flake.nix')) && !existsSync(path.join(broken, 'nix')), 'nothing written');
});
