/**
 * The Nix hash dockerTools.pullImage needs for a base image. It is the hash of the docker-archive file
 * pullImage writes (skopeo's output, a fixed-output derivation), not the registry's digest of the
 * manifest: the two hash different bytes, and the archive depends on nixpkgs' skopeo. The only faithful
 * way to learn it is to let Nix build that very derivation with an empty (fake) hash and read the hash
 * it got from the mismatch error — what nix-prefetch-docker and `nix build` users do by hand.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { nixString, toNix } from '../nixgen/nix.js';
import { UserError } from '../util/errors.js';
import { extraNixFlags } from './install.js';
import { readNixError } from './log.js';

const FEATURES = ['--extra-experimental-features', 'nix-command flakes'];

/** pullImage's arguments, as the lock file records them (the hash left out). */
export interface PullImageArgs {
  imageName: string;
  imageDigest: string;
  finalImageName: string;
  finalImageTag: string;
  os: string;
  arch: string;
  tlsVerify: boolean;
}

/**
 * The default nixpkgs for hashes: the revision addonix's own flake.lock pins, so the hash is the one
 * the add-on's build gets when it takes nixpkgs from addonix.
 */
export async function pinnedNixpkgs(flakeLock: string): Promise<string> {
  let lock: { nodes?: { nixpkgs?: { locked?: { type?: string; owner?: string; repo?: string; rev?: string } } } };
  try {
    lock = JSON.parse(await fs.readFile(flakeLock, 'utf8')) as typeof lock;
  } catch (error) {
    throw new UserError('nix-failed', `cannot read addonix's ${path.basename(flakeLock)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}) for its nixpkgs revision; pass --nixpkgs FLAKEREF`);
  }
  const locked = lock.nodes?.nixpkgs?.locked;
  if (!locked?.rev || !/^[0-9a-f]{40}$/.test(locked.rev)) throw new UserError('usage', `${flakeLock} pins no nixpkgs revision; pass --nixpkgs FLAKEREF`);
  if (locked.type === 'github' && locked.owner && locked.repo) return `github:${locked.owner}/${locked.repo}/${locked.rev}`;
  return `github:NixOS/nixpkgs/${locked.rev}`;
}

/**
 * The expression: the drvPaths of the flake's pullImage for this system, one per image, with an empty
 * hash. Each gets a store name of its own: with the same (fake) hash and the default name, every image
 * would have the same output path, and Nix would build them one after the other, waiting for its lock.
 * The name is not part of what is hashed (the archive's bytes), so the hash is the build's.
 */
export function pullImageExpression(nixpkgs: string, images: readonly PullImageArgs[]): string {
  const calls = images.map((args) => {
    const name = `addonix-pin-base-${args.arch}-${createHash('sha256').update(JSON.stringify(args)).digest('hex').slice(0, 12)}.tar`;
    return `(pullImage ${toNix({ ...args, hash: '', name })}).drvPath`;
  });
  return `let pullImage = (builtins.getFlake ${nixString(nixpkgs)}).legacyPackages.\${builtins.currentSystem}.dockerTools.pullImage; in [\n${calls.join('\n')}\n]`;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(program: string, args: string[], onLine: (line: string) => void, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    let pending = '';
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      stderr += text;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) onLine(line);
    });
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new UserError('nix-missing', `${program} is not on PATH: the Nix hash needs Nix (install it, or pass --no-hash to pin the digests only)`)
          : new UserError('nix-failed', `cannot run ${program}: ${error.message}`),
      ),
    );
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `sha256-…` (SRI) from a `got:` line; older Nix prints `sha256:<base32>`, which Nix itself converts. */
async function sriOf(got: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (got.startsWith('sha256-')) return got;
  const converted = await new Promise<string>((resolve, reject) => {
    const child = spawn('nix', [...FEATURES, 'hash', 'to-sri', got, ...extraNixFlags(env, 'other')], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new UserError('nix-failed', `nix hash to-sri ${got} failed`))));
  });
  if (!/^sha256-[A-Za-z0-9+/]{43}=$/.test(converted)) throw new UserError('nix-failed', `nix hash to-sri ${got} answered '${converted}'`);
  return converted;
}

/**
 * What Nix said when it failed for another reason than the hash: its error (the last `error:` block, with
 * the builder's last lines when a build failed) as the message, the trace before it apart (--verbose).
 */
function failureSummary(stderr: string): { message: string; trace: string[] } {
  const lines = stderr
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '' && !/^warning: /.test(line) && !/^(this derivation will be built|building ')/.test(line.trim()));
  if (!lines.some((line) => /^\s*error:/.test(line))) return { message: lines.slice(-12).join('\n'), trace: [] };
  const { message, trace } = readNixError(lines.join('\n'));
  return { message: message.split('\n').slice(0, 16).join('\n'), trace };
}

/**
 * Builds pullImage with an empty hash for each image and returns the hashes Nix got (SRI), in order:
 * one evaluation for all (the derivations), then one `nix-store --realise --keep-going` of them all, whose
 * hash-mismatch errors name each derivation. `onLine` gets Nix's log lines (for progress). Nix fetches
 * the images from inside the builds: the registry must be reachable from there, without credentials.
 */
export async function pullImageHashes(options: { nixpkgs: string; images: readonly PullImageArgs[]; onLine?: (line: string) => void; env?: NodeJS.ProcessEnv }): Promise<string[]> {
  const { nixpkgs, images } = options;
  const env = options.env ?? process.env;
  const onLine = options.onLine ?? (() => undefined);
  const what = (args: PullImageArgs) => `${args.imageName}@${args.imageDigest}`;
  const evaluated = await run('nix', [...FEATURES, 'eval', '--impure', '--json', '--expr', pullImageExpression(nixpkgs, images), ...extraNixFlags(env)], onLine, env);
  let drvPaths: string[] = [];
  try {
    if (evaluated.code === 0) drvPaths = JSON.parse(evaluated.stdout) as string[];
  } catch {
    drvPaths = [];
  }
  if (evaluated.code !== 0 || drvPaths.length !== images.length || !drvPaths.every((drv) => typeof drv === 'string' && drv.endsWith('.drv'))) {
    const failure = failureSummary(evaluated.stderr);
    throw new UserError('nix-failed', `nix could not evaluate pullImage of ${nixpkgs} for ${images.map(what).join(', ')}:\nerror: ${failure.message}`, { trace: failure.trace });
  }
  const built = await run('nix-store', ['--realise', '--keep-going', ...drvPaths, ...extraNixFlags(env, 'other')], onLine, env);
  const got = new Map<string, string>();
  for (const match of built.stderr.matchAll(/hash mismatch in fixed-output derivation '([^']+)':\s+specified:\s+\S+\s+got:\s+(sha256-[A-Za-z0-9+/]{43}=|sha256:[0-9a-z]{52})/g)) {
    got.set(match[1]!, await sriOf(match[2]!, env));
  }
  return images.map((args, i) => {
    const hash = got.get(drvPaths[i]!);
    if (hash) return hash;
    if (built.code === 0) throw new UserError('nix-failed', `nix built ${what(args)} with an empty hash and did not complain; ${nixpkgs}'s pullImage does not check hashes as expected`);
    const failure = failureSummary(built.stderr);
    throw new UserError('nix-failed', `nix failed to build pullImage of ${what(args)} (nixpkgs: ${nixpkgs}):\nerror: ${failure.message}`, { trace: failure.trace });
  });
}
