/**
 * What `npm ci --omit=dev` installs on a given platform. Arborist (9.9, npm 11) walks the tree in
 * inventory order and, for every optional node that does not fit the platform (os, cpu, libc) or Node's
 * version, marks the node's optional set "inert" (not installed). optionalSet() ignores edges from nodes
 * already inert, so the order matters: this runs npm's own optionalSet() on the same nodes, in the same
 * order. Dev nodes are dropped with --omit=dev. A non-optional node that does not fit the platform
 * cannot be installed: that is an error for the target.
 */
import { createRequire } from 'node:module';
import type { ArboristNode } from '@npmcli/arborist';
import { checkEngine, checkPlatform } from 'npm-install-checks';
import type { PackageEntry } from './packages.js';
import { npmPlatform, targetName, type Target } from './target.js';

const optionalSet = createRequire(import.meta.url)('@npmcli/arborist/lib/optional-set.js') as (node: ArboristNode) => Set<ArboristNode>;

export interface TargetProblem {
  code: 'platform-mismatch' | 'unsupported';
  location: string;
  name: string;
  message: string;
}

export interface InstallSetOptions {
  includeDev?: boolean;
  /** The Node.js version in the image; optional packages whose `engines.node` excludes it are skipped, as npm does. */
  nodeVersion?: string;
}

export interface InstallSet {
  target: Target;
  /** Locations of the packages npm would lay out, in lockfile order. */
  locations: Set<string>;
  errors: TargetProblem[];
}

function platformFailure(node: ArboristNode, target: Target, nodeVersion?: string): 'platform' | 'engine' | null {
  const { os, cpu, libc, engines } = node.package;
  const id = `${node.packageName}@${node.version}`;
  if (os || cpu || libc) {
    try {
      checkPlatform({ os, cpu, libc, _id: id }, false, npmPlatform(target));
    } catch {
      return 'platform';
    }
  }
  if (nodeVersion && engines?.['node']) {
    try {
      checkEngine({ engines, _id: id }, null, nodeVersion, false);
    } catch {
      return 'engine';
    }
  }
  return null;
}

function describePlatform(node: ArboristNode): string {
  const { os, cpu, libc } = node.package;
  return [os && `os ${os.join('|')}`, cpu && `cpu ${cpu.join('|')}`, libc && `libc ${libc.join('|')}`].filter(Boolean).join(', ');
}

export function computeInstallSet(packages: readonly PackageEntry[], target: Target, options: InstallSetOptions = {}): InstallSet {
  const errors: TargetProblem[] = [];
  // `inert` lives on the shared Arborist nodes: start every target from a clean slate, and leave one.
  const nodes = new Set(packages.map((entry) => entry.node));
  for (const node of nodes) node.inert = false;
  try {
    for (const entry of packages) {
      const node = entry.node;
      if (entry.link || node.inert) continue; // A link's target folder is checked as itself.
      if (!node.optional) {
        if ((options.includeDev || !node.dev) && platformFailure(node, target) === 'platform') {
          errors.push({
            code: 'platform-mismatch',
            location: node.location,
            name: entry.name,
            message: `${entry.name}@${entry.version} (${node.location}) is a required dependency but supports only ${describePlatform(node)}, not ${targetName(target)}`,
          });
        }
        continue;
      }
      if (platformFailure(node, target, options.nodeVersion)) {
        for (const member of optionalSet(node)) member.inert = true;
      }
    }
    const locations = new Set<string>();
    for (const entry of packages) {
      if (entry.node.inert || (!options.includeDev && entry.node.dev)) continue;
      locations.add(entry.location);
    }
    return { target, locations, errors };
  } finally {
    for (const node of nodes) node.inert = false;
  }
}
