import { COMMAND_HEADS } from '../command-heads.js';
import type { Argv, CommandModule } from 'yargs';
import type { BuildArch } from '../../addon/arch.js';
import { readInputs } from '../../oci/inputs.js';
import { formatPlatform, localArch } from '../../oci/platform.js';
import { checkLoadName, loadIntoEngine, loadName, type Engine } from '../../engine/load.js';
import { chooseEngine } from '../../engine/choose.js';
import { UserError, UsageError } from '../../util/errors.js';
import { layerRules, ProgressLine } from '../images.js';
import { withOptions } from '../options.js';

interface LoadArgs {
  images: string[];
  engine?: Engine;
  arch?: BuildArch[];
  name?: string;
  json: boolean;
  'allow-devices': boolean;
}

export const loadCommand: CommandModule<object, LoadArgs> = {
  ...COMMAND_HEADS['load'],
  builder: (yargs: Argv) =>
    withOptions(
      yargs.positional('images', { describe: 'Images, one per arch: result links, tarballs, stream scripts or OCI layouts (ARCH=PATH names an arch)', type: 'string', array: true }),
      'engine', 'arch', 'name', 'json', 'allow-devices',
    )
      .example('$0 load result-*', "The image for this machine's arch into Docker (Podman where no Docker daemon answers)")
      .example('$0 load --engine podman --arch aarch64 result-multiarch', 'The arm64 image of a multi-arch layout into Podman')
      .example('$0 load --engine podman --arch amd64,aarch64 result-*', 'Both arches, each under its own name')
      .epilogue(
        'The image goes into the engine as a stream (docker-archive with an OCI layout inside, as Docker 25 writes it), no archive file in between. ' +
          'Inputs are read through addonix\'s cache (layers stored uncompressed there), so loading the same build again starts at once. ' +
          "Default arch: this machine's. With several arches each image keeps its own name (--name is for one arch).",
      ) as unknown as Argv<LoadArgs>,
  handler: async (args) => {
    const arches = args.arch ?? [localArch()];
    if (args.name !== undefined && arches.length > 1) throw new UsageError(`--name ${args.name}: one name for ${arches.length} arches would leave only the last; load one arch with --name, or leave it out`);
    // A name the engine would refuse is refused before the images are read.
    if (args.name !== undefined) checkLoadName(args.name);
    const engine = await chooseEngine(args.engine);
    const progress = new ProgressLine();
    progress.update(() => 'reading images...', true);
    // Uncompressed: the engine would only decompress again.
    const { images } = await readInputs(args.images, { policy: { compression: 'none', keepCompressed: true }, rules: layerRules(args['allow-devices']) }).finally(() => progress.done());
    const chosen = arches.map((arch) => {
      const image = images.find((candidate) => candidate.arch === arch);
      if (image) return image;
      const have = images.map((candidate) => `${candidate.arch} (${formatPlatform(candidate.platform)})`).join(', ');
      throw new UserError('platform-missing', `no image for ${arch} among the inputs (they hold ${have})${args.arch ? '' : '; pass --arch to load another one'}`);
    });
    const loaded: { arch: string; engine: Engine; references: string[] }[] = [];
    for (const image of chosen) {
      progress.update(() => `loading ${image.arch} into ${engine}...`, true);
      const references = await loadIntoEngine(image, engine, loadName(image, args.name)).finally(() => progress.done());
      loaded.push({ arch: image.arch, engine, references });
      if (!args.json) for (const reference of references) process.stdout.write(`${reference}\n`);
    }
    if (args.json) process.stdout.write(JSON.stringify(loaded, null, 2) + '\n');
  },
};
