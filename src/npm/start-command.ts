/**
 * The command an add-on's image runs, from its package.json as npm would start it: the start script,
 * else `node <main>`. A start script that is a plain `node ...` command runs without a shell; anything
 * else (pipes, variables, other programs) runs through /bin/sh -c. Decided once here, written into the
 * generated data, so that the Nix library does not parse package.json.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface StartCommand {
  /** argv of the container's entrypoint, or null when package.json names none. */
  command: string[] | null;
  /** Why there is no command (for the build's error), or null. */
  problem: string | null;
  /** Where the command comes from, e.g. `package.json scripts.start`. */
  source: string | null;
}

const SHELL_SYNTAX = /[;&|<>$`"'\\*?~(){}[\]#=]/;

export function startCommandOf(packageJson: unknown): StartCommand {
  const pkg = (packageJson && typeof packageJson === 'object' ? packageJson : {}) as Record<string, unknown>;
  const scripts = (pkg['scripts'] && typeof pkg['scripts'] === 'object' ? pkg['scripts'] : {}) as Record<string, unknown>;
  const start = typeof scripts['start'] === 'string' ? scripts['start'].trim() : '';
  if (start !== '') {
    const words = start.split(/[ \t]+/);
    if (words[0] === 'node' && !SHELL_SYNTAX.test(start)) return { command: ['/bin/node', ...words.slice(1)], problem: null, source: 'package.json scripts.start' };
    return { command: ['/bin/sh', '-c', start], problem: null, source: 'package.json scripts.start (through /bin/sh)' };
  }
  if (typeof pkg['main'] === 'string' && pkg['main'] !== '') return { command: ['/bin/node', pkg['main']], problem: null, source: 'package.json main' };
  return { command: null, problem: 'its package.json has neither a start script nor main', source: null };
}

/** The start command of the app in `appDir` (null dir: an add-on without a Node.js app). */
export async function startCommand(appDir: string | null): Promise<StartCommand> {
  if (appDir === null) {
    return { command: null, problem: 'it has no Node.js app (no package.json): addonix builds the image of a Node.js app; for anything else give run and extraContents', source: null };
  }
  const text = await fs.readFile(path.join(appDir, 'package.json'), 'utf8').catch(() => null);
  if (text === null) return { command: null, problem: 'its app folder has no package.json', source: null };
  try {
    return startCommandOf(JSON.parse(text));
  } catch {
    return { command: null, problem: 'its package.json is not valid JSON', source: null };
  }
}
