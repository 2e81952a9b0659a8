/**
 * `addonix validate` run in this process: the arguments read as the CLI reads them (quickValidateArgs),
 * the command's own handler (runValidate) run in the given folder, its stdout and exit status captured.
 * What the CLI adds around it (the process, yargs for unusual arguments, the error rendering) is tested
 * by validate-cli.test.ts.
 */
import assert from 'node:assert/strict';
import { quickValidateArgs, runValidate } from '../src/cli/commands/validate.js';

export interface InProcessResult {
  status: number;
  stdout: string;
  stderr: string;
}

// Colors off, as the CLI tests run it; what runValidate paints depends only on this and stdout not being a terminal.
process.env['NO_COLOR'] = '1';

/** One run at a time: the working folder, stdout and the exit code are the process's own. */
let queue: Promise<unknown> = Promise.resolve();

export function validateInProcess(argv: string[], options: { cwd?: string } = {}): Promise<InProcessResult> {
  const run = queue.then(() => runOnce(argv, options.cwd));
  queue = run.catch(() => undefined);
  return run;
}

async function runOnce(argv: string[], cwd: string | undefined): Promise<InProcessResult> {
  const args = quickValidateArgs(argv);
  assert.ok(args, `quickValidateArgs reads ${JSON.stringify(argv)}`);
  const before = process.cwd();
  const exitCode = process.exitCode;
  const out = capture(process.stdout);
  const err = capture(process.stderr);
  let status: number;
  try {
    if (cwd) process.chdir(cwd);
    process.exitCode = undefined;
    await runValidate(args);
    status = typeof process.exitCode === 'number' ? process.exitCode : 0;
  } finally {
    out.restore();
    err.restore();
    process.chdir(before);
    process.exitCode = exitCode;
  }
  return { status, stdout: out.text(), stderr: err.text() };
}

/** Takes the text written to a stream; anything else (the test runner's own reports are bytes) goes through. */
function capture(stream: NodeJS.WriteStream): { text(): string; restore(): void } {
  const write = stream.write;
  let text = '';
  stream.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    if (typeof chunk === 'string') {
      text += chunk;
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof stream.write;
  return { text: () => text, restore: () => void (stream.write = write) };
}
