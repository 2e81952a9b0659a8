/**
 * Finding add-ons the way the Supervisor does (store/data.py `_find_app_configs`): every
 * `**\/config.{yaml,yml,json}` is an add-on, except under a folder whose name starts with `.` or is
 * `rootfs`. Its build file is `build.{yaml,yml,json}` found by `find_one_filetype`, which searches the
 * add-on folder *recursively*; `repository.{yaml,yml,json}` describes the repository.
 *
 * Unlike the Supervisor (which sees a clean git checkout), addonix also skips `node_modules`, which a
 * developer's working copy may hold with thousands of unrelated config.json files.
 */
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, statSync, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import { HA_ARCHES, type HaArch } from './arch.js';

export const CONFIG_SUFFIXES = ['.yaml', '.yml', '.json'];
const SKIPPED_FOLDERS = new Set(['node_modules']);

export interface AddonLocation {
  /** Absolute path of the add-on folder. */
  dir: string;
  /** config.{yaml,yml,json} in the folder, normally exactly one. */
  configFiles: string[];
  /** build.{yaml,yml,json} directly in the folder. */
  buildFiles: string[];
  /** A build file deeper in the folder, which the Supervisor's recursive search finds when there is none at the top. */
  nestedBuildFile?: string;
  /** `Dockerfile` (key "default") and `Dockerfile.<arch>`, which the Supervisor prefers for that arch. */
  dockerfiles: Partial<Record<HaArch | 'default', string>>;
  /** `translations/*.{yaml,yml,json}` (store/data.py `_read_app_translations`). */
  translationFiles: string[];
}

export interface Discovery {
  addons: AddonLocation[];
  /** repository.{yaml,yml,json} files found, by folder. */
  repositoryFiles: string[];
  /** Build files in folders that hold no add-on. */
  orphanBuildFiles: string[];
}

function fileKind(name: string): 'config' | 'build' | 'repository' | null {
  const ext = path.extname(name);
  if (!CONFIG_SUFFIXES.includes(ext)) return null;
  const base = name.slice(0, -ext.length);
  return base === 'config' || base === 'build' || base === 'repository' ? base : null;
}

interface FolderEntries {
  dir: string;
  files: { name: string; kind: 'config' | 'build' | 'repository' | 'dockerfile' | 'translation' }[];
  /** Under a folder the Supervisor skips when it looks for configs (rootfs). */
  inRootfs: boolean;
}

function isFile(entry: Dirent, dir: string): boolean {
  if (entry.isFile()) return true;
  if (!entry.isSymbolicLink()) return false;
  try {
    return statSync(path.join(dir, entry.name)).isFile();
  } catch {
    return false;
  }
}

/**
 * A config, build or repository name that is no file (a folder named config.yaml, a FIFO, a device):
 * the Supervisor's glob finds it as it finds a file, and fails to read it, so it is the add-on's file
 * and reading it says what it is. A dangling link stays unseen, as Python's glob skips it.
 */
function isOtherThing(entry: Dirent, dir: string): boolean {
  if (entry.isFile()) return false;
  try {
    return !statSync(path.join(dir, entry.name)).isFile();
  } catch {
    return false;
  }
}

/**
 * Folders are listed synchronously: a repository has a few dozen of them, and a round trip through the
 * thread pool for each cost more than the listing itself.
 */
function walk(dir: string, inRootfs: boolean, out: FolderEntries[]): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const folder: FolderEntries = { dir, files: [], inRootfs };
  const subfolders: Dirent[] = [];
  for (const entry of entries) {
    const named = fileKind(entry.name);
    if (named && isOtherThing(entry, dir)) folder.files.push({ name: entry.name, kind: named });
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && !SKIPPED_FOLDERS.has(entry.name)) subfolders.push(entry);
      continue;
    }
    const kind =
      fileKind(entry.name) ??
      (/^Dockerfile(\.[a-z0-9]+)?$/.test(entry.name) ? 'dockerfile' : path.basename(dir) === 'translations' && CONFIG_SUFFIXES.includes(path.extname(entry.name)) ? 'translation' : null);
    if (kind && isFile(entry, dir)) folder.files.push({ name: entry.name, kind });
  }
  if (folder.files.length > 0) out.push(folder);
  for (const entry of subfolders) walk(path.join(dir, entry.name), inRootfs || entry.name === 'rootfs', out);
}

/** Find every add-on, repository file and stray build file under `root` (a folder). */
export async function discover(root: string): Promise<Discovery> {
  const folders: FolderEntries[] = [];
  walk(root, false, folders);
  folders.sort((a, b) => (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0));

  const addons: AddonLocation[] = [];
  const repositoryFiles: string[] = [];
  const buildFolders: FolderEntries[] = [];
  for (const folder of folders) {
    const named = (kind: string) => folder.files.filter((f) => f.kind === kind).map((f) => path.join(folder.dir, f.name));
    const configs = folder.inRootfs ? [] : named('config');
    repositoryFiles.push(...named('repository'));
    if (configs.length === 0) {
      if (named('build').length > 0) buildFolders.push(folder);
      continue;
    }
    const dockerfiles: AddonLocation['dockerfiles'] = {};
    for (const f of folder.files) {
      if (f.kind !== 'dockerfile') continue;
      const suffix = f.name.slice('Dockerfile'.length + 1);
      if (suffix === '') dockerfiles.default = path.join(folder.dir, f.name);
      else if ((HA_ARCHES as readonly string[]).includes(suffix)) dockerfiles[suffix as HaArch] = path.join(folder.dir, f.name);
    }
    addons.push({ dir: folder.dir, configFiles: configs, buildFiles: named('build'), dockerfiles, translationFiles: [] });
  }
  const byDir = new Map(addons.map((addon) => [addon.dir, addon]));
  for (const folder of folders) {
    if (path.basename(folder.dir) !== 'translations') continue;
    const addon = byDir.get(path.dirname(folder.dir));
    if (addon) addon.translationFiles = folder.files.filter((f) => f.kind === 'translation').map((f) => path.join(folder.dir, f.name));
  }

  // Build files below an add-on folder belong to it (the Supervisor searches recursively); the rest stray.
  const orphanBuildFiles: string[] = [];
  for (const folder of buildFolders) {
    const owner = addons
      .filter((addon) => folder.dir.startsWith(addon.dir + path.sep))
      .sort((a, b) => b.dir.length - a.dir.length)[0];
    const files = folder.files.filter((f) => f.kind === 'build').map((f) => path.join(folder.dir, f.name));
    if (owner) {
      if (owner.buildFiles.length === 0 && owner.nestedBuildFile === undefined) owner.nestedBuildFile = files[0];
    } else {
      orphanBuildFiles.push(...files);
    }
  }
  return { addons, repositoryFiles, orphanBuildFiles };
}

/** The largest add-on file addonix reads; real ones are a few kilobytes. */
export const MAX_FILE_BYTES = 1024 * 1024;

/**
 * A file read, or why not: `unreadable` the Supervisor cannot read either; `file-too-large` it could,
 * addonix refuses.
 */
export type FileRead = { ok: true; bytes: Buffer } | { ok: false; reason: string; code: 'file-too-large' | 'unreadable' };

/** What a path that is not a regular file is, for messages: "a directory", "a FIFO (named pipe)", ... */
export function fileKindOf(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

export async function readSmallFile(file: string): Promise<FileRead> {
  return readSmallFileSync(file);
}

/** Add-on files are a few kilobytes: reading them synchronously beats a round trip through the thread pool. */
export function readSmallFileSync(file: string): FileRead {
  let fd: number | undefined;
  try {
    // Looked at before it is opened: opening a FIFO would wait for a writer.
    const kind = statSync(file);
    if (!kind.isFile()) return { ok: false, code: 'unreadable', reason: `${fileKindOf(kind)}, not a file` };
    fd = openSync(file, 'r');
    const info = fstatSync(fd);
    if (!info.isFile()) return { ok: false, code: 'unreadable', reason: `${fileKindOf(info)}, not a file` };
    if (info.size > MAX_FILE_BYTES) {
      return {
        ok: false,
        code: 'file-too-large',
        reason: `the file is ${(info.size / 1024 / 1024).toFixed(1)} MiB; add-on files are a few kilobytes, so addonix refuses files over ${MAX_FILE_BYTES / 1024 / 1024} MiB (the Supervisor would read it)`,
      };
    }
    return { ok: true, bytes: readFileSync(fd) };
  } catch (error) {
    return { ok: false, code: 'unreadable', reason: (error as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (error as Error).message };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
