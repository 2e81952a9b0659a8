/**
 * The addonix command line. Each command lives in commands/; this file wires them into yargs and turns
 * failures into exit codes: 0 ok, 1 findings or failure, 2 wrong usage.
 */
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { createRequire } from 'node:module';
import { UsageError, UserError } from '../util/errors.js';
import { fileSystemUserError } from '../util/fs-errors.js';

/**
 * The commands, in the order help lists them, each loaded only when needed: the command named on the
 * command line alone, or all of them for help and mistakes. Loading every stage's modules would take a
 * third of a second of every run, as long as a no-change push itself.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  init: async () => (await import('./commands/init.js')).initCommand as CommandModule,
  validate: async () => (await import('./commands/validate.js')).validateCommand as CommandModule,
  inspect: async () => (await import('./commands/inspect.js')).inspectCommand as CommandModule,
  deps: async () => (await import('./commands/deps.js')).depsCommand as CommandModule,
  generate: async () => (await import('./commands/generate.js')).generateCommand as CommandModule,
  'pin-base': async () => (await import('./commands/pin-base.js')).pinBaseCommand as CommandModule,
  build: async () => (await import('./commands/build.js')).buildCommand as CommandModule,
  assemble: async () => (await import('./commands/assemble.js')).assembleCommand as CommandModule,
  push: async () => (await import('./commands/push.js')).pushCommand as CommandModule,
  load: async () => (await import('./commands/load.js')).loadCommand as CommandModule,
  'inspect-image': async () => (await import('./commands/inspect-image.js')).inspectImageCommand as CommandModule,
  diff: async () => (await import('./commands/diff.js')).diffCommand as CommandModule,
  verify: async () => (await import('./commands/verify.js')).verifyCommand as CommandModule,
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand as CommandModule,
};

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

export async function main(argv: string[]): Promise<number> {
  // `addonix ... | head` closes the pipe early: stop quietly, as other command-line tools do.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  // For a mistyped command yargs reports "Did you mean ...?" before "Unknown argument": keep both.
  let suggestion = '';
  const named = argv[0] !== undefined && Object.hasOwn(COMMANDS, argv[0]) ? [argv[0]] : Object.keys(COMMANDS);
  const commands = await Promise.all(named.map((name) => COMMANDS[name]!()));
  // yargs renders the whole help text before a command runs (to show on failures, which .fail below
  // never does): fitting it to the terminal took 0.06-0.1 s of every run, so only help itself gets it.
  const helpWidth = argv.some((arg) => arg === '--help' || arg === '-h') ? Math.min(110, process.stdout.columns || 100) : null;
  try {
    await yargs(argv)
      .scriptName('addonix')
      .usage('addonix: reproducible, cross-compiled container images for Home Assistant add-ons, built with Nix\n\nUsage: $0 <command> [options]')
      .command(commands)
      .demandCommand(1, `Name a command: ${Object.keys(COMMANDS).join(', ')}.`)
      .recommendCommands()
      .strict()
      .version(version)
      .alias('help', 'h')
      .wrap(helpWidth)
      .epilogue('Every command has its own --help with examples, e.g. addonix validate --help.')
      .fail((message, error) => {
        if (error) throw error;
        if (message.startsWith('Did you mean')) {
          suggestion = ` ${message}`;
          return;
        }
        // Throwing stops yargs: a command must not run after a usage error.
        const helpFor = named.length === 1 ? `addonix ${named[0]!} --help` : 'addonix --help';
        throw new UsageError(`${suggestion ? `${message}.${suggestion}` : message}\nRun '${helpFor}' for usage.`);
      })
      .parseAsync();
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`addonix: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof UserError) {
      process.stderr.write(`addonix: error: ${error.message}\n`);
      return error.exitCode;
    }
    // A full disk, a folder this user may not write, a read-only file system: the machine's state, said as such.
    if (fileSystemUserError(error)) {
      const { cacheDir, cacheAdvice } = await import('../oci/cache.js');
      const mapped = fileSystemUserError(error, { places: [{ dir: cacheDir(), advice: cacheAdvice() }] })!;
      process.stderr.write(`addonix: error: ${mapped.message}\n`);
      return mapped.exitCode;
    }
    const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`addonix: internal error (this is a bug in addonix, please report it):\n${stack}\n`);
    return 1;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

const code = await main(hideBin(process.argv));
process.exitCode = code;
