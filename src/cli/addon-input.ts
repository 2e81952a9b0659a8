/** Loading exactly one valid add-on for the commands that work on one (inspect, generate, deps). */
import { loadPaths, type LoadedAddon } from '../addon/load.js';
import type { Era } from '../addon/eras.js';
import { UserError } from '../util/errors.js';
import { formatDiagnostic, sortDiagnostics, type Diagnostic } from '../util/diagnostics.js';
import { printDiagnostics } from './output.js';

/**
 * The refusal of an add-on with errors: the findings are in the message (so that --json has them too),
 * the first one's file and line in its fields.
 */
export function addonErrors(dir: string, errors: readonly Diagnostic[], display: (file: string) => string): UserError {
  const sorted = sortDiagnostics(errors);
  const first = sorted[0];
  const findings = sorted.map((d) => `\n  ${formatDiagnostic(d)}`).join('');
  return new UserError('addon-invalid', `${display(dir)}: fix the add-on's ${sorted.length === 1 ? 'error' : `${sorted.length} errors`} first (addonix validate ${display(dir)}):${findings}`, {
    ...(first ? { file: first.file } : {}),
    ...(first?.line != null ? { line: first.line } : {}),
  });
}

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
  if (errors.length > 0 || addons.length === 0 || addons[0]!.config === null) throw addonErrors(dir, errors, display);
  printDiagnostics(diagnostics.items, process.stderr);
  return addons[0]!;
}
