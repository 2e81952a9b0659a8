/** A finding about a user's file, printed as `FILE:LINE:COL: severity: message [code]`. */
import type { FindingCode } from './codes.js';

export type { FindingCode };
export type Severity = 'error' | 'warning';

export interface Position {
  /** 1-based line. */
  line: number;
  /** 1-based column, counted in characters. */
  col: number;
}

export interface Diagnostic {
  file: string;
  /** null when the finding concerns a file or folder as a whole. */
  line: number | null;
  col: number | null;
  severity: Severity;
  code: FindingCode;
  message: string;
}

/** Collects diagnostics in the order they were found. */
export class DiagnosticList {
  readonly items: Diagnostic[] = [];

  add(severity: Severity, file: string, at: Position | null, code: FindingCode, message: string): void {
    this.items.push({ file, line: at?.line ?? null, col: at?.col ?? null, severity, code, message });
  }

  error(file: string, at: Position | null, code: FindingCode, message: string): void {
    this.add('error', file, at, code, message);
  }

  warning(file: string, at: Position | null, code: FindingCode, message: string): void {
    this.add('warning', file, at, code, message);
  }

  get errorCount(): number {
    return this.items.filter((d) => d.severity === 'error').length;
  }

  get warningCount(): number {
    return this.items.filter((d) => d.severity === 'warning').length;
  }
}

/** Sort by file, then position; findings without a position come first within a file. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.col ?? 0) - (b.col ?? 0),
  );
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line === null ? d.file : `${d.file}:${d.line}:${d.col ?? 1}`;
  return `${where}: ${d.severity}: ${d.message} [${d.code}]`;
}
