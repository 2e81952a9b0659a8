/**
 * Where a build came from: the flake's own locked source and every input in its flake.lock (from `nix flake
 * metadata --json`), as materials, and the in-toto statement `verify --attest` writes for a reproduced
 * image (in-toto Statement v1 with a SLSA provenance v1 predicate, whose `resolvedDependencies` list the inputs).
 */
import { UserError } from '../util/errors.js';
import { digestHex } from '../oci/digest.js';
import { runNix, nixFailure, type NixOptions } from '../nix/build.js';
import type { NixInstall } from '../nix/install.js';
import type { VerifyReport } from './verify.js';

interface LockedRef {
  type?: string;
  owner?: string;
  repo?: string;
  rev?: string;
  ref?: string;
  url?: string;
  path?: string;
  narHash?: string;
  lastModified?: number;
  host?: string;
}

interface LockNode {
  locked?: LockedRef;
  inputs?: Record<string, string | string[]>;
}

export interface FlakeMetadata {
  url?: string;
  resolvedUrl?: string;
  locked?: LockedRef;
  locks?: { nodes?: Record<string, LockNode>; root?: string };
  revision?: string;
  lastModified?: number;
}

export interface Material {
  /** The input's path in the lock graph: `nixpkgs`, `addonix/nixpkgs`; `self` for the flake's own source. */
  name: string;
  uri: string;
  digest: Record<string, string>;
  rev: string | null;
  narHash: string | null;
  lastModified: number | null;
}

/** `sha256-<base64>` (Nix's SRI narHash) as lowercase hex. */
function sriToHex(sri: string): string | undefined {
  const match = /^sha256-([A-Za-z0-9+/=]+)$/.exec(sri);
  return match ? Buffer.from(match[1]!, 'base64').toString('hex') : undefined;
}

/** A URI for a locked input, pinned to its revision where it has one. */
function lockedUri(locked: LockedRef): string {
  switch (locked.type) {
    case 'github':
    case 'gitlab':
    case 'sourcehut':
      return `${locked.type}:${locked.owner}/${locked.repo}${locked.rev ? `/${locked.rev}` : ''}${locked.host ? `?host=${locked.host}` : ''}`;
    case 'git':
    case 'mercurial':
      return `${locked.type === 'git' ? 'git+' : 'hg+'}${locked.url}${locked.rev ? `?rev=${locked.rev}` : ''}`;
    case 'path':
      return `path:${locked.path}`;
    default:
      return locked.url ?? `${locked.type ?? 'unknown'}:`;
  }
}

function material(name: string, locked: LockedRef): Material {
  const digest: Record<string, string> = {};
  if (locked.rev) digest['gitCommit'] = locked.rev;
  const nar = locked.narHash ? sriToHex(locked.narHash) : undefined;
  // The NAR serialisation's SHA-256: what Nix checks the fetched tree against.
  if (nar) digest['narHash'] = nar;
  return { name, uri: lockedUri(locked), digest, rev: locked.rev ?? null, narHash: locked.narHash ?? null, lastModified: locked.lastModified ?? null };
}

/** The flake's own source first, then its inputs breadth-first from the root (each lock node once). */
export function materialsOf(metadata: FlakeMetadata): Material[] {
  const out: Material[] = [];
  if (metadata.locked) out.push(material('self', { ...metadata.locked, rev: metadata.locked.rev ?? metadata.revision }));
  const nodes = metadata.locks?.nodes ?? {};
  const root = metadata.locks?.root ?? 'root';
  const seen = new Set<string>([root]);
  const queue: { node: string; name: string }[] = [{ node: root, name: '' }];
  while (queue.length > 0) {
    const { node, name } = queue.shift()!;
    for (const [input, target] of Object.entries(nodes[node]?.inputs ?? {})) {
      // `follows` (a list) points at another input already listed through its own path.
      if (typeof target !== 'string' || seen.has(target)) continue;
      seen.add(target);
      const path = name ? `${name}/${input}` : input;
      const locked = nodes[target]?.locked;
      if (locked) out.push(material(path, locked));
      queue.push({ node: target, name: path });
    }
  }
  return out;
}

/** The nixpkgs the build used: the root's own `nixpkgs` input, else the nearest input named nixpkgs. */
export function nixpkgsOf(materials: Material[]): Material | null {
  return materials.find((m) => m.name.split('/').at(-1) === 'nixpkgs') ?? null;
}

export async function flakeMetadata(install: NixInstall, flake: string, options: NixOptions = {}): Promise<FlakeMetadata> {
  const run = await runNix(install, ['flake', 'metadata', '--json', flake], { ...options, onEvent: undefined });
  if (run.code !== 0) throw nixFailure(`cannot read the metadata of ${flake}`, run, install);
  try {
    return JSON.parse(run.stdout) as FlakeMetadata;
  } catch {
    throw new UserError('nix-failed', `nix flake metadata ${flake} printed something that is not JSON`);
  }
}

export interface AttestationTimes {
  addonixVersion: string;
  startedOn: string;
  finishedOn: string;
}

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
/** What the provenance's build type means: an image built by `nix build` of a flake attribute with addonix's library. */
export const BUILD_TYPE = 'https://github.com/addonix/addonix/blob/main/docs/push-and-verify.md#provenance';

export interface ProvenanceInput {
  addonixVersion: string;
  /** The Nix version that built (or rebuilt) the image. */
  nix: string;
  system: string;
  /** The flake as given, and its attribute (`packages.<system>.dockerImage-<arch>`), when known. */
  flake: string;
  attribute: string | null;
  arch: string | null;
  materials: Material[];
  /** The add-on's git checkout: its HEAD, where it has one. */
  addonRevision: string | null;
  derivation?: string | null;
  startedOn?: string;
  finishedOn?: string;
  /** Byproducts (verify's verdict), as SLSA resource descriptors. */
  byproducts?: object[];
}

/** A SLSA provenance v1 predicate: builder addonix and Nix, the flake inputs and the add-on's revision as resolved dependencies. */
export function slsaProvenance(input: ProvenanceInput): object {
  const self = input.materials.find((m) => m.name === 'self');
  const dependencies: object[] = input.materials.map((m) => ({ name: m.name, uri: m.uri, digest: m.digest }));
  if (input.addonRevision && !input.materials.some((m) => m.digest['gitCommit'] === input.addonRevision)) {
    dependencies.push({ name: 'addon', digest: { gitCommit: input.addonRevision } });
  }
  const metadata = { ...(input.startedOn ? { startedOn: input.startedOn } : {}), ...(input.finishedOn ? { finishedOn: input.finishedOn } : {}) };
  return {
    buildDefinition: {
      buildType: BUILD_TYPE,
      externalParameters: { flake: self?.uri ?? input.flake, ...(input.attribute ? { attribute: input.attribute } : {}), ...(input.arch ? { arch: input.arch } : {}) },
      internalParameters: { system: input.system, nix: input.nix, ...(input.derivation ? { derivation: input.derivation } : {}) },
      resolvedDependencies: dependencies,
    },
    runDetails: {
      builder: { id: `pkg:npm/addonix@${input.addonixVersion}`, version: { addonix: input.addonixVersion, nix: input.nix } },
      ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
      ...(input.byproducts && input.byproducts.length > 0 ? { byproducts: input.byproducts } : {}),
    },
  };
}

/**
 * An in-toto statement saying the image was rebuilt from these materials and came out the same, about the
 * reference's manifest digest (the image users pull), or the rebuilt one when the reference has none:
 * SLSA provenance v1, verify's verdict as a byproduct.
 */
export function attestation(report: VerifyReport, times: AttestationTimes): object {
  const digest = report.reference.manifestDigest ?? report.outputs.manifestDigest;
  const self = report.inputs.materials.find((m) => m.name === 'self');
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: report.reference.source, digest: { sha256: digestHex(digest) } }],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: slsaProvenance({
      addonixVersion: times.addonixVersion,
      nix: report.inputs.nix,
      system: report.inputs.system,
      flake: report.inputs.flake,
      attribute: report.inputs.attribute,
      arch: report.addon.arch,
      materials: report.inputs.materials,
      addonRevision: self?.rev ?? null,
      derivation: report.inputs.derivation,
      startedOn: times.startedOn,
      finishedOn: times.finishedOn,
      byproducts: [{ name: 'addonix verify', annotations: { verdict: report.verdict, reproducible: 'true', reference: report.reference.source } }],
    }),
  };
}
