/** Shared test helpers: the CLI as a user runs it, temporary add-on folders, the shared corpus. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

/** The repository root (tests run from dist/test/). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(REPO, 'bin', 'addonix.js');
/**
 * The shared material (real add-on corpus, lockfiles, OCI schemas): ADDONIX_SHARED when set, else
 * ../shared beside the clone. Said once per test process, so a run shows which it used.
 */
export const SHARED = process.env['ADDONIX_SHARED'] ? path.resolve(process.env['ADDONIX_SHARED']) : path.resolve(REPO, '..', 'shared');
export const CORPUS = path.join(SHARED, 'corpus');
let sharedSaid = false;
function sayShared(): void {
  if (sharedSaid) return;
  sharedSaid = true;
  process.stderr.write(`# shared material: ${SHARED} (${process.env['ADDONIX_SHARED'] ? 'ADDONIX_SHARED' : 'beside the clone'}${existsSync(SHARED) ? '' : ', absent'})\n`);
}

export interface CliResult {
  status: number | null;
  /** The signal that ended the CLI, when one did (then status is null). */
  signal?: NodeJS.Signals | null;
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
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
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

/** A folder of the shared material (ADDONIX_SHARED or ../shared), or undefined after marking the test skipped. */
export function shared(t: TestContext, sub: string): string | undefined {
  sayShared();
  const dir = path.join(SHARED, sub);
  if (existsSync(dir)) return dir;
  if (process.env['CI'] === 'true') throw new Error(`the shared material is missing at ${dir} (CI needs ../shared beside the clone, or ADDONIX_SHARED)`);
  t.skip(`the shared material is not here (${dir}); it is beside the project's own clones, or set ADDONIX_SHARED to its folder`);
  return undefined;
}

/**
 * The shared corpus, or undefined after marking the test skipped. It is beside the repository in CI
 * and on the project's machines, but not in a user's clone; under CI=true its absence is a failure.
 */
export function corpus(t: TestContext, sub: string): string | undefined {
  sayShared();
  const dir = path.join(CORPUS, sub);
  if (existsSync(dir)) return dir;
  if (process.env['CI'] === 'true') throw new Error(`the shared corpus is missing at ${dir} (CI needs ../shared beside the clone, or ADDONIX_SHARED)`);
  t.skip(`the shared corpus is not here (${dir}); it is beside the project's own clones, or set ADDONIX_SHARED to its folder`);
  return undefined;
}

/** Whether output looks like a JavaScript stack trace. */
export function hasStackTrace(text: string): boolean {
  // A frame ends with `(FILE:LINE:COL)` or `FILE:LINE:COL`; Nix's trace frames end with a colon after the column.
  return /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$/m.test(text);
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

/** Whether a program is on PATH. */
/**
 * The newest LLVM this machine has (Debian 12: 14, Debian 13: 19), the suffix of its programs
 * (clang-19), as the nixpkgs stand-in finds it; null without one.
 */
export function hostLlvm(): string | null {
  const versions = (existsSync('/usr/lib') ? readdirSync('/usr/lib') : [])
    .filter((name) => /^llvm-\d+$/.test(name) && existsSync(`/usr/lib/${name}/bin/clang`))
    .map((name) => Number(name.slice('llvm-'.length)));
  return versions.length > 0 ? String(Math.max(...versions)) : null;
}

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
}

/**
 * Whether the system tools a test needs are installed; otherwise marks the test skipped and says which
 * (scripts/test-all installs them). Under CI=true a missing tool is a failure, not a skip.
 */
export function needTools(t: TestContext, ...tools: string[]): boolean {
  const missing = tools.filter((tool) => !hasTool(tool));
  if (missing.length === 0) return true;
  const message = `needs ${missing.join(', ')} (scripts/test-all installs ${missing.length === 1 ? 'it' : 'them'} with apt-get)`;
  if (process.env['CI'] === 'true') throw new Error(`${message}; under CI=true a missing tool is a failure`);
  t.skip(message);
  return false;
}

/** The CLI as a user runs it, asynchronously (for tests whose servers run in this process), with stdin. */
export function runCliAsync(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...process.env, NO_COLOR: '1', ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdin.end(options.input ?? '');
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/** The error object a command printed on stdout under --json (`{ "error": {...} }`, one JSON document); fails the test otherwise. */
export function jsonError(stdout: string, what: string): { code: string; message: string; file?: string; line?: number; exit: number } {
  let body: { error?: { code: string; message: string; file?: string; line?: number; exit: number } };
  try {
    body = JSON.parse(stdout) as typeof body;
  } catch {
    throw new Error(`${what}: stdout is not one JSON document: ${stdout}`);
  }
  if (!body.error) throw new Error(`${what}: no error object in ${stdout}`);
  return body.error;
}

/**
 * Podman with storage of its own (overlay, in a folder of the test's) and the runc runtime with no
 * default ulimits, which this machine's hybrid cgroups need to run containers (crun refuses them).
 */
export function podmanEnv(dir: string): Record<string, string> {
  writeFileSync(path.join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`);
  writeFileSync(path.join(dir, 'containers.conf'), '[containers]\ndefault_ulimits = []\n[engine]\nevents_logger = "none"\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n');
  return { CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf'), CONTAINERS_CONF: path.join(dir, 'containers.conf') };
}
