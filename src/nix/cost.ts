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
  /** Derivations to build for a system this machine cannot build. */
  foreign: ForeignBuild[];
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

/**
 * The `system` of a derivation, from its .drv file: Nix's ATerm, `Derive([outputs],[input derivations],
 * [input sources],"system","builder",[args],[env])`, the same from Nix 2.8 to 2.26 (the format has not
 * changed since Nix 1). Strings are quoted with `\` escapes.
 */
export function derivationSystem(aterm: string): string {
  let at = aterm.indexOf('(');
  if (!aterm.startsWith('Derive(') || at < 0) throw new Error('not a derivation (no Derive( at the start)');
  at++;
  const skip = (): void => {
    const c = aterm[at];
    if (c === '"') {
      at++;
      while (at < aterm.length && aterm[at] !== '"') at += aterm[at] === '\\' ? 2 : 1;
      at++;
    } else if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      at++;
      while (at < aterm.length && aterm[at] !== close) {
        skip();
        if (aterm[at] === ',') at++;
      }
      at++;
    } else {
      throw new Error(`unexpected ${JSON.stringify(c)} at ${at}`);
    }
  };
  for (let field = 0; field < 3; field++) {
    skip();
    if (aterm[at] !== ',') throw new Error(`expected ',' at ${at}`);
    at++;
  }
  if (aterm[at] !== '"') throw new Error(`expected the system string at ${at}`);
  const start = at;
  skip();
  return JSON.parse(aterm.slice(start, at).replace(/\\(?!["\\nrt])/g, '')) as string;
}

/**
 * The systems this machine builds: its own, `extra-platforms`, and those of its remote builders (Nix's
 * machine lines: `URI SYSTEMS ...`, SYSTEMS comma-separated, `-` or absent for the local system; several
 * lines separated by newlines or `;`). `builderLines` are the lines after `@file` references were read.
 */
export function buildableSystems(system: string, extraPlatforms: unknown, builderLines: string): Set<string> {
  const systems = new Set([system]);
  const extra = Array.isArray(extraPlatforms) ? extraPlatforms : typeof extraPlatforms === 'string' ? extraPlatforms.split(/\s+/) : [];
  for (const platform of extra) if (typeof platform === 'string' && platform) systems.add(platform);
  for (const line of builderLines.split(/[\n;]/)) {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (fields.length === 0) continue;
    const listed = fields[1];
    for (const one of !listed || listed === '-' ? [system] : listed.split(',')) systems.add(one);
  }
  return systems;
}

/** A derivation to build for a system this machine cannot build. */
export interface ForeignBuild {
  /** Its name, e.g. jq-1.8.2. */
  name: string;
  drv: string;
  system: string;
}

/** The derivations among `drvs` whose system is not among `buildable`, by name. */
export function foreignBuilds(drvs: Iterable<string>, systems: ReadonlyMap<string, string>, buildable: ReadonlySet<string>): ForeignBuild[] {
  const found: ForeignBuild[] = [];
  for (const drv of drvs) {
    const system = systems.get(drv);
    if (system !== undefined && system !== 'builtin' && !buildable.has(system)) found.push({ name: derivationName(drv), drv, system });
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * What to say of an image that needs derivations this machine cannot build: which, why (with the cached
 * strategy, packages of the target system that the binary cache lacks: Hydra did not build them at the
 * pinned nixpkgs revision), and what to do.
 */
export function foreignBuildAdvice(label: string, builds: readonly ForeignBuild[], machine: string, plan: ImagePlan | null): string {
  const systems = [...new Set(builds.map((b) => b.system))].sort();
  const target = systems.join(', ');
  const names = builds.map((b) => b.name).join(', ');
  const head = `${label}: ${builds.length === 1 ? 'a derivation' : `${builds.length} derivations`} for ${target} would have to be built, and this ${machine} machine cannot build for ${target} (no builder, no extra-platforms): ${names}. `;
  const elsewhere = `build ${label} on ${systems[0]} (addonix build on a runner of that system, or --builders 'ssh://HOST ${systems[0]}' from here)`;
  if (plan !== null && plan.strategy !== 'cached') {
    return head + `Strategy ${plan.strategy} builds them on a machine of the target system: ${elsewhere}.`;
  }
  return (
    head +
    `The binary cache has the ${target} packages of nixpkgs only where Hydra built them at the pinned nixpkgs revision, and it did not build ${builds.length === 1 ? 'this one' : 'these'} (a failed or unfinished Hydra job). ` +
    `Either ${elsewhere} with strategy "native" for it, or pin another nixpkgs revision whose ${target} jobs Hydra built (nix flake lock --override-input nixpkgs github:NixOS/nixpkgs/<rev>; hydra.nixos.org shows which jobs each evaluation built).`
  );
}
