import { COMMAND_HEADS } from '../command-heads.js';
import type { Argv, CommandModule } from 'yargs';
import { loadPaths } from '../../addon/load.js';
import type { Era } from '../../addon/eras.js';
import { OPTION_DEFINITIONS } from '../options.js';
import { sortDiagnostics } from '../../util/diagnostics.js';
import { plural } from '../../util/text.js';
import { paint, printDiagnostics, summary } from '../output.js';

export interface ValidateArgs {
  paths: string[];
  strict: boolean;
  json: boolean;
  supervisor: Era;
}

const PATHS = {
  describe: 'Add-on folders, repository folders, or config/build/repository files',
  type: 'string',
  array: true,
  default: ['.'],
} as const;

/** The options of `validate`, for yargs and for quickValidateArgs alike. */
const OPTIONS = {
  strict: OPTION_DEFINITIONS.strict,
  json: OPTION_DEFINITIONS.json,
  supervisor: OPTION_DEFINITIONS.supervisor,
} as const;

/**
 * The arguments of the common invocations, read without yargs (loading and setting it up takes a tenth
 * of a second, a sixth of validating a few hundred files): paths, and each option at most once as
 * `--strict`, `--json`, `--supervisor ERA` or `--supervisor=ERA`. null for anything else (help, `--`,
 * `--no-strict`, `--json=false`, repeated or unknown options, a bad ERA, paths yargs might read as an
 * option's value such as `true`), which yargs then parses and reports as it always does.
 */
export function quickValidateArgs(argv: readonly string[]): ValidateArgs | null {
  const paths: string[] = [];
  const options: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) {
      if (arg === '' || arg === 'true' || arg === 'false') return null;
      paths.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const name = arg.slice(2, equals < 0 ? undefined : equals);
    if (!arg.startsWith('--') || !Object.hasOwn(OPTIONS, name) || Object.hasOwn(options, name)) return null;
    const option = OPTIONS[name as keyof typeof OPTIONS];
    if (option.type === 'boolean') {
      if (equals >= 0) return null;
      options[name] = true;
      continue;
    }
    const value = equals >= 0 ? arg.slice(equals + 1) : argv[++i];
    if (value === undefined || !(option.choices as readonly string[]).includes(value)) return null;
    options[name] = value;
  }
  for (const [name, option] of Object.entries(OPTIONS)) options[name] ??= option.default;
  return { paths: paths.length > 0 ? paths : [...PATHS.default], ...(options as Omit<ValidateArgs, 'paths'>) };
}

export const validateCommand: CommandModule<object, ValidateArgs> = {
  ...COMMAND_HEADS['validate'],
  builder: (yargs: Argv) =>
    yargs
      .positional('paths', { ...PATHS, default: [...PATHS.default] })
      .options(OPTIONS)
      .example('$0 validate', 'Validate the add-on or add-on repository in the current folder')
      .example('$0 validate my-addon/config.yaml --strict', 'One add-on; warnings count as failures')
      .example('$0 validate . --json | jq \'.[] | select(.severity=="error")\'', 'Machine-readable diagnostics')
      .epilogue(
        'Each finding is printed as FILE:LINE:COL: error|warning: MESSAGE [code]. Errors are what makes the ' +
          'Supervisor refuse an add-on (or fail when it starts); warnings are what it repairs, skips or ignores. ' +
          'With --supervisor, errors only the other era raises are warnings. Exit status: 0 no errors, 1 errors (or warnings with --strict), 2 wrong usage.',
      ) as unknown as Argv<ValidateArgs>,
  handler: (args) => runValidate(args),
};

export async function runValidate(args: ValidateArgs): Promise<void> {
  const { addons, diagnostics, filesChecked } = await loadPaths(args.paths, { era: args.supervisor });
  const failed = diagnostics.errorCount > 0 || (args.strict && diagnostics.warningCount > 0);
  if (args.json) {
    process.stdout.write(JSON.stringify(sortDiagnostics(diagnostics.items), null, 2) + '\n');
  } else {
    printDiagnostics(diagnostics.items, process.stdout);
    const color = paint(process.stdout);
    const text = `${plural(addons.length, 'add-on')} (${plural(filesChecked, 'file')}) checked: ${summary(diagnostics.errorCount, diagnostics.warningCount)}`;
    process.stdout.write((failed ? color('red', text) : diagnostics.warningCount > 0 ? text : color('green', text)) + '\n');
  }
  process.exitCode = failed ? 1 : 0;
}
