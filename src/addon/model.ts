/**
 * The resolved model of one add-on: what every later stage (npm, Nix generation, images) needs, per arch.
 * `addonix inspect --json` prints it; its shape is documented in docs/json.md and versioned by `schemaVersion`.
 */
import { ARCH_TABLE, isHaArch, type ArchInfo, type BuildArch } from './arch.js';
import { ERA_RULES, type Era } from './eras.js';
import path from 'node:path';
import { argDefault, finalBaseImage } from './dockerfile.js';
import type { LoadedAddon } from './load.js';
import { isPlainObject, type PlainObject } from './validate.js';
import { addonContext, type IgnoreRule } from './context.js';
import { chooseFlavor, isS6BaseImage, RuntimeError, runtimeContract, type Flavor, type ImageConfig, type RuntimeContract } from './runtime.js';
import { DiagnosticList, type Diagnostic } from '../util/diagnostics.js';

/** `created` for labels and images: fixed, so that builds are reproducible (dockerTools' default). */
export const FIXED_CREATED = '1970-01-01T00:00:01Z';

export type BaseImageSource = 'build-file' | 'supervisor-default' | 'dockerfile' | null;

/** An arch of the add-on: the arch table's row, and what this add-on builds for it. */
export interface ArchModel extends ArchInfo {
  /** Image reference with `{arch}` substituted and the version as tag. */
  image: string;
  /** The base image of the final Dockerfile stage (or BUILD_FROM without a Dockerfile), null if unknown. */
  baseImage: string | null;
  baseImageSource: BaseImageSource;
  /** The Dockerfile the Supervisor uses for this arch (Dockerfile.<arch> first). */
  dockerfile: string | null;
  /** BUILD_FROM (when passed), BUILD_VERSION, BUILD_ARCH, then the build file's args. */
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  /** How the image runs: the Dockerfile's runtime contract and the flavor it needs. */
  runtime: ArchRuntime;
}

export interface ArchRuntime {
  /** The Dockerfile's contract, or null without a Dockerfile (or when it cannot be read: see runtimeFindings). */
  contract: RuntimeContract | null;
  flavor: Flavor;
  flavorReason: string;
  /** Whether the base image's config was known (pinned with its config) when the Dockerfile was evaluated. */
  baseConfigKnown: boolean;
  /** The Dockerfile places no app and sets no command: addonix's /app and package.json's command fill in. */
  appByDefault: boolean;
}

export interface AddonModel {
  schemaVersion: 1;
  name: string;
  slug: string;
  version: string;
  description: string;
  url: string | null;
  /** The rules the model was resolved with. */
  supervisor: Era;
  files: {
    config: string;
    build: string | null;
    /** True when the build file exists but the Supervisor ignores it (it failed its schema). */
    buildIgnored: boolean;
    repository: string | null;
  };
  /** The `image` template from config, or null when the Supervisor builds the image locally. */
  imageTemplate: string | null;
  init: boolean;
  ingress: boolean;
  ingressPort: number;
  ports: Record<string, number | null>;
  environment: Record<string, string>;
  /** Option defaults and their schema, as written in config. */
  options: PlainObject;
  schema: PlainObject | false;
  arches: ArchModel[];
  /** .dockerignore's rules: what the build context leaves out. */
  contextIgnore: IgnoreRule[];
  /** What the Dockerfile evaluation found: instructions not carried over, errors Docker would stop at. */
  runtimeFindings: Diagnostic[];
}

export interface ModelOptions {
  era: Era;
  /** Also resolve these arches, which Home Assistant does not run (riscv64). */
  extraArches?: readonly BuildArch[];
  display?: (file: string) => string;
  /** The pinned base images' configs per arch (nix/base-images.lock.nix), for the Dockerfile's variables. */
  baseConfigs?: Partial<Record<string, ImageConfig>>;
}

function stringMap(value: unknown): Record<string, string> {
  if (!isPlainObject(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

/** Resolve the model of a loaded, valid add-on. */
export function resolveModel(addon: LoadedAddon, options: ModelOptions): AddonModel {
  const config = addon.config;
  if (!config) throw new Error('resolveModel needs a validated config');
  const display = options.display ?? ((file: string) => file);
  const rules = ERA_RULES[options.era];
  const version = String(config['version']);
  const slug = String(config['slug']);
  const name = String(config['name']);
  const description = String(config['description']);
  const url = typeof config['url'] === 'string' ? config['url'] : null;
  const imageTemplate = typeof config['image'] === 'string' ? config['image'] : null;
  const repositoryUrl = typeof addon.repository?.data?.['url'] === 'string' ? (addon.repository.data['url'] as string) : null;
  const build = addon.build;
  const buildSettings = build?.build ?? null;

  const configured = (Array.isArray(config['arch']) ? config['arch'] : []).filter(isHaArch);
  const arches: BuildArch[] = [...new Set<BuildArch>([...configured, ...(options.extraArches ?? [])])];

  const context = addonContext(addon.location.dir);
  const findings = new DiagnosticList();
  const seen = new Set<string>();
  const report = (severity: 'error' | 'warning', file: string, line: number | null, code: 'dockerfile-invalid' | 'not-carried' | 'dockerfile-variable' | 'init-s6', message: string) => {
    const key = `${file}:${line}:${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    findings.add(severity, file, line === null ? null : { line, col: 1 }, code, message);
  };
  const init = config['init'] !== false;

  const archModels = arches.map((arch): ArchModel => {
    const info = ARCH_TABLE[arch];
    // BUILD_FROM as the Supervisor passes it (apps/build.py): from the build file, its default when the
    // file exists (even when ignored), and with no build file only in the 2025 rules.
    let buildFrom: string | undefined;
    let source: BaseImageSource = null;
    if (build) {
      const from = buildSettings?.['build_from'];
      if (typeof from === 'string') {
        buildFrom = from;
        source = 'build-file';
      } else if (isPlainObject(from) && typeof from[arch] === 'string') {
        buildFrom = from[arch] as string;
        source = 'build-file';
      } else if (!isPlainObject(from) || Object.keys(from).length === 0) {
        buildFrom = rules.defaultBuildFrom(arch);
        source = 'supervisor-default';
      }
    } else if (rules.buildFromWithoutBuildFile) {
      buildFrom = rules.defaultBuildFrom(arch);
      source = 'supervisor-default';
    }

    const dockerfile = (isHaArch(arch) ? addon.dockerfiles[arch] : undefined) ?? addon.dockerfiles.default;
    // Without a BUILD_FROM from the builder, the Dockerfile's own `ARG BUILD_FROM=...` default applies.
    const effectiveBuildFrom = buildFrom ?? (dockerfile ? argDefault(dockerfile.parsed, 'BUILD_FROM') : undefined);
    const buildArgs: Record<string, string> = {};
    if (effectiveBuildFrom !== undefined) buildArgs['BUILD_FROM'] = effectiveBuildFrom;
    buildArgs['BUILD_VERSION'] = version;
    buildArgs['BUILD_ARCH'] = arch;
    // apps/build.py: the file's args may override BUILD_VERSION/BUILD_ARCH; a passed BUILD_FROM wins.
    for (const [key, value] of Object.entries(stringMap(buildSettings?.['args']))) {
      if (key !== 'BUILD_FROM' || !('BUILD_FROM' in buildArgs)) buildArgs[key] = value;
    }

    let baseImage: string | null = effectiveBuildFrom ?? null;
    if (dockerfile && dockerfile.parsed.stages.length > 0) baseImage = finalBaseImage(dockerfile.parsed, buildArgs) || null;
    if (baseImage === null) source = null;
    else if (baseImage !== buildFrom) source = 'dockerfile';

    const labels: Record<string, string> = {
      'io.hass.version': version,
      'io.hass.arch': arch,
      'io.hass.type': 'addon',
      'io.hass.name': name,
      'io.hass.description': description,
    };
    if (url) labels['io.hass.url'] = url;
    labels['org.opencontainers.image.version'] = version;
    labels['org.opencontainers.image.created'] = FIXED_CREATED;
    const sourceUrl = repositoryUrl ?? url;
    if (sourceUrl) labels['org.opencontainers.image.source'] = sourceUrl;
    Object.assign(labels, stringMap(buildSettings?.['labels']));

    const image = imageTemplate ? imageTemplate.replace(/\{arch\}/g, arch) : `local/${arch}-addon-${slug}`;

    // The Dockerfile's runtime contract, evaluated on the base image's config where it is pinned.
    const baseConfig = options.baseConfigs?.[arch] ?? null;
    let runtime: ArchRuntime = { contract: null, flavor: 'nix', flavorReason: 'no Dockerfile: the image holds only what Nix builds', baseConfigKnown: baseConfig !== null, appByDefault: true };
    if (dockerfile) {
      const relative = path.relative(addon.location.dir, dockerfile.file).split(path.sep).join('/');
      const shown = display(dockerfile.file);
      for (const problem of dockerfile.parsed.problems) report('error', shown, problem.line, 'dockerfile-invalid', problem.message);
      try {
        const contract = runtimeContract(dockerfile.parsed, relative, buildArgs, baseConfig, context);
        const choice = chooseFlavor(contract, { init, baseImage, baseConfig, context, configFile: path.basename(addon.configFile) });
        runtime = { contract, flavor: choice.flavor, flavorReason: choice.reason, baseConfigKnown: baseConfig !== null, appByDefault: false };
        if (contract.steps.length === 0 && !('Cmd' in contract.config) && !('Entrypoint' in contract.config) && choice.flavor === 'nix') {
          // A Dockerfile that copies nothing and sets no command says nothing of the app: addonix puts it
          // in /app and runs package.json's start command, as without a Dockerfile.
          const from = dockerfile.parsed.stages.at(-1)?.line ?? 1;
          runtime.appByDefault = true;
          runtime.flavorReason = `${relative}:${from}: the Dockerfile copies no files and sets no command, so the image has the app in /app and runs package.json's start command, as without a Dockerfile`;
        }
        for (const item of contract.notCarried) report('warning', shown, item.line, 'not-carried', `${item.instruction}: ${item.reason}`);
        for (const unset of contract.unsetVariables) {
          const why = unset.declared
            ? ` (ARG ${unset.name} has no value: the Supervisor passes only BUILD_FROM, BUILD_VERSION, BUILD_ARCH and build.yaml's args)`
            : baseConfig === null && /^[A-Z_][A-Z0-9_]*$/.test(unset.name)
              ? ' (if the base image sets it, `addonix pin-base` records its variables; then `addonix generate`)'
              : '';
          report('warning', shown, unset.line, 'dockerfile-variable', `$${unset.name} is not set here, so Docker expands it to nothing${why}`);
        }
      } catch (error) {
        if (!(error instanceof RuntimeError)) throw error;
        report('error', shown, error.line, 'dockerfile-invalid', error.message.replace(/^[^:]+:\d+: /, ''));
      }
      if (init && runtime.contract && runtime.flavor === 'base' && (baseConfig?.Entrypoint?.[0] === '/init' || (baseConfig === null && isS6BaseImage(baseImage))) && !runtime.contract.config.Entrypoint) {
        report('warning', display(addon.configFile), null, 'init-s6', `init is true (the default) and the image starts s6-overlay's /init from ${baseImage ?? 'its base image'}: the Supervisor then runs Docker's init as PID 1, where s6-overlay refuses to start ("can only run as pid 1"); set init: false`);
      }
    }
    return {
      ...info,
      image: `${image}:${version}`,
      baseImage,
      baseImageSource: source,
      dockerfile: dockerfile ? display(dockerfile.file) : null,
      buildArgs,
      labels,
      runtime,
    };
  });

  return {
    schemaVersion: 1,
    name,
    slug,
    version,
    description,
    url,
    supervisor: options.era,
    files: {
      config: display(addon.configFile),
      build: build ? display(build.file) : null,
      buildIgnored: build !== null && build.build === null,
      repository: addon.repository ? display(addon.repository.file) : null,
    },
    imageTemplate,
    init: config['init'] !== false,
    ingress: config['ingress'] === true,
    ingressPort: typeof config['ingress_port'] === 'number' ? config['ingress_port'] : 8099,
    ports: isPlainObject(config['ports']) ? (config['ports'] as Record<string, number | null>) : {},
    environment: stringMap(config['environment']),
    options: isPlainObject(config['options']) ? config['options'] : {},
    schema: isPlainObject(config['schema']) ? config['schema'] : false,
    arches: archModels,
    contextIgnore: context.rules,
    runtimeFindings: findings.items,
  };
}
