/**
 * The generated files of one loaded add-on, computed (nothing written): its model with each arch's
 * runtime (the Dockerfile's contract), and, when it has a Node.js app, the npm data for every arch of the
 * add-on with musl and glibc. `addonix generate` and `addonix init` both write them with syncFiles;
 * `build` shows the same report.
 */
import path from 'node:path';
import type { LoadedAddon } from '../addon/load.js';
import { resolveModel, type AddonModel } from '../addon/model.js';
import type { Era } from '../addon/eras.js';
import { isHaArch, type BuildArch } from '../addon/arch.js';
import { addonContext } from '../addon/context.js';
import { imagePathOf } from '../addon/runtime.js';
import { findAppDir } from '../npm/app-dir.js';
import { loadProject } from '../npm/lockfile.js';
import { depsForTargets } from '../npm/deps.js';
import { LIBCS } from '../npm/target.js';
import { startCommand } from '../npm/start-command.js';
import type { Diagnostic } from '../util/diagnostics.js';
import { plannedFiles, runtimeData, type AppLocation, type GeneratedFile, type RuntimeData } from './generate.js';
import { pinnedBaseConfigs } from './base-lock.js';

export interface AddonFilesOptions {
  era: Era;
  app?: string | undefined;
  includeDev?: boolean;
  registry?: string | undefined;
  nodeVersion?: string | undefined;
  /** Arches Home Assistant does not run (riscv64), written only on request. */
  extraArches?: readonly BuildArch[];
  display: (file: string) => string;
}

export interface AddonFiles {
  files: GeneratedFile[];
  /** Whether the add-on has a Node.js app (a package.json or lockfile in it or below it). */
  hasApp: boolean;
  /** Targets that cannot be built (recorded in the data; the Nix build of that target fails with the reason). */
  warnings: string[];
  /** The model as the data was written from it (each arch's runtime contract and flavor). */
  model: AddonModel;
  runtimes: Record<string, RuntimeData>;
  /** What the Dockerfile evaluation found (not carried over, errors), with the user's paths. */
  findings: Diagnostic[];
}

export async function addonFiles(addon: LoadedAddon, options: AddonFilesOptions): Promise<AddonFiles> {
  const addonDir = addon.location.dir;
  // Paths inside the generated data are relative to the add-on folder, whatever the working directory.
  const extraArches = options.extraArches ?? [];
  const baseConfigs = await pinnedBaseConfigs(addonDir);
  const model = resolveModel(addon, { era: options.era, extraArches, display: (file) => path.relative(addonDir, file) || '.', baseConfigs });
  const shown = resolveModel(addon, { era: options.era, extraArches, display: options.display, baseConfigs });
  const appDir = await findAppDir(addonDir, options.app, options.display);
  const warnings: string[] = [];
  let npm = null;
  let app: AppLocation | null = null;
  if (appDir) {
    const project = await loadProject(appDir, options.display);
    const arches: BuildArch[] = [...((addon.config!['arch'] as unknown[]) ?? []).filter(isHaArch), ...extraArches];
    const targets = arches.flatMap((arch) => LIBCS.map((libc) => ({ arch, libc })));
    const deps = depsForTargets(project, targets, { includeDev: options.includeDev ?? false, registry: options.registry, nodeVersion: options.nodeVersion, display: options.display });
    app = { dir: path.relative(addonDir, appDir).split(path.sep).join('/') || '.', lockfile: path.relative(addonDir, project.lockfile) };
    npm = { deps, app };
    for (const target of deps.targets) for (const error of target.errors) warnings.push(`${target.target} cannot be built: ${error.message}`);
  }
  const start = await startCommand(appDir);
  const context = addonContext(addonDir);
  const runtimes: Record<string, RuntimeData> = {};
  for (const arch of model.arches) {
    const contract = arch.runtime.contract;
    let modulesDir: string | null = null;
    if (contract && app) {
      // Where npm installed (the Dockerfile's npm ci), else where the app's package.json lands.
      const landed = imagePathOf(contract, app.dir === '.' ? 'package.json' : `${app.dir}/package.json`, context);
      modulesDir = contract.npmDir ?? (landed ? path.posix.dirname(landed) : null);
      if (modulesDir === null) {
        warnings.push(`${arch.arch}: ${contract.dockerfile} neither runs npm ci/npm install nor copies ${app.dir === '.' ? '' : app.dir + '/'}package.json into the image, so node_modules has no place: addonix leaves it out`);
      } else if (landed && path.posix.dirname(landed) !== modulesDir && contract.npmLine !== null) {
        warnings.push(`${arch.arch}: ${contract.dockerfile}:${contract.npmLine} installs node_modules in ${modulesDir}, but the app's package.json lands in ${path.posix.dirname(landed)}`);
      }
    }
    runtimes[arch.arch] = runtimeData(model, arch, app, start, modulesDir);
  }
  return { files: plannedFiles(addonDir, model, npm, runtimes), hasApp: appDir !== null, warnings, model: shown, runtimes, findings: shown.runtimeFindings };
}
