import { COMMAND_HEADS } from '../command-heads.js';
import type { Argv, CommandModule } from 'yargs';
import { diffImages, openInputs } from '../../verify/diff.js';
import { diffJson, renderDiff } from '../../verify/render.js';
import { checkReportDir, writeDiffReport } from '../../verify/report.js';
import type { BuildArch } from '../../addon/arch.js';
import { layerRules, ProgressLine, registryTimes } from '../images.js';
import { quickArgs, withOptions } from '../options.js';

interface DiffArgs {
  a: string;
  b: string;
  arch?: BuildArch[];
  json: boolean;
  'diff-report'?: string;
  insecure: boolean;
  'allow-devices': boolean;
  timeout?: number;
  'retry-for'?: number;
}

const OPTIONS = ['arch', 'diff-report', 'json', 'allow-devices', 'insecure', 'timeout', 'retry-for'] as const;

/** The common invocations, read without yargs (see quickArgs). */
export const quick = {
  args: (argv: readonly string[]) => quickArgs(argv, OPTIONS, ['a', 'b']) as DiffArgs | null,
  run: (args: DiffArgs) => diffCommand.handler(args as Parameters<NonNullable<typeof diffCommand.handler>>[0]),
};

export const diffCommand: CommandModule<object, DiffArgs> = {
  ...COMMAND_HEADS['diff'],
  builder: (yargs: Argv) =>
    withOptions(
      yargs
        .positional('a', { describe: 'An image: result link, tarball (docker save, dockerTools), stream script, OCI layout, or registry reference', type: 'string' })
        .positional('b', { describe: 'The image to compare it with (same forms)', type: 'string' }),
      ...OPTIONS,
    )
      .example('$0 diff result-amd64 ghcr.io/me/my-addon:1.2.3', 'A local build against the published image')
      .example('$0 diff old.tar.gz new.tar.gz --diff-report diff-report && diffoscope diff-report/a diff-report/b', 'Look inside the files that differ')
      .example('$0 diff result-multiarch ghcr.io/me/my-addon:1.2.3 --json', 'Every arch of two multi-arch images, machine-readable')
      .epilogue(
        'Exit status as diff(1): 0 when the images are identical (same config digest, and same manifest digest when both have a manifest), 1 when they differ, 2 when they cannot be compared (an error: a missing or refused image, an unreachable registry, wrong usage). ' +
          'Layers are matched by diff_id (the digest of the uncompressed layer), so a layer compressed differently shows as "recompressed"; ' +
          'inside layers that differ every file added, removed, moved or changed is listed, sorted by path. Inputs are read in one streaming ' +
          'pass each and nothing is written except --diff-report. --arch compares only those arches (each must be in both inputs). Images are refused as push refuses them: archives with entries or links ' +
          'leaving the archive, digests that do not match, layers with entries leaving the image root (or device nodes, without ' +
          '--allow-devices). Names are shown as they are when they are plain UTF-8, else quoted with escapes (\\n, \\xNN).',
      ) as unknown as Argv<DiffArgs>,
  handler: async (args) => {
    if (args['diff-report'] !== undefined) await checkReportDir(args['diff-report']);
    const progress = new ProgressLine();
    progress.update(() => `reading ${args.a} and ${args.b}...`, true);
    const rules = layerRules(args['allow-devices']);
    const options = { insecure: args.insecure, rules, client: registryTimes(args) };
    const outcome = await (async () => {
      // One input is read on this thread, the other on a worker: two cores, one worker to start; an arch
      // --arch names is looked for before anything slow is read.
      const [a, b] = await openInputs(args.a, args.b, options, args.arch);
      return diffImages(a, b, { arches: args.arch });
    })().finally(() => progress.done());
    // The report first: when it cannot be written, the output is the error alone (one JSON document under --json).
    const report = args['diff-report'] !== undefined && outcome.result.verdict !== 'identical' ? await writeDiffReport(args['diff-report'], outcome, rules) : null;
    process.stdout.write(args.json ? diffJson(outcome.result) : renderDiff(outcome.result));
    if (report) {
      const stream = args.json ? process.stderr : process.stdout;
      stream.write(`report: ${report.files} files in ${report.dir}${report.commands.length ? `; compare with:\n${report.commands.map((c) => `  ${c}`).join('\n')}` : ''}\n`);
      for (const skipped of report.skipped) process.stderr.write(`addonix: warning: ${skipped} could not be laid out in the report (a file and a folder of the same name)\n`);
    }
    process.exitCode = outcome.result.verdict === 'identical' ? 0 : 1;
  },
};
