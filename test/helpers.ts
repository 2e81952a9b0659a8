/** Shared test helpers: the CLI as a user runs it, temporary add-on folders, the shared corpus. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

/** The repository root (tests run from dist/test/). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(REPO, 'bin', 'addonix.js');
export const CORPUS = path.resolve(REPO, '..', 'shared', 'corpus');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? REPO,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A temporary folder holding the given files (paths relative to it); removed after the test. */
export function tempTree(t: TestContext, files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'addonix-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return dir;
}

/**
 * The shared corpus, or undefined after marking the test skipped. It is beside the repository in CI
 * and on the project's machines, but not in a user's clone; under CI=true its absence is a failure.
 */
export function corpus(t: TestContext, sub: string): string | undefined {
  const dir = path.join(CORPUS, sub);
  if (existsSync(dir)) return dir;
  if (process.env['CI'] === 'true') throw new Error(`the shared corpus is missing at ${dir} (CI needs ../shared beside the clone)`);
  t.skip(`the shared corpus is not here (${dir}); it is only beside the project's own clones`);
  return undefined;
}

/** Whether output looks like a JavaScript stack trace. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+(\(|:\d+:\d+)/m.test(text);
}

/** A valid minimal config, to build variants from. */
export const MINIMAL_CONFIG = `name: Test add-on
version: "1.0.0"
slug: test_addon
description: An add-on for tests
arch:
  - aarch64
  - amd64
`;

/**
 * Whether a system tool is on PATH. Where it is missing the test is skipped with a message, except
 * under CI=true, where .ci/run installs every tool the suite needs: there a missing tool is a failure.
 */
export function requireTool(t: TestContext, tool: string, why: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).status === 0;
  if (found) return true;
  if (process.env['CI'] === 'true') throw new Error(`${tool} is missing (${why}); scripts/test-all installs it`);
  t.skip(`${tool} is not installed here (${why}); scripts/test-all installs it`);
  return false;
}

/** A small seeded pseudo-random generator (mulberry32), so property tests are reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
