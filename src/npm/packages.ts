/**
 * Every package of a lockfile with where its files come from: a tarball URL with its SRI hash (what Nix
 * fetches with `fetchurl`), a file inside the add-on, the parent's tarball (bundled), or a folder
 * (workspace links). Anything Nix cannot fetch reproducibly is refused here, naming the package.
 */
import path from 'node:path';
import type { ArboristNode } from '@npmcli/arborist';
import { NpmProjectError, type NpmProject } from './lockfile.js';

export const DEFAULT_REGISTRY = 'https://registry.npmjs.org/';

export type PackageSource = 'registry' | 'tarball' | 'file' | 'bundled' | 'link';

export interface PackageEntry {
  /** Where npm lays the package out, e.g. node_modules/a/node_modules/@s/b. */
  location: string;
  /** The real package name (an alias's target name, not the folder name). */
  name: string;
  version: string;
  source: PackageSource;
  /** Tarball URL (registry or remote tarball), `file:` path, or null (bundled, link). */
  url: string | null;
  /** The strongest SRI hash the lockfile records, or null when nothing is fetched. */
  integrity: string | null;
  bundled: boolean;
  link: boolean;
  /** For links: the folder it points to, relative to the project folder. */
  linkTarget: string | null;
  optional: boolean;
  dev: boolean;
  /** Executables to link into node_modules/.bin: name → path inside the package. */
  bin: Record<string, string>;
  hasInstallScript: boolean;
  /** The Arborist node, for graph questions (optional sets, platform families). */
  node: ArboristNode;
}

const SRI = /^(sha1|sha256|sha384|sha512)-[A-Za-z0-9+/]+={0,2}$/;
const STRENGTH = ['sha1', 'sha256', 'sha384', 'sha512'];

/** The strongest hash of an SRI string (which may list several, space-separated). */
export function strongestIntegrity(integrity: string): string | null {
  const hashes = integrity.split(/\s+/).filter((h) => SRI.test(h));
  hashes.sort((a, b) => STRENGTH.indexOf(b.split('-')[0]!) - STRENGTH.indexOf(a.split('-')[0]!));
  return hashes[0] ?? null;
}

/** The tarball URL npm uses for name@version on a registry (lockfiles written with omit-lockfile-registry-resolved). */
export function registryTarballUrl(name: string, version: string, registry = DEFAULT_REGISTRY): string {
  const base = registry.endsWith('/') ? registry : registry + '/';
  const file = name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
  return `${base}${name}/-/${file}-${version}.tgz`;
}

function binsOf(node: ArboristNode, name: string): Record<string, string> {
  const bin = node.package.bin;
  if (typeof bin === 'string') return { [name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name]: bin };
  if (bin && typeof bin === 'object') {
    return Object.fromEntries(Object.entries(bin).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  }
  return {};
}

/**
 * All packages of the project (every platform, dev included), in lockfile order. Throws one error that
 * lists every package Nix cannot fetch, with its lockfile position and what to do.
 */
export function collectPackages(project: NpmProject, options: { registry?: string; display?: (file: string) => string } = {}): PackageEntry[] {
  const display = options.display ?? ((f: string) => f);
  const problems: string[] = [];
  const entries: PackageEntry[] = [];
  for (const node of project.tree.inventory.values()) {
    if (node.isRoot || node.isProjectRoot) continue;
    // Workspace folders and link targets outside node_modules are source folders, not installed packages.
    if (!node.isLink && !node.location.split('/').includes('node_modules')) continue;
    const where = () => project.entryPosition(node.location);
    const name = node.packageName || node.name;
    const base = {
      location: node.location,
      name,
      version: node.version ?? '',
      bundled: node.inBundle,
      link: node.isLink,
      optional: node.optional,
      dev: node.dev,
      bin: binsOf(node, name),
      hasInstallScript: node.hasInstallScript,
      node,
    };
    if (node.isLink) {
      const target = path.relative(project.dir, node.realpath);
      if (target.startsWith('..') || path.isAbsolute(target)) {
        problems.push(`${where()}: ${node.location} links to ${node.realpath}, outside ${display(project.dir)}, where the Nix build cannot see it; move that package inside the add-on or publish it`);
        continue;
      }
      entries.push({ ...base, version: node.target?.version ?? base.version, source: 'link', url: null, integrity: null, linkTarget: target });
      continue;
    }
    if (node.inBundle) {
      entries.push({ ...base, source: 'bundled', url: null, integrity: null, linkTarget: null });
      continue;
    }
    const resolved = node.resolved;
    const integrity = node.integrity ? strongestIntegrity(node.integrity) : null;
    let source: PackageSource;
    let url: string;
    if (resolved === null || resolved === undefined) {
      source = 'registry';
      url = registryTarballUrl(name, base.version, options.registry);
    } else if (/^(git\+|git:|github:|gitlab:|bitbucket:)/.test(resolved) || /^https?:\/\/[^#]+#[0-9a-f]{7,}$/.test(resolved)) {
      problems.push(
        `${where()}: ${name} comes from git (${resolved}); Nix needs a content hash, which npm does not record for git dependencies. Depend on a published version or on a release tarball URL instead, then run npm install`,
      );
      continue;
    } else if (resolved.startsWith('file:')) {
      const file = resolved.slice('file:'.length);
      const relative = path.relative(project.dir, path.resolve(project.dir, file));
      if (relative.startsWith('..') || path.isAbsolute(relative)) {
        problems.push(`${where()}: ${name} is the file ${file}, outside ${display(project.dir)}, where the Nix build cannot see it; move it inside the add-on folder`);
        continue;
      }
      source = 'file';
      url = `file:${relative}`;
    } else if (/^https?:\/\//.test(resolved)) {
      source = resolved.includes('/-/') ? 'registry' : 'tarball';
      url = resolved;
    } else {
      problems.push(`${where()}: ${name} resolves to ${JSON.stringify(resolved)}, which addonix cannot fetch; depend on a registry version or an https tarball URL`);
      continue;
    }
    if (!integrity) {
      problems.push(
        `${where()}: ${name}@${base.version} has no integrity hash in the lockfile, so Nix cannot fetch it reproducibly; run \`npm install --package-lock-only\` to record one`,
      );
      continue;
    }
    entries.push({ ...base, source, url, integrity, linkTarget: null });
  }
  if (problems.length > 0) {
    const shownProblems = problems.slice(0, 20);
    throw new NpmProjectError(
      `${problems.length === 1 ? 'a dependency' : `${problems.length} dependencies`} cannot be built with Nix:\n  ${shownProblems.join('\n  ')}${problems.length > 20 ? `\n  (and ${problems.length - 20} more)` : ''}`,
    );
  }
  return entries;
}
