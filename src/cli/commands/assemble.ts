import { COMMAND_HEADS } from '../command-heads.js';
import type { Argv, CommandModule } from 'yargs';
import { readInputs } from '../../oci/inputs.js';
import { assembleIndex, indexAnnotations, writeLayout } from '../../oci/assemble.js';
import { Annotation } from '../../oci/types.js';
import { formatPlatform } from '../../oci/platform.js';
import { addonForIndex, warnDropped, layerPolicy, layerRules, ProgressLine } from '../images.js';
import { withOptions } from '../options.js';

interface AssembleArgs {
  images: string[];
  out: string;
  compression?: string;
  addon?: string;
  json: boolean;
  'allow-devices': boolean;
}

export const assembleCommand: CommandModule<object, AssembleArgs> = {
  ...COMMAND_HEADS['assemble'],
  builder: (yargs: Argv) =>
    withOptions(
      yargs.positional('images', { describe: 'One image per arch: result links, tarballs, stream scripts or OCI layouts (ARCH=PATH names an arch)', type: 'string', array: true }),
      'out', 'addon', 'json', 'compression', 'allow-devices',
    )
      .example('$0 assemble result-aarch64 result-amd64 --addon .', 'Writes result-multiarch/, which skopeo and addonix push can read')
      .example('skopeo inspect --raw oci:result-multiarch', 'The index it wrote')
      .epilogue('The layout is written in a temporary folder beside --out and renamed into place: a failure leaves no half-written layout.') as unknown as Argv<AssembleArgs>,
  handler: async (args) => {
    const addon = args.addon !== undefined ? await addonForIndex(args.addon) : undefined;
    const progress = new ProgressLine();
    progress.update(() => 'reading images...', true);
    const { images, artifacts } = await readInputs(args.images, { policy: layerPolicy(args.compression), rules: layerRules(args['allow-devices']) }).finally(() => progress.done());
    const annotations = indexAnnotations(images, addon);
    const assembled = assembleIndex(images, annotations, artifacts);
    warnDropped(assembled);
    await writeLayout(args.out, assembled, annotations[Annotation.version] ?? 'latest');
    const manifests = assembled.images.map((image) => ({ arch: image.arch, platform: formatPlatform(image.platform), digest: image.manifestDigest }));
    const carried = assembled.artifacts.map((artifact) => artifact.descriptor.digest);
    if (args.json) {
      process.stdout.write(JSON.stringify({ layout: args.out, index: assembled.digest, manifests, artifacts: carried, annotations }, null, 2) + '\n');
      return;
    }
    process.stdout.write(`${args.out}: index ${assembled.digest}\n`);
    for (const manifest of manifests) process.stdout.write(`  ${manifest.arch.padEnd(8)} ${manifest.platform.padEnd(16)} ${manifest.digest}\n`);
    for (const digest of carried) process.stdout.write(`  ${'artifact'.padEnd(8)} ${''.padEnd(16)} ${digest}\n`);
  },
};
