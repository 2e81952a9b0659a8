/**
 * The addonix command line. Each command lives in commands/ (listed in commands.ts); this file runs them
 * through yargs (yargs-cli.ts), or `validate`, `push`, `diff` and `--help` (top-help.ts) without it when
 * their arguments are the usual ones, and
 * turns failures into exit statuses (0 ok, 1 findings or failure, 2 wrong usage, 130 interrupted; the
 * table is in util/codes.ts), rendered in one place (render-error.ts).
 */
import { commandHeads, COMMANDS, FAILURE_EXIT } from './commands.js';
import { renderError } from './render-error.js';

/** Whether the command line asks for JSON: then a failure is a JSON object on stdout too. */
function wantsJson(argv: readonly string[]): boolean {
  return wantsFlag(argv, 'json');
}

/** Whether --NAME (a boolean option) is on the command line, before any `--`. */
function wantsFlag(argv: readonly string[], name: string): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((arg) => arg === `--${name}` || arg === `--${name}=true`);
}

/**
 * Runs one command line and returns its exit status (entry.ts runs it as the process). It does not end
 * the process, so the tests can run many command lines in one (test/in-process-cli.ts).
 */
export async function main(argv: string[]): Promise<number> {
  try {
    // `validate`, `push` and `diff` as they are usually run skip yargs (yargs-cli.ts), which would take
    // a sixth of a validate's time and a third of a push that has nothing to send.
    const quick = await quickCommand(argv[0]);
    const args = quick?.args(argv.slice(1));
    if (quick && args) {
      await quick.run(args);
    } else if (argv.length === 1 && argv[0] === '--version') {
      process.stdout.write(`${(await import('./version.js')).VERSION}\n`);
    } else if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h') && (await quickHelp())) {
      // Printed: the same text yargs would print (top-help.ts).
    } else {
      // No command named (help, a typo): the commands' usage lines only, none of their modules.
      const named = argv[0] !== undefined && Object.hasOwn(COMMANDS, argv[0]) ? argv[0] : undefined;
      const [commands, { runYargs }] = await Promise.all([named ? Promise.all([COMMANDS[named]!()]) : commandHeads(), import('./yargs-cli.js')]);
      await runYargs(argv, commands, Object.keys(COMMANDS), named);
    }
  } catch (error) {
    // A full disk or an unwritable folder in addonix's cache gets the cache's own advice.
    const { cacheDir, cacheAdvice } = await import('../oci/cache.js');
    const failureExit = argv[0] !== undefined && Object.hasOwn(FAILURE_EXIT, argv[0]) ? FAILURE_EXIT[argv[0]] : undefined;
    return renderError(error, wantsJson(argv), { places: [{ dir: cacheDir(), advice: cacheAdvice() }] }, { verbose: wantsFlag(argv, 'verbose'), failureExit });
  } finally {
    await stopSpareWorker?.();
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

/** Prints `addonix --help` without yargs when top-help.ts can lay it out as yargs would; whether it did. */
async function quickHelp(): Promise<boolean> {
  const { englishLocale, helpWidth, topLevelHelp } = await import('./top-help.js');
  const text = englishLocale() ? topLevelHelp(helpWidth()) : null;
  if (text === null) return false;
  process.stdout.write(`${text}\n`);
  return true;
}

/** A command that reads its usual arguments without yargs: how it reads them (null: let yargs), and how it runs. */
interface QuickCommand {
  args(argv: readonly string[]): unknown;
  run(args: unknown): Promise<void> | void;
}

/** Set when a command started a worker ahead of need: ended before the process exits (scan-pool.ts). */
let stopSpareWorker: (() => Promise<void>) | undefined;

async function quickCommand(name: string | undefined): Promise<QuickCommand | null> {
  switch (name) {
    case 'validate': {
      const module = await import('./commands/validate.js');
      return { args: module.quickValidateArgs, run: module.runValidate } as QuickCommand;
    }
    case 'push':
      return (await import('./commands/push.js')).quick as QuickCommand;
    case 'diff': {
      // Its scan worker starts loading now, beside this thread loading the command (scan-pool.ts).
      const pool = await import('../oci/scan-pool.js');
      pool.prestartScanWorker();
      stopSpareWorker = pool.stopSpareScanWorker;
      return (await import('./commands/diff.js')).quick as QuickCommand;
    }
    default:
      return null;
  }
}
