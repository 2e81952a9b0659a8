/** Terminal output shared by the commands: colors when wanted, aligned tables, diagnostics. */
import { formatDiagnostic, sortDiagnostics, type Diagnostic } from '../util/diagnostics.js';
import { plural } from '../util/text.js';

export function useColor(stream: NodeJS.WriteStream): boolean {
  if (process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '') return false;
  if (process.env['FORCE_COLOR'] !== undefined && process.env['FORCE_COLOR'] !== '0') return true;
  return stream.isTTY === true && process.env['TERM'] !== 'dumb';
}

const CODES = { red: 31, yellow: 33, green: 32, bold: 1, dim: 2 } as const;

export function paint(stream: NodeJS.WriteStream): (style: keyof typeof CODES, text: string) => string {
  const on = useColor(stream);
  return (style, text) => (on ? `\u001b[${CODES[style]}m${text}\u001b[0m` : text);
}

/** Left-aligned columns; the last column is not padded. */
export function table(rows: readonly (readonly string[])[], gap = '  '): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join(gap).trimEnd())
    .join('\n');
}

export function printDiagnostics(list: readonly Diagnostic[], stream: NodeJS.WriteStream): void {
  const color = paint(stream);
  for (const d of sortDiagnostics(list)) {
    const line = formatDiagnostic(d);
    const marker = `: ${d.severity}: `;
    const at = line.indexOf(marker);
    stream.write(
      at < 0
        ? line + '\n'
        : line.slice(0, at) + ': ' + color(d.severity === 'error' ? 'red' : 'yellow', d.severity) + ': ' + line.slice(at + marker.length) + '\n',
    );
  }
}

export function summary(errors: number, warnings: number): string {
  if (errors === 0 && warnings === 0) return 'no problems';
  return `${plural(errors, 'error')}, ${plural(warnings, 'warning')}`;
}
