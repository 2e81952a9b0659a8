/**
 * The resolved model of one add-on: what every later stage (npm, Nix generation, images) needs, per arch.
 * `addonix inspect --json` prints it; its shape is documented in docs/json.md and versioned by `schemaVersion`.
 */
import { ARCH_TABLE, isHaArch, type ArchInfo, type BuildArch } from './arch.js';
import { ERA_RULES, type Era } from './eras.js';
import { argDefault, finalBaseImage } from './dockerfile.js';
import type { LoadedAddon } from './load.js';
import { isPlainObject, type PlainObject } from './validate.js';

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
}

export interface ModelOptions {
  era: Era;
  /** Also resolve these arches, which Home Assistant does not run (riscv64). */
  extraArches?: readonly BuildArch[];
  display?: (file: string) => string;
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
    return {
      ...info,
      image: `${image}:${version}`,
      baseImage,
      baseImageSource: source,
      dockerfile: dockerfile ? display(dockerfile.file) : null,
      buildArgs,
      labels,
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
  };
}
