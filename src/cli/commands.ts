/**
 * The commands, in the order help lists them, each loaded only when needed: the command named on the
 * command line alone, or all of them for help and mistakes. Loading every stage's modules would take a
 * third of a second of every run, as long as a no-change push itself.
 */
import type { CommandModule } from 'yargs';
import { COMMAND_HEADS } from './command-heads.js';

export const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  init: async () => (await import('./commands/init.js')).initCommand as CommandModule,
  validate: async () => (await import('./commands/validate.js')).validateCommand as CommandModule,
  inspect: async () => (await import('./commands/inspect.js')).inspectCommand as CommandModule,
  deps: async () => (await import('./commands/deps.js')).depsCommand as CommandModule,
  generate: async () => (await import('./commands/generate.js')).generateCommand as CommandModule,
  'pin-base': async () => (await import('./commands/pin-base.js')).pinBaseCommand as CommandModule,
  build: async () => (await import('./commands/build.js')).buildCommand as CommandModule,
  assemble: async () => (await import('./commands/assemble.js')).assembleCommand as CommandModule,
  push: async () => (await import('./commands/push.js')).pushCommand as CommandModule,
  login: async () => (await import('./commands/login.js')).loginCommand as CommandModule,
  load: async () => (await import('./commands/load.js')).loadCommand as CommandModule,
  run: async () => (await import('./commands/run.js')).runCommand as CommandModule,
  'inspect-image': async () => (await import('./commands/inspect-image.js')).inspectImageCommand as CommandModule,
  diff: async () => (await import('./commands/diff.js')).diffCommand as CommandModule,
  verify: async () => (await import('./commands/verify.js')).verifyCommand as CommandModule,
  sbom: async () => (await import('./commands/sbom.js')).sbomCommand as CommandModule,
  provenance: async () => (await import('./commands/provenance.js')).provenanceCommand as CommandModule,
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand as CommandModule,
  // Every command has its head (and only those): a command added without one fails to compile here.
} satisfies Record<keyof typeof COMMAND_HEADS, () => Promise<CommandModule>>;

export const COMMAND_NAMES = Object.keys(COMMANDS);

/**
 * Every command as help without a command lists it (usage line and description only), none of their
 * modules loaded: what `addonix --help` and a mistyped command need.
 */
export function commandHeads(): CommandModule[] {
  return COMMAND_NAMES.map((name) => ({ ...COMMAND_HEADS[name as keyof typeof COMMAND_HEADS], handler: () => {} }));
}

/**
 * Commands whose failures exit with another status than their code's: `diff` follows diff(1), 0 for
 * identical, 1 for different, 2 for trouble (any error; Ctrl-C stays 130).
 */
export const FAILURE_EXIT: Partial<Record<string, 2>> = { diff: 2 };
