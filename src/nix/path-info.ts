/**
 * What Nix knows of store paths it holds: the SHA-256 of each path's NAR serialisation (`nix-store
 * --query --hash`, the same on Nix 2.8 and current, printed in Nix's base-32). A path the local store does
 * not have (an image built elsewhere) gets none.
 */
import { execFile } from 'node:child_process';
import { extraNixFlags, type NixInstall } from './install.js';

/** Nix's base-32 alphabet (no e, o, u, t). */
const NIX32 = '0123456789abcdfghijklmnpqrsvwxyz';

/** Decodes Nix's base-32 (the last character holds the lowest bits), e.g. a `sha256:` narHash; null if it is not one. */
export function nix32ToHex(text: string, bytes = 32): string | null {
  if (text.length !== Math.ceil((bytes * 8) / 5)) return null;
  const out = new Uint8Array(bytes);
  for (let k = 0; k < text.length; k++) {
    const digit = NIX32.indexOf(text[k]!);
    if (digit < 0) return null;
    const n = text.length - 1 - k;
    const bit = n * 5;
    const i = Math.floor(bit / 8);
    const j = bit % 8;
    out[i]! |= (digit << j) & 0xff;
    if (i < bytes - 1) out[i + 1]! |= digit >> (8 - j);
    else if (digit >> (8 - j) !== 0) return null;
  }
  return Buffer.from(out).toString('hex');
}

function queryHashes(install: NixInstall, paths: readonly string[], env: NodeJS.ProcessEnv): Promise<string[] | null> {
  const flags = extraNixFlags(env, 'other');
  return new Promise((resolve) => {
    execFile(install.nixStore, ['--query', '--hash', ...paths, ...flags], { encoding: 'utf8', env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout) => resolve(error ? null : stdout.split('\n').filter(Boolean)));
  });
}

/** The NAR SHA-256 (hex) of each store path the local store has; paths it lacks are left out. */
export async function narHashes(install: NixInstall, paths: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const record = (storePath: string, line: string | undefined) => {
    const match = /^sha256:([0-9a-z]{52})$/.exec(line ?? '');
    const hex = match ? nix32ToHex(match[1]!) : null;
    if (hex) found.set(storePath, hex);
  };
  const all = paths.length > 0 ? await queryHashes(install, paths, env) : [];
  if (all !== null && all.length === paths.length) {
    paths.forEach((storePath, i) => record(storePath, all[i]));
    return found;
  }
  // nix-store stops at the first path it does not have: then each on its own.
  for (const storePath of paths) record(storePath, (await queryHashes(install, [storePath], env))?.[0]);
  return found;
}
