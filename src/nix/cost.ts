/**
 * What building an image costs before it is built: how the Nix library builds it (its `addonix`
 * attribute: strategy, libc, first-build note, the native addons compiled) and what Nix's own dry run
 * says it will build and fetch. Derivations that are expensive to compile (Node.js, a C toolchain, LLVM)
 * are named, since they mean hours where everything else is minutes.
 */
import { derivationName } from './log.js';

/** The `addonix` attribute of an image derivation (nix/lib.nix, mkAddonImages' plans). */
export interface ImagePlan {
  arch: string;
  strategy: string;
  libc: string;
  target: string;
  nixSystem: string;
  /** Whether Node.js and the libc come from the public binary cache. */
  fromCache: boolean;
  firstBuild: string;
  /** Native addons compiled for the image, e.g. better-sqlite3@13.2.0. */
  compiles: string[];
}

export function isImagePlan(value: unknown): value is ImagePlan {
  const plan = value as Partial<ImagePlan> | null;
  return !!plan && typeof plan.arch === 'string' && typeof plan.strategy === 'string' && typeof plan.libc === 'string' && Array.isArray(plan.compiles);
}

/** What Nix's dry run says of one image (alone: what building it on this machine needs). */
export interface DryRun {
  /** Derivations to build (.drv paths). */
  willBuild: string[];
  /** Store paths to fetch. */
  willFetch: string[];
  /** Nix's download and unpacked sizes of what it fetches, when it said them. */
  downloadBytes: number | null;
  unpackedBytes: number | null;
}

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

/** "(65.32 MiB download, 310.20 MiB unpacked)" from Nix's "these N paths will be fetched" notice. */
export function fetchSizes(notice: string): { downloadBytes: number | null; unpackedBytes: number | null } {
  const size = (what: string) => {
    const match = new RegExp(`([\\d.]+) (B|KiB|MiB|GiB|TiB) ${what}`).exec(notice);
    return match ? Math.round(Number(match[1]) * UNITS[match[2]!]!) : null;
  };
  return { downloadBytes: size('download'), unpackedBytes: size('unpacked') };
}

/** Kinds of derivations whose compile takes long, by name. */
const EXPENSIVE: readonly { what: string; pattern: RegExp }[] = [
  { what: 'Node.js', pattern: /^nodejs(-slim)?-\d/ },
  { what: 'a C/C++ toolchain', pattern: /^(gcc|binutils|glibc|musl|linux-headers)-\d|-(gcc|binutils)-\d|^(gcc|binutils)-wrapper|^cc-wrapper/ },
  { what: 'LLVM', pattern: /^(llvm|clang|lld|compiler-rt)-\d/ },
  { what: 'QEMU', pattern: /^qemu-\d/ },
  { what: 'Python', pattern: /^python3-\d/ },
];

/** The expensive compiles among derivations to build, grouped: "Node.js (nodejs-slim-22.23.3)". */
export function expensiveBuilds(drvs: readonly string[]): { what: string; names: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const drv of drvs) {
    const name = derivationName(drv);
    const kind = EXPENSIVE.find((k) => k.pattern.test(name));
    if (kind) groups.set(kind.what, [...(groups.get(kind.what) ?? []), name]);
  }
  return [...groups].map(([what, names]) => ({ what, names: names.sort() }));
}

/** One line: "strategy cached, glibc; Node.js from the binary cache; compiles better-sqlite3@13.2.0". */
export function describePlan(plan: ImagePlan): string {
  const parts = [`strategy ${plan.strategy}, ${plan.libc}`, plan.fromCache ? `Node.js and ${plan.libc} from the binary cache (${plan.nixSystem})` : `Node.js and ${plan.libc} compiled for ${plan.target}`];
  if (plan.compiles.length > 0) parts.push(`compiles ${plan.compiles.join(', ')}`);
  return parts.join('; ');
}
