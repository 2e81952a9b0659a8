/**
 * Loading add-ons from disk: discovery, reading, validation and the cross-file checks (two configs in
 * one folder, duplicate slugs), producing located diagnostics and the validated data for the model.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DiagnosticList } from '../util/diagnostics.js';
import { readDocumentBytes, type LocatedDocument } from './document.js';
import { discover, readSmallFile, type AddonLocation } from './files.js';
import { ERA_RULES, otherEra, type Era } from './eras.js';
import {
  isPlainObject,
  keyInfoOf,
  validateBuildValue,
  validateConfigValue,
  validateRepositoryValue,
  validateTranslationValue,
  TRANSLATION_DROPPED,
  type Finding,
  type PlainObject,
} from './validate.js';
import { schemaUsesCharacterNames, type OptionsSchemaNode } from './options-schema.js';
import { loadCharacterNames } from './python-regex.js';
import { parseDockerfile, type Dockerfile } from './dockerfile.js';
import type { HaArch } from './arch.js';

export interface LoadOptions {
  era: Era;
  /** How a path is shown in diagnostics (relative to the working directory by default). */
  display?: (absolutePath: string) => string;
}

export interface LoadedBuild {
  file: string;
  /** The settings the Supervisor uses; null when it ignores the file. */
  build: PlainObject | null;
}

export interface LoadedAddon {
  location: AddonLocation;
  configFile: string;
  /** The validated config with defaults applied, or null if the file could not be read as a mapping. */
  config: PlainObject | null;
  optionsSchema: Map<string, OptionsSchemaNode> | null;
  build: LoadedBuild | null;
  dockerfiles: Partial<Record<HaArch | 'default', { file: string; parsed: Dockerfile }>>;
  repository: { file: string; data: PlainObject | null } | null;
  /** Whether any error was found in this add-on's own files. */
  hasErrors: boolean;
}

export interface LoadResult {
  addons: LoadedAddon[];
  diagnostics: DiagnosticList;
  /** How many config, build and repository files were read. */
  filesChecked: number;
}

/** Diagnostics plus the set of files read, which the summary line counts. */
class FileDiagnostics extends DiagnosticList {
  readonly filesRead = new Set<string>();
}

/**
 * How messages show a path: relative to `cwd` when it lies there, else absolute (as `/srv/x` was given,
 * never `../../../srv/x`).
 */
export function relativeDisplay(cwd = process.cwd()): (file: string) => string {
  return (file) => {
    const absolute = path.resolve(cwd, file);
    const relative = path.relative(cwd, absolute);
    if (relative === '') return '.';
    return path.isAbsolute(relative) || relative === '..' || relative.startsWith(`..${path.sep}`) ? absolute : relative;
  };
}

/** Read and parse one file; problems go to `diagnostics`. Returns null when it cannot be read. */
async function readLocated(file: string, shown: string, diagnostics: FileDiagnostics, unreadableEffect: string): Promise<LocatedDocument | null> {
  diagnostics.filesRead.add(file);
  const read = await readSmallFile(file);
  if (!read.ok) {
    // A file over the limit is addonix's refusal, not the Supervisor's: its message says so.
    diagnostics.error(shown, null, read.code, read.code === 'file-too-large' ? read.reason : `${read.reason}; ${unreadableEffect}`);
    return null;
  }
  const { doc, problems } = isolated(shown, diagnostics, { doc: null, problems: [] }, () => readDocumentBytes(shown, read.bytes));
  for (const problem of problems) {
    const message = problem.recoverable ? problem.message : `${problem.message}; ${unreadableEffect}`;
    diagnostics.error(shown, problem.at, problem.code, message);
  }
  return doc;
}

/**
 * Run one file's checks so that whatever goes wrong in them (a bug of addonix's, on a hostile input)
 * becomes a finding on that file, and every other file is still checked and reported.
 */
function isolated<T>(shown: string, diagnostics: FileDiagnostics, fallback: T, check: () => T): T {
  try {
    return check();
  } catch (error) {
    const why = error instanceof RangeError ? 'it is nested too deeply for addonix' : `an internal error (${error instanceof Error ? error.message : String(error)}; please report it)`;
    diagnostics.error(shown, null, 'not-checked', `addonix could not check this file: ${why}`);
    return fallback;
  }
}

function report(findings: readonly Finding[], doc: LocatedDocument, diagnostics: FileDiagnostics): void {
  for (const finding of findings) {
    const at = finding.wholeFile ? null : finding.atKey ? doc.keyAt(finding.path) : doc.valueAt(finding.path);
    diagnostics.add(finding.severity, doc.file, at, finding.code, finding.message);
  }
}

function sameFinding(a: Finding, b: Finding): boolean {
  return a.code === b.code && a.path.join('/') === b.path.join('/');
}

async function loadConfig(file: string, options: Required<LoadOptions>, diagnostics: FileDiagnostics) {
  const shown = options.display(file);
  const doc = await readLocated(file, shown, diagnostics, 'the Supervisor cannot read it and skips this add-on');
  if (!doc) return { config: null, optionsSchema: null };
  // Python's \N{NAME} in a match(...) needs the Unicode names, loaded only for such a schema.
  if (isPlainObject(doc.value) && schemaUsesCharacterNames(doc.value['schema'])) await loadCharacterNames();
  return isolated(shown, diagnostics, { config: null, optionsSchema: null }, () => {
    const keys = keyInfoOf(doc);
    // read_yaml_file returns `load(...) or {}`: say so rather than listing every missing key.
    const value = doc.empty ? null : doc.value;
    const result = validateConfigValue(value, options.era, keys);
    report(result.findings, doc, diagnostics);
    // Errors only the other generation of the Supervisor raises: users may still run it.
    const other = otherEra(options.era);
    const compat = validateConfigValue(value, other, keys).findings.filter(
      (finding) => finding.severity === 'error' && !result.findings.some((mine) => mine.severity === 'error' && sameFinding(mine, finding)),
    );
    report(
      compat.map((finding) => ({ ...finding, severity: 'warning' as const, code: `compat-${other}`, message: `${ERA_RULES[other].label} refuses this add-on: ${finding.message}` })),
      doc,
      diagnostics,
    );
    return { config: result.config, optionsSchema: result.optionsSchema };
  });
}

async function loadBuild(file: string, options: Required<LoadOptions>, diagnostics: FileDiagnostics): Promise<LoadedBuild> {
  const shown = options.display(file);
  const defaults = `builds with defaults (BUILD_FROM=${ERA_RULES[options.era].defaultBuildFrom('{arch}')})`;
  diagnostics.filesRead.add(file);
  const read = await readSmallFile(file);
  if (!read.ok) {
    diagnostics.warning(shown, null, read.code, read.code === 'file-too-large' ? read.reason : `${read.reason}; the Supervisor ignores this build file and ${defaults}`);
    return { file, build: null };
  }
  const { doc, problems } = isolated(shown, diagnostics, { doc: null, problems: [] }, () => readDocumentBytes(shown, read.bytes));
  for (const problem of problems) {
    // An unreadable build file is not fatal to the Supervisor: it logs and builds with defaults.
    diagnostics.add(problem.recoverable ? 'error' : 'warning', shown, problem.at, problem.code, problem.recoverable ? problem.message : `${problem.message}; the Supervisor ignores this build file and ${defaults}`);
  }
  if (!doc) return { file, build: null };
  return isolated(shown, diagnostics, { file, build: null }, () => {
    const result = validateBuildValue(doc.value, options.era, keyInfoOf(doc));
    report(result.findings, doc, diagnostics);
    return { file, build: result.build };
  });
}

/** A translation file: whatever is wrong with it, the Supervisor only drops it (a warning). */
async function loadTranslation(file: string, options: Required<LoadOptions>, diagnostics: FileDiagnostics): Promise<void> {
  const shown = options.display(file);
  diagnostics.filesRead.add(file);
  const read = await readSmallFile(file);
  if (!read.ok) {
    diagnostics.warning(shown, null, read.code, read.code === 'file-too-large' ? read.reason : `${read.reason}; ${TRANSLATION_DROPPED}`);
    return;
  }
  const { doc, problems } = isolated(shown, diagnostics, { doc: null, problems: [] }, () => readDocumentBytes(shown, read.bytes));
  for (const problem of problems) {
    diagnostics.add(problem.recoverable ? 'error' : 'warning', shown, problem.at, problem.code, problem.recoverable ? problem.message : `${problem.message}; ${TRANSLATION_DROPPED}`);
  }
  if (!doc) return;
  isolated(shown, diagnostics, undefined, () => {
    // read_json_or_yaml_file reads an empty YAML file as {}.
    report(validateTranslationValue(doc.empty ? {} : doc.value, options.era, keyInfoOf(doc)).findings, doc, diagnostics);
  });
}

async function loadRepository(file: string, options: Required<LoadOptions>, diagnostics: FileDiagnostics) {
  const shown = options.display(file);
  const doc = await readLocated(file, shown, diagnostics, 'the Supervisor skips this whole repository');
  if (!doc) return { file, data: null };
  return isolated(shown, diagnostics, { file, data: null }, () => {
    const result = validateRepositoryValue(doc.empty ? null : doc.value, options.era, keyInfoOf(doc));
    report(result.findings, doc, diagnostics);
    return { file, data: result.repository };
  });
}

async function loadDockerfiles(location: AddonLocation): Promise<LoadedAddon['dockerfiles']> {
  const out: LoadedAddon['dockerfiles'] = {};
  for (const [key, file] of Object.entries(location.dockerfiles) as [HaArch | 'default', string][]) {
    const read = await readSmallFile(file);
    if (read.ok) out[key] = { file, parsed: parseDockerfile(read.bytes.toString('utf8')) };
  }
  return out;
}

/** The repository file that covers `dir`: the nearest one in `dir` or above it, within the search root. */
function repositoryFor(dir: string, repositoryFiles: readonly string[]): string | undefined {
  return repositoryFiles
    .filter((file) => dir === path.dirname(file) || dir.startsWith(path.dirname(file) + path.sep))
    .sort((a, b) => b.length - a.length)[0];
}

/** The repository file in the nearest folder above `dir`, stopping at a git checkout's top. */
async function repositoryAbove(dir: string): Promise<string | undefined> {
  let current = path.dirname(dir);
  for (let depth = 0; depth < 8 && current !== path.dirname(current); depth++) {
    const names = await fs.readdir(current).catch(() => [] as string[]);
    const file = names.find((name) => /^repository\.(ya?ml|json)$/.test(name));
    if (file) return path.join(current, file);
    if (names.includes('.git')) return undefined;
    current = path.dirname(current);
  }
  return undefined;
}

/** Validate everything under the given paths (folders or add-on files). */
export async function loadPaths(paths: readonly string[], loadOptions: LoadOptions): Promise<LoadResult> {
  const options: Required<LoadOptions> = { display: relativeDisplay(), ...loadOptions };
  const diagnostics = new FileDiagnostics();
  const addons: LoadedAddon[] = [];
  for (const given of paths) {
    const absolute = path.resolve(given);
    const shown = options.display(absolute);
    const info = await fs.stat(absolute).catch(() => null);
    if (!info) {
      diagnostics.error(shown, null, 'not-found', 'no such file or folder');
      continue;
    }
    let root = absolute;
    let onlyConfig: string | undefined;
    if (info.isFile()) {
      const name = path.basename(absolute);
      if (!/^(config|build|repository)\.(ya?ml|json)$/.test(name)) {
        diagnostics.error(shown, null, 'not-an-addon-file', 'not an add-on file: give a folder, or a config, build or repository file (.yaml, .yml or .json)');
        continue;
      }
      root = path.dirname(absolute);
      if (name.startsWith('config.')) onlyConfig = absolute;
    }
    const found = await discover(root);
    if (info.isFile() && path.basename(absolute).startsWith('repository.')) {
      found.addons = [];
      found.orphanBuildFiles = [];
      found.repositoryFiles = [absolute];
    }
    if (info.isFile() && path.basename(absolute).startsWith('build.')) {
      found.addons = found.addons.filter((addon) => addon.dir === root);
      found.repositoryFiles = [];
      if (found.addons.length === 0) found.orphanBuildFiles = [absolute];
    }
    if (found.addons.length === 0 && found.orphanBuildFiles.length === 0 && found.repositoryFiles.length === 0) {
      diagnostics.error(shown, null, 'no-config', `no add-on here: no config.yaml, config.yml or config.json in ${info.isFile() ? 'this folder' : 'this folder or below it'}`);
      continue;
    }
    addons.push(...(await loadFound(found, root, onlyConfig, options, diagnostics)));
  }
  return { addons, diagnostics, filesChecked: diagnostics.filesRead.size };
}

async function loadFound(
  found: Awaited<ReturnType<typeof discover>>,
  root: string,
  onlyConfig: string | undefined,
  options: Required<LoadOptions>,
  diagnostics: FileDiagnostics,
): Promise<LoadedAddon[]> {
  const repositories = new Map<string, { file: string; data: PlainObject | null }>();
  const repositoryFiles = onlyConfig ? found.repositoryFiles.filter((file) => path.dirname(file) === root) : found.repositoryFiles;
  for (const file of repositoryFiles) repositories.set(file, await loadRepository(file, options, diagnostics));
  for (const file of found.orphanBuildFiles) await loadBuild(file, options, diagnostics);

  const addons: LoadedAddon[] = [];
  let above: Promise<string | undefined> | undefined;
  for (const location of found.addons) {
    if (onlyConfig && location.dir !== root) continue;
    const before = diagnostics.errorCount;
    const firstOfFolder = addons.length;
    if (location.configFiles.length > 1) {
      for (const file of location.configFiles.slice(1)) {
        diagnostics.error(
          options.display(file),
          null,
          'two-configs',
          `${location.configFiles.map((f) => path.basename(f)).join(' and ')} are both in ${options.display(location.dir)}; the Supervisor loads each as an add-on with the same slug, keep one`,
        );
      }
    }
    let build: LoadedBuild | null = null;
    const buildFile = location.buildFiles[0] ?? location.nestedBuildFile;
    if (location.buildFiles.length > 1) {
      diagnostics.warning(options.display(location.buildFiles[1]!), null, 'two-build-files', `${location.buildFiles.map((f) => path.basename(f)).join(' and ')} are both in ${options.display(location.dir)}; the Supervisor reads whichever its file search returns first, keep one`);
    }
    if (location.buildFiles.length === 0 && location.nestedBuildFile) {
      diagnostics.warning(options.display(location.nestedBuildFile), null, 'nested-build-file', `the Supervisor searches the add-on folder recursively for build files, so it reads this file as the build file of ${options.display(location.dir)}; rename it or move it to the add-on folder`);
    }
    if (buildFile) build = await loadBuild(buildFile, options, diagnostics);
    let repositoryFile = repositoryFor(location.dir, [...repositories.keys()]);
    if (!repositoryFile) {
      // The add-on was given without its repository: use the repository file above it, unchecked.
      above ??= repositoryAbove(root).then(async (file) => {
        if (file) repositories.set(file, await loadRepository(file, options, new FileDiagnostics()));
        return file;
      });
      repositoryFile = await above;
    }
    const dockerfiles = await loadDockerfiles(location);
    for (const file of location.translationFiles) await loadTranslation(file, options, diagnostics);
    for (const configFile of onlyConfig ? [onlyConfig] : location.configFiles) {
      const { config, optionsSchema } = await loadConfig(configFile, options, diagnostics);
      addons.push({
        location,
        configFile,
        config,
        optionsSchema,
        build,
        dockerfiles,
        repository: repositoryFile ? repositories.get(repositoryFile)! : null,
        hasErrors: false,
      });
    }
    for (const addon of addons.slice(firstOfFolder)) addon.hasErrors = diagnostics.errorCount > before;
  }
  checkSlugs(addons, options, diagnostics);
  return addons;
}

/** Two add-ons of one repository with one slug: the Supervisor keeps only one of them. */
function checkSlugs(addons: readonly LoadedAddon[], options: Required<LoadOptions>, diagnostics: FileDiagnostics): void {
  const groups = new Map<string, LoadedAddon>();
  for (const addon of addons) {
    const slug = addon.config?.['slug'];
    if (typeof slug !== 'string') continue;
    // Without a repository file, sibling folders are the repository.
    const scope = addon.repository?.file ? path.dirname(addon.repository.file) : path.dirname(addon.location.dir);
    const id = `${scope}\0${slug}`;
    const first = groups.get(id);
    if (first && first.location.dir === addon.location.dir) continue; // Reported as two-configs.
    if (first) {
      diagnostics.error(
        options.display(addon.configFile),
        null,
        'duplicate-slug',
        `slug '${slug}' is also used by ${options.display(first.configFile)}; the Supervisor identifies add-ons of a repository by slug and keeps only one`,
      );
      addon.hasErrors = true;
    } else {
      groups.set(id, addon);
    }
  }
}
