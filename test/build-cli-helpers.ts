/**
 * Test flakes for the Nix-driving commands: a copy of test/fixtures/image-flake (images built from host
 * tools, in the Nix sandbox) with its settings, an add-on config beside it, and a local git repository
 * standing in for nixpkgs so that flake.lock pins a real revision. Each flake gets a fresh nonce, so its
 * derivations are new to the store and really built. Also fake `nix` programs for machines without a
 * usable Nix.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { REPO, tempTree } from './helpers.js';

export interface FlakeSettings {
  fail?: string;
  plant?: 'timestamp' | 'random' | 'mtime';
  plantArch?: string;
  slow?: boolean;
}

export interface TestFlake {
  dir: string;
  nonce: string;
  /** The stand-in nixpkgs repository and its locked revision. */
  nixpkgs: { dir: string; rev: string };
  /** Environment for addonix runs: the sandbox with the host's tools, no binary cache, a private cache dir. */
  env: Record<string, string>;
  /** Rewrites settings.nix (with a new nonce unless one is given). */
  settings(settings: FlakeSettings, nonce?: string): string;
}

const FIXTURE = path.join(REPO, 'test', 'fixtures', 'image-flake');

/** The paths Nix's own configuration mounts in the sandbox (`sandbox-paths`, e.g. Debian 13's `/bin/sh=…bash-static`). */
function nixSandboxPaths(): string[] {
  const shown = spawnSync('nix', ['--extra-experimental-features', 'nix-command', 'show-config', '--json'], { encoding: 'utf8', env: { ...process.env, NIX_CONFIG: '' } });
  try {
    const value = (JSON.parse(shown.stdout) as { 'sandbox-paths'?: { value?: string[] } })['sandbox-paths']?.value;
    return Array.isArray(value) ? value.map((entry) => entry.split('=')[0]!.replace(/\?$/, '')) : [];
  } catch {
    return [];
  }
}

/**
 * The host paths the stand-in's builders use, as extra-sandbox-paths, by what this system has: a folder
 * as itself, a merged-/usr link (/bin -> usr/bin, Debian 12 and 13 alike) as the folder it names
 * (`/bin=/usr/bin`: Nix 2.2x cannot make the link in the sandbox), and none where Nix's own
 * sandbox-paths mount something inside it. Nix makes the file it mounts over: where that file is inside
 * a host folder mounted too, it makes it in the host's folder, emptying what was there (Debian 13's Nix
 * mounts bash-static as /bin/sh: with /bin bound, the host's dash was emptied). Nix 2.8 in Debian 12
 * mounts nothing of its own: its builders get /bin/sh from /bin. For the same reason the CA bundle is
 * mounted as the file itself, not /etc/ssl: Nix 2.26 mounts its CA file over
 * /etc/ssl/certs/ca-certificates.crt for fetches, which emptied the host's bundle when /etc/ssl was bound.
 */
export function hostSandboxPaths(): string {
  const nixOwn = nixSandboxPaths();
  return ['/bin', '/lib', '/lib64', '/usr', '/etc/ssl/certs/ca-certificates.crt']
    .filter((dir) => existsSync(dir) && !nixOwn.some((own) => own === dir || own.startsWith(`${dir}/`)))
    .map((dir) => (lstatSync(dir).isSymbolicLink() ? `${dir}=${realpathSync(dir)}` : dir))
    .join(' ');
}

/**
 * Nix settings for the tests: the sandbox on (whatever nix.conf says: off in Debian 12's, on in
 * Debian 13's), with the host tools the builders use and the host's CA certificates (the stand-in's
 * fetchurl and cacert take them from /etc/ssl, as nixpkgs' take cacert's); no substituters (no network
 * but the npm registry's tarballs, fetched by hash).
 */
export const TEST_NIX_CONFIG = ['substituters =', 'sandbox = true', `extra-sandbox-paths = ${hostSandboxPaths()}`].join('\n');

export function newNonce(): string {
  return `${Date.now()}${Math.floor(Math.random() * 1e6)}`;
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=addonix-test', '-c', 'user.email=test@invalid', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8' }).trim();

export function testFlake(t: TestContext, settings: FlakeSettings = {}, config: { image?: string; arches?: string[] } = {}): TestFlake {
  const root = tempTree(t, {});
  const nixpkgsDir = path.join(root, 'nixpkgs-stand-in');
  mkdirSync(nixpkgsDir);
  writeFileSync(path.join(nixpkgsDir, 'flake.nix'), '{ outputs = { self }: { lib.version = "25.11-stand-in"; }; }\n');
  git(nixpkgsDir, 'init', '-q');
  git(nixpkgsDir, 'add', 'flake.nix');
  git(nixpkgsDir, 'commit', '-q', '-m', 'stand-in');
  const rev = git(nixpkgsDir, 'rev-parse', 'HEAD');

  const dir = path.join(root, 'addon');
  mkdirSync(dir);
  for (const name of readdirSync(FIXTURE)) copyFileSync(path.join(FIXTURE, name), path.join(dir, name));
  const flake = path.join(dir, 'flake.nix');
  writeFileSync(flake, readFileSync(flake, 'utf8').replaceAll('@NIXPKGS@', `git+file://${nixpkgsDir}`));
  const arches = config.arches ?? ['amd64', 'aarch64', 'armv7'];
  writeFileSync(
    path.join(dir, 'config.yaml'),
    `name: Test add-on\nversion: "1.0.0"\nslug: test_addon\ndescription: Images built from host tools\narch:\n${arches.map((a) => `  - ${a}\n`).join('')}${config.image ? `image: ${config.image}\n` : ''}`,
  );
  const result: TestFlake = {
    dir,
    nonce: '',
    nixpkgs: { dir: nixpkgsDir, rev },
    env: { NIX_CONFIG: TEST_NIX_CONFIG, ADDONIX_CACHE_DIR: path.join(root, 'cache') },
    settings(next, nonce = newNonce()) {
      const fields = [`nonce = "${nonce}";`];
      if (next.fail) fields.push(`fail = "${next.fail}";`);
      if (next.plant) fields.push(`plant = "${next.plant}";`, `plantArch = "${next.plantArch ?? 'amd64'}";`);
      if (next.slow) fields.push('slow = true;');
      writeFileSync(path.join(dir, 'settings.nix'), `{ ${fields.join(' ')} }\n`);
      result.nonce = nonce;
      return nonce;
    },
  };
  result.settings(settings);
  return result;
}

/** A folder with a fake `nix` (and `nix-instantiate`) that answers like `script` says; the folder goes first on PATH. */
export function fakeNix(t: TestContext, script: string, instantiate = 'echo false'): string {
  const bin = tempTree(t, {});
  writeFileSync(path.join(bin, 'nix'), `#!/bin/sh\n${script}\n`);
  writeFileSync(path.join(bin, 'nix-instantiate'), `#!/bin/sh\n${instantiate}\n`);
  chmodSync(path.join(bin, 'nix'), 0o755);
  chmodSync(path.join(bin, 'nix-instantiate'), 0o755);
  return bin;
}

/** Processes whose command line contains `text` (read from /proc), to prove builders are gone. */
export function processesWith(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}
