/**
 * `addonix --help` without yargs: loading yargs takes about 0.17 s of CPU, as long as the rest of the
 * process. The text is the one yargs prints for the CLI as yargs-cli.ts configures it, with the command
 * heads (command-heads.ts): laid out the way yargs lays it out (its cliui, wrapped by wrap-ansi), for
 * text of plain ASCII only and English messages. Anything else (another locale, text that is not ASCII)
 * is left to yargs; test/validate-args.test.ts compares both texts at many widths.
 */
import { COMMAND_HEADS } from './command-heads.js';

/** The usage text and epilogue yargs-cli.ts gives yargs. */
export const USAGE = 'addonix: reproducible, cross-compiled container images for Home Assistant add-ons, built with Nix\n\nUsage: $0 <command> [options]';
export const EPILOGUE = 'Every command has its own --help with examples, e.g. addonix validate --help.';

/** The width yargs is told to wrap help at (yargs-cli.ts). */
export function helpWidth(): number {
  return Math.min(110, process.stdout.columns || 100);
}

/**
 * Whether yargs would print its English messages: it takes the locale from LC_ALL, LC_MESSAGES, LANG,
 * then LANGUAGE (the first set), `en_US` when none is, cut at `.` or `:`; a locale it has no file for
 * (C, POSIX) gets the English ones.
 */
export function englishLocale(env: NodeJS.ProcessEnv = process.env): boolean {
  const locale = (env['LC_ALL'] || env['LC_MESSAGES'] || env['LANG'] || env['LANGUAGE'] || 'en_US').replace(/[.:].*/, '');
  return locale === 'en' || locale === 'en_US' || locale === 'C' || locale === 'POSIX';
}

interface Column {
  text: string;
  /** top, right, bottom, left */
  padding: [number, number, number, number];
  width?: number;
  align?: 'right';
}

type Row = Column[] & { span?: boolean };

/** wrap-ansi's `hard` wrapping of one line of ASCII text (no escapes), with its default `trim`. */
function wrapLine(line: string, columns: number): string {
  if (line.trim() === '') return '';
  const words = line.split(' ');
  let rows = [''];
  words.forEach((word, index) => {
    rows[rows.length - 1] = rows[rows.length - 1]!.trimStart();
    let rowLength = rows[rows.length - 1]!.length;
    if (index !== 0 && rowLength > 0) {
      rows[rows.length - 1] += ' ';
      rowLength++;
    }
    if (word.length > columns) {
      // A word longer than a row is cut into rows, starting on this one when that needs no more breaks.
      const breaksHere = 1 + Math.floor((word.length - (columns - rowLength) - 1) / columns);
      const breaksNext = Math.floor((word.length - 1) / columns);
      if (breaksNext < breaksHere) rows.push('');
      let visible = rows[rows.length - 1]!.length;
      for (let i = 0; i < word.length; i++) {
        const character = word[i]!;
        if (visible + 1 <= columns) rows[rows.length - 1] += character;
        else {
          rows.push(character);
          visible = 0;
        }
        visible++;
        if (visible === columns && i < word.length - 1) {
          rows.push('');
          visible = 0;
        }
      }
      return;
    }
    if (rowLength + word.length > columns && rowLength > 0 && word.length > 0) rows.push('');
    rows[rows.length - 1] += word;
  });
  // Trailing spaces of each row go (wrap-ansi's stringVisibleTrimSpacesRight, for ASCII).
  rows = rows.map((row) => {
    const parts = row.split(' ');
    let last = parts.length;
    while (last > 0 && parts[last - 1]!.length === 0) last--;
    return last === parts.length ? row : parts.slice(0, last).join(' ') + parts.slice(last).join('');
  });
  return rows.join('\n');
}

function wrap(text: string, columns: number): string {
  return text
    .normalize()
    .replaceAll('\r\n', '\n')
    .split('\n')
    .map((line) => wrapLine(line, columns))
    .join('\n');
}

/** The spaces around a text, as cliui measures them into a column's padding. */
function padding(text: string): [number, number, number, number] {
  return [0, /\s*$/.exec(text)![0].length, 0, /^\s*/.exec(text)![0].length];
}

/** cliui (yargs' layout) for ASCII text, with wrapping on: the rows yargs' usage adds, as lines. */
class Layout {
  private readonly rows: Row[] = [];

  constructor(private readonly width: number) {}

  div(...columns: (Column | string)[]): Row {
    if (columns.length === 0) columns = [''];
    const only = columns[0];
    if (columns.length === 1 && typeof only === 'string' && /[\t\n]/.test(only)) {
      // cliui's layout language: a row per line (no tabs here), each trimmed, its spaces as padding.
      let last: Row = [];
      for (const line of only.split('\n')) last = this.div({ text: line.trim(), padding: padding(line) });
      return last;
    }
    const row: Row = columns.map((column) => (typeof column === 'string' ? { text: column, padding: padding(column) } : column));
    this.rows.push(row);
    return row;
  }

  span(...columns: Column[]): void {
    this.div(...columns).span = true;
  }

  toString(): string {
    const lines: { text: string; span?: boolean | undefined; hidden?: boolean }[] = [];
    for (const row of this.rows) this.render(row, lines);
    return lines
      .filter((line) => !line.hidden)
      .map((line) => line.text)
      .join('\n');
  }

  private inner(column: Column): number {
    return (column.width ?? 0) - column.padding[1] - column.padding[3];
  }

  private widths(row: Row): number[] {
    let unset = row.length;
    let remaining = this.width;
    for (const column of row) {
      if (column.width) {
        unset--;
        remaining -= column.width;
      }
    }
    const unsetWidth = unset ? Math.floor(remaining / unset) : 0;
    return row.map((column) => column.width || Math.max(unsetWidth, 1 + column.padding[1] + column.padding[3]));
  }

  private render(row: Row, lines: { text: string; span?: boolean | undefined; hidden?: boolean }[]): void {
    const widths = this.widths(row);
    const raster: string[][] = [];
    row.forEach((column, c) => {
      column.width = widths[c]!;
      const wrapped = wrap(column.text, this.inner(column)).split('\n');
      wrapped.unshift(...new Array<string>(column.padding[0]).fill(''));
      wrapped.push(...new Array<string>(column.padding[2]).fill(''));
      wrapped.forEach((text, r) => {
        const line = (raster[r] ??= []);
        for (let i = 0; i < c; i++) if (line[i] === undefined) line.push('');
        line.push(text);
      });
    });
    raster.forEach((line, r) => {
      let out = '';
      line.forEach((text, c) => {
        const column = row[c]!;
        const inner = this.inner(column);
        let cell = text;
        if (inner > cell.length) cell += ' '.repeat(inner - cell.length);
        if (column.align === 'right') {
          const trimmed = cell.trim();
          cell = trimmed.length < inner ? ' '.repeat(inner - trimmed.length) + trimmed : trimmed;
          if (cell.length < inner) cell += ' '.repeat((column.width ?? 0) - cell.length - 1);
        }
        out += ' '.repeat(column.padding[3]) + cell + ' '.repeat(column.padding[1]);
        // A row after a span goes on the span's last line when it starts past that line's text.
        const previous = lines[lines.length - 1];
        if (r === 0 && previous?.span) {
          const leading = /^ */.exec(out)![0].length;
          const taken = previous.text.trimEnd().length;
          if (leading >= taken) {
            previous.hidden = true;
            out = previous.text.trimEnd() + ' '.repeat(leading - taken) + out.trimStart();
          }
        }
      });
      lines.push({ text: out.replace(/ +$/, ''), span: row.span });
    });
  }
}

/**
 * The text of `addonix --help` at a width (what yargs prints, without its final newline), or null when
 * it holds text other than printable ASCII (yargs measures such text otherwise).
 */
export function topLevelHelp(width: number): string | null {
  const heads = Object.values(COMMAND_HEADS).map(({ command, describe }) => [`addonix ${command}`, describe] as const);
  const texts = [USAGE, EPILOGUE, ...heads.flat()];
  if (texts.some((text) => /[^\x20-\x7e\n]/.test(text))) return null;
  const layout = new Layout(width);
  layout.div({ text: USAGE.replace(/\$0/g, 'addonix'), padding: [0, 0, 0, 0] });
  layout.div();
  layout.div('Commands:');
  // The first column: the longest command (with `addonix `), at most half the width, and its padding.
  const commandWidth = Math.min(Math.max(...heads.map(([command]) => command.length)), Math.floor(width * 0.5)) + 4;
  for (const [command, describe] of heads) {
    layout.span({ text: command, padding: [0, 2, 0, 2], width: commandWidth }, { text: describe, padding: [0, 0, 0, 0] });
    layout.div();
  }
  layout.div();
  layout.div('Options:');
  // `--version` is indented as if it had a short form, as yargs does when any option has one.
  const options = [
    { text: '-h, --help', indent: 0, describe: 'Show help' },
    { text: '--version', indent: 4, describe: 'Show version number' },
  ];
  const switchWidth = Math.min(Math.max(...options.map((option) => option.text.length + option.indent)), Math.floor(width * 0.5)) + 4;
  for (const option of options) {
    layout.span({ text: option.text, padding: [0, 2, 0, 2 + option.indent], width: switchWidth }, { text: option.describe, padding: [0, 0, 0, 0] });
    layout.div({ text: '[boolean]', padding: [0, 0, 0, 2], align: 'right' });
  }
  layout.div();
  layout.div(`${EPILOGUE}\n`);
  return layout.toString().replace(/\s*$/, '');
}
