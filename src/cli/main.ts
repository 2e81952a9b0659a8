/**
 * The addonix command line. Each command lives in commands/; this file wires them into yargs and turns
 * failures into exit codes: 0 ok, 1 findings or failure, 2 wrong usage.
 */
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { createRequire } from 'node:module';
import { UsageError, UserError } from '../util/errors.js';
import { validateCommand } from './commands/validate.js';
import { inspectCommand } from './commands/inspect.js';
import { depsCommand } from './commands/deps.js';
import { generateCommand } from './commands/generate.js';
import { pushCommand } from './commands/push.js';
import { loadCommand } from './commands/load.js';
import { inspectImageCommand } from './commands/inspect-image.js';
import { assembleCommand } from './commands/assemble.js';
import { pinBaseCommand } from './commands/pin-base.js';
import { diffCommand } from './commands/diff.js';
import { buildCommand } from './commands/build.js';
import { verifyCommand } from './commands/verify.js';
import { doctorCommand } from './commands/doctor.js';
import { initCommand } from './commands/init.js';

const COMMANDS = [
  initCommand,
  validateCommand,
  inspectCommand,
  depsCommand,
  generateCommand,
  pinBaseCommand,
  buildCommand,
  assembleCommand,
  pushCommand,
  loadCommand,
  inspectImageCommand,
  diffCommand,
  verifyCommand,
  doctorCommand,
] as CommandModule[];

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

export async function main(argv: string[]): Promise<number> {
  // `addonix ... | head` closes the pipe early: stop quietly, as other command-line tools do.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  // For a mistyped command yargs reports "Did you mean ...?" before "Unknown argument": keep both.
  let suggestion = '';
  try {
    await yargs(argv)
      .scriptName('addonix')
      .usage('addonix: reproducible, cross-compiled container images for Home Assistant add-ons, built with Nix\n\nUsage: $0 <command> [options]')
      .command(COMMANDS)
      .demandCommand(1, `Name a command: ${COMMANDS.map((c) => String(c.command).split(' ')[0]).join(', ')}.`)
      .recommendCommands()
      .strict()
      .version(version)
      .alias('help', 'h')
      .wrap(Math.min(110, process.stdout.columns || 100))
      .epilogue('Every command has its own --help with examples, e.g. addonix validate --help.')
      .fail((message, error) => {
        if (error) throw error;
        if (message.startsWith('Did you mean')) {
          suggestion = ` ${message}`;
          return;
        }
        // Throwing stops yargs: a command must not run after a usage error.
        throw new UsageError(`${suggestion ? `${message}.${suggestion}` : message}\nRun 'addonix --help' for usage.`);
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
    const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`addonix: internal error (this is a bug in addonix, please report it):\n${stack}\n`);
    return 1;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

const code = await main(hideBin(process.argv));
process.exitCode = code;
