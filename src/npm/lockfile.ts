/**
 * Loading an npm project from its package-lock.json with Arborist's loadVirtual(), as `npm ci` does,
 * after checking the file ourselves so that a broken lockfile gets a located, actionable error.
 */
import { promises as fs } from 'node:fs';
import { createRequire, Module } from 'node:module';
import path from 'node:path';
import type { ArboristNode } from '@npmcli/arborist';
import { readDocument, type LocatedDocument } from '../addon/document.js';
import { fileKindOf } from '../addon/files.js';
import validatePackageName from 'validate-npm-package-name';
import { UserError, type ErrorDetails } from '../util/errors.js';

const requireHere = createRequire(import.meta.url);

export interface NpmProject {
  /** Absolute folder holding package.json and the lockfile. */
  dir: string;
  /** Absolute path of package-lock.json (or npm-shrinkwrap.json, which npm prefers). */
  lockfile: string;
  lockfileVersion: number;
  tree: ArboristNode;
  /** `file:line:col` of a package's lockfile entry, for error messages. */
  entryPosition(location: string): string;
}

/** A problem with the project's npm files, worded for the user: what, where, and what to do. */
export class NpmProjectError extends UserError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('npm-project', message, details);
    this.name = 'NpmProjectError';
  }
}

const REGENERATE = 'run `npm install --package-lock-only` (npm 7 or newer) in that folder to write a current lockfile';

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then((s) => s.isFile(), () => false);
}

/** Refuses a path that is there but no file (a folder, a FIFO, a device): it is not "missing". */
async function refuseNonFile(file: string, shown: string): Promise<void> {
  const info = await fs.stat(file).catch(() => undefined);
  if (info && !info.isFile()) throw new UserError('not-readable', `${shown} is ${fileKindOf(info)}, not a file; it must be npm's lockfile (JSON): remove it and run npm install --package-lock-only`, { file });
}

/**
 * Positions of lockfile entries. Locating every value of a large lockfile costs more than reading it,
 * so the located parse happens only when an error needs a position.
 */
function lazyPositions(file: string, text: string, shown: string): (location: string) => string {
  let doc: LocatedDocument | null | undefined;
  return (location) => {
    doc ??= readDocument(file, text).doc;
    const at = doc?.keyAt(['packages', location]) ?? { line: 1, col: 1 };
    return `${shown}:${at.line}:${at.col}`;
  };
}

/** What loadVirtual needs of an Arborist: its mixin applied to a base class, then called on an instance. */
type VirtualLoader = new () => { path: string; options: Record<string, unknown>; installLinks: boolean; legacyPeerDeps: boolean; virtualTree: ArboristNode | undefined; loadVirtual(): Promise<ArboristNode> };

let lockfileReader: VirtualLoader | undefined;

/**
 * Arborist's loadVirtual() (the tree `npm ci` installs from the lockfile, and npm's own dependency flags),
 * without the rest of Arborist: its class is the composition of mixins (build-ideal-tree, reify, audit,
 * load-actual, ...) whose modules (pacote, sigstore, the registry client, npm's query language: some 450
 * modules, about half a second of CPU) reading a lockfile never uses. This composes the load-virtual mixin
 * alone, with what it reads of an Arborist made by `new Arborist({ path })` (Arborist 9.9: path,
 * options.lockfileVersion null, installLinks and legacyPeerDeps false, no virtualTree, and its
 * setWorkspaces). test/unit-npm.test.ts compares its trees with Arborist's own (three corpus lockfiles and a
 * workspace).
 */
export async function loadVirtual(dir: string): Promise<ArboristNode> {
  if (!lockfileReader) {
    deferQuerySelector();
    foldNamesOnce();
    const { EventEmitter } = await import('node:events');
    const mixin = requireHere('@npmcli/arborist/lib/arborist/load-virtual.js') as (base: typeof EventEmitter) => new () => object;
    const mapWorkspaces = requireHere('@npmcli/map-workspaces') as (options: { cwd: string; pkg: unknown }) => Promise<Map<string, string>>;
    lockfileReader = class extends mixin(EventEmitter) {
      path = '';
      options: Record<string, unknown> = {};
      installLinks = false;
      legacyPeerDeps = false;
      virtualTree: ArboristNode | undefined = undefined;

      // Arborist's own: the root's workspaces from its package.json.
      async [Symbol.for('setWorkspaces')](node: ArboristNode & { workspaces?: Map<string, string> }): Promise<ArboristNode> {
        const workspaces = await mapWorkspaces({ cwd: node.path, pkg: node.package });
        if (node && workspaces.size) node.workspaces = workspaces;
        return node;
      }
    } as unknown as VirtualLoader;
  }
  const reader = new lockfileReader();
  reader.path = path.resolve(dir);
  reader.options = { path: reader.path, lockfileVersion: null };
  return reader.loadVirtual();
}

/**
 * Arborist's tree nodes load its query language (`node.querySelectorAll`, for `npm query`) when they are
 * loaded themselves, and with it pacote, sigstore and the registry client: some 400 modules, about half
 * a second of CPU, which reading a lockfile never uses. Until a query is made, the module stands in for
 * itself: the first query loads the real one (Node's module cache is the documented way to give a
 * module's exports; `require.cache` entries may be set).
 */
function deferQuerySelector(): void {
  const file = requireHere.resolve('@npmcli/arborist/lib/query-selector-all.js');
  if (requireHere.cache[file]) return;
  let real: ((...args: unknown[]) => unknown) | undefined;
  const deferred = (...args: unknown[]): unknown => {
    if (!real) {
      delete requireHere.cache[file];
      real = requireHere(file) as (...args: unknown[]) => unknown;
    }
    return real(...args);
  };
  requireHere.cache[file] = Object.assign(new Module(file), { filename: file, loaded: true, exports: deferred });
}

/** Each name's case- and Unicode-folded form, computed once per process. */
const foldedNames = new Map<string, string>();

function foldName(key: unknown): unknown {
  if (typeof key !== 'string') return key;
  let folded = foldedNames.get(key);
  if (folded === undefined) {
    folded = key.normalize('NFKD').toLowerCase();
    foldedNames.set(key, folded);
  }
  return folded;
}

/**
 * Arborist's CaseInsensitiveMap (lib/case-insensitive-map.js: a node's children, looked up by name as a
 * case-insensitive, Unicode-normalizing file system would) with the same keys and the same behaviour, but
 * each name folded once: Arborist folds it through ICU on every lookup, a fifth of `generate`'s CPU on the
 * 1,582-package lockfile. Installed in Node's module cache, as the query language is deferred above, before
 * node.js requires it; test/unit-npm.test.ts runs the same operations on both classes and compares.
 */
export class FoldedNameMap<V = unknown> extends Map<unknown, V> {
  #keys = new Map<unknown, unknown>();

  constructor(items: Iterable<readonly [unknown, V]> = []) {
    super();
    for (const [key, value] of items) this.set(key, value);
  }

  override get(key: unknown): V | undefined {
    const folded = foldName(key);
    return this.#keys.has(folded) ? super.get(this.#keys.get(folded)) : undefined;
  }

  override set(key: unknown, value: V): this {
    const folded = foldName(key);
    if (this.#keys.has(folded)) super.delete(this.#keys.get(folded));
    this.#keys.set(folded, key);
    return super.set(key, value);
  }

  override delete(key: unknown): boolean {
    const folded = foldName(key);
    if (!this.#keys.has(folded)) return undefined as unknown as boolean; // Arborist's returns undefined here
    const previous = this.#keys.get(folded);
    this.#keys.delete(folded);
    return super.delete(previous);
  }

  override has(key: unknown): boolean {
    const folded = foldName(key);
    return this.#keys.has(folded) && super.has(this.#keys.get(folded));
  }
}

function foldNamesOnce(): void {
  const file = requireHere.resolve('@npmcli/arborist/lib/case-insensitive-map.js');
  if (requireHere.cache[file]) return;
  requireHere.cache[file] = Object.assign(new Module(file), { filename: file, loaded: true, exports: FoldedNameMap });
}

export async function loadProject(dir: string, display: (file: string) => string = (f) => f): Promise<NpmProject> {
  const shrinkwrap = path.join(dir, 'npm-shrinkwrap.json');
  const lockfile = (await exists(shrinkwrap)) ? shrinkwrap : path.join(dir, 'package-lock.json');
  const shown = display(lockfile);
  await refuseNonFile(lockfile, shown);
  if (!(await exists(lockfile))) {
    const others = ['yarn.lock', 'pnpm-lock.yaml', 'bun.lockb', 'bun.lock'];
    const other = (await Promise.all(others.map((name) => exists(path.join(dir, name))))).findIndex(Boolean);
    const hint = other >= 0 ? ` (there is a ${others[other]}: addonix reads npm lockfiles only)` : '';
    throw new NpmProjectError(`no package-lock.json in ${display(dir)}${hint}; ${REGENERATE}`);
  }
  await refuseNonFile(path.join(dir, 'package.json'), display(path.join(dir, 'package.json')));
  if (!(await exists(path.join(dir, 'package.json')))) {
    throw new NpmProjectError(`${display(dir)} has a lockfile but no package.json; both are needed`);
  }

  const text = await fs.readFile(lockfile, 'utf8');
  let lock: { lockfileVersion?: unknown; packages?: Record<string, { name?: unknown }> };
  try {
    lock = JSON.parse(text);
  } catch {
    // Only a broken file pays for the located parse, which says where it breaks.
    const problem = readDocument(lockfile, text).problems[0];
    const truncated = text.trim() !== '' && problem?.at?.line === text.split('\n').length && /expected|unterminated/.test(problem.message)
      ? ' (the file looks truncated)'
      : '';
    throw new NpmProjectError(`${shown}:${problem?.at?.line ?? 1}:${problem?.at?.col ?? 1}: ${problem?.message ?? 'JSON syntax error'}${truncated}; ${REGENERATE}`);
  }
  const version = lock?.lockfileVersion;
  if (version === 1 || version === undefined || lock.packages === undefined) {
    throw new NpmProjectError(
      `${shown}: lockfile version ${version ?? 1} (written by npm 6 or older) lacks the per-package data addonix needs; regenerate with npm >= 7: \`npm install --package-lock-only\``,
    );
  }
  if (version !== 2 && version !== 3) {
    throw new NpmProjectError(`${shown}: unknown lockfileVersion ${JSON.stringify(version)}; addonix reads versions 2 and 3`);
  }

  const entryPosition = lazyPositions(lockfile, text, shown);
  checkEntries(lock.packages, entryPosition, shown);

  let tree: ArboristNode;
  try {
    tree = await loadVirtual(dir);
  } catch (error) {
    throw new NpmProjectError(`${shown}: npm cannot read this lockfile: ${(error as Error).message}; ${REGENERATE}`);
  }
  const project: NpmProject = { dir, lockfile, lockfileVersion: version, tree, entryPosition };
  checkInSync(project, display);
  return project;
}

/** A lockfile location is node_modules/<name>(/node_modules/<name>)*, under the root or a workspace folder. */
const LOCATION_SEGMENT = /^(?:@[^/@.][^/]*\/)?[^/@.][^/]*$/;

function locationProblem(location: string): string | null {
  const parts = location.split('/node_modules/');
  const first = parts[0]!;
  const start = first.indexOf('node_modules/');
  // The folder part before the first node_modules/ is a workspace (or the root, when empty).
  const workspace = start < 0 ? first : first.slice(0, start);
  if (workspace.split('/').some((part) => part === '..' || part === '.') || path.isAbsolute(workspace)) return 'leaves the project folder';
  if (start < 0) return null; // A workspace folder itself.
  for (const segment of [first.slice(start + 'node_modules/'.length), ...parts.slice(1)]) {
    if (!LOCATION_SEGMENT.test(segment)) return `has an invalid folder name '${segment}'`;
  }
  return null;
}

/**
 * Names and locations, checked on the raw lockfile before npm reads it: npm would normalise a location
 * like node_modules/a/../../x out of the project, and a name npm itself would refuse has no place in
 * a Nix build.
 */
function checkEntries(packages: Record<string, { name?: unknown }>, entryPosition: (location: string) => string, shown: string): void {
  const problems: string[] = [];
  for (const [location, entry] of Object.entries(packages)) {
    if (location === '') continue;
    const where = () => entryPosition(location);
    const badLocation = locationProblem(location);
    if (badLocation) {
      problems.push(`${where()}: the location ${JSON.stringify(location)} ${badLocation}; regenerate the lockfile with npm`);
      continue;
    }
    const folderName = location.includes('node_modules/') ? location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length) : null;
    for (const name of new Set([folderName, typeof entry?.name === 'string' ? entry.name : null])) {
      if (name === null) continue;
      const check = validatePackageName(name);
      if (!check.validForOldPackages) {
        problems.push(`${where()}: ${location} has an invalid package name ${JSON.stringify(name)} (${(check.errors ?? []).join('; ')}); fix or remove that dependency`);
      }
    }
  }
  if (problems.length > 0) {
    throw new NpmProjectError(`${shown} has entries addonix refuses:\n  ${problems.slice(0, 20).join('\n  ')}${problems.length > 20 ? `\n  (and ${problems.length - 20} more)` : ''}`);
  }
}

/**
 * `npm ci` refuses a lockfile that does not satisfy package.json; so does addonix. Arborist builds the
 * root's (and workspaces') edges from package.json and points them at lockfile nodes.
 */
function checkInSync(project: NpmProject, display: (file: string) => string): void {
  const problems: string[] = [];
  const tops = [project.tree, ...[...project.tree.inventory.values()].filter((node) => node.isWorkspace)];
  for (const top of tops) {
    for (const edge of top.edgesOut.values()) {
      if (edge.type === 'workspace') continue;
      if (edge.missing && !edge.optional && !edge.peer) {
        problems.push(`${top.isRoot ? 'package.json' : `${top.location}/package.json`} depends on ${edge.name}@${edge.spec}, which the lockfile does not have`);
      } else if (edge.invalid && !edge.peer) {
        problems.push(`${top.isRoot ? 'package.json' : `${top.location}/package.json`} asks for ${edge.name}@${edge.spec}, but the lockfile has ${edge.to?.version ?? 'another version'}`);
      }
    }
  }
  if (problems.length > 0) {
    const shown = display(project.lockfile);
    throw new NpmProjectError(
      `${shown} is out of sync with package.json:\n  ${problems.slice(0, 10).join('\n  ')}${problems.length > 10 ? `\n  (and ${problems.length - 10} more)` : ''}\nRun \`npm install\` to update the lockfile, then try again.`,
    );
  }
}
