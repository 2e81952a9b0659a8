/**
 * CI files `addonix init --ci` writes: one build job per add-on and arch (flakes enabled through NIX_CONFIG),
 * each on a runner of its own system where the CI has one (amd64 on x86_64 runners, aarch64 on arm64
 * runners: the "cached" strategy then builds everything from the binary cache natively), the deprecated
 * arches on x86_64 with the "cross" strategy in jobs of their own with the longest timeout the hosted
 * runners allow; an optional binary cache step that pushes what makes a second machine build nothing
 * (the closure of the image's stream script, whose conf.json names every layer's store path; not the
 * gzip tarball, whose closure is itself alone); and one push job per add-on that publishes the per-arch
 * images and the multi-arch index with `addonix push` (run from the flake: nix run .#addonix).
 * Written as data and serialised by the yaml package, so the files are valid YAML by construction.
 */
import YAML from 'yaml';
import { ARCH_TABLE, isHaArch } from '../addon/arch.js';

import type { CacheKind, CiKind } from './kinds.js';
export { CACHE_KINDS, CI_KINDS, type CacheKind, type CiKind } from './kinds.js';

/** A Nix >= 2.18 image (nixpkgs >= 25.11 needs it); pin another with --nix-image. */
export const DEFAULT_NIX_IMAGE = 'nixos/nix:2.24.6';

export interface CiAddon {
  slug: string;
  /** The add-on folder relative to the repository root (`.` for an add-on at the root). */
  dir: string;
  arches: string[];
  /** config.yaml's image (may hold {arch}), or null. */
  imageTemplate: string | null;
}

export interface CiOptions {
  cache: CacheKind;
  /** The cache's name (Cachix cache, attic cache, S3 bucket); a CI variable by default. */
  cacheName?: string | undefined;
  /** The repository for the multi-arch index (default: the CI's own registry, or config.yaml's image). */
  to?: string[] | undefined;
  nixImage: string;
}

export const CI_FILES: Record<CiKind, string> = { gitlab: '.gitlab-ci.yml', github: '.github/workflows/addonix.yml' };

/**
 * Where an arch's image is built, per CI: the hosted runner of its own system (GitLab.com's
 * saas-linux-small-arm64, GitHub's ubuntu-24.04-arm) for the arches the binary cache serves, x86_64
 * otherwise; and the job timeout in minutes, within the hosted runners' limits (GitLab.com 3 h, GitHub
 * 6 h). A cross build's first run compiles Node.js: without a binary cache it may not finish in time.
 */
export interface RunnerChoice {
  gitlabTags: string[];
  githubRunsOn: string;
  timeoutMinutes: number;
}

export function runnerFor(arch: string): RunnerChoice {
  const row = isHaArch(arch) || arch === 'riscv64' ? ARCH_TABLE[arch as keyof typeof ARCH_TABLE] : null;
  if (row?.nixSystem === 'aarch64-linux') return { gitlabTags: ['saas-linux-small-arm64'], githubRunsOn: 'ubuntu-24.04-arm', timeoutMinutes: 60 };
  if (row?.defaultStrategy === 'cached') return { gitlabTags: ['saas-linux-small-amd64'], githubRunsOn: 'ubuntu-24.04', timeoutMinutes: 60 };
  return { gitlabTags: ['saas-linux-small-amd64'], githubRunsOn: 'ubuntu-24.04', timeoutMinutes: 180 };
}

/** GitHub's hosted runners stop a job at 6 h: a cross build gets most of it. */
const GITHUB_CROSS_TIMEOUT = 350;

/** Job names: build-<arch> and push for one add-on; build-<slug>-<arch> and push-<slug> for several. */
function jobNames(addons: CiAddon[]): { build: Map<string, string[]>; push: Map<string, string> } {
  const several = addons.length > 1;
  const build = new Map(addons.map((a) => [a.slug, a.arches.map((arch) => (several ? `build-${a.slug}-${arch}` : `build-${arch}`))]));
  const push = new Map(addons.map((a) => [a.slug, several ? `push-${a.slug}` : 'push']));
  return { build, push };
}

interface CacheSteps {
  /** Shell lines before a build (use the cache). */
  setup: string[];
  /** Shell lines after a build of `link`, a stream script (fill the cache with its closure). */
  fill: (link: string) => string[];
  /** CI variables (secrets) the steps read, for the header comment. */
  secrets: string[];
}

function cacheSteps(options: CiOptions, variable: (name: string) => string): CacheSteps {
  const name = options.cacheName;
  switch (options.cache) {
    case 'none':
      return { setup: [], fill: () => [], secrets: [] };
    case 'cachix': {
      const cache = name ?? variable('CACHIX_CACHE');
      return {
        setup: [`nix run nixpkgs#cachix -- use "${cache}"`],
        fill: (link) => [`nix run nixpkgs#cachix -- push "${cache}" ./${link}`],
        secrets: ['CACHIX_AUTH_TOKEN (a Cachix token with write access)', ...(name ? [] : ['CACHIX_CACHE (the cache name)'])],
      };
    }
    case 'attic': {
      const cache = name ?? variable('ATTIC_CACHE');
      return {
        setup: [`nix run nixpkgs#attic-client -- login ci "${variable('ATTIC_SERVER')}" "${variable('ATTIC_TOKEN')}"`, `nix run nixpkgs#attic-client -- use "${cache}"`],
        fill: (link) => [`nix run nixpkgs#attic-client -- push "${cache}" ./${link}`],
        secrets: ['ATTIC_SERVER (the server URL)', 'ATTIC_TOKEN (a token allowed to push)', ...(name ? [] : ['ATTIC_CACHE (the cache name)'])],
      };
    }
    case 's3': {
      const bucket = name ?? variable('NIX_CACHE_BUCKET');
      const store = `s3://${bucket}?region=${variable('AWS_REGION')}`;
      return {
        setup: [
          // Read by Nix with the variables already in NIX_CONFIG (flakes).
          `export NIX_CONFIG="$(printf '%s\\nextra-substituters = %s\\nextra-trusted-public-keys = %s' "$NIX_CONFIG" "${store}" "${variable('NIX_CACHE_PUBLIC_KEY')}")"`,
        ],
        fill: (link) => [
          `printf '%s' "${variable('NIX_SIGNING_KEY')}" > "$HOME/nix-signing-key"`,
          `nix copy --to "${store}&secret-key=$HOME/nix-signing-key" ./${link}`,
          `rm -f "$HOME/nix-signing-key"`,
        ],
        secrets: [
          'AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (S3 access)',
          'NIX_SIGNING_KEY (the secret key: nix key generate-secret) and NIX_CACHE_PUBLIC_KEY (nix key convert-secret-to-public)',
          ...(name ? [] : ['NIX_CACHE_BUCKET (the bucket)']),
        ],
      };
    }
  }
}

/**
 * `addonix push` arguments for an add-on: the index repository, and the legacy per-arch ones when
 * config.yaml names them. In a repository of several add-ons each add-on's index goes to a repository of
 * its own (`<default>/<slug>`), never one they share, where the last push would win.
 */
function pushTargets(addon: CiAddon, defaultRepository: string, options: CiOptions, several: boolean): { to: string[]; perArch: boolean } {
  const template = addon.imageTemplate;
  const own = (repository: string) => (several ? `${repository}/${addon.slug.toLowerCase()}` : repository);
  if (options.to && options.to.length > 0) return { to: [...options.to.map(own), ...(template?.includes('{arch}') ? [template] : [])], perArch: !!template?.includes('{arch}') };
  if (template && !template.includes('{arch}')) return { to: [template], perArch: false };
  return { to: [own(defaultRepository), ...(template ? [template] : [])], perArch: !!template };
}

/**
 * The push job's commands. `repository` is a shell expression of the CI's own registry (GitHub's
 * owner/name may hold capitals, which no registry takes: it is lowercased in the shell first).
 */
function pushScript(addon: CiAddon, repository: { setup: string[]; name: string }, options: CiOptions, several: boolean, images: string[], user: string, password: string): string[] {
  const { to, perArch } = pushTargets(addon, repository.name, options, several);
  return [
    ...(to.some((t) => t.includes(repository.name)) ? repository.setup : []),
    // The version is config.yaml's: the tag the Supervisor pulls.
    `VERSION="$(nix run .#addonix -- inspect ${addon.dir} --json | nix run nixpkgs#jq -- -r .version)"`,
    `printf '%s' "${password}" | nix run .#addonix -- push --addon ${addon.dir} ${to.map((t) => `--to "${t}"`).join(' ')}${perArch ? ' --per-arch-repos' : ''} --tag "$VERSION" --username "${user}" --password-stdin ${images.join(' ')}`,
  ];
}

function artifactName(addon: CiAddon, arch: string, several: boolean): string {
  return several ? `image-${addon.slug}-${arch}.tar` : `image-${arch}.tar`;
}

function attribute(addon: CiAddon, arch: string, several: boolean): string {
  return several ? `streamImage-${addon.slug}-${arch}` : `streamImage-${arch}`;
}

/**
 * The build commands of one image: build its stream script, fill the cache with the script's closure,
 * stream the image into a tar file for the push job (on the runner that built it).
 */
export function buildScript(addon: CiAddon, arch: string, several: boolean, cache: CacheSteps): string[] {
  const link = several ? `result-${addon.slug}-${arch}` : `result-${arch}`;
  return [`nix build -L .#${attribute(addon, arch, several)} --out-link ${link}`, ...cache.fill(link), `./${link} > ${artifactName(addon, arch, several)}`];
}

function header(kind: CiKind, cache: CacheSteps, extraSecrets: string[]): string {
  const secrets = [...cache.secrets, ...extraSecrets];
  return [
    ' Written by `addonix init --ci ' + kind + '`: per-arch image builds with Nix, then one push per add-on',
    ' (per-arch images and the multi-arch index, tagged with the version in config.yaml).',
    ' amd64 and aarch64 build on runners of their own system from the binary cache (minutes); a deprecated arch',
    ' (armv7, armhf, i386) compiles a cross toolchain, about fifteen target libraries and Node.js on its first build:',
    ' 3-6 h on 2 cores (an estimate), more than GitLab.com\'s 3 h job limit and near GitHub\'s 6 h. Make that first build',
    ' once on a runner that allows the time (a self-managed one, a longer timeout), with the binary cache step below:',
    ' later builds substitute it and take minutes.',
    ...(secrets.length ? [' Set these CI secrets:', ...secrets.map((s) => `   ${s}`)] : []),
  ].join('\n');
}

function document(value: unknown, comment: string): string {
  // Steps shared by several jobs are written out in each: no anchors and aliases, which some CI tools
  // (action-validator, GitHub's own editor checks) and readers handle poorly.
  const doc = new YAML.Document(value, { aliasDuplicateObjects: false });
  doc.commentBefore = comment;
  return doc.toString({ lineWidth: 0 });
}

export function gitlabCi(addons: CiAddon[], options: CiOptions): string {
  const several = addons.length > 1;
  const names = jobNames(addons);
  const cache = cacheSteps(options, (name) => `$${name}`);
  const jobs: Record<string, unknown> = {
    stages: ['build', 'push'],
    variables: {
      NIX_CONFIG: 'experimental-features = nix-command flakes',
      REGISTRY_USER: '$CI_REGISTRY_USER',
      REGISTRY_PASSWORD: '$CI_REGISTRY_PASSWORD',
    },
    '.nix': { image: options.nixImage, ...(cache.setup.length ? { before_script: cache.setup } : {}) },
  };
  for (const addon of addons) {
    addon.arches.forEach((arch, i) => {
      const runner = runnerFor(arch);
      jobs[names.build.get(addon.slug)![i]!] = {
        extends: '.nix',
        stage: 'build',
        tags: runner.gitlabTags,
        timeout: `${runner.timeoutMinutes} minutes`,
        script: buildScript(addon, arch, several, cache),
        artifacts: { paths: [artifactName(addon, arch, several)], expire_in: '1 week' },
      };
    });
    jobs[names.push.get(addon.slug)!] = {
      extends: '.nix',
      stage: 'push',
      needs: names.build.get(addon.slug)!,
      rules: [{ if: '$CI_COMMIT_TAG || $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH' }],
      // GitLab's registry paths are lowercase already.
      script: pushScript(addon, { setup: [], name: '$CI_REGISTRY_IMAGE' }, options, several, addon.arches.map((arch) => artifactName(addon, arch, several)), '$REGISTRY_USER', '$REGISTRY_PASSWORD'),
    };
  }
  return document(jobs, header('gitlab', cache, ['REGISTRY_USER / REGISTRY_PASSWORD only when pushing elsewhere than this project\'s registry']));
}

export function githubWorkflow(addons: CiAddon[], options: CiOptions): string {
  const several = addons.length > 1;
  const names = jobNames(addons);
  const cache = cacheSteps(options, (name) => `\${{ secrets.${name} }}`);
  // JavaScript actions (checkout, artifacts) cannot run inside the nixos/nix container, which has no glibc:
  // the jobs run on the runner with Nix installed by install-nix-action, flakes enabled the same way (NIX_CONFIG).
  const nixSteps = [
    { uses: 'actions/checkout@v4' },
    { uses: 'cachix/install-nix-action@v31' },
    ...(options.cache === 'cachix'
      ? [{ uses: 'cachix/cachix-action@v16', with: { name: options.cacheName ?? '${{ vars.CACHIX_CACHE }}', authToken: '${{ secrets.CACHIX_AUTH_TOKEN }}' } }]
      : cache.setup.length
        ? [{ name: 'Use the binary cache', run: cache.setup.join('\n') + (options.cache === 's3' ? `\n{ echo 'NIX_CONFIG<<EOF'; echo "$NIX_CONFIG"; echo EOF; } >> "$GITHUB_ENV"` : '') }]
        : []),
  ];
  const env: Record<string, string> = { NIX_CONFIG: 'experimental-features = nix-command flakes' };
  if (options.cache === 's3') Object.assign(env, { AWS_ACCESS_KEY_ID: '${{ secrets.AWS_ACCESS_KEY_ID }}', AWS_SECRET_ACCESS_KEY: '${{ secrets.AWS_SECRET_ACCESS_KEY }}' });
  const jobs: Record<string, unknown> = {};
  for (const addon of addons) {
    addon.arches.forEach((arch, i) => {
      // cachix-action pushes what the job built by itself; the other caches are filled explicitly.
      const script = buildScript(addon, arch, several, options.cache === 'cachix' ? { ...cache, fill: () => [] } : cache);
      const runner = runnerFor(arch);
      jobs[names.build.get(addon.slug)![i]!] = {
        'runs-on': runner.githubRunsOn,
        'timeout-minutes': runner.timeoutMinutes > 60 ? GITHUB_CROSS_TIMEOUT : runner.timeoutMinutes,
        steps: [...nixSteps, { name: `Build ${addon.slug} for ${arch}`, run: script.join('\n') }, { uses: 'actions/upload-artifact@v4', with: { name: artifactName(addon, arch, several), path: artifactName(addon, arch, several) } }],
      };
    });
    jobs[names.push.get(addon.slug)!] = {
      'runs-on': 'ubuntu-24.04',
      needs: names.build.get(addon.slug)!,
      if: "github.event_name == 'push'",
      permissions: { contents: 'read', packages: 'write' },
      steps: [
        ...nixSteps.filter((step) => !('uses' in step) || !String(step.uses).startsWith('cachix/cachix-action')),
        { uses: 'actions/download-artifact@v4', with: { pattern: several ? `image-${addon.slug}-*` : 'image-*', 'merge-multiple': true } },
        {
          name: `Push ${addon.slug}`,
          run: pushScript(
            addon,
            { setup: [`IMAGE_REPOSITORY="ghcr.io/$(printf '%s' "$GITHUB_REPOSITORY" | tr '[:upper:]' '[:lower:]')"`], name: '$IMAGE_REPOSITORY' },
            options,
            several,
            addon.arches.map((arch) => artifactName(addon, arch, several)),
            '${{ github.actor }}',
            '${{ secrets.GITHUB_TOKEN }}',
          ).join('\n'),
        },
      ],
    };
  }
  const workflow = {
    name: 'addonix',
    on: { push: { branches: ['main'], tags: ['*'] }, pull_request: {} },
    env,
    jobs,
  };
  return document(workflow, header('github', cache, []));
}
