/**
 * The architecture table: one row per Home Assistant arch with every name other tools use for it.
 *
 * Sources: Supervisor const.py (arch names, deprecation since 2026.03) and docker/interface.py
 * (MAP_ARCH); nixpkgs lib/systems/examples.nix (cross targets); the OCI image-spec (GOARCH and
 * variants); npm's process.arch names (cpu field of package.json).
 */

export const HA_ARCHES = ['aarch64', 'amd64', 'armhf', 'armv7', 'i386'] as const;
/** Arches Home Assistant does not run, built only on explicit request. */
export const OPT_IN_ARCHES = ['riscv64'] as const;

export type HaArch = (typeof HA_ARCHES)[number];
export type BuildArch = HaArch | (typeof OPT_IN_ARCHES)[number];

export interface OciPlatform {
  os: 'linux';
  architecture: string;
  variant?: string;
}

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
  };
}

export const ARCH_TABLE: Readonly<Record<BuildArch, ArchInfo>> = {
  amd64: row('amd64', 'supported', 'amd64', undefined, 'x86_64-linux', 'x86_64-unknown-linux-musl', 'x86_64-unknown-linux-gnu', 'x64'),
  aarch64: row('aarch64', 'supported', 'arm64', 'v8', 'aarch64-linux', 'aarch64-unknown-linux-musl', 'aarch64-unknown-linux-gnu', 'arm64'),
  armv7: row('armv7', 'deprecated', 'arm', 'v7', 'armv7l-linux', 'armv7l-unknown-linux-musleabihf', 'armv7l-unknown-linux-gnueabihf', 'arm'),
  armhf: row('armhf', 'deprecated', 'arm', 'v6', 'armv6l-linux', 'armv6l-unknown-linux-musleabihf', 'armv6l-unknown-linux-gnueabihf', 'arm'),
  i386: row('i386', 'deprecated', '386', undefined, 'i686-linux', 'i686-unknown-linux-musl', 'i686-unknown-linux-gnu', 'ia32'),
  riscv64: row('riscv64', 'none', 'riscv64', undefined, 'riscv64-linux', 'riscv64-unknown-linux-musl', 'riscv64-unknown-linux-gnu', 'riscv64'),
};

export function isHaArch(value: unknown): value is HaArch {
  return typeof value === 'string' && (HA_ARCHES as readonly string[]).includes(value);
}

export function archInfo(arch: BuildArch): ArchInfo {
  return ARCH_TABLE[arch];
}
