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
 * Extra arguments for every `nix` call addonix makes that evaluates or builds a flake: the words of
 * ADDONIX_NIX_FLAGS, split at whitespace as a shell splits an unquoted variable (the CI files pass the
 * same variable to their own `nix` calls as `$ADDONIX_NIX_FLAGS`), e.g. `--override-input addonix/nixpkgs
 * git+https://mirror.example/nixpkgs` or `--option substituters https://cache.example`. No quoting.
 */
export function extraNixFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env['ADDONIX_NIX_FLAGS'] ?? '').split(/\s+/).filter((word) => word !== '');
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
  const versionRun = await runProgram(nix, ['--version'], { env });
  const version = parseNixVersion(versionRun.stdout);
  if (versionRun.code !== 0 || !version) throw new UserError('nix-missing', `${nix} --version failed (${firstLine(versionRun.stderr || versionRun.stdout) || `exit ${versionRun.code}`}); is this Nix?`);
  if (compareVersions(version, FIRST_FLAKES_NIX) < 0) {
    throw new UserError('nix-missing', `Nix ${version} (${nix}) has no flakes, which addonix builds with: ${INSTALL_HINT}`);
  }
  // Without extra flags first: that tells whether the configuration enables nix-command.
  let config = await runProgram(nix, ['show-config', '--json'], { env });
  const nixCommand = config.code === 0;
  if (!nixCommand) config = await runProgram(nix, [...FEATURES_FLAG, 'show-config', '--json'], { env });
  if (config.code !== 0) throw new UserError('nix-missing', `${nix} show-config failed: ${firstLine(config.stderr) || `exit ${config.code}`}`);
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
  const probe = await runProgram(nixInstantiate, ['--eval', '--expr', 'builtins ? getFlake'], { env }).catch(() => undefined);
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
