import { COMMAND_HEADS } from '../command-heads.js';
import type { Argv, CommandModule } from 'yargs';
import { relativeDisplay } from '../../addon/load.js';
import { resolveModel, type AddonModel, type ArchModel } from '../../addon/model.js';
import type { Era } from '../../addon/eras.js';
import { OPT_IN_ARCHES, type BuildArch } from '../../addon/arch.js';
import { paint, table } from '../output.js';
import { renderRuntime, reportRuntimeFindings } from '../runtime-report.js';
import { findAppDir } from '../../npm/app-dir.js';
import { startCommand } from '../../npm/start-command.js';
import { pinnedBaseConfigs } from '../../nixgen/base-lock.js';
import path from 'node:path';
import { loadOneAddon } from '../addon-input.js';
import { withOptions } from '../options.js';

interface InspectArgs {
  dir: string;
  json: boolean;
  supervisor: Era;
  riscv64: boolean;
}

export const inspectCommand: CommandModule<object, InspectArgs> = {
  ...COMMAND_HEADS['inspect'],
  builder: (yargs: Argv) =>
    withOptions(yargs.positional('dir', { describe: 'The add-on folder (the one holding config.yaml)', type: 'string', default: '.' }), 'supervisor', 'riscv64', 'json')
      .example('$0 inspect my-addon', 'A table of the arches, then base images, build args and labels')
      .example('$0 inspect my-addon --json', 'The same model as JSON, for scripts')
      .example('$0 inspect my-addon --riscv64', 'Also resolve riscv64, for images used outside Home Assistant')
      .epilogue('The add-on must validate without errors first (see addonix validate); warnings are printed on stderr.') as unknown as Argv<InspectArgs>,
  handler: async (args) => {
    const display = relativeDisplay();
    const addon = (await loadOneAddon(args.dir, args.supervisor, display))!;
    const extraArches: BuildArch[] = args.riscv64 ? [...OPT_IN_ARCHES] : [];
    for (const arch of extraArches) {
      process.stderr.write(`addonix: warning: ${arch} is included on request; Home Assistant does not run ${arch} images, so the Supervisor will never install this one\n`);
    }
    const model = resolveModel(addon, { era: args.supervisor, extraArches, display, baseConfigs: await pinnedBaseConfigs(addon.location.dir) });
    reportRuntimeFindings(model);
    // The Node.js app: its folder and, for an image without a Dockerfile, the command package.json gives.
    const appDir = await findAppDir(addon.location.dir, undefined, display);
    const start = await startCommand(appDir);
    const app = { dir: appDir === null ? null : path.relative(addon.location.dir, appDir).split(path.sep).join('/') || '.', command: start.command, commandSource: start.source, problem: start.problem };
    if (args.json) {
      process.stdout.write(JSON.stringify({ ...model, app }, null, 2) + '\n');
      return;
    }
    process.stdout.write(renderModel(model));
    process.stdout.write(`App        ${app.dir === null ? 'none (no package.json or package-lock.json)' : `${app.dir}${app.commandSource ? `  (${app.commandSource}: ${app.command!.join(' ')})` : app.problem ? `  (${app.problem})` : ''}`}\n\n`);
    process.stdout.write(renderRuntime(model));
  },
};

/** One value when every arch agrees, otherwise one `arch  value` line per arch. */
function perArch(model: AddonModel, pick: (arch: ArchModel) => string | null | undefined): string[] {
  const values = model.arches.map((arch) => pick(arch) ?? '-');
  if (values.every((value) => value === values[0])) return [values[0] ?? '-'];
  if (model.arches.every((arch, i) => values[i] === arch.arch)) return ['(the arch)'];
  const width = Math.max(...model.arches.map((arch) => arch.arch.length));
  return model.arches.map((arch, i) => `${arch.arch.padEnd(width)}  ${values[i]}`);
}

function section(model: AddonModel, keys: string[], pick: (arch: ArchModel, key: string) => string | undefined): string[][] {
  const rows: string[][] = [];
  for (const key of keys) {
    perArch(model, (arch) => pick(arch, key)).forEach((value, i) => rows.push(['  ' + (i === 0 ? key : ''), value]));
  }
  return rows;
}

export function renderModel(model: AddonModel): string {
  const color = paint(process.stdout);
  const out: string[] = [];
  out.push(`${color('bold', model.name)} ${model.version}  (slug ${model.slug})`);
  if (model.description) out.push(model.description);
  out.push('');
  const files: string[][] = [['config', model.files.config]];
  if (model.files.build) files.push(['build', model.files.build + (model.files.buildIgnored ? '  (ignored by the Supervisor: it fails its schema)' : '')]);
  if (model.files.repository) files.push(['repository', model.files.repository]);
  files.push(['image', model.imageTemplate ?? 'none: the Supervisor builds it locally']);
  out.push(table(files), '');

  out.push(
    table([
      ['ARCH', 'PLATFORM', 'NIX SYSTEM', 'MUSL TARGET', 'IMAGE'],
      ...model.arches.map((a) => [
        a.arch + (a.supervisor === 'deprecated' ? ' (deprecated)' : a.supervisor === 'none' ? ' (not run by HA)' : ''),
        a.dockerPlatform,
        a.nixSystem,
        a.muslTarget,
        a.image,
      ]),
    ]),
    '',
  );

  const sources: Record<string, string> = { 'build-file': 'build file', 'supervisor-default': "Supervisor's default", dockerfile: 'Dockerfile' };
  out.push(
    table([
      ['ARCH', 'BASE IMAGE', 'FROM'],
      ...model.arches.map((a) => [a.arch, a.baseImage ?? 'unknown (no Dockerfile, no build file)', a.baseImageSource ? sources[a.baseImageSource]! : '']),
    ]),
    '',
  );

  const argKeys = [...new Set(model.arches.flatMap((a) => Object.keys(a.buildArgs)))];
  out.push('Build args', table(section(model, argKeys, (a, k) => a.buildArgs[k])), '');
  const labelKeys = [...new Set(model.arches.flatMap((a) => Object.keys(a.labels)))];
  out.push('Labels', table(section(model, labelKeys, (a, k) => a.labels[k])), '');
  return out.join('\n');
}
