/**
 * `addonix doctor`: what this machine has for building, loading and pushing add-on images, each finding
 * ok / warn / fail with the fix. Secrets are never read into the output: credentials are reported by
 * where they are, not what they are.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ARCH_TABLE, HA_ARCHES } from '../addon/arch.js';
import { UserError } from '../util/errors.js';
import { ENABLE_FLAKES_HINT, INSTALL_HINT, isOlderThanMinimum, locateNix, MINIMUM_NIX, type NixInstall } from '../nix/install.js';
import { dockerConfigPath, lookupCredentials } from '../registry/credentials.js';
import { deflateEngine } from '../oci/compression.js';
import { engineOf, noEngineAdvice, surveyEngines } from '../engine/choose.js';

export type Status = 'ok' | 'warn' | 'fail';

export interface Check {
  /** A short, stable name: nix, nix-version, flakes, sandbox, substituters, cache-reach, builders, native-builds, binfmt, engine, credentials, node. */
  check: string;
  status: Status;
  message: string;
  fix?: string;
}

const ok = (check: string, message: string): Check => ({ check, status: 'ok', message });
const warn = (check: string, message: string, fix: string): Check => ({ check, status: 'warn', message, fix });
const fail = (check: string, message: string, fix: string): Check => ({ check, status: 'fail', message, fix });

/** The public binary cache and its key (nixos.org/manual: the default substituter and trusted key). */
const NIXOS_CACHE = 'https://cache.nixos.org';

function stringList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String).filter(Boolean);
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  return [];
}

function nixChecks(install: NixInstall): Check[] {
  const checks: Check[] = [ok('nix', `Nix ${install.version} (${install.nix}), system ${install.system}`)];
  checks.push(
    isOlderThanMinimum(install)
      ? fail('nix-version', `Nix ${install.version} is older than ${MINIMUM_NIX}, which nixpkgs >= 25.11 (and so addonix's flake) needs`, INSTALL_HINT)
      : ok('nix-version', `Nix ${install.version} >= ${MINIMUM_NIX}`),
  );
  const missing = [!install.features.nixCommand && 'nix-command', !install.features.flakes && 'flakes'].filter(Boolean);
  checks.push(
    missing.length === 0
      ? ok('flakes', 'nix-command and flakes are enabled')
      : warn('flakes', `${missing.join(' and ')} not enabled in Nix's configuration: addonix passes --extra-experimental-features itself, but nix build .#... and nix run .#build-all-images by hand need them`, ENABLE_FLAKES_HINT),
  );
  const sandbox = install.settings['sandbox'];
  checks.push(
    sandbox === true || sandbox === 'true'
      ? ok('sandbox', 'builds run in the sandbox')
      : warn('sandbox', `the sandbox is ${sandbox === 'relaxed' ? 'relaxed' : 'off'}: builds can read this machine's files, so a result may depend on the machine`, "set 'sandbox = true' in /etc/nix/nix.conf"),
  );
  checks.push(substituterCheck(stringList(install.settings['substituters']), stringList(install.settings['trusted-public-keys']), install.settings['require-sigs']));
  return checks;
}

/** Each substituter should have a trusted key named after it (keys are named `<cache name>-<n>`). */
export function substituterCheck(substituters: string[], keys: string[], requireSigs: unknown): Check {
  if (substituters.length === 0) {
    return warn('substituters', 'no binary cache: every package, Node.js included, is built from source (hours)', `add 'substituters = ${NIXOS_CACHE}' (and a cache of your own for cross builds: Cachix, attic or S3)`);
  }
  const keyNames = keys.map((key) => key.split(':')[0]!.replace(/-\d+$/, ''));
  const unsigned = substituters.filter((url) => {
    if (/^(file|local|daemon|auto):|^\//.test(url)) return false;
    const host = url.replace(/^[a-z0-9+]+:\/\//, '').replace(/[/?].*$/, '');
    return !keyNames.some((name) => host === name || host.endsWith(`.${name}`));
  });
  const list = substituters.join(', ');
  if (requireSigs === false) return warn('substituters', `${list}; signatures are not required (require-sigs = false): a cache can hand out anything`, "set 'require-sigs = true'");
  if (unsigned.length > 0) {
    return warn('substituters', `${list}; no trusted key seems to belong to ${unsigned.join(', ')} (keys: ${keyNames.join(', ') || 'none'}), so Nix will not use what it offers`, "add the cache's public key to 'trusted-public-keys' (extra-trusted-public-keys)");
  }
  if (!substituters.some((url) => url.replace(/\/+$/, '') === NIXOS_CACHE)) {
    return warn('substituters', `${list}; ${NIXOS_CACHE} is not among them, so nixpkgs' own packages are built from source`, `add ${NIXOS_CACHE} to 'substituters'`);
  }
  return ok('substituters', `${list}, with trusted keys ${keyNames.join(', ')}`);
}

export interface Builder {
  uri: string;
  systems: string[];
}

/** Remote builders from the `builders` setting: entries separated by `;` or newlines, `@FILE` read. */
export async function readBuilders(setting: string): Promise<Builder[]> {
  const builders: Builder[] = [];
  for (const entry of setting.split(/[;\n]/).map((e) => e.trim())) {
    if (!entry || entry.startsWith('#')) continue;
    if (entry.startsWith('@')) {
      const text = await readFile(entry.slice(1), 'utf8').catch(() => '');
      builders.push(...(await readBuilders(text)));
      continue;
    }
    const [uri, systems] = entry.split(/\s+/);
    builders.push({ uri: uri!, systems: (systems ?? '').split(',').filter((s) => s && s !== '-') });
  }
  return builders;
}

export interface Emulator {
  name: string;
  system: string;
  interpreter: string;
}

const QEMU_SYSTEMS: Record<string, string> = {
  'qemu-aarch64': 'aarch64-linux',
  'qemu-arm': 'armv7l-linux',
  'qemu-i386': 'i686-linux',
  'qemu-x86_64': 'x86_64-linux',
  'qemu-riscv64': 'riscv64-linux',
};

/** Enabled binfmt_misc entries for QEMU (what lets this machine run other arches' binaries). */
export async function binfmtEmulators(dir = '/proc/sys/fs/binfmt_misc'): Promise<Emulator[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const emulators: Emulator[] = [];
  for (const name of names.sort()) {
    const system = QEMU_SYSTEMS[name];
    if (!system) continue;
    const text = await readFile(path.join(dir, name), 'utf8').catch(() => '');
    if (!/^enabled$/m.test(text)) continue;
    emulators.push({ name, system, interpreter: /^interpreter (.+)$/m.exec(text)?.[1] ?? '' });
  }
  return emulators;
}

/**
 * Whether each binary cache answers: its nix-cache-info, fetched with a short timeout (HTTP) or read
 * (file://). A configured cache that does not answer costs every build a wait and then builds from
 * source what it would have fetched. Other stores (s3://, ssh://) are named as not checked.
 */
export async function substituterReach(substituters: string[], timeoutMs = 3000): Promise<Check> {
  if (substituters.length === 0) return ok('cache-reach', 'no binary cache to reach');
  const results = await Promise.all(
    substituters.map(async (url): Promise<[string, 'ok' | 'unreachable' | 'unchecked', string]> => {
      const base = url.replace(/\?.*$/, '').replace(/\/+$/, '');
      if (/^https?:\/\//.test(base)) {
        try {
          const response = await fetch(`${base}/nix-cache-info`, { signal: AbortSignal.timeout(timeoutMs) });
          await response.body?.cancel();
          return [url, response.ok ? 'ok' : 'unreachable', response.ok ? '' : `HTTP ${response.status}`];
        } catch (error) {
          const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
          return [url, 'unreachable', cause === 'TimeoutError' ? `no answer in ${timeoutMs / 1000} s` : String(cause)];
        }
      }
      if (base.startsWith('file://')) {
        const found = await readFile(path.join(base.slice('file://'.length), 'nix-cache-info'), 'utf8').then(() => true, () => false);
        return [url, found ? 'ok' : 'unreachable', found ? '' : 'no nix-cache-info there'];
      }
      return [url, 'unchecked', ''];
    }),
  );
  const unreachable = results.filter(([, state]) => state === 'unreachable');
  const unchecked = results.filter(([, state]) => state === 'unchecked').map(([url]) => url);
  const note = unchecked.length > 0 ? ` (not checked: ${unchecked.join(', ')})` : '';
  if (unreachable.length > 0) {
    return warn(
      'cache-reach',
      `unreachable: ${unreachable.map(([url, , why]) => `${url} (${why})`).join(', ')}${note}: builds wait for it, then compile what it would have served`,
      'check the network or proxy, or remove it from substituters; addonix build --substituters lists the caches for one build',
    );
  }
  return ok('cache-reach', `${results.filter(([, state]) => state === 'ok').map(([url]) => url).join(', ') || 'none'} answered${note}`);
}

/** Which add-on arches this machine can build natively (itself, extra-platforms, remote builders), which only by cross-compiling. */
export function nativeBuildsCheck(system: string, extraPlatforms: string[], builders: Builder[], emulators: Emulator[]): Check[] {
  const checks: Check[] = [];
  const byBuilder = new Map<string, string>();
  for (const builder of builders) for (const s of builder.systems) if (!byBuilder.has(s)) byBuilder.set(s, builder.uri);
  const native: string[] = [];
  const crossOnly: string[] = [];
  for (const arch of HA_ARCHES) {
    const nixSystem = ARCH_TABLE[arch].nixSystem;
    if (nixSystem === system) native.push(`${arch} (this machine)`);
    else if (extraPlatforms.includes(nixSystem)) native.push(`${arch} (extra-platforms${emulators.some((e) => e.system === nixSystem) ? ', binfmt' : ''})`);
    else if (byBuilder.has(nixSystem)) native.push(`${arch} (${byBuilder.get(nixSystem)})`);
    else crossOnly.push(arch);
  }
  checks.push(
    ok(
      'native-builds',
      `native: ${native.join(', ') || 'none'}; cross-compiled only: ${crossOnly.join(', ') || 'none'}. The default strategies build every arch on this machine: amd64 and aarch64 from the binary cache (strategy cached), the deprecated arches cross-compiled (a first build compiles Node.js); strategy = "native" needs the arch here, under binfmt or on a remote builder`,
    ),
  );
  for (const emulator of emulators) {
    if (emulator.system === system || extraPlatforms.includes(emulator.system)) continue;
    checks.push(
      warn(
        'binfmt',
        `binfmt runs ${emulator.system} binaries (${emulator.name}), but Nix does not use it`,
        `add 'extra-platforms = ${emulator.system}' to nix.conf${emulator.interpreter ? ` and, with the sandbox on, 'extra-sandbox-paths = ${emulator.interpreter}'` : ''}`,
      ),
    );
  }
  if (builders.length > 0) checks.push(ok('builders', builders.map((b) => `${b.uri} (${b.systems.join(', ') || 'any system'})`).join('; ')));
  return checks;
}

async function engineCheck(): Promise<Check> {
  const survey = await surveyEngines();
  const engine = engineOf(survey);
  const found = [survey.docker, survey.podman].filter((name): name is string => name !== undefined);
  if (engine) {
    const chosen = engine === 'docker' ? survey.docker : survey.podman;
    return ok('engine', `${found.join(', ')}; addonix load uses ${chosen} unless --engine says otherwise${survey.dockerWithoutDaemon ? ' (the docker client is here, but no Docker daemon answers)' : ''}`);
  }
  const { message, fix } = noEngineAdvice(survey);
  return warn('engine', `${message}: addonix load has nothing to load into (build, diff, verify and push do not need one)`, fix);
}

/** Registries with credentials in Docker's config, and whether the given registries have some (never the secrets). */
async function credentialChecks(registries: string[]): Promise<Check[]> {
  const file = dockerConfigPath();
  let config: { auths?: Record<string, unknown>; credHelpers?: Record<string, string>; credsStore?: string } | undefined;
  try {
    config = JSON.parse(await readFile(file, 'utf8')) as typeof config;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return [warn('credentials', `${file} cannot be read: ${(error as Error).message}`, 'fix or remove the file (docker login rewrites it)')];
  }
  const known = [
    ...Object.keys(config?.auths ?? {}).map((r) => `${r} (auths)`),
    ...Object.entries(config?.credHelpers ?? {}).map(([r, helper]) => `${r} (docker-credential-${helper})`),
  ];
  const checks: Check[] = [];
  if (!config) checks.push(warn('credentials', `no ${file}: addonix push can only push anonymously`, 'docker login REGISTRY (or pass --username with --password-stdin to push)'));
  else checks.push(ok('credentials', `${file}: ${known.join(', ') || 'no registries'}${config.credsStore ? `; other registries via docker-credential-${config.credsStore}` : ''}`));
  for (const registry of registries) {
    try {
      const found = await lookupCredentials(registry);
      checks.push(found ? ok('credentials', `${registry}: credentials found (${found.from})`) : warn('credentials', `${registry}: no credentials`, `docker login ${registry}, or pass --username with --password-stdin to push`));
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      checks.push(fail('credentials', `${registry}: ${error.message}`, 'fix the credential helper, or log in again with docker login'));
    }
  }
  return checks;
}

function nodeCheck(): Check {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  return major > 20 || (major === 20 && minor >= 19) ? ok('node', `Node.js ${process.version}; ${deflateEngine()}`) : fail('node', `Node.js ${process.version} is older than 20.19`, 'install Node.js 20.19 or later');
}

export async function runChecks(options: { registries?: string[]; binfmtDir?: string; reachTimeoutMs?: number } = {}): Promise<Check[]> {
  const checks: Check[] = [nodeCheck()];
  let install: NixInstall | undefined;
  try {
    install = await locateNix();
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    // ADDONIX_NIX_FLAGS unreadable: every Nix call would fail the same way, and installing Nix does not help.
    checks.push(error.code === 'usage' ? fail('nix', error.message, 'close the quote or escape the character it names in ADDONIX_NIX_FLAGS, or unset it') : fail('nix', error.message.replace(/: install Nix.*$/s, ''), INSTALL_HINT));
  }
  if (install) {
    checks.push(...nixChecks(install));
    checks.push(await substituterReach(stringList(install.settings['substituters']), options.reachTimeoutMs));
    const builders = await readBuilders(typeof install.settings['builders'] === 'string' ? install.settings['builders'] : '');
    checks.push(...nativeBuildsCheck(install.system, stringList(install.settings['extra-platforms']), builders, await binfmtEmulators(options.binfmtDir)));
  }
  checks.push(await engineCheck());
  checks.push(...(await credentialChecks(options.registries ?? [])));
  return checks;
}
