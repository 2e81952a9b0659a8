/** Loading exactly one valid add-on for the commands that work on one (inspect, generate, deps). */
import { loadPaths, type LoadedAddon } from '../addon/load.js';
import type { Era } from '../addon/eras.js';
import { UserError } from '../util/errors.js';
import { printDiagnostics } from './output.js';

/**
 * The add-on in `dir`, validated. Errors are printed and refused; warnings are printed on stderr.
 * Returns null when `dir` holds no add-on config at all (and `allowNone` is set).
 */
export async function loadOneAddon(dir: string, era: Era, display: (file: string) => string, allowNone = false): Promise<LoadedAddon | null> {
  const { addons, diagnostics } = await loadPaths([dir], { era, display });
  if (addons.length === 0 && allowNone && diagnostics.items.every((d) => d.code === 'no-config')) return null;
  if (addons.length > 1) {
    throw new UserError('no-addon', 
      `${display(dir)} holds ${addons.length} add-ons; name one of them:\n` + addons.map((addon) => `  ${display(addon.location.dir)}`).join('\n'),
    );
  }
  const errors = diagnostics.items.filter((d) => d.severity === 'error');
  if (errors.length > 0 || addons.length === 0 || addons[0]!.config === null) {
    printDiagnostics(errors, process.stderr);
    throw new UserError('addon-invalid', `${display(dir)}: fix the ${errors.length === 1 ? 'error' : 'errors'} above first (addonix validate ${display(dir)})`);
  }
  printDiagnostics(diagnostics.items, process.stderr);
  return addons[0]!;
}
