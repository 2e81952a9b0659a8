/**
 * What the Nix library knows of the nixpkgs packages an image takes (the `addonixPackages` attribute of
 * its stream and image, nix/image.nix): by store path, the package set's attribute, the output, an
 * override addonix applied, and `meta.license`. A built image does not carry it; evaluating the flake
 * gives it without building anything.
 */
import { UserError } from '../util/errors.js';
import type { NixInstall } from './install.js';
import { nixFailure, runNix, type NixOptions } from './build.js';

/** One license of meta.license, as lib/licenses.nix has it (any field may be missing). */
export interface NixLicense {
  spdxId?: string;
  shortName?: string;
  fullName?: string;
}

export interface NixPathFacts {
  attribute: string | null;
  output: string;
  override: string | null;
  licenses: NixLicense[];
}

export interface NixPackageData {
  /** The target package set's platform (e.g. x86_64-unknown-linux-gnu). */
  packageSet: string | null;
  paths: ReadonlyMap<string, NixPathFacts>;
}

const DATA_VERSION = 1;

/** Checks the shape of one image's data (null: the flake's library is older and has none). */
export function readPackageData(value: unknown, where: string): NixPackageData | null {
  if (value === null || value === undefined) return null;
  const data = value as { dataVersion?: unknown; packageSet?: unknown; paths?: unknown };
  if (typeof data !== 'object' || data.dataVersion !== DATA_VERSION || typeof data.paths !== 'object' || data.paths === null) {
    throw new UserError('nix-failed', `${where}: addonixPackages has dataVersion ${JSON.stringify(data.dataVersion ?? null)}; this addonix reads version ${DATA_VERSION} (update addonix, or the flake's addonix input)`);
  }
  const paths = new Map<string, NixPathFacts>();
  for (const [storePath, raw] of Object.entries(data.paths as Record<string, Partial<NixPathFacts>>)) {
    const licenses = Array.isArray(raw.licenses) ? raw.licenses.filter((l): l is NixLicense => typeof l === 'object' && l !== null) : [];
    paths.set(storePath, {
      attribute: typeof raw.attribute === 'string' ? raw.attribute : null,
      output: typeof raw.output === 'string' ? raw.output : 'out',
      override: typeof raw.override === 'string' ? raw.override : null,
      licenses,
    });
  }
  return { packageSet: typeof data.packageSet === 'string' ? data.packageSet : null, paths };
}

/**
 * The data of each arch's image in one evaluation of `packages.<system>`: the first of the attributes
 * given per arch that the flake has (stream before tarball; by slug in a repository flake).
 */
export async function nixPackageData(install: NixInstall, flake: string, attributes: ReadonlyMap<string, readonly string[]>, options: NixOptions = {}): Promise<Map<string, NixPackageData | null>> {
  const pick = (names: readonly string[]) => names.map((name) => `p.${JSON.stringify(name)}.addonixPackages or `).join('') + 'null';
  const apply = `p: { ${[...attributes].map(([arch, names]) => `${JSON.stringify(arch)} = ${pick(names)};`).join(' ')} }`;
  const run = await runNix(install, ['eval', '--json', `${flake}#packages.${install.system}`, '--apply', apply], { ...options, onEvent: undefined });
  if (run.code !== 0) throw nixFailure(`cannot evaluate the images of ${flake}`, run, install);
  const all = JSON.parse(run.stdout) as Record<string, unknown>;
  return new Map([...attributes.keys()].map((arch) => [arch, readPackageData(all[arch], `${flake}, ${arch}`)]));
}
