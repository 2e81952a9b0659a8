/**
 * Image references as Docker spells them: `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`. The first component
 * is a registry when it has a `.` or `:` or is `localhost`; otherwise the image is on Docker Hub.
 */
import { UserError } from '../util/errors.js';
import { isDigest, type Digest } from '../oci/digest.js';
import { REPOSITORY_COMPONENT as COMPONENT, TAG } from '../oci/reference-grammar.js';

export interface Reference {
  /** The registry as written (`ghcr.io`, `127.0.0.1:5000`); Docker Hub is `docker.io`. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: Digest;
}

const DOCKER_HUB = 'docker.io';

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

function isRegistryPart(part: string): boolean {
  return part.includes('.') || part.includes(':') || part === 'localhost';
}

/**
 * Parses a reference. `allowArchTemplate` lets `{arch}` stand in a repository component (the legacy
 * per-arch naming, `ghcr.io/me/{arch}-addon-foo`).
 */
export function parseReference(text: string, options: { allowArchTemplate?: boolean } = {}): Reference {
  const bad = (why: string) => new UserError('usage', `'${text}' is not an image reference: ${why} (expected REGISTRY/REPOSITORY, e.g. ghcr.io/me/my-addon)`);
  let rest = text.trim();
  if (/^[a-z]+:\/\//i.test(rest)) throw bad('leave out the scheme (https://)');
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const value = rest.slice(at + 1);
    if (!isDigest(value)) throw bad(`'${value}' is not a sha256 digest`);
    digest = value;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isValidTag(tag)) throw bad(`'${tag}' is not a valid tag`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  if (parts.length > 1 && isRegistryPart(parts[0]!)) registry = parts.shift()!;
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  for (const part of parts) {
    const checked = options.allowArchTemplate ? part.replace(/\{arch\}/g, 'arch') : part;
    if (!COMPONENT.test(checked)) throw bad(`'${part}' is not a valid repository name component (lowercase letters, digits, '.', '_', '-')`);
  }
  return { registry, repository: parts.join('/'), ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

export function formatReference(ref: Reference): string {
  const name = ref.registry === DOCKER_HUB && ref.repository.startsWith('library/') ? ref.repository.slice(8) : ref.repository;
  return `${ref.registry === DOCKER_HUB ? 'docker.io/' : `${ref.registry}/`}${name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The host to talk to (Docker Hub's API lives on registry-1.docker.io). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/** Whether a registry is on this machine: 127.0.0.0/8, ::1 or localhost (plain HTTP is allowed there). */
export function isLoopback(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The base URL of a registry's API: HTTPS, except plain HTTP on loopback or when asked (--insecure). */
export function registryBaseUrl(registry: string, insecure: boolean): string {
  const scheme = insecure || isLoopback(registry) ? 'http' : 'https';
  return `${scheme}://${apiHost(registry)}`;
}
