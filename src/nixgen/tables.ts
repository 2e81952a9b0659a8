/**
 * The Nix library's copies of addonix's tables, written from the TypeScript ones so that the two cannot
 * drift: nix/arches.nix (the arch table) and nix/strategies.nix (what each build strategy gives by
 * default). `npm run generate:nix-tables` writes them; a test checks they are current.
 */
import { ARCH_TABLE, STRATEGIES } from '../addon/arch.js';
import { generatedNixFile, type NixValue } from './nix.js';

export const TABLES_COMMAND = 'npm run generate:nix-tables';

/** nix/arches.nix: one row per arch with the names other tools use and how its images are built by default. */
export function archTableFile(): string {
  const rows: Record<string, NixValue> = {};
  for (const info of Object.values(ARCH_TABLE)) {
    rows[info.arch] = {
      nixSystem: info.nixSystem,
      muslTarget: info.muslTarget,
      glibcTarget: info.glibcTarget,
      goarch: info.goarch,
      variant: info.platform.variant ?? null,
      npmCpu: info.npmCpu,
      supervisor: info.supervisor,
      defaultStrategy: info.defaultStrategy,
      inBinaryCache: info.inBinaryCache,
      nativeMusl: info.nativeMusl,
    };
  }
  return generatedNixFile(rows, "The arch table (src/addon/arch.ts): every Home Assistant arch and the opt-in riscv64.", TABLES_COMMAND);
}

/** nix/strategies.nix: per build strategy, the libc images get by default and what a first build costs. */
export function strategyTableFile(): string {
  const rows: Record<string, NixValue> = {};
  for (const [name, info] of Object.entries(STRATEGIES)) rows[name] = { libc: info.libc, firstBuild: info.firstBuild };
  return generatedNixFile(rows, 'The build strategies (src/addon/arch.ts): the libc each gives by default, what a first build costs.', TABLES_COMMAND);
}

/** Every table file, by its path relative to the repository. */
export function nixTableFiles(): Record<string, string> {
  return { 'nix/arches.nix': archTableFile(), 'nix/strategies.nix': strategyTableFile() };
}
