import { createRequire } from 'node:module';
import type { Argv, CommandModule } from 'yargs';
import { UserError, UsageError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { localArch } from '../../oci/platform.js';
import { buildPlanned, planBuild } from '../../nix/build.js';
import { BuildProgress } from '../../nix/progress.js';
import { verifyBuilt, type VerifyReport } from '../../verify/verify.js';
import { attestation } from '../../verify/provenance.js';
import { comparisonJson, renderComparison } from '../../verify/render.js';
import { layerRules, layerRulesOption, registryTimeOptions, registryTimes } from '../images.js';
import { checkReportDir, writeDiffReport } from '../../verify/report.js';
import { paint } from '../output.js';
import { addonModel, flakeFor, interruptible, nixForCommand, nixOptions, overridesOf, parseArches, targetsFor, type NixArgs } from '../nix-input.js';

const { version: addonixVersion } = createRequire(import.meta.url)('../../../../package.json') as { version: string };

interface VerifyArgs extends NixArgs {
  dir: string;
  arch?: string;
  against?: string;
  report?: string;
  attest?: string;
  'diff-report'?: string;
  json: boolean;
  insecure: boolean;
  'allow-devices': boolean;
  timeout?: number;
  'retry-for'?: number;
}

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify [dir]',
  describe: 'Rebuild an image from source and prove it is the published one, or show which layer and file differ',
  builder: (yargs: Argv) =>
    registryTimeOptions(layerRulesOption(nixOptions(
      yargs
        .positional('dir', { describe: 'The add-on folder (with its flake.nix, or see --flake)', type: 'string', default: '.' })
        .option('arch', { type: 'string', describe: "The arch to verify (default: this machine's, when the add-on has it)" })
        .option('against', { type: 'string', describe: "The reference: a registry reference or a local image (default: the add-on's published image for its version, from config.yaml)" })
        .option('report', { type: 'string', describe: 'Where to write the JSON report (default: verify-<slug>-<arch>.json)' })
        .option('attest', { type: 'string', describe: 'Also write an in-toto statement (SLSA provenance) for the image digest to this file, when the image was reproduced' })
        .option('diff-report', { type: 'string', describe: 'When the images differ, write the differing files to this folder for diffoscope (as diff --report)' })
        .option('json', { type: 'boolean', default: false, describe: 'Print the report on stdout instead of the verdict' })
        .option('insecure', { type: 'boolean', default: false, describe: 'Plain HTTP for a registry that is not on this machine' }),
    )))
      .example('$0 verify --arch aarch64', "Rebuild this add-on's aarch64 image and compare it with the published one")
      .example('$0 verify --arch amd64 --against ghcr.io/me/my-addon:1.2.3 --attest amd64.intoto.json', 'Against a given reference, with an attestation')
      .example('$0 verify --arch amd64 --against result-amd64.old --diff-report why', 'Against a local image; differing files into why/')
      .epilogue(
        'Steps: build the image (Nix may take it from a cache), rebuild it with nix build --rebuild (Nix builds it again and compares; when ' +
          'the two builds differ, addonix shows which file differs and how), compress its layers as addonix push would, and compare with the ' +
          'reference: identical (same manifest), same content (same config and layers, compressed differently: a tool other than addonix ' +
          'pushed it), or different (which layer, which file, what kind of difference). Exit status 0 when reproduced (identical or same ' +
          'content), 1 otherwise, 130 when interrupted.',
      ) as unknown as Argv<VerifyArgs>,
  handler: async (args) => {
    if (args.jobs !== undefined && (!Number.isInteger(args.jobs) || args.jobs < 1)) throw new UsageError(`--jobs ${args.jobs}: give a whole number >= 1`);
    const requested = args.arch !== undefined ? parseArches(args.arch) : undefined;
    if (requested && requested.length !== 1) throw new UsageError('--arch: verify one arch at a time');
    if (args['diff-report'] !== undefined) await checkReportDir(args['diff-report']);
    const model = await addonModel(args.dir);
    if (!model) throw new UserError('no-addon', `${args.dir} has no add-on (no config.yaml): verify needs the add-on folder`);
    const arch = requested?.[0] ?? defaultArch(model.arches.map((a) => a.arch));
    const archModel = model.arches.find((a) => a.arch === arch);
    if (!archModel) throw new UserError('usage', `${model.slug} is not built for ${arch} (its config.yaml lists ${model.arches.map((a) => a.arch).join(', ')})`);
    const reference = args.against ?? publishedImage(archModel.image, model.slug);
    const flake = flakeFor(args.dir, args.flake);
    const install = await nixForCommand();
    const overrides = overridesOf(args);
    const options = { jobs: args.jobs, builders: args.builders, substituters: args.substituters, overrides };
    await interruptible(async (signal) => {
      const startedOn = new Date().toISOString();
      const targets = await targetsFor(install, flake, { model, dir: args.dir, arches: [arch], all: false }, { signal, overrides });
      const plan = await planBuild(install, flake, targets, { ...options, signal });
      const progress = plan.planned.length > 0 ? new BuildProgress(process.stderr, plan) : undefined;
      const [built] = await buildPlanned(install, flake, plan, { ...options, signal, onEvent: progress?.onEvent }).finally(() => progress?.finish());
      if (!built || built.status === 'failed') throw new UserError('nix-failed', `${arch}: the image does not build, so there is nothing to verify:\n${built?.failure?.message ?? ''}${built?.failure?.log.length ? `\n${built.failure.log.join('\n')}` : ''}`);
      process.stderr.write(`addonix: rebuilding ${built.outPath} to check that Nix gets the same bytes again\n`);
      const { report, explained } = await verifyBuilt({ install, flake, target: plan.planned[0]!, addon: { slug: model.slug, version: model.version }, reference, remote: { insecure: args.insecure, client: registryTimes(args) }, rules: layerRules(args['allow-devices']), options: { ...options, signal } });
      const reportFile = args.report ?? `verify-${model.slug}-${arch}.json`;
      await writeFileAtomic(reportFile, reportJson(report));
      const reproduced = report.verdict === 'identical' || report.verdict === 'same-content';
      let attested: string | undefined;
      if (args.attest !== undefined && reproduced) {
        const statement = attestation(report, { addonixVersion, startedOn, finishedOn: new Date().toISOString() });
        await writeFileAtomic(args.attest, JSON.stringify(statement, null, 2) + '\n');
        attested = args.attest;
      }
      if (args.json) process.stdout.write(reportJson(report));
      else process.stdout.write(renderVerdict(report, reportFile, attested));
      if (!reproduced && args['diff-report'] !== undefined) {
        const written = await writeDiffReport(args['diff-report'], explained, layerRules(args['allow-devices']));
        process.stderr.write(`addonix: ${written.files} differing files in ${written.dir}; ${written.commands.join('; ')}\n`);
      }
      if (args.attest !== undefined && !reproduced) process.stderr.write(`addonix: no attestation written to ${args.attest}: the image was not reproduced (${report.verdict})\n`);
      process.exitCode = reproduced ? 0 : 1;
    }, 'nothing was verified');
  },
};

function defaultArch(arches: string[]): string {
  if (arches.length === 1) return arches[0]!;
  let here: string | undefined;
  try {
    here = localArch();
  } catch {
    here = undefined;
  }
  if (here && arches.includes(here)) return here;
  throw new UsageError(`name the arch to verify with --arch (the add-on has ${arches.join(', ')})`);
}

/** The reference the Supervisor would pull: config.yaml's image with the version as tag. */
function publishedImage(image: string, slug: string): string {
  if (image.startsWith('local/')) {
    throw new UserError('usage', `${slug} has no image in config.yaml (the Supervisor builds it locally), so nothing is published to compare with: give --against REF or a local image`);
  }
  return image;
}

function renderVerdict(report: VerifyReport, reportFile: string, attested: string | undefined): string {
  const color = paint(process.stdout);
  const out: string[] = [];
  if (report.rebuild.deterministic) {
    out.push(`rebuild: ${color('green', 'deterministic')} (nix build --rebuild gave the same bytes as the first build)`);
  } else {
    out.push(`rebuild: ${color('red', 'NOT deterministic')}: two builds of ${report.inputs.derivation} differ:`);
    out.push(renderComparison(report.rebuild.comparison!).replace(/^/gm, '  '));
  }
  out.push(renderComparison(report.comparison));
  const verdict =
    report.verdict === 'identical'
      ? color('green', 'verified: identical to the reference')
      : report.verdict === 'same-content'
        ? color('green', 'verified: same content as the reference') + ' (same config and layers; the reference was compressed by another tool)'
        : report.verdict === 'not-reproducible'
          ? color('red', 'not verified: the build is not reproducible')
          : color('red', 'not verified: the rebuilt image differs from the reference');
  out.push(verdict);
  out.push(`report: ${reportFile}${attested ? `\nattestation: ${attested}` : ''}`);
  return out.join('\n') + '\n';
}

/** The report as JSON, names in its comparisons as text (see comparisonJson). */
function reportJson(report: VerifyReport): string {
  const json = {
    ...report,
    rebuild: { ...report.rebuild, comparison: report.rebuild.comparison ? comparisonJson(report.rebuild.comparison) : null },
    comparison: comparisonJson(report.comparison),
  };
  return JSON.stringify(json, null, 2) + '\n';
}
