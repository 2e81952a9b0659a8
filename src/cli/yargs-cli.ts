/**
 * The command line as yargs reads it: every command, help, version, usage errors. main.ts loads this
 * module (and yargs) unless the invocation is one quickValidateArgs reads by itself.
 */
import yargs, { type CommandModule } from 'yargs';
import { UsageError } from '../util/errors.js';
import { EPILOGUE, helpWidth as fittedHelpWidth, USAGE } from './top-help.js';
import { VERSION } from './version.js';

/**
 * Parse `argv` with `commands` (the command `named` on the command line, or the usage lines of all of
 * them) and run the command. `names` are all commands' names, in the order help lists them. Usage errors
 * throw UsageError.
 */
export async function runYargs(argv: string[], commands: CommandModule[], names: readonly string[], named: string | undefined): Promise<void> {
  // For a mistyped command yargs reports "Did you mean ...?" before "Unknown argument": keep both.
  let suggestion = '';
  // yargs renders the whole help text before a command runs (to show on failures, which .fail below
  // never does): fitting it to the terminal took 0.06-0.1 s of every run, so only help itself gets it.
  const helpWidth = argv.some((arg) => arg === '--help' || arg === '-h') ? fittedHelpWidth() : null;
  await yargs(argv)
    .scriptName('addonix')
    // Options are read by their own names (args['out-link']): no camelCase copies, which unknown-option messages would repeat.
    .parserConfiguration({ 'camel-case-expansion': false })
    .usage(USAGE)
    .command(commands)
    .demandCommand(1, `Name a command: ${names.join(', ')}.`)
    .recommendCommands()
    .strict()
    .version(VERSION)
    .alias('help', 'h')
    .wrap(helpWidth)
    .epilogue(EPILOGUE)
    .fail((message, error) => {
      const helpFor = named ? `addonix ${named} --help` : 'addonix --help';
      // An option's own check (coerce, e.g. --arch) throws; yargs hands it on wrapped as a YError.
      if (error?.name === 'YError') throw new UsageError(`${error.message}\nRun '${helpFor}' for usage.`);
      if (error) throw error;
      if (message.startsWith('Did you mean')) {
        suggestion = ` ${message}`;
        return;
      }
      // A word where a command belongs is an unknown command, whatever options follow it (--json).
      if (!named && argv[0] !== undefined && !argv[0].startsWith('-')) throw new UsageError(`Unknown command: ${argv[0]}.${suggestion}\nRun '${helpFor}' for usage.`);
      // Throwing stops yargs: a command must not run after a usage error.
      throw new UsageError(`${suggestion ? `${message}.${suggestion}` : message}\nRun '${helpFor}' for usage.`);
    })
    .parseAsync();
}
