/**
 * Platforms: which Home Assistant arch an image is for, and the OCI platform the index gives it.
 * dockerTools never writes a variant (nixpkgs PR #119683), so the variant comes from the arch table.
 */
import { ARCH_TABLE, type BuildArch } from '../addon/arch.js';
import { UserError } from '../util/errors.js';
import type { ImageConfig, Platform } from './types.js';

export const BUILD_ARCHES = Object.keys(ARCH_TABLE) as BuildArch[];

export function isBuildArch(value: unknown): value is BuildArch {
  return typeof value === 'string' && value in ARCH_TABLE;
}

/** `linux/arm64/v8`, the form docker --platform and this CLI print. */
export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/** The platform for an arch, as the index records it (variant included). */
export function platformOf(arch: BuildArch): Platform {
  return { ...ARCH_TABLE[arch].platform };
}

/**
 * The arch of an image from its config: the `io.hass.arch` label addonix images carry, else the config's
 * own architecture and variant. 32-bit ARM without a variant or label is ambiguous (armv7 or armhf).
 */
export function archOfConfig(config: ImageConfig, where: string): BuildArch {
  const label = config.config?.Labels?.['io.hass.arch'];
  if (isBuildArch(label)) {
    const expected = ARCH_TABLE[label].platform.architecture;
    if (config.architecture !== expected) {
      throw new UserError('image-invalid', `${where}: the image says architecture '${config.architecture}' but its io.hass.arch label says '${label}' (${expected})`);
    }
    return label;
  }
  const matches = BUILD_ARCHES.filter((arch) => {
    const platform = ARCH_TABLE[arch].platform;
    return platform.architecture === config.architecture && (config.variant === undefined || (platform.variant ?? '') === config.variant);
  });
  if (config.os !== undefined && config.os !== 'linux') throw new UserError('image-unsupported', `${where}: the image is for os '${config.os}'; Home Assistant runs linux images`);
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    throw new UserError('platform-missing', `${where}: architecture '${config.architecture}'${config.variant ? ` variant '${config.variant}'` : ''} is not one addonix builds (${BUILD_ARCHES.join(', ')})`);
  }
  throw new UserError('platform-missing', 
    `${where}: the image is for 32-bit ARM without a variant, which could be ${matches.join(' or ')}; ` +
      `name its arch on the command line, e.g. ${matches[0]}=${where}`,
  );
}

/** The Home Assistant arch of the machine addonix runs on (Node's process.arch names). */
export function localArch(): BuildArch {
  // Node says 'arm' for both 32-bit ARM arches; the table lists armv7 (what HA machines have) first.
  const found = BUILD_ARCHES.find((arch) => ARCH_TABLE[arch].npmCpu === process.arch);
  if (!found) throw new UserError('usage', `this machine's arch (${process.arch}) is not one addonix builds; pass --arch`);
  return found;
}

/** Split `ARCH=PATH` (an image named with its arch) from a plain path. */
export function splitArchPrefix(argument: string): { arch?: BuildArch; path: string } {
  const at = argument.indexOf('=');
  if (at > 0 && isBuildArch(argument.slice(0, at))) return { arch: argument.slice(0, at) as BuildArch, path: argument.slice(at + 1) };
  return { path: argument };
}
