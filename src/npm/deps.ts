/**
 * The npm stage's entry point: for an npm project and a list of targets, the packages npm would install
 * on each and how each native addon gets its binary.
 */
import type { PackageEntry } from './packages.js';
import { collectPackages } from './packages.js';
import { loadProject, type NpmProject } from './lockfile.js';
import { computeInstallSet, type InstallSetOptions, type TargetProblem } from './install-set.js';
import { nativePlans, type NativePlan } from './native.js';
import { targetName, type Target } from './target.js';

/** One package as `addonix deps --json` shows it. */
export interface InstalledPackage {
  location: string;
  name: string;
  version: string;
  url: string | null;
  integrity: string | null;
  bundled: boolean;
  link: boolean;
  optional: boolean;
}

export interface TargetDeps {
  target: string;
  packages: InstalledPackage[];
  native: NativePlan[];
  errors: TargetProblem[];
}

export interface ProjectDeps {
  project: NpmProject;
  /** Every package of the lockfile (all platforms; dev packages only with includeDev). */
  packages: PackageEntry[];
  targets: TargetDeps[];
  /** Locations installed per target name. */
  installed: Map<string, Set<string>>;
}

export interface DepsOptions extends InstallSetOptions {
  registry?: string;
  display?: (file: string) => string;
}

export function publicPackage(entry: PackageEntry): InstalledPackage {
  const { location, name, version, url, integrity, bundled, link, optional } = entry;
  return { location, name, version, url, integrity, bundled, link, optional };
}

export function depsForTargets(project: NpmProject, targets: readonly Target[], options: DepsOptions = {}): ProjectDeps {
  const all = collectPackages(project, { registry: options.registry, display: options.display });
  const packages = options.includeDev ? all : all.filter((entry) => !entry.node.dev);
  const installed = new Map<string, Set<string>>();
  const results = targets.map((target): TargetDeps => {
    const set = computeInstallSet(all, target, options);
    installed.set(targetName(target), set.locations);
    const { native, errors } = nativePlans(all, set.locations, target);
    return {
      target: targetName(target),
      packages: all.filter((entry) => set.locations.has(entry.location)).map(publicPackage),
      native,
      errors: [...set.errors, ...errors],
    };
  });
  return { project, packages, targets: results, installed };
}

export async function resolveDeps(dir: string, targets: readonly Target[], options: DepsOptions = {}): Promise<ProjectDeps> {
  return depsForTargets(await loadProject(dir, options.display), targets, options);
}
