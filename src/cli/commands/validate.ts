import type { Argv, CommandModule } from 'yargs';
import { loadPaths } from '../../addon/load.js';
import { DEFAULT_ERA, ERAS, type Era } from '../../addon/eras.js';
import { sortDiagnostics } from '../../util/diagnostics.js';
import { plural } from '../../util/text.js';
import { paint, printDiagnostics, summary } from '../output.js';

interface ValidateArgs {
  paths: string[];
  strict: boolean;
  json: boolean;
  supervisor: Era;
}

export const validateCommand: CommandModule<object, ValidateArgs> = {
  command: 'validate [paths..]',
  describe: 'Check add-on files the way the Home Assistant Supervisor does',
  builder: (yargs: Argv) =>
    yargs
      .positional('paths', {
        describe: 'Add-on folders, repository folders, or config/build/repository files',
        type: 'string',
        array: true,
        default: ['.'],
      })
      .option('strict', { type: 'boolean', default: false, describe: 'Fail (exit 1) on warnings too' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the diagnostics as a JSON array instead of text' })
      .option('supervisor', {
        type: 'string',
        choices: ERAS,
        default: DEFAULT_ERA,
        describe: 'Rules to validate with: 2026 (apps, current) or 2025 (add-ons, 2025.06). Errors only the other rules raise are warnings.',
      })
      .example('$0 validate', 'Validate the add-on or add-on repository in the current folder')
      .example('$0 validate my-addon/config.yaml --strict', 'One add-on; warnings count as failures')
      .example('$0 validate . --json | jq \'.[] | select(.severity=="error")\'', 'Machine-readable diagnostics')
      .epilogue(
        'Each finding is printed as FILE:LINE:COL: error|warning: MESSAGE [code]. Errors are what makes the ' +
          'Supervisor refuse an add-on (or fail when it starts); warnings are what it repairs, skips or ignores. ' +
          'Exit status: 0 no errors, 1 errors (or warnings with --strict), 2 wrong usage.',
      ) as unknown as Argv<ValidateArgs>,
  handler: async (args) => {
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
  },
};
