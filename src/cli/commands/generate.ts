import type { Argv, CommandModule } from 'yargs';
import { relativeDisplay } from '../../addon/load.js';
import { DEFAULT_ERA, ERAS, type Era } from '../../addon/eras.js';
import { syncFiles } from '../../nixgen/generate.js';
import { addonFiles } from '../../nixgen/addon-files.js';
import { paint } from '../output.js';
import { loadOneAddon } from '../addon-input.js';

interface GenerateArgs {
  dir: string;
  check: boolean;
  app?: string;
  'include-dev': boolean;
  registry?: string;
  'node-version'?: string;
  supervisor: Era;
}

export const generateCommand: CommandModule<object, GenerateArgs> = {
  command: 'generate [dir]',
  describe: "Write the add-on's Nix data (nix/*.generated.nix): the per-arch model and the npm dependencies per target",
  builder: (yargs: Argv) =>
    yargs
      .positional('dir', { describe: 'The add-on folder', type: 'string', default: '.' })
      .option('check', { type: 'boolean', default: false, describe: 'Write nothing; exit 1 naming each generated file that is stale' })
      .option('app', { type: 'string', describe: 'Folder of the Node.js app inside the add-on (default: found automatically)' })
      .option('include-dev', { type: 'boolean', default: false, describe: 'Keep devDependencies' })
      .option('registry', { type: 'string', describe: 'Registry for packages the lockfile records no URL for (default https://registry.npmjs.org/)' })
      .option('node-version', { type: 'string', describe: 'Node.js version in the image, for optional packages with engines' })
      .option('supervisor', { type: 'string', choices: ERAS, default: DEFAULT_ERA, describe: 'Supervisor rules for reading the add-on (2026 or 2025)' })
      .example('$0 generate my-addon', 'After editing config.yaml or package-lock.json')
      .example('$0 generate my-addon --check', 'In CI: fail when the generated files are stale')
      .epilogue(
        'Writes nix/addon.generated.nix and, when the add-on has a package-lock.json, nix/npm-deps.generated.nix (every arch, ' +
          'musl and glibc). The files hold data only and are byte-identical when regenerated; --check must be given the same options.',
      ) as unknown as Argv<GenerateArgs>,
  handler: async (args) => {
    const display = relativeDisplay();
    const addon = (await loadOneAddon(args.dir, args.supervisor, display))!;
    const planned = await addonFiles(addon, { era: args.supervisor, app: args.app, includeDev: args['include-dev'], registry: args.registry, nodeVersion: args['node-version'], display });
    for (const warning of planned.warnings) process.stderr.write(`addonix: warning: ${warning}\n`);
    const outcome = await syncFiles(addon.location.dir, planned.files, args.check);
    const color = paint(process.stdout);
    if (args.check) {
      for (const file of outcome.stale) process.stdout.write(`${color('red', 'stale')}: ${display(file)}\n`);
      if (outcome.stale.length > 0) process.stdout.write(`run: addonix generate ${display(args.dir)}\n`);
      else process.stdout.write(`up to date: ${outcome.unchanged.map(display).join(', ')}\n`);
      process.exitCode = outcome.stale.length > 0 ? 1 : 0;
      return;
    }
    for (const file of outcome.written) process.stdout.write(`wrote ${display(file)}\n`);
    for (const file of outcome.unchanged) process.stdout.write(`unchanged ${display(file)}\n`);
    for (const file of outcome.removed) process.stdout.write(`removed ${display(file)} (no package-lock.json any more)\n`);
  },
};
