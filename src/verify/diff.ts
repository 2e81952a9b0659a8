/**
 * `addonix diff`: two inputs (local images or registry references) opened, their images paired by arch,
 * scanned side by side, compared.
 */
import { existsSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { splitArchPrefix } from '../oci/platform.js';
import type { LayerRules } from '../oci/layer-rules.js';
import { candidatesOf, LayerScanner, openLocalImages, type ImageCandidate } from '../oci/scan.js';
import type { RemoteOptions } from '../registry/pull.js';
import { compareImages, imageSide, overallVerdict, type DiffResult, type ImageComparison } from './compare.js';
import type { Digest } from '../oci/digest.js';
import { detectInput } from '../oci/input-kind.js';
import { RangeHasher } from '../oci/scan-pool.js';

/**
 * A path that exists is a local image; anything else is a registry reference. A failure as a reference
 * says that the path does not exist either: a mistyped file name is the likelier mistake.
 */
export async function openImages(argument: string, options: RemoteOptions & { rules: LayerRules; inProcess?: boolean; whole?: boolean; hasher?: RangeHasher }): Promise<ImageCandidate[]> {
  const { path } = splitArchPrefix(argument);
  if (existsSync(path)) return openLocalImages(argument, options.rules, { inProcess: options.inProcess === true, whole: options.whole === true, ...(options.hasher ? { hasher: options.hasher } : {}) });
  // An absolute or ./-relative name is a path for sure: a registry reference cannot start so.
  if (/^[./~]/.test(path)) throw new UserError('not-found', `${argument}: no such file or folder`);
  // The registry client is loaded only for a reference: two local images need none of it.
  const [{ RegistrySource }, { formatReference, parseReference }] = await Promise.all([import('../registry/pull.js'), import('../registry/reference.js')]);
  let reference;
  try {
    reference = parseReference(argument);
    return candidatesOf((await new RegistrySource(reference, options).open(new LayerScanner(options.rules))).images, undefined);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    const as = reference ? `as the registry reference ${formatReference(reference)}` : 'as a registry reference';
    throw new UserError(error.code === 'registry-unreachable' || error.code === 'registry-not-found' ? 'not-found' : error.code, `${argument}: no such file or folder, and ${as}: ${error.message}`);
  }
}

/**
 * Opens diff's two inputs so that an arch --arch names and an input lacks is said before anything slow
 * is read: an `ARCH=PATH` input of another arch before anything at all; inputs whose images are known
 * from their documents (a plain archive, a layout folder, a registry reference: index, manifests and
 * configs) before the ones that must be read whole to know them (a stream script, a gzip archive), each
 * checked as soon as it is open. Without --arch both open at once (two cores). `a` is read on this thread;
 * two plain archives take turns on this thread, which shares the hashing of their layers with a worker,
 * and the worker reads the second when it is done hashing early (RangeHasher).
 */
export async function openInputs(
  a: string,
  b: string,
  options: RemoteOptions & { rules: LayerRules },
  arches: readonly string[] | undefined,
): Promise<[ImageCandidate[], ImageCandidate[]]> {
  const wanted = arches ?? [];
  const hasher = (await Promise.all([a, b].map(plainArchive))).every(Boolean) ? new RangeHasher() : undefined;
  const open = (argument: string, inProcess: boolean) => openImages(argument, { ...options, inProcess, ...(hasher ? { hasher } : {}) });
  if (wanted.length === 0) return Promise.all([open(a, true), open(b, false)]);
  for (const argument of [a, b]) {
    const { arch: given } = splitArchPrefix(argument);
    const other = wanted.find((arch) => given !== undefined && arch !== given);
    if (other !== undefined) throw new UserError('platform-missing', `${argument} has no image for ${other} (it has: ${given}, as ARCH=PATH says)`);
  }
  const checked = async (argument: string, inProcess: boolean) => {
    const candidates = await open(argument, inProcess);
    for (const arch of wanted) pick(candidates, arch, candidates[0]?.facts.source ?? argument);
    return candidates;
  };
  const [slowA, slowB] = await Promise.all([readWhole(a), readWhole(b)]);
  if (slowA === slowB) return Promise.all([checked(a, true), checked(b, false)]);
  const [first, second] = slowA ? [b, a] : [a, b];
  const opened = await checked(first, first === a);
  const rest = await checked(second, second === a);
  return first === a ? [opened, rest] : [rest, opened];
}

/** Whether an input is a local plain (uncompressed) archive. */
async function plainArchive(argument: string): Promise<boolean> {
  const { path } = splitArchPrefix(argument);
  if (!existsSync(path)) return false;
  return (await detectInput(path, path).catch(() => null)) === 'tar';
}

/** Whether an input is read whole before its images are known: a local stream script or gzip archive. */
async function readWhole(argument: string): Promise<boolean> {
  const { path } = splitArchPrefix(argument);
  if (!existsSync(path)) return false;
  const kind = await detectInput(path, path).catch(() => null);
  return kind === 'stream-script' || kind === 'tar.gz';
}

/** The key that pairs images of two inputs: the Home Assistant arch, else the platform. */
function pairingKey(candidate: ImageCandidate): string {
  const facts = candidate.facts;
  return facts.arch ?? [facts.platform.os, facts.platform.architecture, facts.platform.variant].filter(Boolean).join('/');
}

export interface ComparedPair {
  a: ImageCandidate;
  b: ImageCandidate;
  comparison: ImageComparison;
}

export interface DiffOutcome {
  result: DiffResult;
  pairs: ComparedPair[];
}

function pick(candidates: ImageCandidate[], arch: string, side: string): ImageCandidate {
  const found = candidates.filter((c) => pairingKey(c) === arch);
  if (found.length === 1) return found[0]!;
  const have = candidates.map(pairingKey).join(', ');
  throw new UserError('platform-missing', found.length === 0 ? `${side} has no image for ${arch} (it has: ${have})` : `${side} has ${found.length} images for ${arch}`);
}

/** The diff_ids of `image` that `other` has fewer copies of: the layers whose files a comparison needs. */
function unmatched(image: ImageCandidate, other: ImageCandidate): Digest[] {
  const left = new Map<Digest, number>();
  for (const diffId of other.facts.config.rootfs.diff_ids) left.set(diffId, (left.get(diffId) ?? 0) + 1);
  const out: Digest[] = [];
  for (const diffId of image.facts.config.rootfs.diff_ids) {
    const copies = left.get(diffId) ?? 0;
    if (copies > 0) left.set(diffId, copies - 1);
    else out.push(diffId);
  }
  return out;
}

/**
 * Pairs the images of two inputs and compares each pair: one image each are compared whatever their
 * platforms; one image against several, with the one of its arch; several against several, by arch (or
 * `arches` picks the pairs: each must be on both sides).
 */
export async function diffImages(a: ImageCandidate[], b: ImageCandidate[], options: { arches?: readonly string[] | undefined } = {}): Promise<DiffOutcome> {
  let pairs: [ImageCandidate, ImageCandidate][];
  const onlyInA: ImageCandidate[] = [];
  const onlyInB: ImageCandidate[] = [];
  if (options.arches && options.arches.length > 0) {
    pairs = options.arches.map((arch) => [pick(a, arch, a[0]!.facts.source), pick(b, arch, b[0]!.facts.source)]);
  } else if (a.length === 1 && b.length === 1) {
    pairs = [[a[0]!, b[0]!]];
  } else if (a.length === 1 || b.length === 1) {
    // One image against a multi-arch input: its own arch there.
    const arch = pairingKey(a.length === 1 ? a[0]! : b[0]!);
    pairs = [[pick(a, arch, a[0]!.facts.source), pick(b, arch, b[0]!.facts.source)]];
  } else {
    const inB = new Map(b.map((c) => [pairingKey(c), c]));
    pairs = [];
    for (const candidate of a) {
      const partner = inB.get(pairingKey(candidate));
      if (partner) {
        pairs.push([candidate, partner]);
        inB.delete(pairingKey(candidate));
      } else {
        onlyInA.push(candidate);
      }
    }
    onlyInB.push(...inB.values());
  }
  // Only the files of layers the other side has no copy of are listed (and their contents hashed).
  for (const [ca, cb] of pairs) {
    ca.want(unmatched(ca, cb));
    cb.want(unmatched(cb, ca));
  }
  // Both sides of a pair are read at once: local archives were read when opened, blobs stream now.
  const compared: ComparedPair[] = [];
  for (const [ca, cb] of pairs) {
    const [sa, sb] = await Promise.all([ca.scan(), cb.scan()]);
    compared.push({ a: ca, b: cb, comparison: compareImages(sa, sb) });
  }
  const verdicts = compared.map((pair) => pair.comparison.verdict);
  if (onlyInA.length + onlyInB.length > 0) verdicts.push('different');
  return {
    result: {
      schemaVersion: 1,
      verdict: overallVerdict(verdicts),
      images: compared.map((pair) => pair.comparison),
      onlyInA: onlyInA.map((c) => imageSide(c.facts)),
      onlyInB: onlyInB.map((c) => imageSide(c.facts)),
    },
    pairs: compared,
  };
}
