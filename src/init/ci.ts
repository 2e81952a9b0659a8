/**
 * CI files `addonix init --ci` writes: one build job per add-on and arch (flakes enabled through NIX_CONFIG),
 * each on a runner of its own system where the CI has one (amd64 on x86_64 runners, aarch64 on arm64
 * runners: the "cached" strategy then builds everything from the binary cache natively), the deprecated
 * arches on x86_64 with the "cross" strategy in jobs of their own with the longest timeout the hosted
 * runners allow; an optional binary cache step that pushes what makes a second machine build nothing
 * (the closure of the image's stream script, whose conf.json names every layer's store path; not the
 * gzip tarball, whose closure is itself alone), skipped when its secrets are absent; the image's SBOM and
 * SLSA provenance; and one push job per add-on, on tags and the default branch, that logs in to each
 * registry it pushes to (Docker's config.json, one entry per host), publishes config.yaml's version once
 * (`addonix push`, `--skip-published` on the default branch) and signs keyless with cosign. Every tool
 * comes from the add-on's flake (its locked nixpkgs), every nix call takes $ADDONIX_NIX_FLAGS.
 * Written as data and serialised by the yaml package, so the files are valid YAML by construction.
 */
import YAML from 'yaml';
import { ARCH_TABLE, isHaArch } from '../addon/arch.js';

import type { CacheKind, CiKind } from './kinds.js';
export { CACHE_KINDS, CI_KINDS, type CacheKind, type CiKind } from './kinds.js';

/**
 * A Nix >= 2.18 image (nixpkgs >= 25.11 needs it) with an arm64 image beside the amd64 one: Nix's release
 * images on GHCR are multi-arch since 2026 (NixOS/nix#14916, #15001), where Docker Hub's nixos/nix tags
 * were amd64 alone from 2.22 on (NixOS/nix#10595, #10648). Pin another with --nix-image.
 */
export const DEFAULT_NIX_IMAGE = 'ghcr.io/nixos/nix:2.34.7';

/**
 * GitHub actions, pinned by commit (a tag can move), the release in a comment. Read 2026-12 from public
 * workflow files that pin them (e.g. famedly/engineering-standards nix/action-versions-data.nix), each
 * commit seen with its release in several repositories.
 */
export const ACTIONS = {
  checkout: { uses: 'actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd', version: 'v6.0.2' },
  installNix: { uses: 'cachix/install-nix-action@51f3067b56fe8ae331890c77d4e454f6d60615ff', version: 'v31.10.2' },
  cachix: { uses: 'cachix/cachix-action@1eb2ef646ac0255473d23a5907ad7b04ce94065c', version: 'v17' },
  uploadArtifact: { uses: 'actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f', version: 'v7.0.0' },
  downloadArtifact: { uses: 'actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c', version: 'v8.0.1' },
} as const;

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

/** How a job calls Nix: every call takes $ADDONIX_NIX_FLAGS after its command (unquoted: its words are the flags; addonix reads the same variable). */
const nix = (command: string) => `nix ${command} $ADDONIX_NIX_FLAGS`;
/** Shell functions at the top of a script: addonix and the tools from the add-on's flake (its locked nixpkgs). */
const FUNCTIONS = [
  `addonix() { ${nix('run')} .#addonix -- "$@"; }`,
  `jq() { ${nix('run')} .#ci.jq -- "$@"; }`,
];

/** The first step of every job: without flake.lock each job would take addonix and nixpkgs at their newest. */
const LOCK_CHECK =
  "if [ ! -f flake.lock ]; then echo 'addonix: flake.lock is missing: run nix flake lock (addonix build writes it too) and commit it; without it every job would take addonix and nixpkgs at their newest' >&2; exit 1; fi";

interface CacheSteps {
  /** Shell lines before a build (use the cache); each skips itself when its secrets are absent. */
  setup: string[];
  /** Shell lines after a build of `link`, a stream script (fill the cache with its closure). */
  fill: (link: string) => string[];
  /** CI variables (secrets) the steps read, for the header comment. */
  secrets: string[];
  /** The variables the steps read, each set from the CI's secrets (GitHub: an env map). */
  env: string[];
}

function skipUnless(variables: string[], what: string, lines: string[]): string {
  const test = variables.map((v) => `[ -n "$${v}" ]`).join(' && ');
  // Double quotes: the message's apostrophe would end a single-quoted one (a syntax error of the whole step).
  return `if ${test}; then\n${lines.map((l) => `  ${l}`).join('\n')}\nelse\n  echo "addonix: ${variables.join(', ')} not set (a fork's pipeline has no secrets): ${what} skipped"\nfi`;
}

function cacheSteps(options: CiOptions): CacheSteps {
  const name = options.cacheName;
  switch (options.cache) {
    case 'none':
      return { setup: [], fill: () => [], secrets: [], env: [] };
    case 'cachix': {
      const cache = name ?? '$CACHIX_CACHE';
      const needs = name ? [] : ['CACHIX_CACHE'];
      return {
        setup: [needs.length ? skipUnless(needs, 'the binary cache', [`${nix('run')} .#ci.cachix -- use "${cache}"`]) : `${nix('run')} .#ci.cachix -- use "${cache}"`],
        // cachix push reads CACHIX_AUTH_TOKEN.
        fill: (link) => [skipUnless([...needs, 'CACHIX_AUTH_TOKEN'], 'filling the binary cache', [`${nix('run')} .#ci.cachix -- push "${cache}" ./${link}`])],
        secrets: ['CACHIX_AUTH_TOKEN (secret: a Cachix token with write access)', ...(name ? [] : ['CACHIX_CACHE (variable: the cache name)'])],
        env: ['CACHIX_AUTH_TOKEN', ...needs],
      };
    }
    case 'attic': {
      const cache = name ?? '$ATTIC_CACHE';
      const needs = ['ATTIC_SERVER', 'ATTIC_TOKEN', ...(name ? [] : ['ATTIC_CACHE'])];
      const attic = `${nix('shell')} .#ci.attic-client --command attic`;
      return {
        setup: [skipUnless(needs, 'the binary cache', [`${attic} login ci "$ATTIC_SERVER" "$ATTIC_TOKEN"`, `${attic} use "${cache}"`])],
        fill: (link) => [skipUnless(needs, 'filling the binary cache', [`${attic} push "${cache}" ./${link}`])],
        secrets: ['ATTIC_SERVER (the server URL)', 'ATTIC_TOKEN (secret: a token allowed to push)', ...(name ? [] : ['ATTIC_CACHE (the cache name)'])],
        env: needs,
      };
    }
    case 's3': {
      const bucket = name ?? '$NIX_CACHE_BUCKET';
      const store = `s3://${bucket}?region=$AWS_REGION`;
      const reads = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'NIX_CACHE_PUBLIC_KEY', ...(name ? [] : ['NIX_CACHE_BUCKET'])];
      return {
        setup: [
          // Read by Nix with the variables already in NIX_CONFIG (flakes).
          skipUnless(reads, 'the binary cache', [`export NIX_CONFIG="$(printf '%s\\nextra-substituters = %s\\nextra-trusted-public-keys = %s' "$NIX_CONFIG" "${store}" "$NIX_CACHE_PUBLIC_KEY")"`]),
        ],
        fill: (link) => [
          skipUnless([...reads, 'NIX_SIGNING_KEY'], 'filling the binary cache', [
            `printf '%s' "$NIX_SIGNING_KEY" > "$HOME/nix-signing-key"`,
            `${nix('copy')} --to "${store}&secret-key=$HOME/nix-signing-key" ./${link}`,
            `rm -f "$HOME/nix-signing-key"`,
          ]),
        ],
        secrets: [
          'AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (secrets), AWS_REGION (S3 access)',
          'NIX_SIGNING_KEY (secret: nix key generate-secret) and NIX_CACHE_PUBLIC_KEY (nix key convert-secret-to-public)',
          ...(name ? [] : ['NIX_CACHE_BUCKET (the bucket)']),
        ],
        env: [...reads, 'NIX_SIGNING_KEY'],
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

/** The registry host of a target (a literal reference; Docker Hub when its first part names no host). */
export function registryHost(target: string): string {
  const first = target.split('/')[0]!;
  return target.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

/** The CI variables holding the login to a registry other than the CI's own: REGISTRY_<HOST>_USER and _PASSWORD. */
export function loginVariables(host: string): { user: string; password: string } {
  const stem = `REGISTRY_${host.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
  return { user: `${stem}_USER`, password: `${stem}_PASSWORD` };
}

/** A login, as shell lines: the password from a variable, refused clearly when it is not set. */
interface Login {
  host: string;
  /** Shell words: the registry, the user. */
  registry: string;
  user: string;
  /** The variable holding the password or token. */
  password: string;
  /** For the header: where the variables come from. */
  note: string;
}

/** The login to a registry other than the CI's own, from the variable pair loginVariables names. */
function variableLogin(host: string, kept: string): Login {
  const variables = loginVariables(host);
  return { host, registry: host, user: `$${variables.user}`, password: variables.password, note: `a login to ${host} allowed to push there (${kept})` };
}

function loginLines(logins: Login[]): string[] {
  return logins.flatMap((login) => [
    `: "\${${login.password}:?addonix: ${login.password} is not set: the password or token of the login to ${login.host}, for the push}"`,
    `printf '%s' "$${login.password}" | addonix login "${login.registry}" --username "${login.user}" --password-stdin`,
  ]);
}

/**
 * The push job's commands: a login per registry pushed to, into Docker's config.json (push reads it per
 * host), then the push of config.yaml's version. On a tag pipeline a tag that points at another image is
 * a failure (push refuses to move it: a version is published once); on the default branch a version
 * published already (at this image or another) is left alone, so a commit that does not change the
 * version passes. Then, where the CI gives an OIDC identity, cosign signs keyless and attests each arch's
 * SBOM.
 */
function pushScript(
  addon: CiAddon,
  ci: { repository: string; setup: string[]; ownLogin: Login; loginFor: (host: string) => Login; onTag: string; signWhen: string },
  options: CiOptions,
  several: boolean,
): { lines: string[]; logins: Login[] } {
  const { to, perArch } = pushTargets(addon, ci.repository, options, several);
  const logins = new Map<string, Login>();
  for (const target of to) {
    if (target.startsWith(ci.repository)) logins.set(ci.ownLogin.host, ci.ownLogin);
    else {
      const host = registryHost(target);
      if (!logins.has(host)) logins.set(host, ci.loginFor(host));
    }
  }
  const images = addon.arches.map((arch) => artifactName(addon, arch, several));
  const result = several ? `push-${addon.slug}.json` : 'push.json';
  const sbom = (arch: string) => sbomName(addon, arch, several);
  const provenance = (arch: string) => provenanceName(addon, arch, several);
  const lines = [
    ...FUNCTIONS,
    ...(to.some((t) => t.startsWith(ci.repository)) ? ci.setup : []),
    ...loginLines([...logins.values()]),
    // The version is config.yaml's: the tag the Supervisor pulls.
    `VERSION="$(addonix inspect ${addon.dir} --json | jq -r .version)"`,
    `if ${ci.onTag}; then PUBLISHED=''; else PUBLISHED='--skip-published'; fi`,
    `addonix push --addon ${addon.dir} ${to.map((t) => `--to "${t}"`).join(' ')}${perArch ? ' --per-arch-repos' : ''} --tag "$VERSION" $PUBLISHED --json ${images.join(' ')} > ${result} || { cat ${result} >&2; exit 1; }`,
    `jq -r 'if .published then (.published[] | "published already: \\(.reference) = \\(.digest)" + (if .thisImage then " (this image)" else " (another image: publish a change under a new version)" end)) else (.pushed[] | "pushed \\(.repository):\\(.tags | join(",")) = \\(.digest)") end' ${result}`,
    [
      `if ${ci.signWhen} && [ "$(jq -r '.published == null' ${result})" = true ]; then`,
      '  # Keyless: cosign gets a certificate for this job\'s OIDC identity (Fulcio) and logs the signature (Rekor).',
      `  cosign() { ${nix('run')} .#ci.cosign -- "$@"; }`,
      `  for REF in $(jq -r '.pushed[] | .repository + "@" + .digest' ${result}); do cosign sign --yes --recursive "$REF"; done`,
      `  jq -r '. as $r | .pushed[] | . as $p | $r.manifests[] | select($p.digest == $r.index or $p.digest == .digest) | .arch + " " + $p.repository + "@" + .digest' ${result} | while read -r ARCH REF; do`,
      `    cosign attest --yes --type cyclonedx --predicate "${sbom('$ARCH')}" "$REF"`,
      `    cosign attest --yes --type slsaprovenance1 --predicate "${provenance('$ARCH')}" "$REF"`,
      '  done',
      'fi',
    ].join('\n'),
  ];
  return { lines, logins: [...logins.values()] };
}

function artifactName(addon: CiAddon, arch: string, several: boolean): string {
  return several ? `image-${addon.slug}-${arch}.tar` : `image-${arch}.tar`;
}

function sbomName(addon: CiAddon, arch: string, several: boolean): string {
  return several ? `sbom-${addon.slug}-${arch}.cdx.json` : `sbom-${arch}.cdx.json`;
}

function provenanceName(addon: CiAddon, arch: string, several: boolean): string {
  return several ? `provenance-${addon.slug}-${arch}.json` : `provenance-${arch}.json`;
}

/** What a build job keeps for the push job: the image, its SBOM and its provenance. */
function artifactsOf(addon: CiAddon, arch: string, several: boolean): string[] {
  return [artifactName(addon, arch, several), sbomName(addon, arch, several), provenanceName(addon, arch, several)];
}

function attribute(addon: CiAddon, arch: string, several: boolean): string {
  return several ? `streamImage-${addon.slug}-${arch}` : `streamImage-${arch}`;
}

/**
 * The build commands of one image: build its stream script, fill the cache with the script's closure,
 * stream the image into a tar file for the push job (on the runner that built it), and write its SBOM
 * here, where the Nix store holds every path of the image, and its SLSA provenance (the push job attests both).
 */
export function buildScript(addon: CiAddon, arch: string, several: boolean, cache: CacheSteps): string[] {
  const link = several ? `result-${addon.slug}-${arch}` : `result-${arch}`;
  return [
    `${nix('build')} -L .#${attribute(addon, arch, several)} --out-link ${link}`,
    ...cache.fill(link),
    `./${link} > ${artifactName(addon, arch, several)}`,
    `${nix('run')} .#addonix -- sbom ${addon.dir} --arch ${arch} --image ${artifactName(addon, arch, several)} > ${sbomName(addon, arch, several)}`,
    `${nix('run')} .#addonix -- provenance ${addon.dir} --arch ${arch} --flake . > ${provenanceName(addon, arch, several)}`,
  ];
}

function header(kind: CiKind, cache: CacheSteps, logins: Login[]): string {
  const variables = [
    ...cache.secrets,
    ...logins.map((login) => `${login.user.startsWith('$') ? '' : `${login.user} and `}${login.password}: ${login.note}`),
    `ADDONIX_NIX_FLAGS (optional${kind === 'github' ? ', a repository variable' : ''}): extra flags for every nix and addonix call, e.g. --override-input addonix/nixpkgs git+https://mirror.example/nixpkgs`,
  ];
  return [
    ' Written by `addonix init --ci ' + kind + '`: per-arch image builds with Nix, then one push per add-on',
    ' (per-arch images and the multi-arch index, tagged with the version in config.yaml, each add-on to its own',
    ' repository). The push runs on tags, and on the default branch when that version is not published yet:',
    ' a version is published once (a tag at another image fails a tag pipeline; the default branch leaves it).',
    ' Signed keyless with cosign and this CI\'s OIDC identity, each arch\'s SBOM and SLSA provenance attested (docs: push-and-verify.md).',
    ' Commit flake.lock (nix flake lock writes it): every tool comes from the nixpkgs it pins.',
    ' amd64 and aarch64 build on runners of their own system from the binary cache (minutes); a deprecated arch',
    ' (armv7, armhf, i386) compiles a cross toolchain, about fifteen target libraries and Node.js on its first build:',
    ' 3-6 h on 2 cores (an estimate), more than GitLab.com\'s 3 h job limit and near GitHub\'s 6 h. Make that first build',
    ' once on a runner that allows the time (a self-managed one, a longer timeout), with the binary cache step below:',
    ' later builds substitute it and take minutes.',
    ' CI variables:',
    ...variables.map((s) => `   ${s}`),
  ].join('\n');
}

function document(value: unknown, comment: string): string {
  // Steps shared by several jobs are written out in each: no anchors and aliases, which some CI tools
  // (action-validator, GitHub's own editor checks) and readers handle poorly.
  const doc = new YAML.Document(value, { aliasDuplicateObjects: false });
  doc.commentBefore = comment;
  // An action pinned by commit says its release beside it.
  const releases = new Map<string, string>(Object.values(ACTIONS).map((action) => [action.uses, action.version]));
  YAML.visit(doc, {
    Pair(_, pair) {
      if (YAML.isScalar(pair.key) && pair.key.value === 'uses' && YAML.isScalar(pair.value)) {
        const release = releases.get(String(pair.value.value));
        if (release) pair.value.comment = ` ${release}`;
      }
    },
  });
  return doc.toString({ lineWidth: 0 });
}

export function gitlabCi(addons: CiAddon[], options: CiOptions): string {
  const several = addons.length > 1;
  const names = jobNames(addons);
  const cache = cacheSteps(options);
  const jobs: Record<string, unknown> = {
    stages: ['build', 'push'],
    variables: {
      NIX_CONFIG: 'experimental-features = nix-command flakes',
      ADDONIX_NIX_FLAGS: '',
    },
    '.nix': { image: options.nixImage, before_script: [LOCK_CHECK, ...cache.setup] },
  };
  const allLogins = new Map<string, Login>();
  for (const addon of addons) {
    addon.arches.forEach((arch, i) => {
      const runner = runnerFor(arch);
      jobs[names.build.get(addon.slug)![i]!] = {
        extends: '.nix',
        stage: 'build',
        tags: runner.gitlabTags,
        timeout: `${runner.timeoutMinutes} minutes`,
        script: buildScript(addon, arch, several, cache),
        artifacts: { paths: artifactsOf(addon, arch, several), expire_in: '1 week' },
      };
    });
    const { lines, logins } = pushScript(
      addon,
      {
        // GitLab's registry paths are lowercase already.
        repository: '$CI_REGISTRY_IMAGE',
        setup: [],
        ownLogin: { host: '$CI_REGISTRY', registry: '$CI_REGISTRY', user: '$CI_REGISTRY_USER', password: 'CI_REGISTRY_PASSWORD', note: 'GitLab sets them: the job token, for this project\'s registry' },
        loginFor: (host) => variableLogin(host, 'masked variables'),
        onTag: '[ -n "$CI_COMMIT_TAG" ]',
        signWhen: '[ -n "$SIGSTORE_ID_TOKEN" ]',
      },
      options,
      several,
    );
    for (const login of logins) allLogins.set(login.host, login);
    jobs[names.push.get(addon.slug)!] = {
      extends: '.nix',
      stage: 'push',
      needs: names.build.get(addon.slug)!,
      rules: [{ if: '$CI_COMMIT_TAG' }, { if: '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH' }],
      // cosign's keyless signing takes this token as the job's identity.
      id_tokens: { SIGSTORE_ID_TOKEN: { aud: 'sigstore' } },
      script: lines,
    };
  }
  const logins = [...allLogins.values()].map((login) => (login.user.startsWith('$CI_') ? { ...login, user: '$CI_REGISTRY_USER' } : { ...login, user: login.user.slice(1) }));
  return document(jobs, header('gitlab', cache, logins));
}

export function githubWorkflow(addons: CiAddon[], options: CiOptions): string {
  const several = addons.length > 1;
  const names = jobNames(addons);
  const cache = cacheSteps(options);
  const secretEnv = (variables: string[]) => Object.fromEntries(variables.map((v) => [v, v === 'CACHIX_CACHE' || v === 'AWS_REGION' || v === 'ATTIC_SERVER' || v === 'ATTIC_CACHE' || v === 'NIX_CACHE_BUCKET' || v === 'NIX_CACHE_PUBLIC_KEY' ? `\${{ vars.${v} }}` : `\${{ secrets.${v} }}`]));
  // JavaScript actions (checkout, artifacts) cannot run inside the nixos/nix container, which has no glibc:
  // the jobs run on the runner with Nix installed by install-nix-action, flakes enabled the same way (NIX_CONFIG).
  const cacheSetup: Record<string, unknown>[] =
    options.cache === 'cachix'
      ? // cachix-action pushes what the job builds by itself; without the cache's name (a fork's pull request) the step is skipped.
        [{ uses: ACTIONS.cachix.uses, ...(options.cacheName ? {} : { if: "vars.CACHIX_CACHE != ''" }), with: { name: options.cacheName ?? '${{ vars.CACHIX_CACHE }}', authToken: '${{ secrets.CACHIX_AUTH_TOKEN }}' } }]
      : cache.setup.length
        ? [
            {
              name: 'Use the binary cache',
              env: secretEnv(cache.env),
              run: [
                ...cache.setup,
                ...(options.cache === 's3'
                  ? [
                      // install-nix-action's Nix substitutes through its daemon, which does not see this job's
                      // environment: the daemon gets the S3 keys in its own (a systemd drop-in), then restarts.
                      skipUnless(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'], 'S3 keys for the Nix daemon', [
                        'sudo mkdir -p /etc/systemd/system/nix-daemon.service.d',
                        `printf '[Service]\\nEnvironment="AWS_ACCESS_KEY_ID=%s" "AWS_SECRET_ACCESS_KEY=%s"\\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" | sudo tee /etc/systemd/system/nix-daemon.service.d/aws.conf > /dev/null`,
                        'sudo systemctl daemon-reload && sudo systemctl restart nix-daemon',
                      ]),
                      `{ echo 'NIX_CONFIG<<EOF'; echo "$NIX_CONFIG"; echo EOF; } >> "$GITHUB_ENV"`,
                    ]
                  : []),
              ].join('\n'),
            },
          ]
        : [];
  const nixSteps = [{ uses: ACTIONS.checkout.uses }, { uses: ACTIONS.installNix.uses }, { name: 'flake.lock', run: LOCK_CHECK }];
  const env: Record<string, string> = { NIX_CONFIG: 'experimental-features = nix-command flakes', ADDONIX_NIX_FLAGS: '${{ vars.ADDONIX_NIX_FLAGS }}' };
  const jobs: Record<string, unknown> = {};
  const allLogins = new Map<string, Login>();
  const githubLogin: Login = { host: 'ghcr.io', registry: 'ghcr.io', user: '$GITHUB_ACTOR', password: 'GITHUB_TOKEN', note: 'GitHub gives it: the job\'s token, with packages: write' };
  for (const addon of addons) {
    addon.arches.forEach((arch, i) => {
      // cachix-action pushes what the job built by itself; the other caches are filled explicitly.
      const script = buildScript(addon, arch, several, options.cache === 'cachix' ? { ...cache, fill: () => [] } : cache);
      const runner = runnerFor(arch);
      jobs[names.build.get(addon.slug)![i]!] = {
        'runs-on': runner.githubRunsOn,
        'timeout-minutes': runner.timeoutMinutes > 60 ? GITHUB_CROSS_TIMEOUT : runner.timeoutMinutes,
        permissions: { contents: 'read' },
        steps: [
          ...nixSteps,
          ...cacheSetup,
          { name: `Build ${addon.slug} for ${arch}`, ...(options.cache !== 'cachix' && cache.env.length ? { env: secretEnv(cache.env) } : {}), run: script.join('\n') },
          { uses: ACTIONS.uploadArtifact.uses, with: { name: artifactName(addon, arch, several), path: artifactsOf(addon, arch, several).join('\n') } },
        ],
      };
    });
    const { lines, logins } = pushScript(
      addon,
      {
        repository: '$IMAGE_REPOSITORY',
        // GitHub's owner/name may hold capitals, which no registry takes.
        setup: [`IMAGE_REPOSITORY="ghcr.io/$(printf '%s' "$GITHUB_REPOSITORY" | tr '[:upper:]' '[:lower:]')"`],
        ownLogin: githubLogin,
        // Also when only config.yaml's image is on GitHub's registry: the job's token serves there too.
        loginFor: (host) => {
          if (host === githubLogin.host) return githubLogin;
          return variableLogin(host, 'repository secrets');
        },
        onTag: '[ "$GITHUB_REF_TYPE" = tag ]',
        signWhen: '[ -n "$ACTIONS_ID_TOKEN_REQUEST_URL" ]',
      },
      options,
      several,
    );
    for (const login of logins) allLogins.set(login.host, login);
    const loginEnv = Object.fromEntries(logins.flatMap((login) => (login.password === 'GITHUB_TOKEN' ? [['GITHUB_TOKEN', '${{ secrets.GITHUB_TOKEN }}']] : [[login.user.slice(1), `\${{ secrets.${login.user.slice(1)} }}`], [login.password, `\${{ secrets.${login.password} }}`]])));
    jobs[names.push.get(addon.slug)!] = {
      'runs-on': 'ubuntu-24.04',
      needs: names.build.get(addon.slug)!,
      // Tags, and the default branch whatever its name; never pull requests.
      if: "github.event_name == 'push' && (github.ref_type == 'tag' || github.ref_name == github.event.repository.default_branch)",
      // id-token: cosign's keyless signing takes the job's OIDC identity.
      permissions: { contents: 'read', packages: 'write', 'id-token': 'write' },
      steps: [
        ...nixSteps,
        { uses: ACTIONS.downloadArtifact.uses, with: { pattern: several ? `image-${addon.slug}-*` : 'image-*', 'merge-multiple': true } },
        { name: `Push ${addon.slug}`, env: loginEnv, run: lines.join('\n') },
      ],
    };
  }
  const workflow = {
    name: 'addonix',
    on: { push: { branches: ['**'], tags: ['**'] }, pull_request: {} },
    env,
    jobs,
  };
  const logins = [...allLogins.values()].map((login) => ({ ...login, user: login.password === 'GITHUB_TOKEN' ? '$GITHUB_ACTOR' : login.user.slice(1) }));
  return document(workflow, header('github', cache, logins));
}
