import { COMMAND_HEADS } from '../command-heads.js';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { relativeDisplay } from '../../addon/load.js';
import type { Era } from '../../addon/eras.js';
import { OPT_IN_ARCHES, type BuildArch } from '../../addon/arch.js';
import { loadProject, type NpmProject } from '../../npm/lockfile.js';
import { depsForTargets } from '../../npm/deps.js';
import type { AppLocation } from '../../nixgen/generate.js';
import { parseTarget } from '../../npm/target.js';
import { UsageError } from '../../util/errors.js';
import { plannedFiles, syncFiles, type GeneratedFile } from '../../nixgen/generate.js';
import { addonFiles } from '../../nixgen/addon-files.js';
import { paint } from '../output.js';
import { renderRuntime, reportRuntimeFindings } from '../runtime-report.js';
import type { AddonModel } from '../../addon/model.js';
import { loadOneAddon } from '../addon-input.js';
import { withOptions } from '../options.js';

/** Where the npm project is, relative to the folder the data is written for. */
function appLocation(dir: string, project: NpmProject): AppLocation {
  return { dir: path.relative(dir, project.dir) || '.', lockfile: path.relative(dir, project.lockfile) };
}

interface GenerateArgs {
  dir: string;
  check: boolean;
  target?: string[];
  app?: string;
  'include-dev': boolean;
  'npm-registry'?: string;
  'node-version'?: string;
  supervisor: Era;
  riscv64: boolean;
  json: boolean;
}

export const generateCommand: CommandModule<object, GenerateArgs> = {
  ...COMMAND_HEADS['generate'],
  builder: (yargs: Argv) =>
    withOptions(
      yargs.positional('dir', { describe: 'The add-on folder', type: 'string', default: '.' }),
      'check', 'app', 'target', 'include-dev', 'node-version', 'npm-registry', 'supervisor', 'riscv64', 'json',
    )
      .example('$0 generate my-addon', 'After editing config.yaml or package-lock.json')
      .example('$0 generate my-addon --check', 'In CI: fail when the generated files are stale')
      .example('$0 generate my-addon --riscv64', 'Opt in to riscv64 images (for use outside Home Assistant)')
      .example('$0 generate some-npm-project --target aarch64-musl --target armv7-musl', 'Only the npm data, for a folder that is not an add-on')
      .epilogue(
        'Writes nix/addon.generated.nix and, when the add-on has a package-lock.json, nix/npm-deps.generated.nix (every arch, ' +
          'musl and glibc). The files hold data only and are byte-identical when regenerated; --check must be given the same options.',
      ) as unknown as Argv<GenerateArgs>,
  handler: async (args) => {
    const display = relativeDisplay();
    const addon = await loadOneAddon(args.dir, args.supervisor, display, true);
    let dir: string;
    let files: GeneratedFile[];
    let model: AddonModel | null = null;
    if (addon) {
      if (args.target) throw new UsageError('--target is for plain npm projects; an add-on gets npm data for every arch of its config, musl and glibc');
      const extraArches: BuildArch[] = args.riscv64 ? [...OPT_IN_ARCHES] : [];
      for (const arch of extraArches) {
        process.stderr.write(`addonix: warning: ${arch} is included on request; Home Assistant does not run ${arch} images, so the Supervisor will never install this one\n`);
      }
      dir = addon.location.dir;
      const planned = await addonFiles(addon, { era: args.supervisor, app: args.app, includeDev: args['include-dev'], registry: args['npm-registry'], nodeVersion: args['node-version'], extraArches, display });
      reportRuntimeFindings(planned.model);
      for (const warning of planned.warnings) process.stderr.write(`addonix: warning: ${warning}\n`);
      files = planned.files;
      model = planned.model;
    } else {
      if (!args.target || args.target.length === 0) {
        throw new UsageError(`${display(args.dir)} has no add-on config: for a plain npm project, name the targets with --target, e.g. --target aarch64-musl`);
      }
      dir = path.resolve(args.dir);
      const project = await loadProject(dir, display);
      const deps = depsForTargets(project, args.target.map(parseTarget), { includeDev: args['include-dev'], registry: args['npm-registry'], nodeVersion: args['node-version'], display });
      for (const target of deps.targets) for (const error of target.errors) process.stderr.write(`addonix: warning: ${target.target} cannot be built: ${error.message}\n`);
      files = plannedFiles(dir, null, { deps, app: appLocation(dir, project) }, null);
    }
    const outcome = await syncFiles(dir, files, args.check);
    if (args.json) {
      // Paths as the user named them, like the text form.
      const list = (paths: string[]) => paths.map(display);
      const body = args.check
        ? { check: true, stale: list(outcome.stale), unchanged: list(outcome.unchanged) }
        : { check: false, written: list(outcome.written), unchanged: list(outcome.unchanged), removed: list(outcome.removed) };
      if (model) Object.assign(body, { runtime: Object.fromEntries(model.arches.map((arch) => [arch.arch, { flavor: arch.runtime.flavor, flavorReason: arch.runtime.flavorReason, dockerfile: arch.runtime.contract?.dockerfile ?? null }])), findings: model.runtimeFindings });
      process.stdout.write(JSON.stringify(body, null, 2) + '\n');
      process.exitCode = outcome.stale.length > 0 ? 1 : 0;
      return;
    }
    const color = paint(process.stdout);
    if (args.check) {
      for (const file of outcome.stale) process.stdout.write(`${color('red', 'stale')}: ${display(file)}\n`);
      if (outcome.stale.length > 0) process.stdout.write(`run: addonix generate ${display(args.dir)}\n`);
      else process.stdout.write(`up to date: ${outcome.unchanged.map(display).join(', ')}\n`);
      process.exitCode = outcome.stale.length > 0 ? 1 : 0;
      return;
    }
    if (model) process.stdout.write(renderRuntime(model));
    for (const file of outcome.written) process.stdout.write(`wrote ${display(file)}\n`);
    for (const file of outcome.unchanged) process.stdout.write(`unchanged ${display(file)}\n`);
    for (const file of outcome.removed) process.stdout.write(`removed ${display(file)} (no package-lock.json any more)\n`);
  },
};
