import { COMMAND_HEADS } from '../command-heads.js';
import { createRequire } from 'node:module';
import type { Argv, CommandModule } from 'yargs';
import { flakeMetadata, materialsOf, slsaProvenance } from '../../verify/provenance.js';
import { UsageError, UserError } from '../../util/errors.js';
import { addonForIndex } from '../images.js';
import { checkArchesListed, flakeFor, nixForCommand } from '../nix-input.js';
import { withOptions } from '../options.js';

interface ProvenanceArgs {
  dir: string;
  arch?: string[];
  flake?: string;
  json: boolean;
}

export const provenanceCommand: CommandModule<object, ProvenanceArgs> = {
  ...COMMAND_HEADS['provenance'],
  builder: (yargs: Argv) =>
    withOptions(yargs.positional('dir', { describe: 'The add-on folder', type: 'string', default: '.' }), 'arch', 'flake', 'json')
      .example('$0 provenance --arch amd64 > provenance-amd64.json', "SLSA provenance v1 of the amd64 image: cosign attest --type slsaprovenance1 --predicate provenance-amd64.json IMAGE@DIGEST")
      .epilogue(
        'The predicate push --sign --provenance attests, for signing elsewhere (the CI files sign keyless with cosign): builder addonix and this Nix, ' +
          "the flake's inputs as flake.lock pins them (nix flake metadata; nothing is fetched or built) and the add-on's git revision. " +
          'The flake is --flake, else the add-on folder. The JSON goes to stdout; with --json, so does an error, as a JSON object.',
      ) as unknown as Argv<ProvenanceArgs>,
  handler: async (args) => {
    const { model, revision } = await addonForIndex(args.dir);
    const arches = args.arch ?? (model.arches.length === 1 ? [model.arches[0]!.arch] : []);
    if (arches.length !== 1) throw new UsageError(`name one arch with --arch (the add-on has ${model.arches.map((a) => a.arch).join(', ')})`);
    checkArchesListed(model, arches);
    const install = await nixForCommand();
    const flake = flakeFor(args.dir, args.flake);
    const materials = materialsOf(await flakeMetadata(install, flake));
    if (materials.length === 0) throw new UserError('nix-failed', `nix flake metadata ${flake} names no inputs`);
    const { version } = createRequire(import.meta.url)('../../../../package.json') as { version: string };
    const predicate = slsaProvenance({ addonixVersion: version, nix: install.version, system: install.system, flake, attribute: null, arch: arches[0]!, materials, addonRevision: revision ?? null });
    process.stdout.write(JSON.stringify(predicate, null, 2) + '\n');
  },
};
