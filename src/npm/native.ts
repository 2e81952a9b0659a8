/**
 * Native addon plans: for each installed package that carries compiled code, how the target gets a
 * binary. Knowledge about specific packages lives in one table (KNOWN_NATIVE_PACKAGES) with the build
 * settings each needs, so that the Nix library applies settings without knowing package names.
 *
 * Sources: the packages' own package.json/binding.gyp (better-sqlite3 v12/v13, bcrypt 5/6, sqlite3,
 * @serialport/bindings-cpp, argon2, bufferutil, utf-8-validate, canvas, sharp, @parcel/watcher);
 * node-gyp-build's load order (build/Release before prebuilds/); BRIEF §5.
 */
import semver from 'semver';
import type { ArboristNode } from '@npmcli/arborist';
import type { PackageEntry } from './packages.js';
import type { TargetProblem } from './install-set.js';
import { checkPlatform } from 'npm-install-checks';
import { npmPlatform, targetName, type Target } from './target.js';

export type NativePlanKind = 'build-from-source' | 'platform-package' | 'prebuilt-in-tarball' | 'unsupported';

export interface NativeSettings {
  /** Environment for the build, e.g. npm_config_build_from_source (npm config as npm_config_* variables). */
  env: Record<string, string>;
  /** Extra node-gyp arguments, e.g. --force_build=1. */
  nodeGypArgs: string[];
  /** Paths inside the package deleted before building: prebuilt binaries that would be loaded instead. */
  deletePaths: string[];
  /** nixpkgs attribute names of libraries the addon links against. */
  systemLibraries: string[];
  /** nixpkgs attribute names of build tools the build runs (besides node-gyp, python3 and a compiler). */
  buildTools: string[];
  /** For platform-package: the lockfile locations of the platform packages chosen for the target. */
  platformPackages: string[];
}

export interface NativePlan {
  location: string;
  name: string;
  version: string;
  plan: NativePlanKind;
  reason: string;
  settings: NativeSettings;
  /**
   * The locations of the packages it depends on (all of its installed production dependencies, not
   * itself): a compile of the package alone lays them out beside it, since binding.gyp may require
   * them (node-addon-api, nan) at configure time.
   */
  dependencies: string[];
  /**
   * The binary its npm tarball ships for this target (a path inside the package), which the Nix
   * library may use instead of compiling when the user allows it; null when there is none.
   */
  tarballBinary: string | null;
}

interface KnownNativePackage {
  name: string;
  /** semver range of versions this row covers (all when absent). */
  versions?: string;
  plan: NativePlanKind | 'no-native-code';
  reason: string;
  settings?: Partial<NativeSettings>;
  /** Binaries inside the npm tarball by `<platform>-<cpu>` (platform linux or linuxmusl). */
  tarballBinaries?: Record<string, string>;
}

const BUILD_FROM_SOURCE_ENV = { npm_config_build_from_source: 'true' };

/** What addonix knows about specific packages. Rows are matched in order, the first match wins. */
export const KNOWN_NATIVE_PACKAGES: readonly KnownNativePackage[] = [
  {
    name: 'better-sqlite3',
    versions: '>=13.0.0-0',
    plan: 'prebuilt-in-tarball',
    reason:
      'v13 ships prebuilds/{linux,linuxmusl}-{x64,arm64}.node, loaded before build/Release, and binding.gyp skips compiling when they fit the build machine; they are deleted and the addon compiled for the target with force_build=1',
    settings: { env: { npm_config_force_build: '1' }, nodeGypArgs: ['--force_build=1'], deletePaths: ['prebuilds'] },
    // lib/binding.js of 13.2.0 loads build/Release first, then prebuilds/<linux|linuxmusl>-<cpu>.node
    // (musl told by the loader mapped into the process).
    tarballBinaries: {
      'linux-x64': 'prebuilds/linux-x64.node',
      'linux-arm64': 'prebuilds/linux-arm64.node',
      'linuxmusl-x64': 'prebuilds/linuxmusl-x64.node',
      'linuxmusl-arm64': 'prebuilds/linuxmusl-arm64.node',
    },
  },
  {
    name: 'better-sqlite3',
    plan: 'build-from-source',
    reason: 'v12 and older install with prebuild-install, which downloads a binary (no network in the Nix sandbox, none for most musl and ARM targets); compiled with node-gyp instead',
    settings: { env: BUILD_FROM_SOURCE_ENV },
  },
  {
    name: 'sqlite3',
    plan: 'build-from-source',
    reason: 'installs with prebuild-install (or node-pre-gyp in old versions), which downloads a binary; compiled with node-gyp instead',
    settings: { env: BUILD_FROM_SOURCE_ENV },
  },
  {
    name: 'bcrypt',
    versions: '>=6.0.0-0',
    plan: 'build-from-source',
    reason: 'v6 ships prebuilds for some platforms in its tarball (node-gyp-build); compiled for the target so every arch and libc gets its own binary',
    settings: { deletePaths: ['prebuilds'] },
  },
  {
    name: 'bcrypt',
    plan: 'build-from-source',
    reason: 'v5 and older download a binary with node-pre-gyp at install time; compiled with node-gyp instead',
    settings: { env: BUILD_FROM_SOURCE_ENV },
  },
  {
    name: '@serialport/bindings-cpp',
    plan: 'build-from-source',
    reason: 'ships prebuilds for some platforms in its tarball (node-gyp-build); compiled for the target',
    settings: { deletePaths: ['prebuilds'] },
  },
  {
    name: 'argon2',
    plan: 'build-from-source',
    reason: 'ships prebuilds in its tarball (or downloads them with node-pre-gyp in old versions); compiled for the target',
    settings: { env: BUILD_FROM_SOURCE_ENV, deletePaths: ['prebuilds'] },
  },
  {
    name: 'bufferutil',
    plan: 'build-from-source',
    reason: 'ships prebuilds for some platforms in its tarball (node-gyp-build); compiled for the target',
    settings: { deletePaths: ['prebuilds'] },
  },
  {
    name: 'utf-8-validate',
    plan: 'build-from-source',
    reason: 'ships prebuilds for some platforms in its tarball (node-gyp-build); compiled for the target',
    settings: { deletePaths: ['prebuilds'] },
  },
  {
    name: 'canvas',
    plan: 'build-from-source',
    reason: 'downloads a binary at install time (node-pre-gyp, prebuild-install since v3); compiled against Cairo and Pango for the target instead',
    settings: {
      env: BUILD_FROM_SOURCE_ENV,
      systemLibraries: ['cairo', 'pango', 'libjpeg', 'giflib', 'librsvg', 'pixman'],
      buildTools: ['pkg-config'],
    },
  },
  {
    name: 'sharp',
    versions: '>=0.33.0-0',
    plan: 'platform-package',
    reason: 'the binary comes in the optional package @img/sharp-<platform> and libvips in @img/sharp-libvips-<platform>',
  },
  {
    name: 'sharp',
    plan: 'unsupported',
    reason: 'sharp before 0.33 downloads libvips and its binary at install time, which cannot happen in the Nix sandbox; upgrade to sharp >= 0.33',
  },
  { name: 'core-js', plan: 'no-native-code', reason: 'its postinstall script only prints a message' },
  { name: 'core-js-pure', plan: 'no-native-code', reason: 'its postinstall script only prints a message' },
  { name: 'es5-ext', plan: 'no-native-code', reason: 'its postinstall script only prints a message' },
  { name: 'protobufjs', plan: 'no-native-code', reason: 'its postinstall script only checks versions' },
];

function settingsOf(partial: Partial<NativeSettings> = {}, platformPackages: string[] = []): NativeSettings {
  return {
    env: { ...(partial.env ?? {}) },
    nodeGypArgs: [...(partial.nodeGypArgs ?? [])],
    deletePaths: [...(partial.deletePaths ?? [])],
    systemLibraries: [...(partial.systemLibraries ?? [])],
    buildTools: [...(partial.buildTools ?? [])],
    platformPackages,
  };
}

// Plans are computed for every target; what depends only on the package is looked up once.
const rowCache = new WeakMap<PackageEntry, KnownNativePackage | null>();
const familyCache = new WeakMap<ArboristNode, ArboristNode[]>();

function knownRow(entry: PackageEntry): KnownNativePackage | undefined {
  let row = rowCache.get(entry);
  if (row === undefined) {
    row = findRow(entry) ?? null;
    rowCache.set(entry, row);
  }
  return row ?? undefined;
}

function findRow(entry: PackageEntry): KnownNativePackage | undefined {
  return KNOWN_NATIVE_PACKAGES.find(
    (row) => row.name === entry.name && (!row.versions || (semver.valid(entry.version) !== null && semver.satisfies(entry.version, row.versions, { includePrerelease: true }))),
  );
}

/** Optional dependencies restricted to a platform: a family of prebuilt binaries when there are two or more. */
function platformFamily(node: ArboristNode): ArboristNode[] {
  const known = familyCache.get(node);
  if (known) return known;
  const members: ArboristNode[] = [];
  for (const edge of node.edgesOut.values()) {
    const to = edge.to;
    if (edge.type === 'optional' && to && (to.package.os || to.package.cpu || to.package.libc)) members.push(to);
  }
  const family = members.length >= 2 ? members : [];
  familyCache.set(node, family);
  return family;
}

/** The family's Linux package names, shortened: "@img/sharp-{linux-arm, linuxmusl-x64}". */
function linuxMembers(family: readonly ArboristNode[]): string {
  const names = family.filter((member) => !member.package.os || member.package.os.includes('linux')).map((member) => member.packageName).sort();
  if (names.length === 0) return 'none';
  let prefix = names[0]!;
  for (const name of names) while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1);
  prefix = prefix.slice(0, prefix.lastIndexOf('-') + 1);
  return prefix && names.length > 1 ? `${prefix}{${names.map((name) => name.slice(prefix.length)).join(', ')}}` : names.join(', ');
}

function fitsPlatform(node: ArboristNode, target: Target): boolean {
  try {
    checkPlatform(node.package, false, npmPlatform(target));
    return true;
  } catch {
    return false;
  }
}

/** The installed production dependencies of a package, all the way down (its build may require them). */
function dependencyClosure(entry: PackageEntry, locationOf: ReadonlyMap<ArboristNode, string>, installed: ReadonlySet<string>): string[] {
  const seen = new Set<ArboristNode>([entry.node]);
  const queue: ArboristNode[] = [entry.node];
  const found: string[] = [];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const edge of node.edgesOut.values()) {
      if (edge.type === 'dev' || !edge.to || seen.has(edge.to)) continue;
      seen.add(edge.to);
      const location = locationOf.get(edge.to);
      if (location === undefined || !installed.has(location)) continue;
      found.push(location);
      queue.push(edge.to);
    }
  }
  return found.sort();
}

/** The binary a row says the tarball ships for a target, e.g. prebuilds/linuxmusl-arm64.node. */
function tarballBinaryFor(row: KnownNativePackage | undefined, target: Target): string | null {
  const platform = npmPlatform(target);
  return row?.tarballBinaries?.[`${platform.os}${target.libc === 'musl' ? 'musl' : ''}-${platform.cpu}`] ?? null;
}

export interface NativeResult {
  native: NativePlan[];
  errors: TargetProblem[];
}

/** Plans for the installed packages of one target (`installed` holds their locations). */
export function nativePlans(packages: readonly PackageEntry[], installed: ReadonlySet<string>, target: Target): NativeResult {
  const native: NativePlan[] = [];
  const errors: TargetProblem[] = [];
  const locationOf = new Map(packages.map((entry) => [entry.node, entry.location]));
  for (const entry of packages) {
    if (!installed.has(entry.location) || entry.link) continue;
    const row = knownRow(entry);
    if (row?.plan === 'no-native-code') continue;
    const family = platformFamily(entry.node);
    const chosen = family.map((member) => locationOf.get(member)).filter((loc): loc is string => loc !== undefined && installed.has(loc));
    const plan = (kind: NativePlanKind, reason: string, settings: NativeSettings) =>
      native.push({
        location: entry.location,
        name: entry.name,
        version: entry.version,
        plan: kind,
        reason,
        settings,
        dependencies: kind === 'build-from-source' || kind === 'prebuilt-in-tarball' ? dependencyClosure(entry, locationOf, installed) : [],
        tarballBinary: tarballBinaryFor(row, target),
      });

    if (row?.plan === 'platform-package' || (!row && family.length > 0)) {
      if (chosen.length > 0) {
        plan('platform-package', row?.reason ?? `the binary comes in an optional platform package (${chosen.map((l) => l.replace(/^.*node_modules\//, '')).join(', ')})`, settingsOf(row?.settings, chosen));
        continue;
      }
      if (!row && entry.hasInstallScript) {
        plan('build-from-source', `none of its ${family.length} platform packages fits ${targetName(target)}; its install script builds from source, done with node-gyp`, settingsOf({ env: BUILD_FROM_SOURCE_ENV }));
        continue;
      }
      const otherLibc: Target = { arch: target.arch, libc: target.libc === 'musl' ? 'glibc' : 'musl' };
      const hint = family.some((member) => fitsPlatform(member, otherLibc)) ? `; there is one for ${targetName(otherLibc)}` : '';
      const reason = `no platform package fits ${targetName(target)} (its Linux ones: ${linuxMembers(family)})${hint}`;
      // An optional package is one the app must cope without (node-red falls back to bcryptjs): not an error.
      plan('unsupported', entry.optional ? `${reason}; it is an optional dependency, so the app runs without it` : reason, settingsOf());
      if (!entry.optional) {
        errors.push({ code: 'unsupported', location: entry.location, name: entry.name, message: `${entry.name}@${entry.version} has no binary for ${targetName(target)}: ${reason}` });
      }
      continue;
    }
    if (row?.plan === 'unsupported') {
      plan('unsupported', row.reason, settingsOf());
      errors.push({ code: 'unsupported', location: entry.location, name: entry.name, message: `${entry.name}@${entry.version} cannot be built by addonix: ${row.reason}` });
      continue;
    }
    if (row) {
      plan(row.plan, row.reason, settingsOf(row.settings));
      continue;
    }
    if (entry.hasInstallScript) {
      plan(
        'build-from-source',
        'has an install script; compiled with node-gyp when its tarball has a binding.gyp (other install scripts are not run)',
        settingsOf({ env: BUILD_FROM_SOURCE_ENV }),
      );
    }
  }
  return { native, errors };
}
