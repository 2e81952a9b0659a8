/**
 * The generated files of one loaded add-on, computed (nothing written): its model and, when it has a
 * Node.js app, the npm data for every arch of the add-on with musl and glibc. `addonix generate` and
 * `addonix init` both write them with syncFiles.
 */
import path from 'node:path';
import type { LoadedAddon } from '../addon/load.js';
import { resolveModel } from '../addon/model.js';
import type { Era } from '../addon/eras.js';
import { isHaArch, type BuildArch } from '../addon/arch.js';
import { findAppDir } from '../npm/app-dir.js';
import { loadProject } from '../npm/lockfile.js';
import { depsForTargets } from '../npm/deps.js';
import { LIBCS } from '../npm/target.js';
import { startCommand } from '../npm/start-command.js';
import { plannedFiles, type GeneratedFile } from './generate.js';

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
}

export async function addonFiles(addon: LoadedAddon, options: AddonFilesOptions): Promise<AddonFiles> {
  const addonDir = addon.location.dir;
  // Paths inside the generated data are relative to the add-on folder, whatever the working directory.
  const extraArches = options.extraArches ?? [];
  const model = resolveModel(addon, { era: options.era, extraArches, display: (file) => path.relative(addonDir, file) || '.' });
  const appDir = await findAppDir(addonDir, options.app, options.display);
  const warnings: string[] = [];
  let npm = null;
  if (appDir) {
    const project = await loadProject(appDir, options.display);
    const arches: BuildArch[] = [...((addon.config!['arch'] as unknown[]) ?? []).filter(isHaArch), ...extraArches];
    const targets = arches.flatMap((arch) => LIBCS.map((libc) => ({ arch, libc })));
    const deps = depsForTargets(project, targets, { includeDev: options.includeDev ?? false, registry: options.registry, nodeVersion: options.nodeVersion, display: options.display });
    npm = { deps, app: { dir: path.relative(addonDir, appDir) || '.', lockfile: path.relative(addonDir, project.lockfile) } };
    for (const target of deps.targets) for (const error of target.errors) warnings.push(`${target.target} cannot be built: ${error.message}`);
  }
  return { files: plannedFiles(addonDir, model, npm, await startCommand(appDir)), hasApp: appDir !== null, warnings };
}
