/**
 * The one error type of addonix: a failure of the user's input or machine, not a bug. It carries a code
 * from the table in codes.ts (which gives its exit status), the message, and where applicable the file
 * and line it is about and a hint. The CLI renders it in one place (cli/render-error.ts): text on
 * stderr, or a JSON object on stdout under --json; never a stack trace. It crosses the import workers'
 * boundary as plain data (toJSON, fromJSON).
 */
import { existsSync } from 'node:fs';
import { ERROR_CODES, type ErrorCode } from './codes.js';

export type { ErrorCode };

export interface ErrorDetails {
  /** The file (or folder, or image reference) the error is about. */
  file?: string | undefined;
  /** 1-based line in `file`. */
  line?: number | undefined;
  /** What to do about it, when the message does not already say. */
  hint?: string | undefined;
  /** How a tool got there (Nix's evaluation trace), shown with --verbose only. */
  trace?: readonly string[] | undefined;
}

/** The error as data: what --json prints and what workers send. */
export interface ErrorJson {
  code: ErrorCode;
  message: string;
  file: string | null;
  line: number | null;
  hint: string | null;
  exit: 1 | 2 | 130;
  /** Present when the tool that failed said how it got there (Nix's evaluation trace). */
  trace?: string[];
}

export class UserError extends Error {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly hint: string | undefined;
  readonly trace: readonly string[];

  constructor(
    readonly code: ErrorCode,
    message: string,
    details: ErrorDetails = {},
  ) {
    super(message);
    this.name = 'UserError';
    const located = details.file === undefined && details.line === undefined ? locationInMessage(message) : undefined;
    this.file = details.file ?? located?.file;
    this.line = details.line ?? located?.line;
    this.hint = details.hint;
    this.trace = details.trace ?? [];
  }

  get exitCode(): 1 | 2 | 130 {
    return ERROR_CODES[this.code].exit;
  }

  toJSON(): ErrorJson {
    return { code: this.code, message: this.message, file: this.file ?? null, line: this.line ?? null, hint: this.hint ?? null, exit: this.exitCode, ...(this.trace.length > 0 ? { trace: [...this.trace] } : {}) };
  }

  static fromJSON(json: ErrorJson): UserError {
    return new UserError(json.code, json.message, { file: json.file ?? undefined, line: json.line ?? undefined, hint: json.hint ?? undefined, trace: json.trace });
  }
}

/**
 * The file and line a message starts with (`config.yaml:12:5: ...`, `Dockerfile:3: ...`), so that the
 * JSON error carries what the text says. Only a file that is there counts: `127.0.0.1:5000: ...` is a
 * registry, not line 5000.
 */
function locationInMessage(message: string): { file: string; line: number } | undefined {
  const match = /^([^\s:][^:\n]*):(\d+)(?::\d+)?: /.exec(message);
  if (!match || !existsSync(match[1]!)) return undefined;
  return { file: match[1]!, line: Number(match[2]) };
}

/** Wrong command-line usage: code `usage`, exit status 2. */
export class UsageError extends UserError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('usage', message, details);
    this.name = 'UsageError';
  }
}
