import { COMMAND_HEADS } from '../command-heads.js';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { checkWritableFolder } from '../../util/fs-errors.js';
import type { Argv, CommandModule } from 'yargs';
import { UserError, UsageError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { localArch } from '../../oci/platform.js';
import { buildPlanned, planBuild } from '../../nix/build.js';
import { BuildProgress } from '../../nix/progress.js';
import { verifyBuilt, type VerifyReport } from '../../verify/verify.js';
import { openImages } from '../../verify/diff.js';
import type { ImageCandidate } from '../../oci/scan.js';
import { attestation } from '../../verify/provenance.js';
import { comparisonJson, renderComparison, shortCompressor } from '../../verify/render.js';
import { layerRules, registryTimes } from '../images.js';
import { withOptions } from '../options.js';
import { checkReportDir, writeDiffReport } from '../../verify/report.js';
import { paint } from '../output.js';
import type { SignatureTrust } from '../../registry/cosign.js';
import { checkSignatures, refuseUnsigned, renderSignatures, type SignatureReport } from '../../verify/signatures.js';
import { KEYLESS_OPTIONS, trustFromArgs, type TrustArgs } from '../signature-trust.js';
import { addonModel, checkArchesListed, flakeFor, interruptible, nixForCommand, overridesOf, targetsFor, type NixArgs } from '../nix-input.js';

const { version: addonixVersion } = createRequire(import.meta.url)('../../../../package.json') as { version: string };

interface VerifyArgs extends NixArgs, TrustArgs {
  dir: string;
  arch?: string[];
  against?: string;
  report?: string;
  attest?: string;
  'diff-report'?: string;
  json: boolean;
  insecure: boolean;
  'allow-devices': boolean;
  timeout?: number;
  'retry-for'?: number;
  key?: string;
  'signatures-only': boolean;
}

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  ...COMMAND_HEADS['verify'],
  builder: (yargs: Argv) =>
    withOptions(
      yargs.positional('dir', { describe: 'The add-on folder (with its flake.nix, or see --flake)', type: 'string', default: '.' }),
      'arch', 'against', 'report', 'attest', 'diff-report', 'json', 'flake', 'jobs', 'builders', 'substituters', 'override-input', 'verbose', 'allow-devices', 'insecure', 'timeout', 'retry-for', 'key', 'signatures-only',
      ...KEYLESS_OPTIONS,
    )
      .example('$0 verify --arch aarch64', "Rebuild this add-on's aarch64 image and compare it with the published one")
      .example('$0 verify --arch amd64 --against ghcr.io/me/my-addon:1.2.3 --attest amd64.intoto.json', 'Against a given reference, with an attestation')
      .example('$0 verify --arch amd64 --against result-amd64.old --diff-report why', 'Against a local image; differing files into why/')
      .example('$0 verify --arch amd64,aarch64 --attest {arch}.intoto.json', 'Two arches, one attestation each')
      .example('$0 verify --key cosign.pub --signatures-only --against ghcr.io/me/my-addon:1.2.3', 'Only the cosign signatures and attestations of the index and each manifest')
      .example(
        '$0 verify --signatures-only --against ghcr.io/me/my-addon:1.2.3 --trusted-root trusted_root.json --certificate-oidc-issuer https://token.actions.githubusercontent.com --certificate-identity https://github.com/me/my-addon/.github/workflows/addonix.yml@refs/tags/1.2.3',
        'Keyless signatures of a CI workflow, checked offline',
      )
      .epilogue(
        'Steps: build the image (Nix may take it from a cache), rebuild it with nix build --rebuild (Nix builds it again and compares; when ' +
          'the two builds differ, addonix shows which file differs and how), compress its layers as addonix push would, and compare with the ' +
          'reference: identical (same manifest), same content (same config and layers, compressed differently: a tool other than addonix ' +
          'pushed it), or different (which layer, which file, what kind of difference). Default arch: this machine\'s when the add-on has it. ' +
          'With several arches, --report, --attest and --diff-report need {arch} in their names, and --json prints an array. ' +
          'With --key, the reference\'s cosign signatures (the index and every manifest) and attestations are checked first, as cosign verify --key ' +
          'checks them (no transparency log): an image not signed with the key is refused before anything is built. With --certificate-identity ' +
          '(or -regexp), --certificate-oidc-issuer (or -regexp) and --trusted-root instead, the signatures must be keyless ones of that identity, ' +
          'checked offline as cosign verify does with those options (the certificate chain, Rekor\'s bundle and the certificate\'s time; ' +
          'attestations are not checked then). Exit status 0 ' +
          'when every arch is reproduced (identical or same content), 1 otherwise, 2 for an arch the add-on does not list, 130 when interrupted.',
      ) as unknown as Argv<VerifyArgs>,
  handler: async (args) => {
    const trust = await trustFromArgs(args, 'key', args.key);
    if (args['signatures-only'] && trust === undefined) {
      throw new UsageError('--signatures-only needs --key cosign.pub (the public key to check the signatures with), or a keyless identity (--certificate-identity, --certificate-oidc-issuer, --trusted-root)');
    }
    if (args['signatures-only'] && args.against !== undefined) {
      // Nothing is built: no add-on folder needed.
      await checkAndReport([args.against], trust!, args);
      return;
    }
    const model = await addonModel(args.dir);
    if (!model) throw new UserError('no-addon', `${args.dir} has no add-on (no config.yaml): verify needs the add-on folder`);
    const arches: string[] = args.arch ?? [defaultArch(model.arches.map((a) => a.arch))];
    checkArchesListed(model, arches);
    // One file per arch: a name without {arch} would be written over by the next arch.
    for (const option of ['report', 'attest', 'diff-report'] as const) {
      const value = args[option];
      if (value !== undefined && arches.length > 1 && !value.includes('{arch}')) {
        throw new UsageError(`--${option} ${value}: with several arches put {arch} in it, e.g. --${option} ${option === 'diff-report' ? 'why-{arch}' : `{arch}-${option === 'report' ? 'verify.json' : 'intoto.json'}`}`);
      }
    }
    const forArch = (value: string | undefined, arch: string) => value?.replaceAll('{arch}', arch);
    // What verify writes is written after two builds: an unwritable place should fail first.
    for (const arch of arches) {
      const reportDir = forArch(args['diff-report'], arch);
      if (reportDir !== undefined) await checkReportDir(reportDir);
      for (const file of [forArch(args.report, arch) ?? `verify-${model.slug}-${arch}.json`, forArch(args.attest, arch)]) {
        if (file !== undefined) await checkWritableFolder(path.dirname(path.resolve(file)));
      }
    }
    const references = new Map(arches.map((arch) => [arch, args.against ?? publishedImage(model.arches.find((a) => a.arch === arch)!.image, model.slug)]));
    if (trust !== undefined) {
      // The published images' signatures before anything is built: an unsigned image is refused in seconds.
      await checkAndReport([...new Set(references.values())], trust, args, !args['signatures-only']);
      if (args['signatures-only']) return;
    }
    const flake = flakeFor(args.dir, args.flake);
    const install = await nixForCommand();
    const overrides = overridesOf(args);
    const options = { jobs: args.jobs, builders: args.builders, substituters: args.substituters, overrides };
    await interruptible(async (signal) => {
      const startedOn = new Date().toISOString();
      // The references before the builds: one that is missing, unreachable or refused fails in seconds.
      // A local reference is read whole (its layers checked); a registry's, its documents.
      const remote = { insecure: args.insecure, client: registryTimes(args), rules: layerRules(args['allow-devices']), whole: true };
      const opened = new Map<string, ImageCandidate[]>();
      for (const reference of new Set(references.values())) opened.set(reference, await openImages(reference, remote));
      // Every arch in one nix build, as addonix build does: shared dependencies are built once.
      const targets = await targetsFor(install, flake, { model, dir: args.dir, arches, all: false }, { signal, overrides });
      const plan = await planBuild(install, flake, targets, { ...options, signal });
      const progress = plan.planned.length > 0 ? new BuildProgress(process.stderr, plan) : undefined;
      const results = await buildPlanned(install, flake, plan, { ...options, signal, onEvent: progress?.onEvent }).finally(() => progress?.finish());
      const reports: VerifyReport[] = [];
      let allReproduced = true;
      for (const arch of arches) {
        const built = results.find((result) => result.target.arch === arch);
        const target = plan.planned.find((planned) => planned.arch === arch);
        if (!built || built.status === 'failed' || !target) throw new UserError('nix-failed', `${arch}: the image does not build, so there is nothing to verify:\n${built?.failure?.message ?? ''}${built?.failure?.log.length ? `\n${built.failure.log.join('\n')}` : ''}`, { trace: built?.failure?.trace });
        process.stderr.write(`addonix: ${arch}: rebuilding ${built.outPath} to check that Nix gets the same bytes again\n`);
        const { report, explained } = await verifyBuilt({ install, flake, target, addon: { slug: model.slug, version: model.version }, references: opened.get(references.get(arch)!)!, rules: layerRules(args['allow-devices']), options: { ...options, signal } });
        const reportFile = forArch(args.report, arch) ?? `verify-${model.slug}-${arch}.json`;
        await writeFileAtomic(reportFile, reportJson(report));
        const reproduced = report.verdict === 'identical' || report.verdict === 'same-content';
        allReproduced &&= reproduced;
        const attest = forArch(args.attest, arch);
        let attested: string | undefined;
        if (attest !== undefined && reproduced) {
          const statement = attestation(report, { addonixVersion, startedOn, finishedOn: new Date().toISOString() });
          await writeFileAtomic(attest, JSON.stringify(statement, null, 2) + '\n');
          attested = attest;
        }
        reports.push(report);
        if (!args.json) process.stdout.write(`${arches.length > 1 ? `${paint(process.stdout)('bold', arch)}:\n` : ''}${renderVerdict(report, reportFile, attested)}`);
        const reportDir = forArch(args['diff-report'], arch);
        if (!reproduced && reportDir !== undefined) {
          const written = await writeDiffReport(reportDir, explained, layerRules(args['allow-devices']));
          process.stderr.write(`addonix: ${arch}: ${written.files} differing files in ${written.dir}; ${written.commands.join('; ')}\n`);
        }
        if (attest !== undefined && !reproduced) process.stderr.write(`addonix: ${arch}: no attestation written to ${attest}: the image was not reproduced (${report.verdict})\n`);
      }
      if (args.json) process.stdout.write(JSON.stringify(reports.length === 1 ? reportData(reports[0]!) : reports.map(reportData), null, 2) + '\n');
      process.exitCode = allReproduced ? 0 : 1;
    }, 'nothing was verified');
  },
};

/**
 * Checks the references' signatures with the trust and prints what was found (--json: the reports, when
 * only signatures are checked); refuses the first reference that is not signed.
 */
async function checkAndReport(references: string[], trust: SignatureTrust, args: VerifyArgs, beforeBuild = false): Promise<SignatureReport[]> {
  const reports: SignatureReport[] = [];
  for (const reference of references) {
    if (existsSync(reference)) throw new UsageError(`${args.key !== undefined ? '--key' : '--certificate-identity'} checks the signatures of an image in a registry: ${reference} is a local file or folder`);
    const report = await checkSignatures(reference, trust, { insecure: args.insecure, ...registryTimes(args) });
    if (!args.json || beforeBuild) (beforeBuild ? process.stderr : process.stdout).write(renderSignatures(report, trust));
    refuseUnsigned(report, trust);
    reports.push(report);
  }
  if (args.json && !beforeBuild) process.stdout.write(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2) + '\n');
  return reports;
}

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

/** Who compressed a reference whose layers hold the same content in other bytes. */
function sameContentCompressor(report: VerifyReport): string {
  const theirs = report.reference.compressor;
  if (theirs === null) return 'by another tool, which records nothing of its settings';
  return theirs === report.outputs.compressor ? 'by addonix with the same settings, by another zlib than the one it pins' : `by addonix with other settings: ${shortCompressor(theirs)}`;
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
        ? color('green', 'verified: same content as the reference') + ` (same config and layers; the reference's layers were compressed ${sameContentCompressor(report)})`
        : report.verdict === 'not-reproducible'
          ? color('red', 'not verified: the build is not reproducible')
          : color('red', 'not verified: the rebuilt image differs from the reference');
  out.push(verdict);
  out.push(`report: ${reportFile}${attested ? `\nattestation: ${attested}` : ''}`);
  return out.join('\n') + '\n';
}

/** The report as JSON data, names in its comparisons as text (see comparisonJson). */
function reportData(report: VerifyReport): object {
  return {
    ...report,
    rebuild: { ...report.rebuild, comparison: report.rebuild.comparison ? comparisonJson(report.rebuild.comparison) : null },
    comparison: comparisonJson(report.comparison),
  };
}

function reportJson(report: VerifyReport): string {
  return JSON.stringify(reportData(report), null, 2) + '\n';
}
