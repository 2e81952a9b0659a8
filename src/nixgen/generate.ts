/**
 * `addonix generate`: the add-on's metadata and npm dependency data as Nix data files in DIR/nix/,
 * for the hand-written Nix library to build from. Everything is computed before anything is written,
 * so bad input writes nothing; each file is written atomically (temporary file, then rename) and is
 * byte-identical when regenerated from the same inputs.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AddonModel, ArchModel } from '../addon/model.js';
import type { IgnoreRule } from '../addon/context.js';
import type { ProjectDeps } from '../npm/deps.js';
import type { NativePlan } from '../npm/native.js';
import type { StartCommand } from '../npm/start-command.js';
import { generatedNixFile, type NixValue } from './nix.js';
import { writeFileAtomic } from '../util/atomic.js';

export const GENERATED_DIR = 'nix';
export const ADDON_FILE = 'addon.generated.nix';
export const NPM_FILE = 'npm-deps.generated.nix';
export const GENERATE_COMMAND = 'addonix generate';

/** Data schema of the add-on data; the Nix library checks it (nix/lib.nix). */
export const DATA_VERSION = 3;
/** Data schema of the npm data (nix/node-modules.nix checks it). */
export const NPM_DATA_VERSION = 2;

export interface GeneratedFile {
  /** Absolute path. */
  path: string;
  content: string;
}

/** Where the add-on's npm project is, relative to the add-on folder. */
export interface AppLocation {
  dir: string;
  lockfile: string;
}

/** Files of an add-on folder that stay out of an image built without a Dockerfile (its metadata). */
const ADDON_METADATA = ['config.yaml', 'config.yml', 'config.json', 'build.yaml', 'build.yml', 'build.json', 'Dockerfile', 'Dockerfile.*', 'translations', 'icon.png', 'logo.png', 'apparmor.txt', 'CHANGELOG.md', 'DOCS.md'];

/** How one arch's image runs, as the Nix library builds it (nix/image.nix): see src/addon/runtime.ts. */
export interface RuntimeData {
  /** The Dockerfile the contract comes from, or null (no Dockerfile: addonix's defaults). */
  source: string | null;
  flavor: string;
  flavorReason: string;
  /** The image config the Dockerfile sets (laid over the base image's). */
  config: Record<string, unknown>;
  steps: Record<string, unknown>[];
  /** Where node_modules goes in the image, or null. */
  nodeModulesDir: string | null;
  /** nixpkgs attributes of the packages the image adds. */
  packages: string[];
  /** Without a Dockerfile: the command (package.json's), which the Nix library makes the Entrypoint (or the Cmd under s6-overlay's /init). */
  command: string[] | null;
  commandProblem: string | null;
}

/**
 * The runtime of one arch: the Dockerfile's contract, or, without a Dockerfile, addonix's own: the app
 * folder at /app and package.json's start command.
 */
export function runtimeData(model: AddonModel, arch: ArchModel, app: AppLocation | null, start: StartCommand, nodeModulesDir: string | null): RuntimeData {
  const { contract, flavor, flavorReason, appByDefault } = arch.runtime;
  const packages = contract ? [...new Set(contract.packages.filter((p) => p.kind === 'runtime' && p.attr !== null && !(flavor === 'base' && p.inHaBase)).map((p) => p.attr!))] : [];
  if (contract && !appByDefault) {
    return {
      source: contract.dockerfile,
      flavor,
      flavorReason,
      config: { ...contract.config },
      steps: contract.steps.map((step) => ({ ...step })),
      nodeModulesDir: app ? nodeModulesDir : null,
      packages,
      command: null,
      commandProblem: null,
    };
  }
  // addonix's own: the app folder at /app, package.json's command; what a Dockerfile sets kept.
  const ports = [...Object.keys(model.ports), ...(model.ingress ? [String(model.ingressPort)] : [])].map((port) => (port.includes('/') ? port : `${port}/tcp`));
  const config: Record<string, unknown> = {
    WorkingDir: '/app',
    Env: ['NODE_ENV=production', ...Object.entries(model.environment).map(([name, value]) => `${name}=${value}`)],
    ...(ports.length > 0 ? { ExposedPorts: Object.fromEntries(ports.map((port) => [port, {}])) } : {}),
  };
  if (contract) {
    for (const [key, value] of Object.entries(contract.config)) {
      if (key === 'Env') config['Env'] = [...(value as string[]), ...(config['Env'] as string[])];
      else if (key === 'ExposedPorts') config['ExposedPorts'] = { ...(config['ExposedPorts'] as object | undefined), ...(value as object) };
      else config[key] = value;
    }
  }
  return {
    source: null,
    flavor,
    flavorReason,
    config,
    steps: [{ op: 'copy', line: 0, sources: [app?.dir ?? '.'], dest: '/app/', chmod: null, extract: false }],
    nodeModulesDir: app ? '/app' : null,
    packages,
    command: start.command,
    commandProblem: start.problem,
  };
}

/** The build context's rules: .dockerignore's, and without any Dockerfile the add-on's metadata. */
export function contextRules(model: AddonModel, app: AppLocation | null): IgnoreRule[] {
  const rules = [...model.contextIgnore];
  if (model.arches.every((arch) => arch.runtime.appByDefault) && (app === null || app.dir === '.')) {
    for (const name of ADDON_METADATA) rules.push({ pattern: name, regex: name.replace(/\./g, '\\.').replace('*', '[^/]*'), exclude: true });
  }
  return rules;
}

/**
 * The add-on as Nix data: what the Nix library reads of it and nothing else (the arch table is the
 * library's own, nix/arches.nix). Per arch: the image name, labels and runtime.
 */
export function addonData(model: AddonModel, app: AppLocation | null, runtimes: Readonly<Record<string, RuntimeData>>): NixValue {
  const arches: Record<string, NixValue> = {};
  for (const arch of model.arches) arches[arch.arch] = { image: arch.image, labels: arch.labels, runtime: runtimes[arch.arch]! as unknown as NixValue };
  return {
    dataVersion: DATA_VERSION,
    slug: model.slug,
    version: model.version,
    init: model.init,
    ingress: model.ingress,
    ingressPort: model.ingressPort,
    ports: model.ports,
    environment: model.environment,
    archNames: model.arches.map((arch) => arch.arch),
    arches,
    app: app ? { dir: app.dir, lockfile: app.lockfile } : null,
    contextIgnore: contextRules(model, app).map((rule) => ({ pattern: rule.pattern, regex: rule.regex, exclude: rule.exclude })),
  };
}

function nativeData(plan: NativePlan): NixValue {
  return {
    name: plan.name,
    version: plan.version,
    plan: plan.plan,
    reason: plan.reason,
    settings: { ...plan.settings },
    dependencies: plan.dependencies,
    tarballBinary: plan.tarballBinary,
  };
}

/**
 * The npm data: every package once (name, version, where its tarball comes from, its SRI hash, its bin
 * links), then per target the packages not installed there, the native addon plans and the errors.
 */
export function npmData(deps: ProjectDeps, app: AppLocation): NixValue {
  const packages: Record<string, NixValue> = {};
  for (const entry of deps.packages) {
    packages[entry.location] = {
      name: entry.name,
      version: entry.version,
      source: entry.source,
      url: entry.url,
      integrity: entry.integrity,
      bundled: entry.bundled,
      link: entry.link,
      linkTarget: entry.linkTarget,
      optional: entry.optional,
      bin: entry.bin,
      hasInstallScript: entry.hasInstallScript,
    };
  }
  const targets: Record<string, NixValue> = {};
  for (const target of deps.targets) {
    const installed = deps.installed.get(target.target)!;
    targets[target.target] = {
      exclude: deps.packages.filter((entry) => !installed.has(entry.location)).map((entry) => entry.location),
      native: Object.fromEntries(target.native.map((plan) => [plan.location, nativeData(plan)])),
      errors: target.errors.map((error) => ({ ...error })),
    };
  }
  return {
    dataVersion: NPM_DATA_VERSION,
    app: { dir: app.dir, lockfile: app.lockfile },
    lockfileVersion: deps.project.lockfileVersion,
    packages,
    targets,
  };
}

/**
 * The files for a folder: the add-on data when `model` is given (an add-on), the npm data when there
 * is an npm project. A plain npm project (no add-on) gets only the npm data, for the targets asked.
 */
export function plannedFiles(dir: string, model: AddonModel | null, npm: { deps: ProjectDeps; app: AppLocation } | null, runtimes: Readonly<Record<string, RuntimeData>> | null): GeneratedFile[] {
  const out = path.join(dir, GENERATED_DIR);
  const files: GeneratedFile[] = [];
  if (model) {
    if (!runtimes) throw new Error('plannedFiles: an add-on needs its runtime per arch');
    files.push({
      path: path.join(out, ADDON_FILE),
      content: generatedNixFile(addonData(model, npm?.app ?? null, runtimes), `Home Assistant add-on '${model.slug}': metadata and runtime resolved per arch by addonix.`, GENERATE_COMMAND),
    });
  }
  if (npm) {
    const owner = model ? `add-on '${model.slug}'` : `'${path.basename(dir)}'`;
    files.push({
      path: path.join(out, NPM_FILE),
      content: generatedNixFile(npmData(npm.deps, npm.app), `npm dependencies of ${owner} (${npm.app.lockfile}), per target.`, GENERATE_COMMAND),
    });
  }
  return files;
}

export interface WriteOutcome {
  written: string[];
  unchanged: string[];
  removed: string[];
  /** With check: files that differ, are missing, or should no longer exist. */
  stale: string[];
}

async function readOrNull(file: string): Promise<string | null> {
  return fs.readFile(file, 'utf8').catch(() => null);
}

/** Write a file through a temporary file and a rename, so no reader ever sees half of it. */
export async function writeAtomically(file: string, content: string): Promise<void> {
  await writeFileAtomic(file, content);
}

/**
 * Write (or, with check, compare) the planned files. Generated files addonix no longer produces for
 * this add-on (the npm data after the lockfile went away) are removed, or reported as stale.
 */
export async function syncFiles(addonDir: string, files: readonly GeneratedFile[], check: boolean): Promise<WriteOutcome> {
  const outcome: WriteOutcome = { written: [], unchanged: [], removed: [], stale: [] };
  const changed: GeneratedFile[] = [];
  for (const file of files) {
    if ((await readOrNull(file.path)) === file.content) outcome.unchanged.push(file.path);
    else changed.push(file);
  }
  const planned = new Set(files.map((file) => file.path));
  const leftovers: string[] = [];
  for (const name of [ADDON_FILE, NPM_FILE]) {
    const file = path.join(addonDir, GENERATED_DIR, name);
    if (!planned.has(file) && (await readOrNull(file)) !== null) leftovers.push(file);
  }
  if (check) {
    outcome.stale.push(...changed.map((file) => file.path), ...leftovers);
    return outcome;
  }
  for (const file of changed) {
    await writeAtomically(file.path, file.content);
    outcome.written.push(file.path);
  }
  for (const file of leftovers) {
    await fs.rm(file, { force: true });
    outcome.removed.push(file);
  }
  return outcome;
}
