/**
 * `addonix init`: turns an add-on repository (one add-on, or several) into one that builds with addonix —
 * the thin flake, the generated data, `.gitignore` entries for result links, and optionally a CI file.
 * Everything is computed first; a file that exists with other content is not replaced without `force`
 * (and then nothing is written at all); files whose content is already right are not touched, so a
 * second run changes nothing.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LoadedAddon } from '../addon/load.js';
import { resolveModel, type AddonModel } from '../addon/model.js';
import { formatDiagnostic, sortDiagnostics } from '../util/diagnostics.js';
import type { Era } from '../addon/eras.js';
import { isHaArch } from '../addon/arch.js';
import { UserError } from '../util/errors.js';
import { addonFiles } from '../nixgen/addon-files.js';
import { syncFiles, writeAtomically, type GeneratedFile } from '../nixgen/generate.js';
import { addonFlake, gitignoreWith, repositoryFlake } from './flake.js';
import { CI_FILES, githubWorkflow, gitlabCi, type CiAddon, type CiKind, type CiOptions } from './ci.js';

export interface InitOptions {
  dir: string;
  era: Era;
  addonixRef: string;
  ci?: CiKind | undefined;
  ciOptions: CiOptions;
  force: boolean;
  display: (file: string) => string;
}

export interface InitOutcome {
  written: string[];
  unchanged: string[];
  /** Every file init owns (written or unchanged), for staging. */
  files: string[];
  /** Slugs of the add-ons without a Node.js app (nothing is built for them automatically). */
  withoutApp: string[];
  /** Generated-data warnings (targets that cannot be built). */
  warnings: string[];
  /** Add-on folders, relative to the repository root. */
  addons: string[];
  /** Each add-on's model as its data was generated (runtime per arch, Dockerfile findings). */
  models: AddonModel[];
}

interface OwnFile {
  path: string;
  content: string;
  /** Whether replacing other content needs --force (not for .gitignore, which is only appended to). */
  guarded: boolean;
}

async function readOrNull(file: string): Promise<string | null> {
  return readFile(file, 'utf8').catch(() => null);
}

/** Sets up the repository at `options.dir` for its add-ons (loaded and validated by the caller). */
export async function initRepository(addons: LoadedAddon[], options: InitOptions): Promise<InitOutcome> {
  const root = path.resolve(options.dir);
  if (addons.length === 0) throw new UserError('no-addon', `${options.display(root)} holds no add-on (no config.yaml, config.yml or config.json)`);
  const relative = (addon: LoadedAddon) => path.relative(root, addon.location.dir) || '.';
  const models = addons.map((addon) => resolveModel(addon, { era: options.era, display: options.display }));

  const generated: { dir: string; files: GeneratedFile[] }[] = [];
  const warnings: string[] = [];
  const withoutApp: string[] = [];
  const plannedModels: AddonModel[] = [];
  for (const [i, addon] of addons.entries()) {
    const planned = await addonFiles(addon, { era: options.era, display: options.display });
    // A Dockerfile that Docker would not build is refused before anything is written.
    const errors = sortDiagnostics(planned.findings.filter((d) => d.severity === 'error'));
    if (errors.length > 0) {
      throw new UserError('addon-invalid', `${options.display(addon.location.dir)}: the Dockerfile has ${errors.length === 1 ? 'an instruction' : `${errors.length} instructions`} Docker would stop at; nothing was written:${errors.map((d) => `\n  ${formatDiagnostic(d)}`).join('')}`, { file: errors[0]!.file, ...(errors[0]!.line !== null ? { line: errors[0]!.line } : {}) });
    }
    plannedModels.push(planned.model);
    generated.push({ dir: addon.location.dir, files: planned.files });
    warnings.push(...planned.warnings.map((w) => `${relative(addon)}: ${w}`));
    if (!planned.hasApp) withoutApp.push(models[i]!.slug);
  }

  const own: OwnFile[] = [];
  const single = addons.length === 1 && relative(addons[0]!) === '.';
  own.push({
    path: path.join(root, 'flake.nix'),
    content: single
      ? addonFlake(models[0]!, options.addonixRef, withoutApp.length === 0)
      : repositoryFlake(addons.map(relative), options.addonixRef, `Home Assistant add-ons ${models.map((m) => m.slug).join(', ')}, built with addonix`),
    guarded: true,
  });
  if (options.ci) {
    const ciAddons: CiAddon[] = addons.map((addon, i) => ({
      slug: models[i]!.slug,
      dir: relative(addon),
      arches: ((addon.config!['arch'] as unknown[]) ?? []).filter(isHaArch),
      imageTemplate: models[i]!.imageTemplate,
    }));
    const content = options.ci === 'gitlab' ? gitlabCi(ciAddons, options.ciOptions) : githubWorkflow(ciAddons, options.ciOptions);
    own.push({ path: path.join(root, CI_FILES[options.ci]), content, guarded: true });
  }
  const gitignore = path.join(root, '.gitignore');
  own.push({ path: gitignore, content: gitignoreWith(await readOrNull(gitignore)), guarded: false });

  const changed: OwnFile[] = [];
  const unchanged: string[] = [];
  const conflicts: string[] = [];
  for (const file of own) {
    const current = await readOrNull(file.path);
    if (current === file.content) unchanged.push(file.path);
    else {
      changed.push(file);
      if (current !== null && file.guarded && !options.force) conflicts.push(file.path);
    }
  }
  if (conflicts.length > 0) {
    throw new UserError('exists', `${conflicts.map(options.display).join(', ')} ${conflicts.length === 1 ? 'exists' : 'exist'} with other content; nothing was written. Pass --force to replace ${conflicts.length === 1 ? 'it' : 'them'}.`);
  }

  const written: string[] = [];
  for (const group of generated) {
    const outcome = await syncFiles(group.dir, group.files, false);
    written.push(...outcome.written, ...outcome.removed);
    unchanged.push(...outcome.unchanged);
  }
  for (const file of changed) {
    await writeAtomically(file.path, file.content);
    written.push(file.path);
  }
  const files = [...own.map((file) => file.path), ...generated.flatMap((group) => group.files.map((file) => file.path))];
  return { written, unchanged, files, withoutApp, warnings, addons: addons.map(relative), models: plannedModels };
}
