/**
 * A build target for npm dependencies: an arch and a libc. npm's own names for it (os, cpu, libc) are
 * what package.json `os`/`cpu`/`libc` fields are matched against.
 */
import { ARCH_TABLE, NAMED_ARCHES, archForOtherName, defaultLibc, type BuildArch, type Libc } from '../addon/arch.js';
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


/**
 * `aarch64-musl`, or an arch alone for its default libc (glibc where the binary cache serves the arch,
 * musl elsewhere: the libc its images get by default). Another tool's name for an arch (arm64,
 * x86_64) is refused with the Home Assistant name it means.
 */
export function parseTarget(text: string): Target {
  const dash = text.lastIndexOf('-');
  const libcPart = dash < 0 ? '' : text.slice(dash + 1);
  const hasLibc = (LIBCS as readonly string[]).includes(libcPart);
  const archPart = hasLibc ? text.slice(0, dash) : text;
  if (NAMED_ARCHES.includes(archPart as BuildArch)) {
    const arch = archPart as BuildArch;
    return { arch, libc: hasLibc ? (libcPart as Libc) : defaultLibc(arch) };
  }
  const meant = archForOtherName(archPart);
  const suggestion = meant ? ` Did you mean ${hasLibc ? `${meant}-${libcPart}` : meant}?` : '';
  throw new UsageError(
    `--target ${text}: not a target. Targets are <arch>[-<libc>] with arch one of ${NAMED_ARCHES.join(', ')} and libc musl or glibc ` +
      `(an arch alone takes its default libc), e.g. aarch64-musl.${suggestion}`,
  );
}

/** npm's platform names for a target (process.platform, process.arch, and npm's libc names). */
export function npmPlatform(target: Target): { os: string; cpu: string; libc: string } {
  return { os: 'linux', cpu: ARCH_TABLE[target.arch].npmCpu, libc: target.libc };
}
