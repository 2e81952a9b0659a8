import { COMMAND_HEADS } from '../command-heads.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { loadPaths, relativeDisplay } from '../../addon/load.js';
import { DEFAULT_ERA } from '../../addon/eras.js';
import { initRepository } from '../../init/init.js';
import { stageInGit } from '../../init/git.js';
import { DEFAULT_ADDONIX_FLAKE } from '../../init/flake.js';
import { DEFAULT_NIX_IMAGE, type CacheKind, type CiKind } from '../../init/ci.js';
import { renderRuntime } from '../runtime-report.js';
import { printDiagnostics } from '../output.js';
import { addonErrors } from '../addon-input.js';
import { withOptions } from '../options.js';

interface InitArgs {
  dir: string;
  addonix: string;
  ci?: CiKind;
  cache: CacheKind;
  'cache-name'?: string;
  to?: string[];
  'nix-image': string;
  force: boolean;
  json: boolean;
}

export const initCommand: CommandModule<object, InitArgs> = {
  ...COMMAND_HEADS['init'],
  builder: (yargs: Argv) =>
    withOptions(
      yargs.positional('dir', { describe: 'The add-on folder, or a repository of several add-ons', type: 'string', default: '.' }),
      'addonix', 'ci', 'cache', 'cache-name', 'to', 'nix-image', 'force', 'json',
    )
      .default('addonix', DEFAULT_ADDONIX_FLAKE)
      .default('nix-image', DEFAULT_NIX_IMAGE)
      .example('$0 init', 'The add-on in this folder: flake.nix, nix/*.generated.nix, .gitignore')
      .example('$0 init --ci gitlab --cache cachix --cache-name my-addons', 'With GitLab CI: per-arch builds in nixos/nix, a Cachix cache, a push job')
      .example('$0 init my-repository --ci github --cache s3', 'A repository of several add-ons, GitHub Actions, an S3 cache')
      .epilogue(
        'Never replaces a file with other content without --force (and then writes nothing at all); files that are already right are ' +
          'left alone, so running init again changes nothing. The generated data is what addonix generate writes. In a git repository ' +
          'the files are staged (git add), since Nix reads a flake from the files git tracks; then addonix build (or nix run ' +
          '.#build-all-images) builds every arch, and flake.lock, which the first build writes, is to be added too.',
      ) as unknown as Argv<InitArgs>,
  handler: async (args) => {
    const display = relativeDisplay();
    const { addons, diagnostics } = await loadPaths([args.dir], { era: DEFAULT_ERA, display });
    const errors = diagnostics.items.filter((d) => d.severity === 'error' && d.code !== 'no-config');
    if (errors.length > 0) throw addonErrors(args.dir, errors, display);
    printDiagnostics(diagnostics.items.filter((d) => d.severity === 'warning'), process.stderr);
    const outcome = await initRepository(
      addons.filter((a) => a.config !== null),
      {
        dir: args.dir,
        era: DEFAULT_ERA,
        addonixRef: args.addonix,
        ci: args.ci,
        ciOptions: { cache: args.cache, cacheName: args['cache-name'], to: args.to, nixImage: args['nix-image'] },
        force: args.force,
        display,
      },
    );
    for (const model of outcome.models) printDiagnostics(model.runtimeFindings, process.stderr);
    for (const warning of outcome.warnings) process.stderr.write(`addonix: warning: ${warning}\n`);
    for (const slug of outcome.withoutApp) {
      process.stderr.write(
        `addonix: warning: ${slug} has no package.json: addonix builds the image of a Node.js app and has none to build for it; ` +
          'say in flake.nix what the image runs (run) and which packages it needs (extraContents): the comment there shows how\n',
      );
    }
    const staged = stageInGit(args.dir, outcome.files);
    const cd = display(args.dir) === '.' ? '' : `cd ${display(args.dir)} && `;
    const next = staged
      ? `${cd}addonix build   (every arch; or nix run .#build-all-images), then git add flake.lock and commit`
      : `${cd}addonix build   (every arch; or nix run .#build-all-images). Not a git repository: Nix reads the folder as it is`;
    if (args.json) {
      const runtime = Object.fromEntries(outcome.models.map((model) => [model.slug, Object.fromEntries(model.arches.map((arch) => [arch.arch, { flavor: arch.runtime.flavor, flavorReason: arch.runtime.flavorReason, dockerfile: arch.runtime.contract?.dockerfile ?? null }]))]));
      const findings = outcome.models.flatMap((model) => model.runtimeFindings);
      const body = { written: outcome.written.map(display), unchanged: outcome.unchanged.map(display), staged: staged?.files ?? null, withoutApp: outcome.withoutApp, warnings: outcome.warnings, runtime, findings, next: next.replace(/ {3}\(.*$/, '') };
      process.stdout.write(JSON.stringify(body, null, 2) + '\n');
      return;
    }
    for (const model of outcome.models) {
      if (outcome.models.length > 1) process.stdout.write(`${model.slug}: `);
      process.stdout.write(renderRuntime(model));
      if (model.arches.some((arch) => arch.runtime.flavor === 'base')) {
        process.stdout.write(`  the flavor "base" builds on the pinned base image: run addonix pin-base${outcome.models.length > 1 ? ' <add-on folder>' : ''} (it writes nix/base-images.lock.nix), then addonix generate\n`);
      }
    }
    for (const file of outcome.written) process.stdout.write(`wrote ${display(file)}\n`);
    for (const file of outcome.unchanged) process.stdout.write(`unchanged ${display(file)}\n`);
    if (staged) process.stdout.write(`staged (git add, Nix reads only tracked files): ${staged.files.join(' ')}\n`);
    process.stdout.write(`next: ${next}\n`);
    if (args.ci && !existsSync(path.join(args.dir, 'flake.lock'))) {
      process.stdout.write(`the CI jobs stop without flake.lock: ${cd}nix --extra-experimental-features 'nix-command flakes' flake lock writes it (addonix build too), then git add flake.lock and commit\n`);
    }
  },
};
