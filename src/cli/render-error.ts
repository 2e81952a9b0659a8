/**
 * The one place a command's failure is shown: as `addonix: error: MESSAGE [code]` (with its hint) on
 * stderr, or, when the command was asked for --json, as `{ "error": { code, message, file, line, hint,
 * exit } }` on stdout so that a program gets something to parse. File-system refusals of the machine
 * (a full disk, an unwritable folder, a read-only file system) are user errors wherever they come from;
 * anything else is a bug, shown with its stack trace (code `internal`).
 */
import { UserError, UsageError, type ErrorJson } from '../util/errors.js';
import { fileSystemUserError, type FileSystemErrorContext } from '../util/fs-errors.js';

/** The failure as the user error it is, or an `internal` one for a bug. */
export function asUserError(error: unknown, context: FileSystemErrorContext = {}): { error: UserError; bug: string | null } {
  if (error instanceof UserError) return { error, bug: null };
  const mapped = fileSystemUserError(error, context);
  if (mapped) return { error: mapped, bug: null };
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return { error: new UserError('internal', 'internal error (this is a bug in addonix, please report it)'), bug: stack };
}

/**
 * Writes the failure and returns the exit status: the code's, or `failureExit` for a command that has
 * one status for every failure (diff's 2; an interruption keeps its 130). `verbose`: a tool's trace
 * (Nix's evaluation trace) follows the message; without it, a line says how to see it.
 */
export function renderError(
  failure: unknown,
  json: boolean,
  context: FileSystemErrorContext = {},
  { verbose = false, failureExit }: { verbose?: boolean; failureExit?: number | undefined } = {},
): number {
  const { error, bug } = asUserError(failure, context);
  const exit = failureExit !== undefined && error.code !== 'interrupted' ? failureExit : error.exitCode;
  if (json) {
    const body: { error: Omit<ErrorJson, 'exit'> & { exit: number; stack?: string } } = { error: { ...error.toJSON(), exit } };
    if (bug) body.error.stack = bug;
    process.stdout.write(JSON.stringify(body, null, 2) + '\n');
  } else if (error instanceof UsageError || error.code === 'interrupted') {
    // Usage: the message and where the command's help is; interrupted: what was left as it was.
    process.stderr.write(`addonix: ${error.message}\n`);
  } else {
    // The message names the file it is about; the JSON form has it as a field of its own.
    const hint = error.hint ? `\nhint: ${error.hint}` : '';
    process.stderr.write(`addonix: error: ${error.message} [${error.code}]${hint}${traceText(error.trace, verbose)}${bug ? `\n${bug}` : ''}\n`);
  }
  return exit;
}

/** A trace after the message: in full with --verbose, else a line saying it is there. */
export function traceText(trace: readonly string[], verbose: boolean): string {
  if (trace.length === 0) return '';
  if (!verbose) return `\n(Nix printed a trace of ${trace.length} lines; --verbose shows it)`;
  return `\ntrace (as Nix printed it, outermost first):\n${trace.map((line) => `  ${line}`).join('\n')}`;
}
