/**
 * The addonix command line. Each command lives in commands/; this file runs them through yargs
 * (yargs-cli.ts), or `validate` without it when its arguments are the usual ones, and turns failures into
 * exit codes: 0 ok, 1 findings or failure, 2 wrong usage.
 */
import type { CommandModule } from 'yargs';
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

export async function main(argv: string[]): Promise<number> {
  // `addonix ... | head` closes the pipe early: stop quietly, as other command-line tools do.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  try {
    // `validate` as it is usually run skips yargs (yargs-cli.ts), which would take a sixth of its time.
    const quick = argv[0] === 'validate' ? await import('./commands/validate.js') : null;
    const args = quick?.quickValidateArgs(argv.slice(1));
    if (quick && args) {
      await quick.runValidate(args);
    } else {
      const named = argv[0] !== undefined && Object.hasOwn(COMMANDS, argv[0]) ? [argv[0]] : Object.keys(COMMANDS);
      const [commands, { runYargs }] = await Promise.all([Promise.all(named.map((name) => COMMANDS[name]!())), import('./yargs-cli.js')]);
      await runYargs(argv, commands, Object.keys(COMMANDS));
    }
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

// What yargs' hideBin() returns outside Electron, without loading yargs for it.
const code = await main(process.argv.slice(2));
process.exitCode = code;
