/**
 * Staging what init writes: in a git repository, Nix reads a flake from the files git tracks (git+file),
 * so an untracked flake.nix or generated data is invisible to the first build. Staging them with
 * `git add` (no commit) is what makes `init` lead straight to a build.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { UserError } from '../util/errors.js';

export interface Staged {
  /** The repository's top folder. */
  root: string;
  /** The files staged, relative to the top folder. */
  files: string[];
}

/** The git work tree `dir` is in, or null (not a repository, or no git on this machine). */
export function gitWorkTree(dir: string): string | null {
  const result = spawnSync('git', ['-C', dir, 'rev-parse', '--show-toplevel'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : null;
}

/** `git add` of the files when `dir` is in a git work tree; null outside one. Throws with git's message when git refuses. */
export function stageInGit(dir: string, files: readonly string[]): Staged | null {
  const root = gitWorkTree(dir);
  if (root === null) return null;
  const relative = files.map((file) => path.relative(root, path.resolve(file)));
  const result = spawnSync('git', ['-C', root, 'add', '--', ...relative], { encoding: 'utf8' });
  if (result.status !== 0) throw new UserError('git-failed', `git add of what init wrote failed in ${root}: ${result.stderr.trim()}; add flake.nix and nix/ yourself`);
  return { root, files: relative };
}
