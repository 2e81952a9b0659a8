import { COMMAND_HEADS } from '../command-heads.js';
import { promises as fs } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { relativeDisplay, type LoadedAddon } from '../../addon/load.js';
import { resolveModel, type ArchModel } from '../../addon/model.js';
import type { Era } from '../../addon/eras.js';
import { isHaArch } from '../../addon/arch.js';
import { baseLockContent, baseLockPath, BASE_LOCK_VERSION, inheritedConfig, readBaseLock, type BaseImagePin } from '../../nixgen/base-lock.js';
import { writeAtomically } from '../../nixgen/generate.js';
import { pinnedNixpkgs, pullImageHashes, type PullImageArgs } from '../../nix/pull-image-hash.js';
import { formatPlatform } from '../../oci/platform.js';
import { RegistryError } from '../../registry/client.js';
import { formatReference, isLoopback, parseReference, type Reference } from '../../registry/reference.js';
import { PlatformResolver } from '../../registry/resolve.js';
import { UserError } from '../../util/errors.js';
import { plural } from '../../util/text.js';
import { ProgressLine } from '../images.js';
import { paint, table } from '../output.js';
import { loadOneAddon } from '../addon-input.js';
import { withOptions } from '../options.js';
import { checkSignatures, refuseUnsigned } from '../../verify/signatures.js';
import { KEYLESS_OPTIONS, trustFromArgs, type TrustArgs } from '../signature-trust.js';

/** addonix's own flake.lock (dist/src/cli/commands/ → the repository or package root). */
const FLAKE_LOCK = fileURLToPath(new URL('../../../../flake.lock', import.meta.url));

interface PinBaseArgs extends TrustArgs {
  dir: string;
  nixpkgs?: string;
  hash: boolean;
  check: boolean;
  insecure: boolean;
  supervisor: Era;
  json: boolean;
  'verify-key'?: string;
}

/** Where an arch's base image comes from, for messages: `build.yaml build_from`, `Dockerfile:3`. */
function sourceOf(addon: LoadedAddon, arch: ArchModel, display: (file: string) => string): string {
  switch (arch.baseImageSource) {
    case 'build-file':
      return `${display(addon.build!.file)} build_from`;
    case 'supervisor-default':
      return `the Supervisor's default: ${display(addon.build!.file)} has no build_from`;
    case 'dockerfile': {
      const dockerfile = dockerfileOf(addon, arch);
      const stage = dockerfile?.parsed.stages.at(-1);
      return dockerfile ? `${display(dockerfile.file)}${stage ? `:${stage.line}` : ''}` : 'the Dockerfile';
    }
    default:
      return 'nowhere';
  }
}

function dockerfileOf(addon: LoadedAddon, arch: ArchModel) {
  return (isHaArch(arch.arch) ? addon.dockerfiles[arch.arch] : undefined) ?? addon.dockerfiles.default;
}

/** Why arches have no base image, and where to set one, as one line. */
function missingBase(addon: LoadedAddon, arches: ArchModel[], display: (file: string) => string): string {
  const names = arches.map((arch) => arch.arch).join(', ');
  const fix = `set build_from in build.yaml, or give the Dockerfile a default: ARG BUILD_FROM=<image> before FROM $BUILD_FROM`;
  const dockerfile = dockerfileOf(addon, arches[0]!);
  const stage = dockerfile?.parsed.stages.at(-1);
  if (dockerfile && stage) return `${display(dockerfile.file)}:${stage.line}: FROM ${stage.from} names no base image for ${names} (nothing gives BUILD_FROM a value): ${fix}`;
  const buildFrom = addon.build?.build?.['build_from'];
  if (addon.build && buildFrom && typeof buildFrom === 'object') return `${display(addon.build.file)}: build_from has no entry for ${names}: add one (e.g. ${arches[0]!.arch}: ghcr.io/home-assistant/base:3.24)`;
  return `${display(addon.configFile)}: add-on '${String(addon.config!['slug'])}' names no base image for ${names}: ${fix}`;
}

function describeFailure(error: unknown): string {
  if (error instanceof RegistryError && error.status === 404) return `not found: ${error.message}`;
  return (error as Error).message;
}

export const pinBaseCommand: CommandModule<object, PinBaseArgs> = {
  ...COMMAND_HEADS['pin-base'],
  builder: (yargs: Argv) =>
    withOptions(
      yargs.positional('dir', { describe: 'The add-on folder', type: 'string', default: '.' }),
      'nixpkgs', 'hash', 'check', 'json', 'insecure', 'supervisor', 'verbose', 'verify-key',
      ...KEYLESS_OPTIONS,
    )
      .example('$0 pin-base my-addon', 'Resolve the base image of every arch and compute the Nix hashes')
      .example('$0 pin-base my-addon --no-hash', 'Only the digests (no Nix here); run it again where Nix can fetch')
      .example('$0 pin-base my-addon --check', 'In CI: fail when the base image tag has moved')
      .example('$0 pin-base my-addon --nixpkgs github:NixOS/nixpkgs/nixos-25.11', 'Hashes for the nixpkgs your flake uses')
      .example('$0 pin-base my-addon --verify-key base.pub', "Pin only base images signed with the publisher's cosign key")
      .example(
        '$0 pin-base my-addon --trusted-root trusted_root.json --certificate-oidc-issuer https://token.actions.githubusercontent.com --certificate-identity-regexp "^https://github.com/home-assistant/docker-base/"',
        "Pin only base images signed keyless by Home Assistant's builder workflow (checked offline)",
      )
      .epilogue(
        'The base image is the one the Supervisor would build FROM (build.yaml build_from, else the Dockerfile\'s ARG BUILD_FROM default), ' +
          'resolved per arch to the digest of that arch\'s manifest. The hash is another thing: Nix\'s hash of the archive pullImage writes, ' +
          'learnt by building pullImage with an empty hash; a nixpkgs update may change it (run pin-base again). The lock holds data only and ' +
          'is byte-identical when nothing changed. With --verify-key, each arch\'s manifest must carry a cosign signature that verifies with the key ' +
          '(as cosign verify --key checks it, without the transparency log) before anything is pinned. With --certificate-identity (or -regexp), ' +
          '--certificate-oidc-issuer (or -regexp) and --trusted-root, the signature must be keyless, by that identity, checked offline as cosign ' +
          'verify does with those options: its certificate chains to a CA of the trusted root, its Rekor bundle verifies with a log key of it, ' +
          'and the certificate was valid when the log integrated the signature.',
      ) as unknown as Argv<PinBaseArgs>,
  handler: async (args) => {
    const display = relativeDisplay();
    const addon = (await loadOneAddon(args.dir, args.supervisor, display))!;
    const dir = addon.location.dir;
    const model = resolveModel(addon, { era: args.supervisor, display });
    const lockFile = baseLockPath(dir);
    if (model.arches.length === 0) throw new UserError('addon-invalid', `${display(addon.configFile)}: the add-on lists no arch`);

    const missing = model.arches.filter((arch) => arch.baseImage === null || arch.baseImage === 'scratch');
    if (missing.length > 0) throw new UserError('addon-invalid', missingBase(addon, missing, display));

    const trust = await trustFromArgs(args, 'verify-key', args['verify-key']);
    const progress = new ProgressLine();
    for (const arch of model.arches) {
      if (arch.baseImageSource === 'supervisor-default') progress.note(`warning: ${arch.arch}: ${sourceOf(addon, arch, display)}, so ${arch.baseImage} is pinned; name a versioned base image there`);
    }

    // Resolve every arch's manifest digest: one resolver (and one top-level request) per reference.
    const resolvers = new Map<string, PlatformResolver>();
    const pins: Record<string, BaseImagePin> = {};
    for (const arch of model.arches) {
      const reference = arch.baseImage!;
      const where = `${arch.arch}: base image ${reference} (${sourceOf(addon, arch, display)})`;
      let ref: Reference;
      try {
        ref = parseReference(reference);
      } catch (error) {
        throw new UserError('addon-invalid', `${where}: ${(error as Error).message}`);
      }
      let resolver = resolvers.get(reference);
      if (!resolver) {
        resolver = await PlatformResolver.create(ref, { insecure: args.insecure });
        resolvers.set(reference, resolver);
      }
      progress.update(() => `${arch.arch}: resolving ${reference} for ${formatPlatform(arch.platform)}...`, true);
      const found = await resolver.resolve(arch.platform).catch((error: unknown) => {
        progress.done();
        if (error instanceof RegistryError) {
          // The registry failed the reference itself: every arch that names it is stuck.
          const sharing = model.arches.filter((other) => other.baseImage === reference).map((other) => other.arch);
          throw new UserError(error.code, `${sharing.join(', ')}: base image ${reference} (${sourceOf(addon, arch, display)}): ${describeFailure(error)}`);
        }
        if (error instanceof UserError) throw new UserError(error.code, `${where}: ${error.message}`);
        throw error;
      });
      const imageName = formatReference({ registry: ref.registry, repository: ref.repository });
      if (trust) {
        // The arch's own manifest, the digest the lock pins, signed by the publisher before it is trusted.
        progress.update(() => `${arch.arch}: checking the signature of ${found.digest}...`, true);
        const signed = await checkSignatures(`${imageName}@${found.digest}`, trust, { insecure: args.insecure });
        progress.done();
        try {
          refuseUnsigned(signed, trust);
        } catch (error) {
          const check = args['verify-key'] !== undefined ? 'the key (--verify-key)' : 'the identity, its issuer and the trusted root';
          throw new UserError('signature-invalid', `${where}: ${(error as Error).message}`, { hint: `pin a base image its publisher signed, or check ${check}` });
        }
        progress.note(`${arch.arch}: ${found.digest} is signed ${args['verify-key'] !== undefined ? `with ${args['verify-key']}` : `by ${trust.label}`}`);
      }
      // What the add-on's image inherits from it (its entrypoint, Env, ...), as Docker's FROM does.
      const baseConfig = inheritedConfig(await resolver.imageConfig(found.digest).catch((error: unknown) => {
        progress.done();
        if (error instanceof UserError) throw new UserError(error.code, `${where}: the config of ${found.digest}: ${error.message}`);
        throw error;
      }));
      pins[arch.arch] = {
        imageName,
        imageDigest: found.digest,
        hash: null,
        finalImageName: imageName,
        finalImageTag: ref.tag ?? 'latest',
        os: arch.platform.os,
        arch: arch.goarch,
        tlsVerify: !(args.insecure || isLoopback(ref.registry)),
        reference,
        hashNixpkgs: null,
        config: baseConfig,
      };
      progress.note(`${arch.arch}: ${reference} -> ${found.digest}${found.kind === 'index' ? ` (${formatPlatform(arch.platform)} in index ${found.topDigest})` : ''}`);
    }
    progress.done();

    if (args.check) {
      await check(dir, lockFile, pins, args, display);
      return;
    }

    if (args.hash) {
      const nixpkgs = args.nixpkgs ?? (await pinnedNixpkgs(FLAKE_LOCK));
      // pullImage's arguments per arch; arches that share a manifest (and arguments) share one fetch.
      const wanted = new Map<string, PullImageArgs>();
      const keyOf = Object.fromEntries(
        Object.entries(pins).map(([arch, pin]) => {
          const pullArgs: PullImageArgs = { imageName: pin.imageName, imageDigest: pin.imageDigest, finalImageName: pin.finalImageName, finalImageTag: pin.finalImageTag, os: pin.os, arch: pin.arch, tlsVerify: pin.tlsVerify };
          const key = JSON.stringify(pullArgs);
          wanted.set(key, pullArgs);
          return [arch, key];
        }),
      );
      const images = [...wanted.values()];
      progress.note(`computing the Nix ${images.length === 1 ? 'hash' : 'hashes'}: nix builds the pullImage of ${nixpkgs} for ${plural(images.length, 'image')} (Nix fetches ${images.length === 1 ? 'it' : 'them'})`);
      const hashes = await pullImageHashes({ nixpkgs, images, onLine: (line) => progress.update(() => `nix: ${line.trim().slice(0, 110)}`) })
        .catch((error: unknown) => {
          if (error instanceof UserError) throw new UserError(error.code, `${error.message}\n(pass --no-hash to pin the digests now and compute the hashes later where Nix can fetch)`);
          throw error;
        })
        .finally(() => progress.done());
      const byKey = new Map([...wanted.keys()].map((key, i) => [key, hashes[i]!]));
      for (const [arch, pin] of Object.entries(pins)) {
        pin.hash = byKey.get(keyOf[arch]!)!;
        pin.hashNixpkgs = nixpkgs;
      }
    } else {
      progress.note('warning: --no-hash: the lock has no Nix hashes, so the flavor "base" cannot build until pin-base runs where Nix can fetch');
    }

    const content = baseLockContent(model.slug, pins);
    const current = await fs.readFile(lockFile, 'utf8').catch(() => null);
    if (current !== content) await writeAtomically(lockFile, content);
    if (args.json) {
      process.stdout.write(JSON.stringify({ lock: display(lockFile), written: current !== content, images: pins }, null, 2) + '\n');
      return;
    }
    process.stdout.write(`${current === content ? 'unchanged' : 'wrote'} ${display(lockFile)}\n`);
    process.stdout.write(table(Object.entries(pins).map(([arch, pin]) => ['  ' + arch, pin.reference, pin.imageDigest, pin.hash ?? '(no hash)'])) + '\n');
  },
};

/** JSON with the keys of every object sorted (the lock's Nix text sorts them). */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item) ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : item,
  );
}

/** --check: the lock against what the registry serves now; exit 1 naming what is stale. */
async function check(dir: string, lockFile: string, pins: Record<string, BaseImagePin>, args: PinBaseArgs, display: (file: string) => string): Promise<void> {
  const color = paint(process.stdout);
  const found = await readBaseLock(dir);
  const problems: string[] = [];
  if (found === null) problems.push(`${display(lockFile)} is missing`);
  else if ('invalid' in found) problems.push(`${display(lockFile)}: ${found.invalid}`);
  else {
    const { lock } = found;
    if (lock.dataVersion !== BASE_LOCK_VERSION) problems.push(`dataVersion ${lock.dataVersion}; this addonix writes ${BASE_LOCK_VERSION}`);
    for (const [arch, pin] of Object.entries(pins)) {
      const pinned = lock.images[arch];
      if (!pinned) problems.push(`${arch}: not pinned`);
      else if (pinned.reference !== pin.reference) problems.push(`${arch}: the lock pins ${pinned.reference}, the add-on now names ${pin.reference}`);
      else if (pinned.imageDigest !== pin.imageDigest) problems.push(`${arch}: ${pin.reference} is now ${pin.imageDigest} (the lock has ${pinned.imageDigest})`);
      else if (canonical(pinned.config ?? null) !== canonical(pin.config ?? null)) problems.push(`${arch}: the lock has ${pinned.config ? 'another' : 'no'} config of the base image (written by an older addonix)`);
      else if (pinned.imageName !== pin.imageName || pinned.finalImageName !== pin.finalImageName || pinned.finalImageTag !== pin.finalImageTag || pinned.os !== pin.os || pinned.arch !== pin.arch || pinned.tlsVerify !== pin.tlsVerify) {
        problems.push(`${arch}: the lock's pullImage arguments differ from what pin-base writes now`);
      } else if (pinned.hash === null) problems.push(`${arch}: no Nix hash (pinned with --no-hash)`);
    }
    for (const arch of Object.keys(lock.images)) if (!(arch in pins)) problems.push(`${arch}: pinned, but not an arch of the add-on`);
    if (problems.length === 0) {
      const used = [...new Set(Object.values(lock.images).map((pin) => pin.hashNixpkgs))];
      const now = args.nixpkgs ?? (await pinnedNixpkgs(FLAKE_LOCK).catch(() => null));
      if (now !== null && used.some((nixpkgs) => nixpkgs !== now)) {
        process.stderr.write(`addonix: warning: the hashes were computed with ${used.join(', ')}, not ${now}; if Nix reports a hash mismatch for a base image, run addonix pin-base ${display(dir)}\n`);
      }
    }
  }
  if (args.json) {
    process.stdout.write(JSON.stringify({ lock: display(lockFile), check: true, stale: problems.length > 0, problems }, null, 2) + '\n');
    process.exitCode = problems.length > 0 ? 1 : 0;
    return;
  }
  if (problems.length === 0) {
    process.stdout.write(`up to date: ${display(lockFile)} (${plural(Object.keys(pins).length, 'arch', 'arches')})\n`);
    return;
  }
  process.stdout.write(`${color('red', 'stale')}: ${display(lockFile)}\n`);
  for (const problem of problems) process.stdout.write(`  ${problem}\n`);
  process.stdout.write(`run: addonix pin-base ${display(dir)}\n`);
  process.exitCode = 1;
}
