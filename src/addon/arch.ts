/**
 * The architecture table: one row per Home Assistant arch with every name other tools use for it.
 *
 * Sources: Supervisor const.py (arch names, deprecation since 2026.03) and docker/interface.py
 * (MAP_ARCH); nixpkgs lib/systems/examples.nix (cross targets), pkgs/stdenv/linux/default.nix (musl
 * bootstrap files for x86_64, aarch64 and armv6l; a system that can execute one of those uses its
 * tools), Hydra's release jobsets (the public binary cache has x86_64-linux and aarch64-linux); the
 * OCI image-spec (GOARCH and variants); npm's process.arch names (cpu field of package.json).
 *
 * The Nix library reads the same table: nix/arches.nix and nix/strategies.nix are generated from this
 * file (src/nixgen/tables.ts; `npm run generate:nix-tables`), and a test keeps them current.
 */

export const HA_ARCHES = ['aarch64', 'amd64', 'armhf', 'armv7', 'i386'] as const;
/** Arches Home Assistant does not run, built only on explicit request. */
export const OPT_IN_ARCHES = ['riscv64'] as const;

export type HaArch = (typeof HA_ARCHES)[number];
export type BuildArch = HaArch | (typeof OPT_IN_ARCHES)[number];
/** Every arch addonix takes by name, Home Assistant's first: for reading arguments and for messages. */
export const NAMED_ARCHES: readonly BuildArch[] = [...HA_ARCHES, ...OPT_IN_ARCHES];

export interface OciPlatform {
  os: 'linux';
  architecture: string;
  variant?: string;
}

export type Libc = 'glibc' | 'musl';

/**
 * How an arch's image is built (the Nix library's `strategy`):
 * - cached: the target system's own package set, whose packages the public binary cache serves;
 *   native addons compiled on the build machine (its compiler for its own system, clang and the target's
 *   glibc and libstdc++ from the cache for the other one). Nothing of nixpkgs is compiled.
 * - native: everything built on a machine of the target system (a native CI runner, a remote builder,
 *   binfmt); from the cache too where the system is in it.
 * - cross: the build machine compiles for the target (nixpkgs crossSystem): a cross toolchain and
 *   Node.js are compiled on the first build.
 */
export type Strategy = 'cached' | 'native' | 'cross';

export interface StrategyInfo {
  /** The libc images get when none is asked. */
  libc: Libc;
  /** What a first build on a fresh machine costs, for `addonix build` and the README. */
  firstBuild: string;
}

export const STRATEGIES: Readonly<Record<Strategy, StrategyInfo>> = {
  cached: {
    libc: 'glibc',
    firstBuild: 'minutes: Node.js, the libc and the compilers come from the binary cache; only the app, its node_modules and native addons are built',
  },
  native: {
    libc: 'glibc',
    firstBuild: 'minutes on a machine of the target system (everything from the binary cache where the system is in it)',
  },
  cross: {
    libc: 'musl',
    firstBuild: 'hours: a cross GCC, binutils, the C library, about fifteen target libraries, the target\'s Python and Node.js are compiled for the target, 3-6 h on 2 cores (an estimate; Node\'s test suite is not run); a binary cache makes later builds minutes',
  },
};

export interface ArchInfo {
  arch: BuildArch;
  /** supported: current; deprecated: accepted with a warning since Supervisor 2026.03; none: HA refuses it. */
  supervisor: 'supported' | 'deprecated' | 'none';
  platform: OciPlatform;
  /** `docker --platform` form, e.g. linux/arm/v7. */
  dockerPlatform: string;
  /** The Nix system that runs natively on this arch. */
  nixSystem: string;
  /** Cross target (nixpkgs `crossSystem.config`) for musl userlands, the default. */
  muslTarget: string;
  /** Cross target for glibc userlands. */
  glibcTarget: string;
  /** Go's GOARCH, which is what dockerTools' `architecture` parameter takes. */
  goarch: string;
  /** npm's `cpu` name (Node's process.arch). */
  npmCpu: string;
  /** The strategy images of this arch are built with when none is asked. */
  defaultStrategy: Strategy;
  /** Whether the public binary cache serves the native package set of nixSystem (glibc). */
  inBinaryCache: boolean;
  /** Whether nixpkgs can bootstrap a native musl package set for nixSystem (strategy native, libc musl). */
  nativeMusl: boolean;
}

function row(
  arch: BuildArch,
  supervisor: ArchInfo['supervisor'],
  architecture: string,
  variant: string | undefined,
  nixSystem: string,
  muslTarget: string,
  glibcTarget: string,
  npmCpu: string,
  build: { defaultStrategy: Strategy; inBinaryCache: boolean; nativeMusl: boolean },
): ArchInfo {
  const platform: OciPlatform = variant ? { os: 'linux', architecture, variant } : { os: 'linux', architecture };
  return {
    arch,
    supervisor,
    platform,
    dockerPlatform: ['linux', architecture, variant].filter(Boolean).join('/'),
    nixSystem,
    muslTarget,
    glibcTarget,
    goarch: architecture,
    npmCpu,
    ...build,
  };
}

export const ARCH_TABLE: Readonly<Record<BuildArch, ArchInfo>> = {
  amd64: row('amd64', 'supported', 'amd64', undefined, 'x86_64-linux', 'x86_64-unknown-linux-musl', 'x86_64-unknown-linux-gnu', 'x64', { defaultStrategy: 'cached', inBinaryCache: true, nativeMusl: true }),
  aarch64: row('aarch64', 'supported', 'arm64', 'v8', 'aarch64-linux', 'aarch64-unknown-linux-musl', 'aarch64-unknown-linux-gnu', 'arm64', { defaultStrategy: 'cached', inBinaryCache: true, nativeMusl: true }),
  armv7: row('armv7', 'deprecated', 'arm', 'v7', 'armv7l-linux', 'armv7l-unknown-linux-musleabihf', 'armv7l-unknown-linux-gnueabihf', 'arm', { defaultStrategy: 'cross', inBinaryCache: false, nativeMusl: true }),
  armhf: row('armhf', 'deprecated', 'arm', 'v6', 'armv6l-linux', 'armv6l-unknown-linux-musleabihf', 'armv6l-unknown-linux-gnueabihf', 'arm', { defaultStrategy: 'cross', inBinaryCache: false, nativeMusl: true }),
  i386: row('i386', 'deprecated', '386', undefined, 'i686-linux', 'i686-unknown-linux-musl', 'i686-unknown-linux-gnu', 'ia32', { defaultStrategy: 'cross', inBinaryCache: false, nativeMusl: false }),
  riscv64: row('riscv64', 'none', 'riscv64', undefined, 'riscv64-linux', 'riscv64-unknown-linux-musl', 'riscv64-unknown-linux-gnu', 'riscv64', { defaultStrategy: 'cross', inBinaryCache: false, nativeMusl: false }),
};

export function isHaArch(value: unknown): value is HaArch {
  return typeof value === 'string' && (HA_ARCHES as readonly string[]).includes(value);
}

export function archInfo(arch: BuildArch): ArchInfo {
  return ARCH_TABLE[arch];
}

/** The libc an arch's image gets by default: its default strategy's. */
export function defaultLibc(arch: BuildArch): Libc {
  return STRATEGIES[ARCH_TABLE[arch].defaultStrategy].libc;
}

/**
 * The Home Assistant arch another naming means, for a "did you mean": Docker's and Go's (arm64,
 * arm/v7, 386), Nix's and uname's (x86_64, armv7l, i686), npm's (x64, ia32). config.yaml and addonix
 * take Home Assistant's names only. The table's order decides the ambiguous `arm` (armv7, which is
 * what Docker's linux/arm means without a variant).
 */
export function archForOtherName(name: string): BuildArch | null {
  const wanted = name.trim().toLowerCase().replace(/^linux\//, '');
  for (const info of Object.values(ARCH_TABLE)) {
    const names = [info.dockerPlatform.replace(/^linux\//, ''), info.platform.architecture, info.nixSystem.replace(/-linux$/, ''), info.npmCpu];
    if (info.arch === 'amd64') names.push('x86-64');
    if (info.arch === 'i386') names.push('x86');
    if (wanted !== info.arch && names.includes(wanted)) return info.arch;
  }
  return null;
}
