import { COMMAND_HEADS } from '../command-heads.js';
import type { Argv, CommandModule } from 'yargs';
import { readInputs } from '../../oci/inputs.js';
import { assembleIndex, indexAnnotations } from '../../oci/assemble.js';
import { Interrupted } from '../../registry/client.js';
import { parseDestinations, Push, readPasswordFromStdin, type PushResult } from '../../registry/push.js';
import { UsageError, UserError } from '../../util/errors.js';
import { plural } from '../../util/text.js';
import { addonForIndex, warnDropped, formatBytes, layerPolicy, layerRules, parseSize, ProgressLine, rate, registryTimes } from '../images.js';
import { quickArgs, withOptions } from '../options.js';
import { readSigningKey } from '../../registry/cosign-keys.js';
import { PREDICATE_TYPES } from '../../registry/cosign.js';
import type { PushSigning } from '../../registry/push.js';
import type { AddonModel } from '../../addon/model.js';
import type { ProvenanceInput } from '../../verify/provenance.js';
import { createRequire } from 'node:module';

interface PushArgs {
  images: string[];
  to: string[];
  tag: string[];
  'per-arch-repos': boolean;
  compression?: string;
  json: boolean;
  addon?: string;
  username?: string;
  'password-stdin': boolean;
  insecure: boolean;
  'chunk-size'?: string;
  'allow-devices': boolean;
  timeout?: number;
  'retry-for'?: number;
  sign?: string;
  provenance: boolean;
  flake?: string;
  force: boolean;
  'skip-published': boolean;
}

const OPTIONS = ['to', 'tag', 'per-arch-repos', 'addon', 'json', 'username', 'password-stdin', 'insecure', 'chunk-size', 'compression', 'allow-devices', 'timeout', 'retry-for', 'sign', 'provenance', 'flake', 'force', 'skip-published'] as const;

/**
 * What --sign attests besides signing, with --addon: each arch's CycloneDX SBOM (its images read again,
 * whole, once the push needs them), and with --provenance SLSA provenance v1 of the index and each
 * manifest (the flake's metadata read once with Nix).
 */
function attestationsFor(args: PushArgs, model: AddonModel, revision: string | undefined): NonNullable<PushSigning['attestations']> {
  const { version } = createRequire(import.meta.url)('../../../../package.json') as { version: string };
  let sboms: Promise<Map<string, object>> | undefined;
  let provenance: Promise<Omit<ProvenanceInput, 'arch'>> | undefined;
  return async ({ arch }) => {
    const statements: { predicateType: string; predicate: unknown }[] = [];
    if (arch !== null) {
      const { sbomsOf } = await import('../../verify/sbom.js');
      const { nixPackagesOf } = await import('../nix-input.js');
      const nixPackages = nixPackagesOf(args.addon!, model.slug, { flake: args.flake });
      sboms ??= sbomsOf({ dir: args.addon!, model, inputs: args.images, rules: layerRules(args['allow-devices']), addonixVersion: version, nixPackages, note: (message) => process.stderr.write(`addonix: ${message}\n`) });
      const sbom = (await sboms).get(arch);
      if (sbom) statements.push({ predicateType: PREDICATE_TYPES.cyclonedx, predicate: sbom });
    }
    if (args.provenance) {
      const { flakeMetadata, materialsOf, slsaProvenance } = await import('../../verify/provenance.js');
      provenance ??= (async () => {
        const { nixForCommand, flakeFor } = await import('../nix-input.js');
        const install = await nixForCommand();
        const flake = flakeFor(args.addon!, args.flake);
        const materials = materialsOf(await flakeMetadata(install, flake));
        return { addonixVersion: version, nix: install.version, system: install.system, flake, attribute: null, materials, addonRevision: revision ?? null };
      })();
      statements.push({ predicateType: PREDICATE_TYPES.slsaprovenance1, predicate: slsaProvenance({ ...(await provenance), arch }) });
    }
    return statements;
  };
}

/** The common invocations, read without yargs (see quickArgs). */
export const quick = {
  args: (argv: readonly string[]) => quickArgs(argv, OPTIONS, 'images', ['to', 'tag']) as PushArgs | null,
  run: (args: PushArgs) => pushCommand.handler(args as Parameters<NonNullable<typeof pushCommand.handler>>[0]),
};

export const pushCommand: CommandModule<object, PushArgs> = {
  ...COMMAND_HEADS['push'],
  builder: (yargs: Argv) =>
    withOptions(
      yargs.positional('images', {
        describe: 'One image per arch: a result link, a tarball (docker save, dockerTools), a stream script, or an OCI layout. ARCH=PATH names the arch of an image that does not say it.',
        type: 'string',
        array: true,
      }),
      ...OPTIONS,
    )
      .demandOption('to', 'say where to push with --to REGISTRY/REPO')
      .demandOption('tag', 'give at least one --tag')
      .example('$0 push --to ghcr.io/me/my-addon --tag 1.2.3 result-aarch64 result-amd64', 'Both arches, then the index, then the tag')
      .example('$0 push --to ghcr.io/me/my-addon --to ghcr.io/me/{arch}-my-addon --per-arch-repos --tag 1.2.3 result-*', 'Also the legacy per-arch repositories')
      .example('echo "$TOKEN" | $0 push --to ghcr.io/me/my-addon --tag 1.2.3 --username me --password-stdin result-*', 'Credentials from a pipe')
      .example('$0 push --to 127.0.0.1:5000/my-addon --tag dev --json result-amd64', 'A local registry, machine-readable result')
      .example('COSIGN_PASSWORD=... $0 push --to ghcr.io/me/my-addon --tag 1.2.3 --sign cosign.key result-*', 'Signed as cosign signs: cosign verify --key cosign.pub accepts it')
      .epilogue(
        'Order: every blob the registry lacks (HEAD first; mounted from another repository of the same push when possible), the per-arch ' +
          'manifests and the index by digest (for one tag of one repository, unsigned, the index by that tag is the last step), and only then the tags, all of them or none: a push that fails or is interrupted (Ctrl-C) ' +
          'leaves every tag where it was. A tag that points at another image already is left alone and the push refused, since a version is ' +
          'published once (the Supervisor updates by version): --force moves it; one that points at this image needs nothing. Refused or dropped connections are tried again for --retry-for seconds (a registry restarting), ' +
          '408, 429 and 5xx answers a few times with backoff; a registry silent for --timeout seconds fails the push. Imported layers are ' +
          'cached (see docs/push-and-verify.md), so pushing the same build again sends nothing. HTTPS unless the registry is on this machine or --insecure is given. ' +
          'With --sign, the index and every manifest are signed as cosign signs (a sha256-<hex>.sig tag beside each, no transparency log entry) before the tags move; ' +
          'with --addon too, each arch\'s CycloneDX SBOM (addonix sbom) is attached as a cosign attestation (sha256-<hex>.att), and with --provenance ' +
          'SLSA provenance v1 of the index and each manifest (builder addonix and Nix; the flake.lock inputs and the add-on\'s git revision).',
      ) as unknown as Argv<PushArgs>,
  handler: async (args) => {
    if (args.username !== undefined && !args['password-stdin']) throw new UsageError('--username needs --password-stdin (addonix never takes a password as an argument)');
    if (args['password-stdin'] && args.username === undefined) throw new UsageError('--password-stdin needs --username');
    if (args.provenance && (args.sign === undefined || args.addon === undefined)) throw new UsageError('--provenance needs --sign KEY and --addon DIR (the add-on whose flake built the images)');
    if (args['skip-published'] && args.force) throw new UsageError('--skip-published and --force contradict each other: one leaves published tags alone, the other moves them');
    parseDestinations({ to: args.to, tags: args.tag, perArchRepos: args['per-arch-repos'] });
    const chunkBytes = args['chunk-size'] !== undefined ? parseSize(args['chunk-size'], '--chunk-size') : undefined;
    const policy = layerPolicy(args.compression);
    const rules = layerRules(args['allow-devices']);
    const times = registryTimes(args);
    const credentials = args.username !== undefined ? { username: args.username, password: await readPasswordFromStdin(), from: '--username/--password-stdin' } : undefined;
    const addon = args.addon !== undefined ? await addonForIndex(args.addon) : undefined;
    // The key is read (and its password checked) before anything is sent.
    const signing = args.sign !== undefined ? { key: await readSigningKey(args.sign), attestations: addon ? attestationsFor(args, addon.model, addon.revision) : undefined } : undefined;

    const progress = new ProgressLine();
    let sent = 0;
    let settled = 0;
    const pushing = await Push.start({
      to: args.to,
      tags: args.tag,
      perArchRepos: args['per-arch-repos'],
      force: args.force,
      skipPublished: args['skip-published'],
      insecure: args.insecure,
      credentials,
      chunkBytes,
      signing,
      ...times,
      reporter: {
        bytes: (count) => {
          sent += count;
          progress.update((seconds) => `pushing: ${formatBytes(sent)} sent, ${rate(sent, seconds)}, ${settled} blobs done`);
        },
        blob: () => {
          settled++;
          progress.update((seconds) => `pushing: ${formatBytes(sent)} sent, ${rate(sent, seconds)}, ${settled} blobs done`, true);
        },
        note: (message) => progress.note(message),
      },
    });
    // Ctrl-C (or SIGTERM): the imports stop and clean up, nothing more is sent, and the user hears what was.
    const interrupt = new AbortController();
    const onSignal = () => {
      if (pushing.interrupt()) interrupt.abort();
      else progress.note('interrupted while setting the tags: setting the rest of them first (all tags or none)');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let result: PushResult;
    try {
      progress.update(() => `reading ${plural(args.images.length, 'image')}...`, true);
      let assembled;
      try {
        // Each layer goes to the registry as soon as it is in the cache, or while it is being compressed.
        const { images, artifacts } = await readInputs(args.images, { policy, rules, signal: interrupt.signal, events: pushing.importEvents() });
        assembled = assembleIndex(images, indexAnnotations(images, addon), artifacts);
        warnDropped(assembled);
      } catch (error) {
        throw await pushing.abandon(error);
      }
      result = await pushing.finish(assembled);
    } catch (error) {
      if (!interrupt.signal.aborted && !(error instanceof Interrupted)) throw error;
      progress.done();
      const done = pushing.progress;
      throw new UserError(
        'interrupted',
        `interrupted: ${plural(done.uploaded, 'blob')} uploaded (${formatBytes(Math.max(0, done.bytesUploaded))} sent), ${done.skipped} already there, ${done.mounted} mounted; ` +
          'no tag was moved (the registry keeps the blobs; pushing again sends only the rest)',
      );
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      progress.done();
    }
    if (args.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      return;
    }
    if (result.published) {
      for (const entry of result.published) process.stdout.write(`published already: ${entry.reference} = ${entry.digest}${entry.thisImage ? ' (this image)' : ' (another image: publish changes under a new version)'}\n`);
      process.stdout.write('nothing pushed (--skip-published)\n');
      return;
    }
    const { blobs } = result;
    for (const pushed of result.pushed) process.stdout.write(`pushed ${pushed.repository}:${pushed.tags.join(',')} = ${pushed.digest}\n`);
    for (const manifest of result.manifests) process.stdout.write(`  ${manifest.arch.padEnd(8)} ${manifest.digest}\n`);
    for (const signed of result.signed) process.stdout.write(`signed ${signed.repository}:${signed.tag}${signed.added === 0 ? ' (already signed with this key)' : ''}\n`);
    process.stdout.write(`blobs: ${blobs.uploaded} uploaded (${formatBytes(blobs.bytesUploaded)}), ${blobs.skipped} already there, ${blobs.mounted} mounted\n`);
  },
};
