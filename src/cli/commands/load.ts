import type { Argv, CommandModule } from 'yargs';
import type { BuildArch } from '../../addon/arch.js';
import { readInputs } from '../../oci/inputs.js';
import { BUILD_ARCHES, formatPlatform, localArch } from '../../oci/platform.js';
import { ENGINES, loadIntoEngine, loadName, type Engine } from '../../engine/load.js';
import { UserError } from '../../util/errors.js';
import { layerRules, layerRulesOption, ProgressLine } from '../images.js';

interface LoadArgs {
  images: string[];
  engine: Engine;
  arch?: BuildArch;
  tag?: string;
  'allow-devices': boolean;
}

export const loadCommand: CommandModule<object, LoadArgs> = {
  command: 'load <images..>',
  describe: "Load the image for this machine's arch (or --arch) into Docker or Podman",
  builder: (yargs: Argv) =>
    layerRulesOption(yargs)
      .positional('images', { describe: 'Images, one per arch: result links, tarballs, stream scripts or OCI layouts (ARCH=PATH names an arch)', type: 'string', array: true })
      .option('engine', { type: 'string', choices: ENGINES, default: 'docker' as Engine, describe: 'Which engine loads the image' })
      .option('arch', { type: 'string', choices: BUILD_ARCHES, describe: "The arch to load (default: this machine's)" })
      .option('tag', { type: 'string', describe: "NAME:TAG for the loaded image (default: the image's own name, else localhost/addonix:ARCH-DIGEST)" })
      .example('$0 load result-*', "The image for this machine's arch into Docker")
      .example('$0 load --engine podman --arch aarch64 result-multiarch', 'The arm64 image of a multi-arch layout into Podman')
      .epilogue(
        'The image goes into the engine as a stream (docker-archive with an OCI layout inside, as Docker 25 writes it), no archive file in between. ' +
          'Inputs are read through addonix\'s cache (layers stored uncompressed there), so loading the same build again starts at once.',
      ) as unknown as Argv<LoadArgs>,
  handler: async (args) => {
    const arch = args.arch ?? localArch();
    const progress = new ProgressLine();
    progress.update(() => 'reading images...', true);
    // Uncompressed: the engine would only decompress again.
    const images = await readInputs(args.images, { policy: { compression: 'none', keepCompressed: true }, rules: layerRules(args['allow-devices']) }).finally(() => progress.done());
    const image = images.find((candidate) => candidate.arch === arch);
    if (!image) {
      const have = images.map((candidate) => `${candidate.arch} (${formatPlatform(candidate.platform)})`).join(', ');
      throw new UserError('platform-missing', `no image for ${arch} among the inputs (they hold ${have})${args.arch ? '' : '; pass --arch to load another one'}`);
    }
    progress.update(() => `loading ${image.arch} into ${args.engine}...`, true);
    const loaded = await loadIntoEngine(image, args.engine, loadName(image, args.tag)).finally(() => progress.done());
    for (const reference of loaded) process.stdout.write(`${reference}\n`);
  },
};
