import { COMMAND_HEADS } from '../command-heads.js';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { relativeDisplay } from '../../addon/load.js';
import { sbomsOf } from '../../verify/sbom.js';
import type { BuildArch } from '../../addon/arch.js';
import { UsageError, UserError } from '../../util/errors.js';
import { layerRules } from '../images.js';
import { addonModel, checkArchesListed, nixPackagesOf, overridesOf } from '../nix-input.js';
import { withOptions } from '../options.js';

const { version: addonixVersion } = createRequire(import.meta.url)('../../../../package.json') as { version: string };

interface SbomArgs {
  dir: string;
  arch?: string[];
  image?: string;
  app?: string;
  'allow-devices': boolean;
  json: boolean;
  flake?: string;
  'override-input'?: string[];
  format: 'cyclonedx' | 'spdx';
}

export const sbomCommand: CommandModule<object, SbomArgs> = {
  ...COMMAND_HEADS['sbom'],
  builder: (yargs: Argv) =>
    withOptions(
      yargs.positional('dir', { describe: 'The add-on folder', type: 'string', default: '.' }),
      'arch', 'image', 'app', 'allow-devices', 'json', 'format', 'flake', 'override-input',
    )
      .example('$0 sbom --arch aarch64 > aarch64.cdx.json', 'The SBOM of result-aarch64 (addonix build --arch aarch64 made it)')
      .example('$0 sbom my-addon --arch amd64 --image ./image-amd64.tar', 'Of an image given by path')
      .example('$0 sbom --arch amd64 --format spdx > amd64.spdx.json', 'The same facts as SPDX 2.3 JSON')
      .epilogue(
        'The image (--image, else result-<arch> here or in the add-on folder) is read whole: every Nix store path in its layers is listed, ' +
          'with the NAR SHA-256 where this machine\'s Nix store has the path. npm packages are those the lockfile installs for the arch\'s ' +
          'default target (purl, version, integrity, license as the lockfile records it), native addons with their plan, target and ' +
          'toolchain and the SHA-256 of their .node files in the image, and for the flavor base the pinned base image by digest. ' +
          "Store paths of the packages the image takes from nixpkgs (Node.js, the Dockerfile's packages, busybox, CA certificates, time zones, the C library) " +
          "also get the package set's attribute and meta.license, which the add-on's flake (--flake, default the add-on folder's) gives when evaluated; " +
          'without Nix or a flake they are left out, and said. ' +
          'The same image gives the same document (no timestamp). The JSON goes to stdout; with --json, so does an error, as a JSON object.',
      ) as unknown as Argv<SbomArgs>,
  handler: async (args) => {
    const display = relativeDisplay();
    const model = await addonModel(args.dir);
    if (!model) throw new UserError('no-addon', `${args.dir} has no add-on (no config.yaml): sbom needs the add-on folder`);
    const arches = args.arch ?? (model.arches.length === 1 ? [model.arches[0]!.arch] : []);
    if (arches.length !== 1) throw new UsageError(`name one arch with --arch (the add-on has ${model.arches.map((a) => a.arch).join(', ')})`);
    checkArchesListed(model, arches);
    const arch = arches[0] as BuildArch;
    const imagePath = args.image ?? [`result-${arch}`, path.join(args.dir, `result-${arch}`)].find((candidate) => existsSync(candidate));
    if (imagePath === undefined) throw new UserError('not-found', `no image of ${arch}: build it first (addonix build --arch ${arch} writes result-${arch}), or give --image PATH`);

    const nixPackages = nixPackagesOf(args.dir, model.slug, { flake: args.flake, overrides: overridesOf(args) });
    const sboms = await sbomsOf({ dir: args.dir, model, inputs: [`${arch}=${imagePath}`], arches: [arch], rules: layerRules(args['allow-devices']), app: args.app, addonixVersion, display, nixPackages, format: args.format, note: (message) => process.stderr.write(`addonix: ${message}\n`) });
    const sbom = sboms.get(arch);
    if (!sbom) throw new UserError('platform-missing', `${imagePath} has no image of ${arch}`);
    process.stdout.write(JSON.stringify(sbom, null, 2) + '\n');
  },
};
