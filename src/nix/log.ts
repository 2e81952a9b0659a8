/**
 * Nix's machine-readable log (`--log-format internal-json`): one `@nix {json}` line per event on stderr.
 * Activities start and stop (with an id, a type and fields), report results (log lines, phases,
 * progress), and messages carry errors and warnings. Types from NixOS/nix src/libutil/logging.hh, the same
 * numbers from Nix 2.8 to today.
 */
import path from 'node:path';

export const ActivityType = {
  copyPath: 100,
  fileTransfer: 101,
  realise: 102,
  copyPaths: 103,
  builds: 104,
  build: 105,
  substitute: 108,
} as const;

export const ResultType = {
  buildLogLine: 101,
  setPhase: 104,
  progress: 105,
  setExpected: 106,
  postBuildLogLine: 107,
} as const;

export type NixEvent =
  | { action: 'start'; id: number; type: number; text: string; fields: unknown[]; parent: number }
  | { action: 'stop'; id: number }
  | { action: 'result'; id: number; type: number; fields: unknown[] }
  | { action: 'msg'; level: number; msg: string }
  /** A stderr line that is not an event (older Nix, or output before the logger started). */
  | { action: 'text'; text: string };

const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

function parseLogLine(line: string): NixEvent | undefined {
  if (!line.startsWith('@nix ')) return line.trim() ? { action: 'text', text: stripAnsi(line) } : undefined;
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(line.slice(5)) as Record<string, unknown>;
  } catch {
    return { action: 'text', text: stripAnsi(line) };
  }
  const fields = Array.isArray(event['fields']) ? event['fields'] : [];
  switch (event['action']) {
    case 'start':
      return { action: 'start', id: Number(event['id']), type: Number(event['type']), text: String(event['text'] ?? ''), fields, parent: Number(event['parent'] ?? 0) };
    case 'stop':
      return { action: 'stop', id: Number(event['id']) };
    case 'result':
      return { action: 'result', id: Number(event['id']), type: Number(event['type']), fields };
    case 'msg':
      return { action: 'msg', level: Number(event['level']), msg: stripAnsi(String(event['msg'] ?? '')) };
    default:
      return undefined;
  }
}

/**
 * A Nix error read the same from Nix 2.8 to current. 2.8 prints `error: MESSAGE`; later versions print
 * the evaluation trace first (`error:`, then frames such as `… while calling the 'seq' builtin` and
 * `at /nix/store/…/lib.nix:198:9:` with lines of source), then `error: MESSAGE`. The message is the last
 * `error:` block (its continuation lines included, e.g. a builder's log tail); the trace is every line
 * before it, kept apart. Nix's advice to pass --show-trace is left out (addonix's --verbose shows the
 * trace Nix printed).
 */
export interface NixError {
  message: string;
  trace: string[];
}

const SHOW_TRACE_ADVICE = /^\s*\(use '--show-trace' to show detailed location information\)\s*$/;

export function readNixError(text: string): NixError {
  const lines = stripAnsi(text).split('\n');
  let start = -1;
  for (let i = lines.length - 1; i >= 0 && start < 0; i--) if (/^\s*error:/.test(lines[i]!)) start = i;
  if (start < 0) return { message: text.trim(), trace: [] };
  const message = [lines[start]!.replace(/^\s*error:\s*/, ''), ...lines.slice(start + 1).filter((line) => !SHOW_TRACE_ADVICE.test(line))].join('\n').trim();
  // The trace without its opening bare `error:` and blank lines, each frame's indentation kept.
  const trace = lines.slice(0, start).map((line) => line.trimEnd()).filter((line) => line.trim() !== '' && line.trim() !== 'error:');
  const indent = Math.min(...trace.map((line) => /^ */.exec(line)![0].length));
  return { message, trace: trace.map((line) => line.slice(indent)) };
}

/** Splits a byte stream into lines and hands each to `onLine` (the last partial line at `end`). */
export class LineSplitter {
  private rest = '';
  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    const text = this.rest + chunk.toString();
    const lines = text.split('\n');
    this.rest = lines.pop()!;
    for (const line of lines) this.onLine(line);
  }

  end(): void {
    if (this.rest) this.onLine(this.rest);
    this.rest = '';
  }
}

/** `hello-2.12` from `/nix/store/<hash>-hello-2.12.drv`. */
export function derivationName(drvPath: string): string {
  return path.posix.basename(drvPath).replace(/^[a-z0-9]{32}-/, '').replace(/\.drv$/, '');
}

/** How many log lines of each build are kept for failure reports. */
export const LOG_TAIL_LINES = 25;

export interface BuildState {
  drv: string;
  phase: string | null;
  startedAt: number;
  stoppedAt: number | null;
  /** The last lines of its log. */
  log: string[];
}

/**
 * What one Nix invocation is doing, from its events: builds (running, finished, with their log tails
 * and phases), totals as Nix counts them, downloads, and the error messages.
 */
export class BuildMonitor {
  readonly builds = new Map<string, BuildState>();
  private readonly buildByActivity = new Map<number, BuildState>();
  /** Nix's own totals (the `builds` activity): done, expected, running, failed. */
  totals = { done: 0, expected: 0, running: 0, failed: 0 };
  downloads = { done: 0, expected: 0, bytes: 0 };
  /** Bytes downloaded so far, per file transfer activity. */
  private readonly transferBytes = new Map<number, number>();
  /** The aggregate activities (all builds, all copies) whose progress gives the totals, by id. */
  private readonly aggregates = new Map<number, number>();
  /** Nix's error messages (readNixError's message), in order. */
  readonly errors: string[] = [];
  /** The evaluation trace Nix printed before each of them (empty for Nix 2.8 and for build failures). */
  readonly traces: string[][] = [];
  /** Plain text Nix wrote outside the event format. */
  readonly text: string[] = [];
  /** Level-0 messages that are not errors: what a dry run lists. */
  readonly notices: string[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  handle(event: NixEvent): void {
    switch (event.action) {
      case 'start':
        if (event.type === ActivityType.builds || event.type === ActivityType.copyPaths) this.aggregates.set(event.id, event.type);
        if (event.type === ActivityType.fileTransfer) this.transferBytes.set(event.id, 0);
        if (event.type === ActivityType.build && typeof event.fields[0] === 'string') {
          const state: BuildState = { drv: event.fields[0], phase: null, startedAt: this.now(), stoppedAt: null, log: [] };
          this.builds.set(state.drv, state);
          this.buildByActivity.set(event.id, state);
        }
        return;
      case 'stop': {
        const build = this.buildByActivity.get(event.id);
        if (build) build.stoppedAt = this.now();
        return;
      }
      case 'result':
        this.result(event.id, event.type, event.fields);
        return;
      case 'msg':
        if (event.level === 0 && /^error:/.test(event.msg.trimStart())) this.error(event.msg);
        else if (event.level === 0) this.notices.push(event.msg);
        return;
      case 'text':
        this.text.push(event.text);
        if (/^\s*error:/.test(event.text)) this.error(event.text);
        return;
    }
  }

  private error(text: string): void {
    const { message, trace } = readNixError(text);
    this.errors.push(message);
    this.traces.push(trace);
  }

  /** Every trace line Nix printed before its errors, for --verbose. */
  trace(): string[] {
    return this.traces.flat();
  }

  private result(id: number, type: number, fields: unknown[]): void {
    const build = this.buildByActivity.get(id);
    if (build && (type === ResultType.buildLogLine || type === ResultType.postBuildLogLine)) {
      build.log.push(stripAnsi(String(fields[0] ?? '')));
      if (build.log.length > LOG_TAIL_LINES) build.log.shift();
    } else if (build && type === ResultType.setPhase) {
      build.phase = String(fields[0] ?? '');
    } else if (type === ResultType.progress) {
      const [done, expected, running, failed] = fields.map(Number);
      const aggregate = this.aggregates.get(id);
      if (aggregate === ActivityType.builds) this.totals = { done: done ?? 0, expected: expected ?? 0, running: running ?? 0, failed: failed ?? 0 };
      else if (aggregate === ActivityType.copyPaths) this.downloads = { ...this.downloads, done: done ?? 0, expected: expected ?? 0 };
      else if (this.transferBytes.has(id)) {
        this.transferBytes.set(id, done ?? 0);
        this.downloads.bytes = [...this.transferBytes.values()].reduce((a, b) => a + b, 0);
      }
    }
  }


  /** Feeds a raw stderr line. */
  line(line: string): NixEvent | undefined {
    const event = parseLogLine(line);
    if (event) this.handle(event);
    return event;
  }

  /** Derivations Nix reported as failed, from its error messages. */
  failedDerivations(): Set<string> {
    const failed = new Set<string>();
    for (const error of this.errors) {
      for (const match of error.matchAll(/(?:builder for|derivation|build of|dependencies of derivation|hash mismatch in fixed-output derivation) '(\/nix\/store\/[^']+\.drv)'/g)) failed.add(match[1]!);
    }
    for (const build of this.builds.values()) if (build.stoppedAt !== null && this.errors.some((e) => e.includes(build.drv))) failed.add(build.drv);
    return failed;
  }
}
