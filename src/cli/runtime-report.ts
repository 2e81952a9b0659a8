/**
 * How an add-on's image runs, said the same way by inspect, generate, init and build: per arch the
 * flavor and why, the command, the working folder, the files, where node_modules go and the packages;
 * then every Dockerfile instruction the image does not carry over, with its line (as findings).
 */
import type { AddonModel, ArchModel } from '../addon/model.js';
import type { FileStep, ImageConfig } from '../addon/runtime.js';
import { UserError } from '../util/errors.js';
import { formatDiagnostic, sortDiagnostics } from '../util/diagnostics.js';
import { printDiagnostics, table } from './output.js';

function quoteArgv(argv: readonly string[]): string {
  return argv.map((word) => (/^[\w./:=@%+,-]+$/.test(word) ? word : JSON.stringify(word))).join(' ');
}

function stepText(step: FileStep): string {
  switch (step.op) {
    case 'copy':
      return `${step.sources.join(' ')} -> ${step.dest}${step.chmod ? ` (chmod ${step.chmod})` : ''}${step.extract ? ' (unpacked)' : ''}`;
    case 'write':
      return `here-document -> ${step.dest}`;
    case 'chmod':
      return `chmod ${step.recursive ? '-R ' : ''}${step.mode} ${step.paths.join(' ')}`;
    case 'mkdir':
      return `mkdir ${step.paths.join(' ')}`;
    case 'symlink':
      return `ln -s ${step.target} ${step.path}`;
    case 'remove':
      return `rm ${step.paths.join(' ')}`;
  }
}

/** The lines describing one arch's runtime (what `inspect` and `generate` print). */
export function runtimeRows(arch: ArchModel): string[][] {
  const { contract, flavor, flavorReason } = arch.runtime;
  const rows: string[][] = [['flavor', `${flavor}: ${flavorReason}`]];
  if (!contract || arch.runtime.appByDefault) {
    rows.push(['command', "package.json's (start script, else node <main>), in /app"]);
    return rows;
  }
  const config: ImageConfig = contract.config;
  const src = (key: string) => (contract.configSources[key] ? ` (${contract.configSources[key]})` : '');
  const entrypoint = 'Entrypoint' in config ? (config.Entrypoint ? quoteArgv(config.Entrypoint) + src('Entrypoint') : '(none)') : flavor === 'base' ? "the base image's" : '(none)';
  const cmd = 'Cmd' in config ? (config.Cmd ? quoteArgv(config.Cmd) + src('Cmd') : '(none)') : flavor === 'base' ? "the base image's" : '(none)';
  rows.push(['entrypoint', entrypoint], ['cmd', cmd]);
  if (config.WorkingDir) rows.push(['workdir', config.WorkingDir + src('WorkingDir')]);
  if (config.User) rows.push(['user', config.User + src('User')]);
  if (config.Env) rows.push(['env', config.Env.map((entry) => entry.split('=')[0]).join(' ') + src('Env')]);
  if (config.ExposedPorts) rows.push(['ports', Object.keys(config.ExposedPorts).join(' ') + src('ExposedPorts')]);
  if (config.Healthcheck) rows.push(['healthcheck', config.Healthcheck.Test.join(' ') + src('Healthcheck')]);
  contract.steps.forEach((step, i) => rows.push([i === 0 ? 'files' : '', `${stepText(step)} (${contract.dockerfile}:${step.line})`]));
  if (contract.npmDir) rows.push(['node_modules', `${contract.npmDir} (npm install, ${contract.dockerfile}:${contract.npmLine})`]);
  const packages = contract.packages.map((p) => {
    const from = p.kind === 'node' ? "addonix's Node.js" : p.kind === 'build' ? 'build only, left out' : p.kind === 'library' ? 'a library, linked by store path' : flavor === 'base' && p.inHaBase ? 'from the base image' : `nixpkgs ${p.attr}`;
    return `${p.name} (${from})`;
  });
  if (packages.length > 0) rows.push(['packages', packages.join(', ')]);
  return rows;
}

/** The runtime of every arch, arches that agree shown once. */
export function renderRuntime(model: AddonModel): string {
  const groups = new Map<string, string[]>();
  for (const arch of model.arches) {
    const text = table(runtimeRows(arch).map(([key, value]) => ['  ' + key, value!]));
    groups.set(text, [...(groups.get(text) ?? []), arch.arch]);
  }
  const out: string[] = [];
  for (const [text, arches] of groups) {
    out.push(groups.size === 1 ? 'How the image runs' : `How the image runs (${arches.join(', ')})`, text);
  }
  return out.join('\n') + '\n';
}

/** The Dockerfile findings on stderr; an error among them stops the command (Docker would stop too). */
export function reportRuntimeFindings(model: AddonModel, stream: NodeJS.WriteStream = process.stderr): void {
  const errors = model.runtimeFindings.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    const sorted = sortDiagnostics(errors);
    throw new UserError('addon-invalid', `the Dockerfile has ${errors.length === 1 ? 'an instruction' : `${errors.length} instructions`} Docker would stop at:${sorted.map((d) => `\n  ${formatDiagnostic(d)}`).join('')}`, {
      file: sorted[0]!.file,
      ...(sorted[0]!.line !== null ? { line: sorted[0]!.line } : {}),
    });
  }
  printDiagnostics(model.runtimeFindings, stream);
}
