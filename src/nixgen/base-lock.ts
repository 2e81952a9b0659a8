/**
 * The base-image lock of an add-on (`nix/base-images.lock.nix`, written by `addonix pin-base`): per arch
 * the base image pinned by the digest of that arch's manifest, with the Nix hash of the archive
 * dockerTools.pullImage makes of it. nix/base-image.nix reads it. Data only, sorted keys, byte-identical
 * when rewritten from the same pins.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { generatedNixFile, NixValueError, parseNixData, type NixValue } from './nix.js';
import type { ImageConfig } from '../addon/runtime.js';
import { GENERATED_DIR } from './generate.js';

export const BASE_LOCK_FILE = 'base-images.lock.nix';
export const PIN_BASE_COMMAND = 'addonix pin-base';
/** The lock's schema; nix/base-image.nix checks it (2: with the base image's config). */
export const BASE_LOCK_VERSION = 2;

/** One arch's pin: exactly pullImage's arguments, plus where they came from (ignored by the Nix side). */
export interface BaseImagePin {
  /** REGISTRY/REPOSITORY, as skopeo and pullImage name it. */
  imageName: string;
  /** The registry's digest of the arch's image manifest. */
  imageDigest: string;
  /** Nix's hash (SRI) of the docker-archive pullImage writes; null until computed where Nix can fetch. */
  hash: string | null;
  finalImageName: string;
  finalImageTag: string;
  os: string;
  /** GOARCH, as pullImage takes it. */
  arch: string;
  tlsVerify: boolean;
  /** The base image as the add-on names it (build file or Dockerfile), the reference that was resolved. */
  reference: string;
  /** The nixpkgs flake whose pullImage the hash was computed with (null without a hash). */
  hashNixpkgs: string | null;
  /**
   * The base image's own config (Entrypoint, Cmd, Env, WorkingDir, User, Labels, ...): what an image
   * built FROM it inherits, as Docker does (nix/image.nix lays the Dockerfile's changes over it, and
   * `addonix generate` reads its Env for the Dockerfile's variables). Absent in version 1 locks.
   */
  config?: ImageConfig;
}

/** The fields of an image config an image built FROM it inherits (Docker's image spec names). */
const INHERITED = ['Entrypoint', 'Cmd', 'Env', 'WorkingDir', 'User', 'Labels', 'ExposedPorts', 'Volumes', 'Healthcheck', 'StopSignal', 'Shell', 'OnBuild'] as const;

/** The inherited part of a base image's config, in a fixed key order (for a byte-identical lock). */
export function inheritedConfig(config: Record<string, unknown>): ImageConfig {
  const out: Record<string, unknown> = {};
  for (const key of INHERITED) {
    const value = config[key];
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value) && value.length === 0 && key !== 'Cmd' && key !== 'Entrypoint') continue;
    if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) continue;
    out[key] = value;
  }
  return out as ImageConfig;
}

export interface BaseLock {
  dataVersion: number;
  images: Record<string, BaseImagePin>;
}

export function baseLockPath(addonDir: string): string {
  return path.join(addonDir, GENERATED_DIR, BASE_LOCK_FILE);
}

export function baseLockContent(slug: string, images: Record<string, BaseImagePin>): string {
  const value: NixValue = { dataVersion: BASE_LOCK_VERSION, images: Object.fromEntries(Object.entries(images).map(([arch, pin]) => [arch, { ...pin } as unknown as NixValue])) };
  return generatedNixFile(
    value,
    `Base images of add-on '${slug}' (flavor "base"): imageDigest is the registry's digest of each arch's manifest, hash is Nix's hash of the archive pullImage writes.`,
    PIN_BASE_COMMAND,
  );
}

const PIN_STRINGS = ['imageName', 'imageDigest', 'finalImageName', 'finalImageTag', 'os', 'arch', 'reference'] as const;

/**
 * The lock of an add-on folder, read back: null when there is none, `invalid` (why) when it is not a
 * lock addonix wrote, for --check to report as stale.
 */
export async function readBaseLock(addonDir: string): Promise<{ lock: BaseLock } | { invalid: string } | null> {
  let text: string;
  try {
    text = await fs.readFile(baseLockPath(addonDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { invalid: (error as Error).message };
  }
  let data: NixValue;
  try {
    data = parseNixData(text);
  } catch (error) {
    if (error instanceof NixValueError) return { invalid: `not a lock addonix wrote (${error.message})` };
    throw error;
  }
  const record = data as Record<string, unknown>;
  if (!data || typeof data !== 'object' || Array.isArray(data) || typeof record['images'] !== 'object' || record['images'] === null) {
    return { invalid: 'not a lock addonix wrote (no images)' };
  }
  const images: Record<string, BaseImagePin> = {};
  for (const [arch, entry] of Object.entries(record['images'] as Record<string, unknown>)) {
    const pin = entry as Record<string, unknown>;
    const ok =
      pin && typeof pin === 'object' && PIN_STRINGS.every((key) => typeof pin[key] === 'string') && typeof pin['tlsVerify'] === 'boolean' &&
      (pin['hash'] === null || typeof pin['hash'] === 'string') && (pin['hashNixpkgs'] === null || typeof pin['hashNixpkgs'] === 'string');
    if (!ok) return { invalid: `the entry for ${arch} is not one addonix wrote` };
    if (pin['config'] !== undefined && (typeof pin['config'] !== 'object' || pin['config'] === null || Array.isArray(pin['config']))) return { invalid: `the config of ${arch} is not one addonix wrote` };
    images[arch] = pin as unknown as BaseImagePin;
  }
  return { lock: { dataVersion: typeof record['dataVersion'] === 'number' ? record['dataVersion'] : 0, images } };
}

/** The pinned base images' configs (nix/base-images.lock.nix), per arch. */
export async function pinnedBaseConfigs(addonDir: string): Promise<Partial<Record<string, ImageConfig>>> {
  const read = await readBaseLock(addonDir);
  if (!read || 'invalid' in read) return {};
  const out: Partial<Record<string, ImageConfig>> = {};
  for (const [arch, pin] of Object.entries(read.lock.images)) if (pin.config) out[arch] = pin.config;
  return out;
}
