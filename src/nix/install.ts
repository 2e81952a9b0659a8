/**
 * The Nix on this machine: where it is, its version, whether its configuration enables the `nix-command`
 * and `flakes` features, and its settings. addonix passes `--extra-experimental-features` itself when the
 * configuration does not enable them, so a stock Nix works; doctor says how to enable them for good.
 */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../util/errors.js';

/** nixpkgs >= 25.11 refuses older Nix (lib/minfeatures.nix). */
export const MINIMUM_NIX = '2.18';
/** The first Nix with flakes at all. */
export const FIRST_FLAKES_NIX = '2.4';

export const INSTALL_HINT =
  'install Nix >= 2.18 (https://nixos.org/download: sh <(curl -L https://nixos.org/nix/install) --daemon); ' +
  "Debian's nix-bin package is Nix 2.8 in Debian 12, too old for nixpkgs >= 25.11, and Nix 2.26 in Debian 13 (apt-get install nix-bin)";

export const ENABLE_FLAKES_HINT =
  "add 'experimental-features = nix-command flakes' to /etc/nix/nix.conf (or ~/.config/nix/nix.conf, or the NIX_CONFIG variable)";

export interface NixInstall {
  /** Absolute path of the `nix` program. */
  nix: string;
  /** `nix-store`, beside it. */
  nixStore: string;
  /** e.g. `2.8.0`; `versionText` is what `nix --version` printed. */
  version: string;
  versionText: string;
  /** Whether the configuration (not addonix) enables these features. */
  features: { nixCommand: boolean; flakes: boolean };
  /** `nix show-config --json` values by name (system, sandbox, substituters, ...). */
  settings: Record<string, unknown>;
  /** The Nix system of this machine, e.g. x86_64-linux. */
  system: string;
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, collecting its output (small outputs only). */
export function runProgram(program: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The first executable `name` on PATH, or undefined. */
export async function findOnPath(name: string, envPath = process.env['PATH'] ?? ''): Promise<string | undefined> {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** `2.8.0` from `nix (Nix) 2.8.0`, `nix (Determinate Nix 3.6.2) 2.29.0`, `nix (Lix, like Nix) 2.91.1`. */
export function parseNixVersion(text: string): string | undefined {
  const versions = [...text.matchAll(/(\d+)\.(\d+)(?:\.(\d+))?(?:[\w.+-]*)/g)].map((m) => `${m[1]}.${m[2]}.${m[3] ?? '0'}`);
  return versions.at(-1);
}

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const FEATURES_FLAG = ['--extra-experimental-features', 'nix-command flakes'];

/** The arguments that make `nix` accept flake commands on this install. */
export function featureArgs(install: NixInstall): string[] {
  return install.features.nixCommand && install.features.flakes ? [] : FEATURES_FLAG;
}

/**
 * Flags only Nix's commands that evaluate installables (build, eval, run, flake, path-info, ...) accept,
 * with how many arguments each takes: nix-store, nix-instantiate and `nix show-config` refuse them (Nix
 * 2.8 and 2.26: "unknown flag"). Every other word of ADDONIX_NIX_FLAGS (`--option NAME VALUE`, a setting
 * as `--NAME VALUE`, `--store URL`, ...) goes to every call.
 */
const INSTALLABLE_FLAGS: Record<string, number> = {
  '--override-input': 2,
  '--update-input': 1,
  '--inputs-from': 1,
  '--reference-lock-file': 1,
  '--output-lock-file': 1,
  '--recreate-lock-file': 0,
  '--no-update-lock-file': 0,
  '--no-write-lock-file': 0,
  '--commit-lock-file': 0,
  '--no-registries': 0,
  '--override-flake': 2,
  '--impure': 0,
  '--arg': 2,
  '--argstr': 2,
  '--eval-store': 1,
  '--print-build-logs': 0,
  '-L': 0,
  '--log-format': 1,
};

/**
 * The words of ADDONIX_NIX_FLAGS as a POSIX shell reads a command line: split at blanks, 'single quotes'
 * literal, "double quotes" taking a backslash before `"`, `\`, `$` and a backquote, a backslash outside quotes
 * taking the next character (before a newline: nothing, the lines are joined). Nothing is expanded (no `$NAME`, no globs): the value is the flags as written.
 * A quote left open is a usage error naming where it opened.
 */
export function splitNixFlags(text: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  const open = (quote: string, at: number) =>
    new UserError('usage', `ADDONIX_NIX_FLAGS: the ${quote} quote at character ${at + 1} is never closed (${JSON.stringify(text.slice(Math.max(0, at - 20), at + 20))}): close it, or escape it with a backslash`);
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw open('single', i);
      word = (word ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (ch === '"') {
      const start = i;
      word ??= '';
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) i++;
        word += text[i];
      }
      if (i >= text.length) throw open('double', start);
    } else if (ch === '\\') {
      // A backslash before a newline joins the lines, as in a shell.
      if (text[i + 1] !== '\n') word = (word ?? '') + (text[i + 1] ?? '');
      i++;
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/**
 * Extra arguments for a `nix` call addonix makes, from ADDONIX_NIX_FLAGS (the CI files pass the same
 * variable to their own `nix` calls), e.g. `--override-input addonix/nixpkgs git+https://mirror.example/nixpkgs`
 * or `--option substituters 'https://a.example https://b.example'`. `installables` calls (a flake evaluated
 * or built) get every word; the others (nix-store, nix-instantiate, `nix show-config`, `nix hash`) the
 * words without the installable-only flags and their arguments.
 */
export function extraNixFlags(env: NodeJS.ProcessEnv = process.env, call: 'installables' | 'other' = 'installables'): string[] {
  const words = splitNixFlags(env['ADDONIX_NIX_FLAGS'] ?? '');
  if (call === 'installables') return words;
  const kept: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const arity = INSTALLABLE_FLAGS[words[i]!];
    if (arity === undefined) kept.push(words[i]!);
    else i += arity;
  }
  return kept;
}

function firstLine(text: string): string {
  return text.replace(/\u001b\[[0-9;]*m/g, '').trim().split('\n')[0] ?? '';
}

/**
 * Finds and describes Nix. Missing Nix and a Nix without flakes (< 2.4) are UserErrors with the fix;
 * older-than-2.18 is reported by the caller (it may still build flakes that pin an older nixpkgs).
 */
export async function locateNix(env: NodeJS.ProcessEnv = process.env): Promise<NixInstall> {
  const nix = await findOnPath('nix', env['PATH']);
  if (!nix) throw new UserError('nix-missing', `Nix is not installed (no 'nix' on PATH): ${INSTALL_HINT}`);
  const flags = extraNixFlags(env, 'other');
  const versionRun = await runProgram(nix, ['--version', ...flags], { env });
  const version = parseNixVersion(versionRun.stdout);
  if (versionRun.code !== 0 || !version) throw new UserError('nix-missing', `${nix} --version failed (${firstLine(versionRun.stderr || versionRun.stdout) || `exit ${versionRun.code}`}); ${flags.length ? 'check ADDONIX_NIX_FLAGS, which it was given' : 'is this Nix?'}`);
  if (compareVersions(version, FIRST_FLAKES_NIX) < 0) {
    throw new UserError('nix-missing', `Nix ${version} (${nix}) has no flakes, which addonix builds with: ${INSTALL_HINT}`);
  }
  // Without extra flags first: that tells whether the configuration enables nix-command.
  // The settings as addonix's own calls see them: with ADDONIX_NIX_FLAGS.
  let config = await runProgram(nix, ['show-config', '--json', ...flags], { env });
  const nixCommand = config.code === 0;
  if (!nixCommand) config = await runProgram(nix, [...FEATURES_FLAG, 'show-config', '--json', ...flags], { env });
  if (config.code !== 0) throw new UserError('nix-missing', `${nix} show-config failed: ${firstLine(config.stderr) || `exit ${config.code}`}${flags.length ? ' (check ADDONIX_NIX_FLAGS, which it was given)' : ''}`);
  let raw: Record<string, { value: unknown }>;
  try {
    raw = JSON.parse(config.stdout) as Record<string, { value: unknown }>;
  } catch {
    throw new UserError('nix-missing', `${nix} show-config --json printed something that is not JSON`);
  }
  const settings = Object.fromEntries(Object.entries(raw).map(([key, entry]) => [key, entry?.value]));
  // `builtins.getFlake` exists only when the configuration enables flakes (Nix 2.8 prints the feature
  // list as numbers, so the list itself cannot be read reliably).
  const nixInstantiate = path.join(path.dirname(nix), 'nix-instantiate');
  const probe = await runProgram(nixInstantiate, ['--eval', '--expr', 'builtins ? getFlake', ...flags], { env }).catch(() => undefined);
  const flakes = probe?.code === 0 && probe.stdout.trim() === 'true';
  return {
    nix,
    nixStore: path.join(path.dirname(nix), 'nix-store'),
    version,
    versionText: versionRun.stdout.trim(),
    features: { nixCommand, flakes },
    settings,
    system: typeof settings['system'] === 'string' ? settings['system'] : 'x86_64-linux',
  };
}

/** Whether this Nix is older than what nixpkgs >= 25.11 needs. */
export function isOlderThanMinimum(install: NixInstall): boolean {
  return compareVersions(install.version, MINIMUM_NIX) < 0;
}
