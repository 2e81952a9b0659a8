/**
 * Every option of the command line, defined once (as npm defines its config once): a name has one
 * type and one meaning in every command that takes it, and each command lists the names it takes
 * (`withOptions`). The reference in docs/commands.md is generated from these definitions.
 *
 * Kept free of heavy imports: `validate` reads its options from here without loading yargs.
 */
import type { Argv, Options } from 'yargs';
import { NAMED_ARCHES, archForOtherName, type BuildArch } from '../addon/arch.js';
import { DEFAULT_ERA, ERAS } from '../addon/era-names.js';
import { UsageError } from '../util/errors.js';
import { COMPRESSIONS } from '../oci/media-types.js';
import { ENGINES } from '../engine/engines.js';
import { CACHE_KINDS, CI_KINDS } from '../init/kinds.js';

/** Values of a repeatable option that may also be comma-separated: `--to a --to b` or `--to a,b`. */
export function asList(value: unknown): string[] {
  const values = Array.isArray(value) ? value : [value];
  return values.flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter(Boolean);
}

/** `--arch`: Home Assistant arch names, comma-separated or repeated; another tool's name gets a "did you mean". */
export function parseArchList(value: unknown): BuildArch[] {
  const arches: BuildArch[] = [];
  for (const name of asList(value)) {
    if (!(NAMED_ARCHES as readonly string[]).includes(name)) {
      const meant = archForOtherName(name);
      throw new UsageError(`--arch ${name}: not a Home Assistant arch (${NAMED_ARCHES.join(', ')}).${meant ? ` Did you mean ${meant}?` : ''}`);
    }
    if (!arches.includes(name as BuildArch)) arches.push(name as BuildArch);
  }
  if (arches.length === 0) throw new UsageError('--arch: name at least one arch, e.g. --arch aarch64 or --arch amd64,aarch64');
  return arches;
}

/** A count option (`--jobs 4`): a whole number >= 1, its check naming the value as given, not NaN. */
function wholeNumber(option: string): (value: unknown) => number {
  return (value) => {
    const given = Array.isArray(value) ? value[value.length - 1] : value;
    if ((typeof given !== 'string' && typeof given !== 'number') || !/^[1-9][0-9]*$/.test(String(given).trim())) throw new UsageError(`${option} ${String(given)}: give a whole number >= 1, e.g. ${option} 4`);
    return Number(given);
  };
}

export const OPTION_DEFINITIONS = {
  // Output
  verbose: { type: 'boolean', default: false, describe: "When Nix fails: show the trace it printed before its error (Nix >= 2.9 prints how evaluation got there)" },
  json: { type: 'boolean', default: false, describe: 'Print the result as JSON on stdout (formats: docs/json.md); a failure is then a JSON error object too' },

  // The add-on and its rules
  supervisor: { type: 'string', choices: ERAS, default: DEFAULT_ERA, describe: 'Supervisor rules to read the add-on with: 2026 (apps, current) or 2025 (add-ons, 2025.06)' },
  strict: { type: 'boolean', default: false, describe: 'Fail (exit 1) on warnings too' },
  riscv64: { type: 'boolean', default: false, describe: 'Also take riscv64, which Home Assistant does not run (for images used elsewhere)' },
  arch: {
    type: 'string',
    coerce: parseArchList,
    describe: `Arches (${NAMED_ARCHES.join(', ')}), comma-separated or repeated. Default: every arch of the add-on or the inputs, or as the command says`,
  },
  addon: { type: 'string', describe: "The add-on folder, for the index annotations: version, created and source from its config, revision from its git checkout" },

  // npm
  target: {
    type: 'string',
    array: true,
    describe: 'Target <arch>[-<libc>], e.g. aarch64-musl, or aarch64 for its default libc (glibc for amd64 and aarch64, musl for the others); repeatable',
  },
  app: { type: 'string', describe: 'Folder of the Node.js app inside the add-on (default: found automatically)' },
  'include-dev': { type: 'boolean', default: false, describe: 'Keep devDependencies (npm ci --omit=dev is the default)' },
  'npm-registry': { type: 'string', describe: 'npm registry for packages the lockfile records no URL for (default https://registry.npmjs.org/)' },
  'node-version': { type: 'string', describe: 'Node.js version in the image: optional packages whose engines exclude it are skipped, as npm does' },

  // Writing files
  check: { type: 'boolean', default: false, describe: 'Write nothing; exit 1 naming what is stale (a generated file, a lock whose digests moved)' },
  force: { type: 'boolean', default: false, describe: 'Replace what exists with other content: flake.nix and the CI file (init), a tag that points at another image (push)' },
  out: { type: 'string', default: 'result-multiarch', describe: 'The OCI layout folder to write (replaced if it is a layout already)' },
  'out-link': { type: 'string', default: 'result', describe: 'Prefix of the result links: PREFIX-<arch>' },
  report: { type: 'string', describe: 'Where to write the JSON report (default: verify-<slug>-<arch>.json)' },
  'diff-report': { type: 'string', describe: 'Write the two versions of every differing file to DIR/a and DIR/b (for diffoscope), with both configs and the JSON' },
  attest: { type: 'string', describe: 'Also write an in-toto statement (SLSA provenance) for the image digest to this file, when the image was reproduced' },

  // init
  addonix: { type: 'string', describe: 'The addonix flake the add-on takes as input' },
  ci: { type: 'string', choices: CI_KINDS, describe: 'Also write a CI file: gitlab (.gitlab-ci.yml) or github (.github/workflows/addonix.yml)' },
  cache: { type: 'string', choices: CACHE_KINDS, default: 'none', describe: 'Binary cache step of the CI jobs: cachix, attic, or s3 (nix copy); none by default' },
  'cache-name': { type: 'string', describe: 'The Cachix or attic cache, or S3 bucket (default: a CI variable)' },
  'nix-image': { type: 'string', describe: 'The Nix image the GitLab jobs run in' },

  // Nix
  flake: { type: 'string', describe: 'The flake to build, or (sbom, push --sign) to evaluate (default: DIR; a repository flake, e.g. --flake ., names images dockerImage-<slug>-<arch>)' },
  // No yargs type: `number` would turn `abc` into NaN before the check could name it.
  jobs: { alias: 'j', requiresArg: true, coerce: wholeNumber('--jobs'), describe: 'Builds Nix runs at once, a whole number (--max-jobs; default: the cores of this machine)' },
  builders: { type: 'string', describe: "Remote builders, in Nix's syntax (passed as --builders), e.g. 'ssh://arm-box aarch64-linux'" },
  substituters: { type: 'string', describe: "Binary caches to use instead of the configured ones (passed as --option substituters; '' for none)" },
  'override-input': {
    type: 'string',
    nargs: 2,
    describe: "Replace a flake input for this run, as Nix's --override-input NAME REF: e.g. addonix/nixpkgs git+file:/srv/nixpkgs (a local clone: git+file: or the plain path, as path: copies the whole tree, .git included, on every evaluation) or github:me/nixpkgs/my-branch; repeatable",
  },
  nixpkgs: { type: 'string', describe: "Flake whose legacyPackages.<system>.dockerTools.pullImage computes the hash (default: the nixpkgs revision in addonix's flake.lock)" },
  hash: { type: 'boolean', default: true, describe: 'Compute the Nix hash with Nix; --no-hash pins the digests only and writes hash = null' },
  all: { type: 'boolean', default: false, describe: 'Build every image the flake has (every add-on of a repository flake); needs no add-on folder' },
  'dry-run': { type: 'boolean', default: false, describe: "Build nothing: say per arch how it is built, what Nix would build and fetch, and what a first build costs (Nix's own dry run)" },
  tarball: {
    type: 'boolean',
    default: false,
    describe: 'Build the gzip image tarballs (dockerImage-<arch>, for docker load < result) instead of the stream scripts (streamImage-<arch>), which push, load and diff read directly',
  },
  against: { type: 'string', describe: "The reference: a registry reference or a local image (default: the add-on's published image for its version, from config.yaml)" },

  // Images and registries
  to: { type: 'string', coerce: asList, describe: 'REGISTRY/REPO to push to (repeatable); with {arch} in it, one repository per arch (needs --per-arch-repos)' },
  tag: { type: 'string', coerce: asList, describe: 'Tag to set once everything is pushed (repeatable)' },
  'per-arch-repos': { type: 'boolean', default: false, describe: 'Allow --to REPO with {arch}: the legacy naming, one repository per arch, each tagged with its own manifest' },
  username: { type: 'string', describe: "Registry user name (with --password-stdin); default: Docker's config (credHelpers, auths, credsStore)" },
  'skip-published': {
    type: 'boolean',
    default: false,
    describe: 'Push nothing when every tag exists already, at this image or another (CI on the default branch: a version is published once); without it a tag at another image is refused',
  },
  'password-stdin': { type: 'boolean', default: false, describe: 'Read the password or token from standard input' },
  insecure: { type: 'boolean', default: false, describe: 'Use plain HTTP for a registry that is not on this machine (loopback registries always use HTTP)' },
  'chunk-size': { type: 'string', describe: 'Send blobs larger than this in chunks of this size (default 64M), e.g. behind a proxy that limits request bodies' },
  timeout: { type: 'number', describe: 'Seconds to wait for a registry to answer, or to go on with an answer or upload in flight, before giving up (default 60)' },
  'retry-for': { type: 'number', describe: 'Seconds to keep trying a registry that refuses or drops connections, e.g. while it restarts (default 120)' },
  compression: {
    type: 'string',
    choices: COMPRESSIONS,
    describe: 'Compression of the layers addonix compresses (default gzip). Layers that arrive compressed are kept as they are unless this is given.',
  },
  'allow-devices': {
    type: 'boolean',
    default: false,
    describe: 'Accept device nodes in layers (a base image may hold /dev entries); without it such layers are refused, as are entries that would leave the image root',
  },
  sign: {
    type: 'string',
    describe: "Sign the index and every manifest as cosign does with this private key: cosign.key of cosign generate-key-pair (its password in COSIGN_PASSWORD) or PEM PKCS#8 EC P-256",
  },
  provenance: {
    type: 'boolean',
    default: false,
    describe: "With --sign and --addon: also attest SLSA provenance v1 of the index and each manifest (the add-on's flake inputs, its git revision, addonix and Nix)",
  },
  key: { type: 'string', describe: "Check the image's cosign signatures and attestations with this public key (cosign.pub)" },
  'verify-key': { type: 'string', describe: "Pin a base image only when its arch's manifest has a cosign signature that verifies with this public key" },
  'signatures-only': { type: 'boolean', default: false, describe: 'With --key or --certificate-identity: check the signatures and attestations of the reference only, and build nothing' },
  'certificate-identity': {
    type: 'string',
    describe: "Check keyless cosign signatures (as cosign verify --certificate-identity, offline): the signing certificate's identity, its SAN exactly (a GitHub workflow: https://github.com/OWNER/REPO/.github/workflows/FILE@REF); needs --certificate-oidc-issuer and --trusted-root",
  },
  'certificate-identity-regexp': { type: 'string', describe: 'As --certificate-identity, a regular expression found in the SAN (anchor it with ^ and $)' },
  'certificate-oidc-issuer': { type: 'string', describe: "The certificate's OIDC issuer, exactly (GitHub Actions: https://token.actions.githubusercontent.com)" },
  'certificate-oidc-issuer-regexp': { type: 'string', describe: "As --certificate-oidc-issuer, a regular expression found in the issuer" },
  'trusted-root': {
    type: 'string',
    describe: "With a keyless identity: sigstore's trusted_root.json (Fulcio's CAs, Rekor's and the CT logs' keys); signatures must carry Rekor's offline bundle",
  },
  'insecure-ignore-sct': { type: 'boolean', default: false, describe: 'With a keyless identity: accept a certificate without an SCT of a CT log of the trusted root (as cosign --insecure-ignore-sct)' },
  engine: { type: 'string', choices: ENGINES, describe: 'Which engine loads (and runs) the image (default: Docker when its daemon answers, else Podman, as addonix doctor says)' },

  // Running an add-on (run)
  options: { type: 'string', describe: "A YAML or JSON file of options, laid over config.yaml's defaults (as the Configuration tab); validated against the schema as the Supervisor validates them" },
  port: { type: 'string', array: true, describe: "Publish a port: HOST:CONTAINER[/udp] or ADDRESS:HOST:CONTAINER (repeatable). Default: config.yaml's ports and the ingress port, on 127.0.0.1" },
  format: { type: 'string', choices: ['cyclonedx', 'spdx'], default: 'cyclonedx', describe: 'The SBOM format: CycloneDX 1.6 JSON, or SPDX 2.3 JSON (the same facts)' },
  image: { type: 'string', describe: 'A built image (a result link, tarball, stream script or OCI layout): run starts it instead of building the arch first; sbom describes it instead of result-<arch>' },
  data: { type: 'string', describe: 'Folder mounted as /data, kept between runs (default: a new temporary one, removed afterwards)' },
  'api-log': { type: 'boolean', default: false, describe: 'Show every request the add-on makes to the Supervisor API (METHOD PATH STATUS)' },
  name: { type: 'string', describe: "NAME:TAG the loaded image gets (default: the image's own name, else localhost/addonix:ARCH-DIGEST); one arch only" },
  registry: { type: 'string', coerce: asList, describe: 'A container registry to check: that credentials for it are found (repeatable); they are never printed' },
} as const satisfies Record<string, Options>;

export type OptionName = keyof typeof OPTION_DEFINITIONS;

/** Adds the named options to a command's yargs, as defined above. */
export function withOptions<T>(yargs: Argv<T>, ...names: OptionName[]): Argv<T> {
  let result = yargs;
  for (const name of names) result = result.option(name, OPTION_DEFINITIONS[name] as Options) as unknown as Argv<T>;
  return result;
}

/**
 * The arguments of a command's common invocations, read without yargs (loading and setting it up takes
 * a tenth of a second, a third of a push that has nothing to send): the positionals (`positional` names
 * one list of them, or the names of each in turn), and the command's options, booleans as bare flags,
 * the others with a value (`--to X` or `--to=X`), repeated only where the option is a list. null for
 * anything else (help, `--`, `--no-x`, a short or unknown option, a bad choice or number, a value that
 * looks like an option, a missing required option or positional, a value an option's check refuses),
 * which yargs then parses and reports as it always does.
 */
export function quickArgs(argv: readonly string[], names: readonly OptionName[], positional: string | readonly string[], required: readonly OptionName[] = []): Record<string, unknown> | null {
  const values: string[] = [];
  const options: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) {
      if (arg === '' || arg === 'true' || arg === 'false') return null;
      values.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const name = arg.slice(2, equals < 0 ? undefined : equals);
    if (!arg.startsWith('--') || !(names as readonly string[]).includes(name)) return null;
    const definition: Options = OPTION_DEFINITIONS[name as OptionName];
    const list = definition.coerce === asList || definition.array === true;
    if (Object.hasOwn(options, name) && !list) return null;
    if (definition.type === 'boolean') {
      if (equals >= 0) return null;
      options[name] = true;
      continue;
    }
    const value = equals >= 0 ? arg.slice(equals + 1) : argv[++i];
    if (value === undefined || value === '' || value.startsWith('-')) return null;
    if (definition.choices && !(definition.choices as readonly string[]).includes(value)) return null;
    if (definition.type === 'number') {
      if (!/^\d+(\.\d+)?$/.test(value)) return null;
      options[name] = Number(value);
      continue;
    }
    options[name] = list ? [...((options[name] as string[] | undefined) ?? []), value] : value;
  }
  if (typeof positional === 'string' ? values.length === 0 : values.length !== positional.length) return null;
  for (const name of required) if (!Object.hasOwn(options, name)) return null;
  for (const name of names) {
    const definition: Options = OPTION_DEFINITIONS[name];
    if (!Object.hasOwn(options, name)) {
      if (definition.default !== undefined) options[name] = definition.default;
    } else if (definition.coerce) {
      try {
        options[name] = definition.coerce(options[name]);
      } catch {
        return null;
      }
    }
  }
  const positionals = typeof positional === 'string' ? { [positional]: values } : Object.fromEntries(positional.map((name, i) => [name, values[i]]));
  return { ...positionals, ...options };
}
