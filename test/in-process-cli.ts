/**
 * The CLI run in the test's own process: main() (src/cli/main.ts) with the command line, its stdout and
 * stderr captured, the status it returns (the one bin/addonix.js exits with: src/cli/entry.ts). A CLI
 * process costs 0.2-0.5 s of CPU to start (Node.js, yargs, the command's modules); in-process, the
 * modules load once per test file. For tests about what a command does and says, not about the
 * process: exit-codes.test.ts checks with real processes that a process exits with main()'s status.
 *
 * Runs are one at a time (the environment and folder they get are the process's own, set for the run),
 * each in an async context of its own: only what the run writes is captured, not the test runner's
 * reports.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { main } from '../src/cli/main.js';
import { REPO, runCliAsync, type CliResult } from './helpers.js';

interface Capture {
  stdout: string;
  stderr: string;
}

const capture = new AsyncLocalStorage<Capture>();
let patched = false;

/** process.stdout and process.stderr write into the run's capture when called from inside a run. */
function patchStreams(): void {
  if (patched) return;
  patched = true;
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = process[name];
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: string | Uint8Array, encoding?: BufferEncoding | ((error?: Error | null) => void), callback?: (error?: Error | null) => void): boolean => {
      const into = capture.getStore();
      if (!into) return original(chunk, encoding, callback);
      into[name] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      const done = typeof encoding === 'function' ? encoding : callback;
      if (done) process.nextTick(done);
      return true;
    }) as typeof stream.write;
  }
}

let queue: Promise<unknown> = Promise.resolve();

/** The CLI's main() on `args`, with NO_COLOR and `env` set for the run, in `cwd`; resolves as runCli does. */
export function runCliInProcess(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  const run = queue.then(() => runOnce(args, { NO_COLOR: '1', ...options.env }, options.cwd ?? REPO));
  queue = run.catch(() => {});
  return run;
}

/** yargs ends the process after help and the version: those run as processes (runCliHere). */
function endsTheProcess(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h' || arg === '--version');
}

async function runOnce(args: string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  if (endsTheProcess(args)) throw new Error(`addonix ${args.join(' ')} would end the test's process (yargs exits after help): run it as a process`);
  patchStreams();
  const saved = new Map(Object.keys(env).map((key) => [key, process.env[key]]));
  const exitCode = process.exitCode;
  Object.assign(process.env, env);
  process.exitCode = undefined;
  const returnTo = process.cwd();
  process.chdir(cwd);
  const into: Capture = { stdout: '', stderr: '' };
  // Nothing of a command may end the process: that would end the test file with its remaining tests
  // unrun. Such a call fails the run instead.
  const exit = process.exit;
  process.exit = ((code?: number) => {
    throw new Error(`addonix ${args.join(' ')} called process.exit(${code ?? ''}) in the test's process`);
  }) as typeof process.exit;
  try {
    const status = await capture.run(into, () => main(args));
    return { status, signal: null, stdout: into.stdout, stderr: into.stderr };
  } finally {
    process.exit = exit;
    process.chdir(returnTo);
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    process.exitCode = exitCode;
  }
}

/**
 * In this process, or as a process where the command reads stdin (`input`: main() would read the test
 * process's own) or prints help or the version (yargs then ends the process).
 */
export function runCliHere(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  return options.input !== undefined || endsTheProcess(args) ? runCliAsync(args, options) : runCliInProcess(args, options);
}
