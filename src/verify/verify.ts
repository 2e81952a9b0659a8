/**
 * `addonix verify`: after the image is built, rebuild it (Nix compares the two builds bit for bit), turn
 * it into the image `addonix push` would publish (layers compressed with the pinned compressor), and
 * compare that with the reference — by default the add-on's published image for its version. The report
 * records the inputs (flake, flake.lock, derivation, output) and the outputs (config and manifest digests,
 * compressor), so that anyone can check the claim.
 */
import { statSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { withoutTemporary } from '../util/atomic.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Digest } from '../oci/digest.js';
import { compressorRecord } from '../oci/compression.js';
import type { LayerPolicy } from '../oci/import.js';
import type { LayerRules } from '../oci/layer-rules.js';
import { StoreSource } from '../oci/layout.js';
import { candidatesOf, LayerScanner, openLocalImages, type ImageCandidate } from '../oci/scan.js';
import { readInput } from '../oci/inputs.js';
import type { BuildArch } from '../addon/arch.js';
import type { NixInstall } from '../nix/install.js';
import { rebuild, type NixOptions, type PlannedTarget } from '../nix/build.js';
import { diffImages, type DiffOutcome } from './diff.js';
import type { ImageComparison, Verdict } from './compare.js';
import { flakeMetadata, materialsOf, nixpkgsOf, type Material } from './provenance.js';

/** What `addonix push` does to a build result by default: gzip, the compressor pinned and recorded. */
export const PUSH_POLICY: LayerPolicy = { compression: 'gzip', keepCompressed: true };

export type VerifyVerdict = Verdict | 'not-reproducible';

export interface VerifyReport {
  schemaVersion: 1;
  /** identical / same-content: reproduced; different: not the reference; not-reproducible: two builds differ. */
  verdict: VerifyVerdict;
  addon: { slug: string; version: string; arch: string };
  inputs: {
    flake: string;
    /** The flake's locked URL and the nixpkgs its flake.lock pins. */
    flakeUrl: string | null;
    nixpkgs: Material | null;
    materials: Material[];
    system: string;
    attribute: string;
    derivation: string;
    outPath: string;
    nix: string;
  };
  rebuild: { deterministic: boolean; checkPath: string | null; comparison: ImageComparison | null };
  outputs: {
    configDigest: Digest;
    /** The manifest addonix push would publish for this build. */
    manifestDigest: Digest;
    compressor: string | null;
    layers: { diffId: Digest; digest: Digest; size: number }[];
  };
  /** compressor: what the reference's layers record of their compressor (see ImageSide), or null. */
  reference: { source: string; manifestDigest: Digest | null; configDigest: Digest; compressor: string | null };
  comparison: ImageComparison;
}

export interface VerifyRequest {
  install: NixInstall;
  flake: string;
  target: PlannedTarget;
  addon: { slug: string; version: string };
  /**
   * The reference's images (openImages), opened before the builds: one that is missing, unreachable or
   * refused (a local archive is read whole, layers included) fails in seconds, not after two builds.
   */
  references: ImageCandidate[];
  rules: LayerRules;
  options: NixOptions;
}

export interface VerifyOutcome {
  report: VerifyReport;
  /** What explains the verdict, for --diff-report: the two builds when they differ, else build and reference. */
  explained: DiffOutcome;
}

/** The build result as the image push would publish: blobs in the cache, manifest with compressed layers. */
async function pushableImage(outPath: string, arch: BuildArch, source: string, rules: LayerRules): Promise<ImageCandidate> {
  const [image] = (await readInput(`${arch}=${outPath}`, { policy: PUSH_POLICY, rules })).images;
  const { images } = await new StoreSource(source, image!.store, [{ digest: image!.manifestDigest, mediaType: image!.manifest.mediaType, names: [] }]).open(new LayerScanner(rules));
  return candidatesOf(images, arch)[0]!;
}

/** The temporary folder when every user may pass through it and its parents (a TMPDIR of 0700 is not), else /tmp. */
function enterableTmpdir(): string {
  const dir = tmpdir();
  for (let at = dir; ; at = path.dirname(at)) {
    try {
      if ((statSync(at).mode & 0o001) === 0) return '/tmp';
    } catch {
      return '/tmp';
    }
    if (path.dirname(at) === at) return dir;
  }
}

export async function verifyBuilt(request: VerifyRequest): Promise<VerifyOutcome> {
  const { install, flake, target } = request;
  const temp = await mkdtemp(path.join(enterableTmpdir(), 'addonix-rebuild-'));
  // Nix makes its build folder in here and gives it to the build user; with the sandbox off (Debian's
  // default) that user reaches it by this path, so this folder must be enterable (mkdtemp makes it 0700).
  await chmod(temp, 0o755);
  let rebuilt;
  try {
    rebuilt = await rebuild(install, flake, target, temp, request.options);
  } catch (error) {
    // Nix's log names the build folder it made in here, which is gone with it: said as what it was.
    throw withoutTemporary(error, temp, "(verify's temporary build folder)");
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  let rebuildOutcome: DiffOutcome | undefined;
  if (!rebuilt.deterministic) {
    const [first, second] = await Promise.all([openLocalImages(`${target.arch}=${rebuilt.outPath}`, request.rules), openLocalImages(`${target.arch}=${rebuilt.checkPath}`, request.rules)]);
    rebuildOutcome = await diffImages(first, second);
  }

  const ours = await pushableImage(target.outPath, target.arch as BuildArch, `${target.label} (rebuilt ${target.outPath})`, request.rules);
  const references = request.references;
  const outcome = await diffImages([ours], references, { arches: references.length > 1 ? [target.arch] : undefined });
  const comparison = outcome.result.images[0]!;
  const scanned = await ours.scan();
  const pair = outcome.pairs[0]!;

  const metadata = await flakeMetadata(install, flake, request.options);
  const materials = materialsOf(metadata);
  const report: VerifyReport = {
    schemaVersion: 1,
    verdict: rebuilt.deterministic ? comparison.verdict : 'not-reproducible',
    addon: { ...request.addon, arch: target.arch },
    inputs: {
      flake,
      flakeUrl: metadata.url ?? null,
      nixpkgs: nixpkgsOf(materials),
      materials,
      system: install.system,
      attribute: `packages.${install.system}.${target.attribute}`,
      derivation: target.drvPath,
      outPath: target.outPath,
      nix: install.version,
    },
    rebuild: { deterministic: rebuilt.deterministic, checkPath: rebuilt.deterministic ? null : rebuilt.checkPath, comparison: rebuildOutcome?.result.images[0] ?? null },
    outputs: {
      configDigest: scanned.configDigest,
      manifestDigest: scanned.manifest!.digest,
      compressor: compressorRecord(PUSH_POLICY.compression) ?? null,
      layers: scanned.layers.map((layer) => ({ diffId: layer.diffId, digest: layer.digest, size: layer.size })),
    },
    reference: { source: pair.b.facts.source, manifestDigest: pair.b.facts.manifest?.digest ?? null, configDigest: pair.b.facts.configDigest, compressor: comparison.b.compressor },
    comparison,
  };
  return { report, explained: rebuildOutcome ?? outcome };
}
