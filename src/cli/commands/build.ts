import { COMMAND_HEADS } from '../command-heads.js';
import { stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { checkWritableFolder } from '../../util/fs-errors.js';
import { availableParallelism } from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../util/errors.js';
import { buildPlanned, dryRunImage, imagePlans, linkResults, planBuild, refuseForeign, type BuildPlan, type ImageTarget, type NixOptions, type TargetResult } from '../../nix/build.js';
import type { NixInstall } from '../../nix/install.js';
import { derivationName } from '../../nix/log.js';
import { describePlan, expensiveBuilds, foreignBuildAdvice, type DryRun, type ForeignBuild, type ImagePlan } from '../../nix/cost.js';
import { BuildProgress } from '../../nix/progress.js';
import { summarizeArchive } from '../../oci/scan.js';
import { formatBytes } from '../images.js';
import { paint, table } from '../output.js';
import { addonModel, checkArchesListed, flakeFor, interruptible, nixForCommand, overridesOf, targetsFor, type NixArgs } from '../nix-input.js';
import { withOptions } from '../options.js';
import { reportRuntimeFindings } from '../runtime-report.js';
import { traceText } from '../render-error.js';

interface BuildArgs extends NixArgs {
  dir: string;
  arch?: string[];
  all: boolean;
  'out-link': string;
  json: boolean;
  'dry-run': boolean;
  tarball: boolean;
}

export interface BuiltImage {
  label: string;
  arch: string;
  status: TargetResult['status'];
  attribute: string;
  drvPath: string | null;
  outPath: string | null;
  link: string | null;
  size: number | null;
  layers: number | null;
  configDigest: string | null;
  seconds: number | null;
  failure: TargetResult['failure'] | null;
}

export const buildCommand: CommandModule<object, BuildArgs> = {
  ...COMMAND_HEADS['build'],
  builder: (yargs: Argv) =>
    withOptions(
      yargs.positional('dir', { describe: 'The add-on folder (with its flake.nix, or see --flake)', type: 'string', default: '.' }),
      'arch', 'all', 'out-link', 'dry-run', 'tarball', 'json', 'flake', 'jobs', 'builders', 'substituters', 'override-input', 'verbose',
    )
      .example('$0 build', "Every arch of the add-on in this folder: result-amd64, result-aarch64, ...")
      .example('$0 build --arch aarch64 -j 4', 'One arch, four builds at once')
      .example('$0 build --dry-run', 'What each arch would build and fetch, and what it costs, without building')
      .example("$0 build --builders 'ssh://arm-box aarch64-linux' --substituters 'https://cache.nixos.org https://me.cachix.org'", 'A remote builder and another cache')
      .example('$0 build --all --flake .', 'Every image of a repository flake (what nix run .#build-all-images runs)')
      .epilogue(
        'Nix runs as many builds at once as the machine has cores unless --jobs says otherwise. ' +
          'All chosen images are built by one nix build --keep-going, so shared dependencies are built once and a failing arch does not stop ' +
          'the others; the failure names the arch, the derivation, the last lines of its log and a hint. Links are written only when the ' +
          'build is over (garbage-collector roots, like nix build makes); the link of an arch that failed now is removed. Ctrl-C stops Nix and ' +
          'changes no link. Exit status 1 when any arch failed, 130 when interrupted.',
      ) as unknown as Argv<BuildArgs>,
  handler: async (args) => {
    if (args.all && args.arch !== undefined) throw new UsageError('--all and --arch exclude each other');
    const arches = args.arch;
    // The links are made when the build is over: an unwritable place should not cost a build first.
    if (!args['dry-run']) await checkWritableFolder(path.dirname(path.resolve(args['out-link'])));
    const model = args.all ? null : await addonModel(args.dir);
    if (model && arches) checkArchesListed(model, arches);
    // What of the Dockerfile the images will lack, said before anything is built.
    if (model) reportRuntimeFindings(model);
    const flake = flakeFor(args.dir, args.flake);
    const install = await nixForCommand();
    const overrides = overridesOf(args);
    const options = { jobs: args.jobs ?? availableParallelism(), builders: args.builders, substituters: args.substituters, overrides };
    await interruptible(async (signal) => {
      const targets = await targetsFor(install, flake, { model, dir: args.dir, arches, all: args.all, streams: !args.tarball }, { signal, overrides });
      if (args['dry-run']) {
        await dryRun(install, flake, targets, args.json, { ...options, signal });
        return;
      }
      const planned = await planBuild(install, flake, targets, { ...options, signal });
      const plans = await imagePlans(install, flake, planned.planned, { ...options, signal });
      // An image needing what this machine cannot build fails now, with what to do, not hours later.
      const plan = refuseForeign(planned, plans, install);
      process.stderr.write(renderCosts(plan, plans));
      const progress = plan.planned.length > 0 ? new BuildProgress(process.stderr, plan) : undefined;
      const results = await buildPlanned(install, flake, plan, { ...options, signal, onEvent: progress?.onEvent }).finally(() => progress?.finish());
      const links = await linkResults(install, results, args['out-link']);
      const images: BuiltImage[] = [];
      for (const result of results) {
        const summary = result.outPath ? await summarizeArchive(result.outPath) : null;
        images.push({
          label: result.target.label,
          arch: result.target.arch,
          status: result.status,
          attribute: result.target.attribute,
          drvPath: result.drvPath,
          outPath: result.outPath,
          link: links.get(result.target.label) ?? null,
          // A stream script's own size says nothing of its image (which is not read here).
          size: result.outPath && summary ? (await stat(result.outPath)).size : null,
          layers: summary?.layers ?? null,
          configDigest: summary?.configDigest ?? null,
          seconds: result.seconds,
          failure: result.failure ?? null,
        });
      }
      // README's next step is `git add flake.lock`: say why there is none, and the one command that writes it.
      if (overrides.length > 0 && path.isAbsolute(flake) && !existsSync(path.join(flake, 'flake.lock'))) {
        const same = overrides.map(([name, ref]) => `--override-input ${name} ${ref}`).join(' ');
        process.stderr.write(`addonix: Nix writes no flake.lock for a build with --override-input; to have one to commit: nix flake lock ${same} (it pins what they name)\n`);
      }
      if (args.json) process.stdout.write(JSON.stringify({ flake, system: install.system, images }, null, 2) + '\n');
      else process.stdout.write(renderTable(images));
      for (const image of images) if (image.failure) process.stderr.write(renderFailure(image, args.verbose === true));
      process.exitCode = images.some((i) => i.status === 'failed') ? 1 : 0;
    }, 'no result link was changed');
  },
};

/** Before a build, a line per image: how it is built, what it builds, and a warning where that takes hours. */
function renderCosts(plan: BuildPlan, plans: Map<string, ImagePlan | null>): string {
  const lines: string[] = [];
  for (const target of plan.planned) {
    const building = [...target.closure].filter((drv) => plan.willBuild.has(drv));
    const how = plans.get(target.attribute);
    lines.push(`addonix: ${target.label}: ${how ? `${describePlan(how)}; ` : ''}${building.length} to build`);
    const expensive = expensiveBuilds(building);
    if (expensive.length > 0) {
      lines.push(`addonix: ${target.label}: compiles ${expensive.map((e) => `${e.what} (${e.names.join(', ')})`).join(' and ')}: a first build takes hours; a binary cache keeps them for the next (README, "What a first build costs")`);
    }
  }
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}

interface DryRunImage {
  label: string;
  arch: string;
  attribute: string;
  plan: ImagePlan | null;
  /** Names of the derivations Nix would build. */
  willBuild: string[];
  willFetch: number;
  downloadBytes: number | null;
  unpackedBytes: number | null;
  /** The expensive compiles among willBuild. */
  expensive: { what: string; names: string[] }[];
  /** What it would build for a system this machine cannot build, and what to do (null when nothing). */
  foreign: ForeignBuild[];
  advice: string | null;
}

/** `build --dry-run`: per image, its plan and Nix's own dry run (each image alone), nothing built. */
async function dryRun(install: NixInstall, flake: string, targets: ImageTarget[], json: boolean, options: NixOptions): Promise<void> {
  const plans = await imagePlans(install, flake, targets, options);
  const images: DryRunImage[] = [];
  for (const target of targets) {
    const run: DryRun = await dryRunImage(install, flake, target, options);
    images.push({
      label: target.label,
      arch: target.arch,
      attribute: target.attribute,
      plan: plans.get(target.attribute) ?? null,
      willBuild: run.willBuild.map(derivationName).sort(),
      willFetch: run.willFetch.length,
      downloadBytes: run.downloadBytes,
      unpackedBytes: run.unpackedBytes,
      expensive: expensiveBuilds(run.willBuild),
      foreign: run.foreign,
      advice: run.foreign.length > 0 ? foreignBuildAdvice(target.label, run.foreign, install.system, plans.get(target.attribute) ?? null) : null,
    });
  }
  if (json) {
    process.stdout.write(JSON.stringify({ flake, system: install.system, dryRun: true, images }, null, 2) + '\n');
    return;
  }
  const out: string[] = [];
  for (const image of images) {
    const indent = ' '.repeat(image.label.length + 2);
    out.push(`${image.label}  ${image.plan ? describePlan(image.plan) : image.attribute}`);
    out.push(`${indent}builds ${image.willBuild.length}${image.willBuild.length > 0 ? `: ${image.willBuild.join(', ')}` : ' (all in the store)'}`);
    const sizes = image.downloadBytes !== null ? ` (${formatBytes(image.downloadBytes)} to download${image.unpackedBytes !== null ? `, ${formatBytes(image.unpackedBytes)} unpacked` : ''})` : '';
    out.push(`${indent}fetches ${image.willFetch}${sizes}`);
    if (image.expensive.length > 0) out.push(`${indent}compiles ${image.expensive.map((e) => `${e.what} (${e.names.join(', ')})`).join(' and ')}: hours on a first build`);
    if (image.plan) out.push(`${indent}first build: ${image.plan.firstBuild}`);
    if (image.advice) out.push(`${indent}cannot build here: ${image.advice}`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

/**
 * The table of what was built. SIZE and LAYERS are a tarball's (--tarball): a stream script's image is
 * only known by running it (seconds per image, which push, load and diff do anyway), so for stream
 * scripts the columns are left out and a line says where to see them.
 */
export function renderTable(images: BuiltImage[]): string {
  const measured = images.some((image) => image.size !== null || image.layers !== null);
  const rows = [['IMAGE', 'STATUS', ...(measured ? ['SIZE', 'LAYERS'] : []), 'TIME', 'OUT PATH']];
  for (const image of images) {
    rows.push([
      image.label,
      image.status,
      ...(measured ? [image.size !== null ? formatBytes(image.size) : '-', image.layers !== null ? String(image.layers) : '-'] : []),
      image.seconds !== null ? `${image.seconds.toFixed(1)} s` : image.status === 'cached' ? 'cached' : '-',
      image.link ? `${image.link} -> ${image.outPath}` : (image.outPath ?? '-'),
    ]);
  }
  const streams = images.filter((image) => image.outPath !== null && image.layers === null);
  const note = streams.length > 0 ? `stream scripts (push, load, run and diff read them): addonix inspect-image ${streams[0]!.link ?? streams[0]!.outPath} shows an image's size and layers\n` : '';
  return table(rows) + '\n' + note;
}

function renderFailure(image: BuiltImage, verbose: boolean): string {
  const color = paint(process.stderr);
  const failure = image.failure!;
  // Newer Nix repeats the log tail in its message; addonix shows its own.
  const message = failure.log.length > 0 ? failure.message.replace(/;?\s*last \d+ log lines:[\s\S]*/, '') : failure.message;
  const out = [`${color('red', `${image.label} failed`)}: ${message.trim().split('\n').join('\n  ')}`];
  if (failure.log.length > 0) out.push(`  last lines of the log of ${failure.derivation}:`, ...failure.log.map((line) => `    ${line}`));
  for (const hint of failure.hints) out.push(`  hint: ${hint.text}`);
  const trace = traceText(failure.trace, verbose);
  if (trace) out.push(trace.slice(1).replace(/^/gm, '  '));
  return out.join('\n') + '\n';
}
