/**
 * Registry credentials, looked up the way Docker does: `--username` with `--password-stdin` first, then
 * `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`): `credHelpers` for the registry, then
 * `auths`, then the default `credsStore`. Helpers run as `docker-credential-<name> get`.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { UserError } from '../util/errors.js';

export interface Credentials {
  username: string;
  password: string;
  /** An OAuth refresh token (Docker's `identitytoken`), used instead of the password at token endpoints. */
  identityToken?: string;
  /** Where they came from, for messages (never the secret). */
  from: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export function dockerConfigPath(): string {
  const dir = process.env['DOCKER_CONFIG'] || path.join(homedir(), '.docker');
  return path.join(dir, 'config.json');
}

/** `https://index.docker.io/v1/`, `http://host:5000/x` → the host part, as the registry is named. */
function normalizeKey(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

/** The name a credential helper is asked about: Docker Hub is known by its legacy URL. */
function helperServer(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

async function runHelper(helper: string, registry: string, configFile: string): Promise<Credentials | undefined> {
  const program = `docker-credential-${helper}`;
  const { spawn } = await import('node:child_process');
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(program, ['get'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new UserError('credentials', `${configFile} names the credential helper '${helper}', but ${program} is not on PATH; install it or remove it from the file`)
          : error,
      ),
    );
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(helperServer(registry));
  });
  if (result.code !== 0) {
    // The helpers' way of saying "nothing stored for this registry": go on anonymously.
    if (/credentials not found/i.test(result.stdout + result.stderr)) return undefined;
    throw new UserError('credentials', `${program} get failed for ${registry} (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(0, 300)}`);
  }
  let parsed: { Username?: string; Secret?: string };
  try {
    parsed = JSON.parse(result.stdout) as { Username?: string; Secret?: string };
  } catch {
    throw new UserError('credentials', `${program} get answered something that is not JSON`);
  }
  if (!parsed.Secret) return undefined;
  const from = `${program}`;
  // Docker's convention: the username '<token>' marks an identity (refresh) token.
  if (parsed.Username === '<token>') return { username: '', password: '', identityToken: parsed.Secret, from };
  return { username: parsed.Username ?? '', password: parsed.Secret, from };
}

function fromAuthEntry(entry: AuthEntry, from: string): Credentials | undefined {
  if (entry.identitytoken) return { username: entry.username ?? '', password: '', identityToken: entry.identitytoken, from };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new UserError('credentials', `${from}: the 'auth' value is not base64 of USER:PASSWORD`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), from };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password, from };
  return undefined;
}

/** Credentials for a registry from Docker's config file, or undefined (anonymous). */
export async function lookupCredentials(registry: string): Promise<Credentials | undefined> {
  const configFile = dockerConfigPath();
  let config: DockerConfig;
  try {
    config = JSON.parse(await readFile(configFile, 'utf8')) as DockerConfig;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError('credentials', `cannot read ${configFile}: ${(error as Error).message}`);
  }
  const wanted = normalizeKey(registry);
  const helper = Object.entries(config.credHelpers ?? {}).find(([key]) => normalizeKey(key) === wanted)?.[1];
  if (helper) return runHelper(helper, registry, configFile);
  const entry = Object.entries(config.auths ?? {}).find(([key]) => normalizeKey(key) === wanted)?.[1];
  const fromFile = entry ? fromAuthEntry(entry, `${configFile} (auths)`) : undefined;
  if (fromFile) return fromFile;
  if (config.credsStore) return runHelper(config.credsStore, registry, configFile);
  return undefined;
}

/**
 * Stores a login in Docker's config file as `docker login` does without a credential store: `auths` keyed
 * by the registry's host, `auth` = base64 of USER:PASSWORD. Other entries are kept; the file is written
 * whole (mode 0600) and renamed into place, so a job that logs in to several registries ends with all of
 * them, each used only for its own host.
 */
export async function storeCredentials(registry: string, username: string, password: string): Promise<string> {
  const { mkdir, rename, writeFile } = await import('node:fs/promises');
  const configFile = dockerConfigPath();
  let config: DockerConfig & Record<string, unknown> = {};
  try {
    config = JSON.parse(await readFile(configFile, 'utf8')) as DockerConfig & Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError('credentials', `cannot read ${configFile}: ${(error as Error).message}`);
  }
  const key = normalizeKey(registry);
  const helper = Object.entries(config.credHelpers ?? {}).find(([name]) => normalizeKey(name) === key)?.[1];
  if (helper) throw new UserError('credentials', `${configFile} names the credential helper '${helper}' for ${key}, which would be asked instead of this login; log in with that helper, or remove it from the file`);
  // Entries naming the same host otherwise (https://host/v1/) would be read first: one entry per host.
  const auths = Object.fromEntries(Object.entries(config.auths ?? {}).filter(([name]) => normalizeKey(name) !== key));
  auths[key] = { auth: Buffer.from(`${username}:${password}`, 'utf8').toString('base64') };
  config.auths = auths;
  await mkdir(path.dirname(configFile), { recursive: true, mode: 0o700 });
  const temporary = `${configFile}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  await rename(temporary, configFile);
  return configFile;
}
