/** What the commands that run Nix (build, verify) share: options, the flake, the images to build, Ctrl-C. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { relativeDisplay } from '../addon/load.js';
import { resolveModel, type AddonModel } from '../addon/model.js';
import { DEFAULT_ERA } from '../addon/era-names.js';
import { UserError, UsageError } from '../util/errors.js';
import { isOlderThanMinimum, locateNix, MINIMUM_NIX, type NixInstall } from '../nix/install.js';
import { BuildInterrupted, chooseTargets, imageOutputs, listPackages, type ImageTarget, type NixOptions } from '../nix/build.js';
import { loadOneAddon } from './addon-input.js';
import { pinnedBaseConfigs } from '../nixgen/base-lock.js';

export interface NixArgs {
  flake?: string;
  jobs?: number;
  builders?: string;
  substituters?: string;
  'override-input'?: string[];
  /** Show the trace Nix printed before its error. */
  verbose?: boolean;
}

/** --override-input NAME REF (repeatable) as pairs. */
export function overridesOf(args: NixArgs): [string, string][] {
  const flat = args['override-input'] ?? [];
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  if (flat.length % 2 !== 0) throw new UsageError('--override-input takes two values: the input name and the flake reference, e.g. --override-input addonix/nixpkgs git+file:/srv/nixpkgs');
  return pairs;
}

/** Nix, found and checked; a Nix older than 2.18 is named on stderr (it may still build an older nixpkgs). */
export async function nixForCommand(): Promise<NixInstall> {
  const install = await locateNix();
  if (isOlderThanMinimum(install)) {
    process.stderr.write(`addonix: warning: Nix ${install.version} is older than ${MINIMUM_NIX}, which nixpkgs >= 25.11 needs; flakes pinned to nixpkgs >= 25.11 will not evaluate (addonix doctor says how to upgrade)\n`);
  }
  return install;
}

/** The flake reference: --flake as given, else the folder (which must have a flake.nix). */
export function flakeFor(dir: string, given: string | undefined): string {
  if (given !== undefined) return /^[a-z+]+:/.test(given) || !existsSync(given) ? given : path.resolve(given);
  if (!existsSync(path.join(dir, 'flake.nix'))) throw new UserError('flake-missing', `${dir} has no flake.nix: addonix init ${dir} writes one, or name the flake with --flake REF`);
  return path.resolve(dir);
}

/**
 * What the add-on's flake says of the nixpkgs packages of each arch's image (nix/image.nix's
 * `addonixPackages`), for the SBOM: one evaluation, nothing built. Its failures are UserErrors (no
 * flake, no Nix, an evaluation error), which the SBOM notes and goes without.
 */
export function nixPackagesOf(dir: string, slug: string, given: { flake?: string | undefined; overrides?: readonly (readonly [string, string])[] }) {
  return async (arches: readonly string[]) => {
    const flake = flakeFor(dir, given.flake);
    const install = await locateNix();
    const { nixPackageData } = await import('../nix/package-facts.js');
    const attributes = new Map(arches.map((arch) => [arch, [`streamImage-${arch}`, `streamImage-${slug}-${arch}`, `dockerImage-${arch}`, `dockerImage-${slug}-${arch}`]]));
    return nixPackageData(install, flake, attributes, { overrides: given.overrides });
  };
}

/** The add-on in `dir` (validated), or null when `dir` has no add-on config. */
export async function addonModel(dir: string): Promise<AddonModel | null> {
  const display = relativeDisplay();
  const addon = await loadOneAddon(dir, DEFAULT_ERA, display, true);
  return addon ? resolveModel(addon, { era: DEFAULT_ERA, display, baseConfigs: await pinnedBaseConfigs(addon.location.dir) }) : null;
}

/** --arch names only arches config.yaml lists: another is a usage mistake (exit 2), not a build failure. */
export function checkArchesListed(model: AddonModel, arches: readonly string[]): void {
  const own = model.arches.map((a) => a.arch as string);
  const foreign = arches.filter((a) => !own.includes(a));
  if (foreign.length > 0) throw new UsageError(`--arch ${foreign.join(',')}: ${model.slug} is not built for ${foreign.join(', ')} (its config.yaml lists ${own.join(', ')})`);
}

/**
 * The images to build: every image of the flake (`all`), or the add-on's arches (`arches` picks some of
 * them) in the add-on's own images when the flake names them by slug. With `streams`, each image's
 * stream script (`streamImage-…` beside `dockerImage-…`) where the flake has one: building it takes a
 * fraction of the time (nothing is gzipped), and push, load and diff read its output as it comes.
 */
export async function targetsFor(
  install: NixInstall,
  flake: string,
  request: { model: AddonModel | null; dir: string; arches?: string[] | undefined; all: boolean; streams?: boolean },
  options: NixOptions,
): Promise<ImageTarget[]> {
  const names = await listPackages(install, flake, options);
  const available = imageOutputs(names);
  const chosen = ((): ImageTarget[] => {
    if (request.all) {
      if (available.length === 0) throw new UserError('flake-missing', `the flake ${flake} has no images (no packages.${install.system}.dockerImage-*)`);
      return available;
    }
    const model = request.model;
    if (!model) throw new UserError('no-addon', `${request.dir} has no add-on (no config.yaml): name an add-on folder, or pass --all to build every image of the flake`);
    return chooseTargets(available, request.arches ?? model.arches.map((a) => a.arch), model.slug, flake);
  })();
  if (!request.streams) return chosen;
  return chosen.map((target) => {
    const stream = target.attribute.replace(/^dockerImage-/, 'streamImage-');
    return names.includes(stream) ? { ...target, attribute: stream } : target;
  });
}

/**
 * Runs `work` with Ctrl-C and SIGTERM turned into an aborted signal (Nix is stopped, nothing is linked).
 * An interrupted run fails with the code `interrupted` (exit status 130, as shells expect of a command
 * stopped by SIGINT), saying what was left as it was.
 */
export async function interruptible(work: (signal: AbortSignal) => Promise<void>, afterInterrupt: string): Promise<void> {
  const controller = new AbortController();
  const abort = () => controller.abort();
  process.on('SIGINT', abort);
  process.on('SIGTERM', abort);
  try {
    await work(controller.signal);
  } catch (error) {
    if (!(error instanceof BuildInterrupted)) throw error;
    throw new UserError('interrupted', `interrupted: Nix was stopped; ${afterInterrupt}`);
  } finally {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
}
