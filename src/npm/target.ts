/**
 * A build target for npm dependencies: an arch and a libc. npm's own names for it (os, cpu, libc) are
 * what package.json `os`/`cpu`/`libc` fields are matched against.
 */
import { ARCH_TABLE, HA_ARCHES, OPT_IN_ARCHES, type BuildArch, type Libc } from '../addon/arch.js';
import { UsageError } from '../util/errors.js';

export type { Libc };
export const LIBCS: readonly Libc[] = ['musl', 'glibc'];

export interface Target {
  arch: BuildArch;
  libc: Libc;
}

/** `aarch64-musl`, as the CLI and the generated data name targets. */
export function targetName(target: Target): string {
  return `${target.arch}-${target.libc}`;
}

const ALL_ARCHES: readonly BuildArch[] = [...HA_ARCHES, ...OPT_IN_ARCHES];

export function parseTarget(text: string): Target {
  const dash = text.lastIndexOf('-');
  const arch = text.slice(0, dash) as BuildArch;
  const libc = text.slice(dash + 1) as Libc;
  if (dash < 0 || !ALL_ARCHES.includes(arch) || !LIBCS.includes(libc)) {
    throw new UsageError(
      `unknown target '${text}': targets are <arch>-<libc> with arch one of ${ALL_ARCHES.join(', ')} and libc musl or glibc, e.g. aarch64-musl`,
    );
  }
  return { arch, libc };
}

/** npm's platform names for a target (process.platform, process.arch, and npm's libc names). */
export function npmPlatform(target: Target): { os: string; cpu: string; libc: string } {
  return { os: 'linux', cpu: ARCH_TABLE[target.arch].npmCpu, libc: target.libc };
}
