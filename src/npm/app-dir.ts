/**
 * Where an add-on's Node.js app (package.json and package-lock.json) lives: the add-on folder itself,
 * or the one folder below it that has a lockfile, or the folder given with --app.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { NpmProjectError } from './lockfile.js';

const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json'];
/** Lockfiles of the other package managers, which addonix does not read (yet), and whose they are. */
const FOREIGN_LOCKFILES: Record<string, string> = { 'pnpm-lock.yaml': 'pnpm', 'yarn.lock': 'Yarn', 'bun.lock': 'Bun', 'bun.lockb': 'Bun' };

async function has(dir: string, name: string): Promise<boolean> {
  return fs.stat(path.join(dir, name)).then((s) => s.isFile(), () => false);
}

async function lockfileFolders(dir: string, depth: number, out: string[], names: readonly string[] = LOCKFILES): Promise<void> {
  for (const name of names) {
    if (await has(dir, name)) {
      out.push(dir);
      break;
    }
  }
  if (depth === 0) return;
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') {
      await lockfileFolders(path.join(dir, entry.name), depth - 1, out, names);
    }
  }
}

/** The app folder, or null when the add-on has no Node.js app. */
export async function findAppDir(addonDir: string, given?: string, display: (file: string) => string = (f) => f): Promise<string | null> {
  if (given !== undefined) {
    const dir = path.resolve(addonDir, given);
    if (!(await fs.stat(dir).then((s) => s.isDirectory(), () => false))) {
      throw new NpmProjectError(`--app ${given}: no such folder in ${display(addonDir)}`);
    }
    return dir;
  }
  if ((await has(addonDir, 'package.json')) || (await Promise.all(LOCKFILES.map((n) => has(addonDir, n)))).some(Boolean)) return addonDir;
  const found: string[] = [];
  await lockfileFolders(addonDir, 3, found);
  if (found.length > 1) {
    throw new NpmProjectError(
      `${display(addonDir)} holds several npm projects (${found.map((dir) => path.relative(addonDir, dir)).join(', ')}); choose one with --app FOLDER`,
    );
  }
  if (found.length === 0) {
    // No npm project: say so precisely when the app is there with another package manager's lockfile.
    const foreign: string[] = [];
    await lockfileFolders(addonDir, 3, foreign, Object.keys(FOREIGN_LOCKFILES));
    for (const dir of foreign) {
      const name = Object.keys(FOREIGN_LOCKFILES).find((file) => existsSync(path.join(dir, file)))!;
      const folder = path.relative(addonDir, dir) || '.';
      throw new NpmProjectError(
        `${display(path.join(dir, name))}: a ${FOREIGN_LOCKFILES[name]} lockfile; addonix reads npm's package-lock.json (lockfile version 2 or 3) only, ${FOREIGN_LOCKFILES[name]} lockfiles are not supported yet. ` +
          `To build with addonix, write one with npm: cd ${display(dir)} && npm install --package-lock-only (then addonix generate${folder === '.' ? '' : ` --app ${folder}`})`,
      );
    }
  }
  return found[0] ?? null;
}
