import type { Argv, CommandModule } from 'yargs';
import { diffImages, openImages } from '../../verify/diff.js';
import { diffJson, renderDiff } from '../../verify/render.js';
import { checkReportDir, writeDiffReport } from '../../verify/report.js';
import { isBuildArch } from '../../oci/platform.js';
import { UsageError } from '../../util/errors.js';
import { layerRules, layerRulesOption, ProgressLine, registryTimeOptions, registryTimes } from '../images.js';

interface DiffArgs {
  a: string;
  b: string;
  arch?: string;
  json: boolean;
  report?: string;
  insecure: boolean;
  'allow-devices': boolean;
  timeout?: number;
  'retry-for'?: number;
}

export const diffCommand: CommandModule<object, DiffArgs> = {
  command: 'diff <a> <b>',
  describe: 'Compare two images: "identical", or which layer and which file differ, and how',
  builder: (yargs: Argv) =>
    registryTimeOptions(layerRulesOption(yargs))
      .positional('a', { describe: 'An image: result link, tarball (docker save, dockerTools), stream script, OCI layout, or registry reference', type: 'string' })
      .positional('b', { describe: 'The image to compare it with (same forms)', type: 'string' })
      .option('arch', { type: 'string', describe: 'Compare only this arch of multi-arch inputs (default: every arch both have)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the comparison as JSON (format in docs/json.md)' })
      .option('report', { type: 'string', describe: 'Write the two versions of every differing file to DIR/a and DIR/b (for diffoscope), with both configs and the JSON' })
      .option('insecure', { type: 'boolean', default: false, describe: 'Plain HTTP for a registry that is not on this machine' })
      .example('$0 diff result-amd64 ghcr.io/me/my-addon:1.2.3', 'A local build against the published image')
      .example('$0 diff old.tar.gz new.tar.gz --report diff-report && diffoscope diff-report/a diff-report/b', 'Look inside the files that differ')
      .example('$0 diff result-multiarch ghcr.io/me/my-addon:1.2.3 --json', 'Every arch of two multi-arch images, machine-readable')
      .epilogue(
        'Exit status 0 when the images are identical (same config digest, and same manifest digest when both have a manifest), 1 otherwise. ' +
          'Layers are matched by diff_id (the digest of the uncompressed layer), so a layer compressed differently shows as "recompressed"; ' +
          'inside layers that differ every file added, removed, moved or changed is listed, sorted by path. Inputs are read in one streaming ' +
          'pass each and nothing is written except --report. Images are refused as push refuses them: archives with entries or links ' +
          'leaving the archive, digests that do not match, layers with entries leaving the image root (or device nodes, without ' +
          '--allow-devices). Names are shown as they are when they are plain UTF-8, else quoted with escapes (\\n, \\xNN).',
      ) as unknown as Argv<DiffArgs>,
  handler: async (args) => {
    if (args.arch !== undefined && !isBuildArch(args.arch)) throw new UsageError(`--arch ${args.arch}: not an arch (aarch64, amd64, armhf, armv7, i386, riscv64)`);
    if (args.report !== undefined) await checkReportDir(args.report);
    const progress = new ProgressLine();
    progress.update(() => `reading ${args.a} and ${args.b}...`, true);
    const rules = layerRules(args['allow-devices']);
    const options = { insecure: args.insecure, rules, client: registryTimes(args) };
    const outcome = await (async () => {
      const [a, b] = await Promise.all([openImages(args.a, options), openImages(args.b, options)]);
      return diffImages(a, b, { arch: args.arch });
    })().finally(() => progress.done());
    process.stdout.write(args.json ? diffJson(outcome.result) : renderDiff(outcome.result));
    if (args.report !== undefined && outcome.result.verdict !== 'identical') {
      const report = await writeDiffReport(args.report, outcome, rules);
      const stream = args.json ? process.stderr : process.stdout;
      stream.write(`report: ${report.files} files in ${report.dir}${report.commands.length ? `; compare with:\n${report.commands.map((c) => `  ${c}`).join('\n')}` : ''}\n`);
      for (const skipped of report.skipped) process.stderr.write(`addonix: warning: ${skipped} could not be laid out in the report (a file and a folder of the same name)\n`);
    }
    process.exitCode = outcome.result.verdict === 'identical' ? 0 : 1;
  },
};
