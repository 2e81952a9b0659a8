import { COMMAND_HEADS } from '../command-heads.js';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { relativeDisplay } from '../../addon/load.js';
import type { Era } from '../../addon/eras.js';
import { defaultLibc, isHaArch } from '../../addon/arch.js';
import { findAppDir } from '../../npm/app-dir.js';
import { resolveDeps, type TargetDeps } from '../../npm/deps.js';
import { parseTarget, type Target } from '../../npm/target.js';
import { UsageError, UserError } from '../../util/errors.js';
import { plural } from '../../util/text.js';
import { paint, table } from '../output.js';
import { loadOneAddon } from '../addon-input.js';
import { withOptions } from '../options.js';

interface DepsArgs {
  dir: string;
  target?: string[];
  json: boolean;
  'include-dev': boolean;
  'npm-registry'?: string;
  'node-version'?: string;
  app?: string;
  supervisor: Era;
}

export const depsCommand: CommandModule<object, DepsArgs> = {
  ...COMMAND_HEADS['deps'],
  builder: (yargs: Argv) =>
    withOptions(
      yargs.positional('dir', { describe: 'An add-on folder, or any folder with package.json and package-lock.json', type: 'string', default: '.' }),
      'target', 'app', 'include-dev', 'node-version', 'npm-registry', 'supervisor', 'json',
    )
      .example('$0 deps my-addon', 'Every arch of the add-on, with its default libc (glibc for amd64 and aarch64, musl for the others)')
      .example('$0 deps my-addon --target aarch64-musl --json', 'One target as JSON')
      .example('$0 deps path/to/node-project --target armv7-glibc', 'Any npm project, without an add-on config')
      .epilogue(
        'Packages are what `npm ci --omit=dev` lays out on that platform: optional packages for other platforms are left out, ' +
          'bundled packages come inside their parent. Native plans: build-from-source, platform-package, prebuilt-in-tarball ' +
          '(replaced by a source build) or unsupported. Exit status 1 when a target cannot be built.',
      ) as unknown as Argv<DepsArgs>,
  handler: async (args) => {
    const display = relativeDisplay();
    const addon = await loadOneAddon(args.dir, args.supervisor, display, true);
    let targets: Target[];
    if (args.target && args.target.length > 0) targets = args.target.map(parseTarget);
    else if (addon) targets = ((addon.config!['arch'] as unknown[]) ?? []).filter(isHaArch).map((arch) => ({ arch, libc: defaultLibc(arch) }));
    else throw new UsageError(`${display(args.dir)} is not an add-on folder: name the targets with --target, e.g. --target aarch64`);

    const appDir = addon ? await findAppDir(addon.location.dir, args.app, display) : path.resolve(args.dir);
    if (!appDir) throw new UserError('npm-project', `${display(args.dir)} has no Node.js app (no package.json or package-lock.json in it or below it)`);
    const result = await resolveDeps(appDir, targets, {
      includeDev: args['include-dev'],
      registry: args['npm-registry'],
      nodeVersion: args['node-version'],
      display,
    });
    if (args.json) {
      const out = result.targets.length === 1 ? result.targets[0] : result.targets;
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    } else {
      for (const target of result.targets) process.stdout.write(renderTarget(target));
    }
    process.exitCode = result.targets.some((t) => t.errors.length > 0) ? 1 : 0;
  },
};

function renderTarget(target: TargetDeps): string {
  const color = paint(process.stdout);
  const bundled = target.packages.filter((p) => p.bundled).length;
  const links = target.packages.filter((p) => p.link).length;
  const lines = [
    `${color('bold', target.target)}: ${plural(target.packages.length, 'package')} (${bundled} bundled, ${plural(links, 'link')}), ${plural(target.native.length, 'native addon')}`,
  ];
  if (target.native.length > 0) {
    lines.push(
      table(
        target.native.map((plan) => [
          `  ${plan.name}@${plan.version}`,
          plan.plan === 'unsupported' ? color('red', plan.plan) : plan.plan,
          plan.plan === 'platform-package' ? plan.settings.platformPackages.map((l) => l.replace(/^.*node_modules\//, '')).join(', ') : plan.reason,
        ]),
      ),
    );
  }
  for (const error of target.errors) lines.push(`  ${color('red', 'error')}: ${error.message}`);
  return lines.join('\n') + '\n';
}
