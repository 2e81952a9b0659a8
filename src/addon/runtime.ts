/**
 * The add-on's runtime contract: what the add-on's own Dockerfile makes of the running container, as
 * Docker (BuildKit's dockerfile2llb) would build it on the add-on's base image, and how much of it an
 * addonix image carries. Evaluated per arch (BUILD_ARCH and the base image differ) over the chain of
 * stages the final stage is built from:
 *
 * - the image config the Dockerfile changes (Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts,
 *   Volumes, Labels, Healthcheck, StopSignal, OnBuild), with Docker's rules: ENV and the other expanded
 *   instructions see the base image's Env and the ARG values; an ENTRYPOINT clears the Cmd inherited from
 *   the base unless the stage set one before; the shell form runs through SHELL (default /bin/sh -c);
 *   WORKDIR is relative to the one before;
 * - the files: COPY and ADD of the add-on's own files (the build context is the add-on folder), in order,
 *   with the RUN steps that only shape those files (chmod, mkdir, ln -s, rm of copied files, cd);
 * - what RUN steps install: `apk add` packages (provided by the base image, taken from nixpkgs, only
 *   needed to build, or unknown), `npm ci`/`npm install` (which addonix does itself: where node_modules go);
 * - everything else, each with its Dockerfile line, as not carried over.
 *
 * The Nix library lays the config over the base image's (nix/runtime.nix) and replays the file steps
 * (nix/docker-copy.py); this module decides everything, so that `addonix generate` writes it as data.
 */
import path from 'node:path';
import { finalStageChain, quotedWords, type Dockerfile, type Instruction } from './dockerfile.js';
import { expandWord, ShellWordError } from './shell-words.js';
import { ALPINE_BUILD_ONLY, alpinePackage } from './alpine-packages.js';

/** An image config as the OCI image-spec names its fields (`config` of the image config). */
export interface ImageConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: Healthcheck;
  Shell?: string[];
  OnBuild?: string[];
}

export interface Healthcheck {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** One step that shapes the image's files, replayed in order by nix/docker-copy.py. */
export type FileStep =
  | { op: 'copy'; line: number; sources: string[]; dest: string; chmod: string | null; extract: boolean }
  | { op: 'write'; line: number; dest: string; content: string; chmod: string | null }
  | { op: 'chmod'; line: number; mode: string; paths: string[]; recursive: boolean }
  | { op: 'mkdir'; line: number; paths: string[] }
  | { op: 'symlink'; line: number; target: string; path: string }
  | { op: 'remove'; line: number; paths: string[] };

export interface PackageUse {
  /** The Alpine package as the Dockerfile names it. */
  name: string;
  line: number;
  /**
   * runtime: a program the image needs (nixpkgs `attr`, or the base image's when it has it);
   * node: Node.js (addonix's own); build: only needed to build; library: linked by store path.
   */
  kind: 'runtime' | 'node' | 'build' | 'library';
  attr: string | null;
  /** Home Assistant's base images have it. */
  inHaBase: boolean;
}

/** Something of the Dockerfile the image does not carry over, said once with its line. */
export interface NotCarried {
  line: number;
  instruction: string;
  reason: string;
}

export type Flavor = 'nix' | 'base';

export interface RuntimeContract {
  /** The Dockerfile, relative to the add-on folder. */
  dockerfile: string;
  /** What the Dockerfile changes of the base image's config; keys absent are the base image's. */
  config: ImageConfig;
  /** Where each config key was set (`Dockerfile:12`), for `inspect`. */
  configSources: Record<string, string>;
  steps: FileStep[];
  /** The folder `npm ci`/`npm install` ran in (node_modules go there), or null when no RUN does. */
  npmDir: string | null;
  npmLine: number | null;
  packages: PackageUse[];
  notCarried: NotCarried[];
  /** Variables the Dockerfile reads that nothing sets (expanded to nothing, as Docker does). */
  unsetVariables: { name: string; line: number; declared: boolean }[];
}

/** Read access to the build context (the add-on folder), relative POSIX paths. */
export interface ContextFiles {
  kind(relative: string): 'file' | 'dir' | 'symlink' | null;
  list(relative: string): string[];
  /** The first bytes of a file, or null. */
  head(relative: string, bytes: number): string | null;
  /** Whether .dockerignore (or addonix's own files) leaves this path out of the context. */
  ignored(relative: string): boolean;
}

export class RuntimeError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Folders every Linux base image has: a file copied to one of them goes inside, as Docker does. */
export const BASE_DIRECTORIES = new Set(['/', '/bin', '/etc', '/home', '/lib', '/opt', '/root', '/run', '/sbin', '/srv', '/tmp', '/usr', '/usr/bin', '/usr/lib', '/usr/local', '/usr/local/bin', '/usr/local/lib', '/usr/local/sbin', '/usr/sbin', '/usr/share', '/var', '/var/lib']);

interface State {
  /** The variables the Dockerfile's ENV set, in the order first set (what the config lays over the base's Env). */
  env: Map<string, string>;
  /** What expansions see: the Env and the stage's ARG values, in the order they were set. */
  vars: Map<string, string>;
  workdir: string;
  shell: string[];
  cmdSetInStage: boolean;
  /** ARGs the stages declare (with or without a value). */
  declared: Set<string>;
}

function posixJoin(base: string, relative: string): string {
  return path.posix.join(base, relative);
}

/** Docker's destination rule: absolute, or relative to WORKDIR; a trailing slash (or `.`) kept. */
export function destination(workdir: string, dest: string): string {
  const dir = dest === '.' || dest === '' ? './' : dest;
  const keepSlash = dir.endsWith('/') || dir.endsWith('/.') || dir === '.';
  const joined = dir.startsWith('/') ? path.posix.normalize(dir) : posixJoin(workdir || '/', dir);
  const clean = joined.length > 1 ? joined.replace(/\/+$/, '') : joined;
  return keepSlash && clean !== '/' ? clean + '/' : clean;
}

/** Go's time.ParseDuration, in nanoseconds (HEALTHCHECK --interval=30s). */
export function parseDuration(text: string): number | null {
  if (text === '0') return 0;
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '') return null;
  while (rest !== '') {
    const m = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) return null;
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Math.round(sign * total);
}

/** EXPOSE's port specs as Docker keys them: `80/tcp`, ranges expanded. */
function exposedPorts(spec: string): string[] {
  const m = /^(?:.*:)?(\d+)(?:-(\d+))?(?:\/([a-zA-Z]+))?$/.exec(spec);
  if (!m) throw new Error(`invalid port ${JSON.stringify(spec)}`);
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : start;
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (end < start || end > 65535) throw new Error(`invalid port range ${JSON.stringify(spec)}`);
  const out: string[] = [];
  for (let port = start; port <= end; port++) out.push(`${port}/${proto}`);
  return out;
}

/** Splits a RUN command line into simple commands at top-level `&&` and `;`, or null when it uses more shell. */
export function simpleCommands(text: string): string[][] | null {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | null = null;
  const end = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else word += ch;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === '\\' && '"$`\\'.includes(text[i + 1] ?? '')) word += text[++i];
      else if (ch === '$' || ch === '`') return null;
      else word += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\') {
      inWord = true;
      word += text[++i] ?? '';
    } else if (/\s/.test(ch)) end();
    else if (ch === '&' && text[i + 1] === '&') {
      end();
      commands.push(words);
      words = [];
      i++;
    } else if (ch === ';') {
      end();
      commands.push(words);
      words = [];
    } else if ('|&<>()`$'.includes(ch) || (ch === '#' && !inWord)) return null;
    else {
      inWord = true;
      word += ch;
    }
  }
  if (quote) return null;
  end();
  commands.push(words);
  return commands.filter((command) => command.length > 0);
}

const CHMOD_MODE = /^(?:[0-7]{3,4}|(?:[ugoa]*(?:[-+=][rwxXst]*)+)(?:,[ugoa]*(?:[-+=][rwxXst]*)+)*)$/;

interface Evaluation {
  contract: RuntimeContract;
  state: State;
}

/**
 * The runtime contract of the Dockerfile's final stage. `buildArgs` are what the builder passes
 * (BUILD_FROM, BUILD_VERSION, BUILD_ARCH, the build file's args); `baseConfig` is the base image's config
 * when known (pinned), for the variables and the WORKDIR the Dockerfile builds on.
 */
export function runtimeContract(
  dockerfile: Dockerfile,
  file: string,
  buildArgs: Readonly<Record<string, string>>,
  baseConfig: ImageConfig | null,
  context: ContextFiles,
): RuntimeContract {
  const contract: RuntimeContract = { dockerfile: file, config: {}, configSources: {}, steps: [], npmDir: null, npmLine: null, packages: [], notCarried: [], unsetVariables: [] };
  const chain = finalStageChain(dockerfile, buildArgs);
  const baseEnv = new Map<string, string>();
  for (const item of baseConfig?.Env ?? []) {
    const eq = item.indexOf('=');
    baseEnv.set(eq < 0 ? item : item.slice(0, eq), eq < 0 ? '' : item.slice(eq + 1));
  }
  const state: State = {
    env: new Map(),
    vars: new Map(baseEnv),
    workdir: baseConfig?.WorkingDir || '/',
    shell: baseConfig?.Shell ?? DEFAULT_SHELL,
    cmdSetInStage: false,
    declared: new Set(dockerfile.globalArgs.map((arg) => arg.name)),
  };
  if (!chain) return contract;
  const evaluation: Evaluation = { contract, state };
  const globals = new Map<string, string>();
  for (const arg of dockerfile.globalArgs) {
    const given = buildArgs[arg.name];
    if (given !== undefined) globals.set(arg.name, given);
    else if (arg.value !== undefined) globals.set(arg.name, expand(evaluation, arg.value, arg.line, globals));
  }
  for (const [index, stage] of chain.chain.entries()) {
    if (index > 0) {
      // A stage built FROM an earlier one starts from that stage's image: its Env, not its ARGs.
      state.vars = new Map([...baseEnv, ...state.env]);
      state.cmdSetInStage = false;
    }
    for (const instruction of stage.instructions) {
      try {
        dispatch(evaluation, instruction, buildArgs, globals, dockerfile.escape, context);
      } catch (error) {
        if (error instanceof ShellWordError || error instanceof RuntimeError) {
          throw new RuntimeError(`${file}:${instruction.line}: ${instruction.keyword}: ${error.message}`, instruction.line);
        }
        throw error;
      }
    }
  }
  // Env as the config holds it: only when the Dockerfile set any (the base image's otherwise).
  return contract;
}

function expand(evaluation: Evaluation, word: string, line: number, vars?: ReadonlyMap<string, string>, escape = '\\'): string {
  const result = expandWord(word, vars ?? evaluation.state.vars, escape);
  for (const name of result.unset) {
    if (!evaluation.contract.unsetVariables.some((u) => u.name === name && u.line === line)) evaluation.contract.unsetVariables.push({ name, line, declared: evaluation.state.declared.has(name) });
  }
  return result.value;
}

function setConfig<K extends keyof ImageConfig>(evaluation: Evaluation, key: K, value: ImageConfig[K], source: string): void {
  evaluation.contract.config[key] = value;
  evaluation.contract.configSources[key] = source;
}

function notCarried(evaluation: Evaluation, instruction: Instruction, reason: string, text?: string): void {
  const flags = instruction.flags.map((f) => (f.value === null ? `--${f.name}` : `--${f.name}=${f.value}`));
  const shown = text ?? [instruction.keyword, ...flags, instruction.text].join(' ').trim();
  evaluation.contract.notCarried.push({ line: instruction.line, instruction: shown.length > 120 ? shown.slice(0, 117) + '...' : shown, reason });
}

/** Key/value pairs of ENV and LABEL, in both the `k=v ...` and the legacy `k v` forms, not yet expanded. */
function keyValues(instruction: Instruction, escape: string): [string, string][] {
  const words = quotedWords(instruction.text, escape);
  if (words.length === 0) throw new RuntimeError(`${instruction.keyword} requires at least one argument`, instruction.line);
  if (!words[0]!.includes('=')) {
    const parts = instruction.text.split(/[\t\v\f\r ]+/);
    if (parts.length < 2) throw new RuntimeError(`${instruction.keyword} must have two arguments`, instruction.line);
    return [[parts[0]!, instruction.text.slice(instruction.text.indexOf(parts[0]!) + parts[0]!.length).replace(/^[\t\v\f\r ]+/, '')]];
  }
  return words.map((word) => {
    const eq = word.indexOf('=');
    if (eq < 0) throw new RuntimeError(`can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`, instruction.line);
    return [word.slice(0, eq), word.slice(eq + 1)];
  });
}

function withShell(state: State, json: string[] | null, text: string): string[] {
  return json ?? [...state.shell, text];
}

function flag(instruction: Instruction, name: string): string | null | undefined {
  return instruction.flags.find((f) => f.name === name)?.value;
}

function dispatch(evaluation: Evaluation, instruction: Instruction, buildArgs: Readonly<Record<string, string>>, globals: ReadonlyMap<string, string>, escape: string, context: ContextFiles): void {
  const { state, contract } = evaluation;
  const where = `${contract.dockerfile}:${instruction.line}`;
  const ex = (word: string) => expand(evaluation, word, instruction.line, undefined, escape);
  switch (instruction.keyword) {
    case 'ARG':
      for (const word of quotedWords(instruction.text, escape)) {
        const eq = word.indexOf('=');
        const name = eq < 0 ? word : word.slice(0, eq);
        state.declared.add(name);
        let value: string | undefined;
        if (buildArgs[name] !== undefined) value = buildArgs[name];
        else if (eq >= 0) value = ex(word.slice(eq + 1));
        else value = globals.get(name);
        if (value !== undefined) state.vars.set(name, value);
      }
      return;
    case 'ENV': {
      // All pairs of one ENV see the variables as they were before it (Docker's documented rule).
      const pairs = keyValues(instruction, escape).map(([key, value]) => [ex(key), ex(value)] as const);
      for (const [key, value] of pairs) {
        if (key === '') throw new RuntimeError('ENV names can not be blank', instruction.line);
        // In place, as BuildKit's addEnv replaces a variable already set (nix/runtime.nix mergeEnv
        // keeps the base image's order).
        state.env.set(key, value);
        state.vars.set(key, value);
      }
      setConfig(evaluation, 'Env', [...state.env].map(([key, value]) => `${key}=${value}`), where);
      return;
    }
    case 'LABEL': {
      const labels = { ...(contract.config.Labels ?? {}) };
      for (const [key, value] of keyValues(instruction, escape)) labels[ex(key)] = ex(value);
      setConfig(evaluation, 'Labels', labels, where);
      return;
    }
    case 'MAINTAINER':
      return;
    case 'WORKDIR': {
      const dir = ex(instruction.text);
      state.workdir = dir.startsWith('/') ? path.posix.normalize(dir) : posixJoin(state.workdir, dir);
      if (state.workdir.length > 1) state.workdir = state.workdir.replace(/\/+$/, '');
      setConfig(evaluation, 'WorkingDir', state.workdir, where);
      return;
    }
    case 'USER':
      setConfig(evaluation, 'User', ex(instruction.text), where);
      return;
    case 'EXPOSE': {
      const ports = { ...(contract.config.ExposedPorts ?? {}) };
      for (const word of instruction.text.split(/[\t\v\f\r ]+/).filter(Boolean)) {
        try {
          for (const port of exposedPorts(ex(word))) ports[port] = {};
        } catch (error) {
          throw new RuntimeError((error as Error).message, instruction.line);
        }
      }
      setConfig(evaluation, 'ExposedPorts', ports, where);
      return;
    }
    case 'VOLUME': {
      const volumes = { ...(contract.config.Volumes ?? {}) };
      for (const word of instruction.json ?? instruction.text.split(/[\t\v\f\r ]+/).filter(Boolean)) {
        const volume = ex(word);
        if (volume === '') throw new RuntimeError('VOLUME specified can not be an empty string', instruction.line);
        volumes[volume] = {};
      }
      setConfig(evaluation, 'Volumes', volumes, where);
      return;
    }
    case 'STOPSIGNAL':
      setConfig(evaluation, 'StopSignal', ex(instruction.text), where);
      return;
    case 'SHELL':
      if (!instruction.json) throw new RuntimeError('SHELL requires the arguments to be in JSON form', instruction.line);
      state.shell = instruction.json;
      setConfig(evaluation, 'Shell', instruction.json, where);
      return;
    case 'CMD':
      setConfig(evaluation, 'Cmd', withShell(state, instruction.json, instruction.text), where);
      state.cmdSetInStage = true;
      return;
    case 'ENTRYPOINT': {
      const args = instruction.json ?? (instruction.text === '' ? [] : withShell(state, null, instruction.text));
      setConfig(evaluation, 'Entrypoint', args.length === 0 ? null : args, where);
      if (!state.cmdSetInStage) setConfig(evaluation, 'Cmd', null, where);
      return;
    }
    case 'HEALTHCHECK':
      setConfig(evaluation, 'Healthcheck', healthcheck(instruction), where);
      return;
    case 'ONBUILD':
      setConfig(evaluation, 'OnBuild', [...(contract.config.OnBuild ?? []), instruction.text], where);
      return;
    case 'COPY':
    case 'ADD':
      copy(evaluation, instruction, ex, context);
      return;
    case 'RUN':
      run(evaluation, instruction);
      return;
  }
}

function healthcheck(instruction: Instruction): Healthcheck {
  const type = (instruction.text.split(/\s+/)[0] ?? '').toUpperCase();
  if (type === 'NONE') {
    if (instruction.text.trim().split(/\s+/).length > 1) throw new RuntimeError('HEALTHCHECK NONE takes no arguments', instruction.line);
    return { Test: ['NONE'] };
  }
  if (type !== 'CMD') throw new RuntimeError(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`, instruction.line);
  const rest = instruction.text.replace(/^\S+\s*/, '');
  if (instruction.json === null && rest === '') throw new RuntimeError('Missing command after HEALTHCHECK CMD', instruction.line);
  const check: Healthcheck = { Test: instruction.json ? ['CMD', ...instruction.json] : ['CMD-SHELL', rest] };
  for (const [name, key] of [['interval', 'Interval'], ['timeout', 'Timeout'], ['start-period', 'StartPeriod'], ['start-interval', 'StartInterval']] as const) {
    const value = flag(instruction, name);
    if (value === undefined || value === null || value === '') continue;
    const ns = parseDuration(value);
    if (ns === null) throw new RuntimeError(`time: invalid duration ${JSON.stringify(value)} (--${name})`, instruction.line);
    if (ns < 1e6) throw new RuntimeError(`Interval "${name}" cannot be less than 1ms`, instruction.line);
    check[key] = ns;
  }
  const retries = flag(instruction, 'retries');
  if (retries) {
    const n = Number(retries);
    if (!Number.isInteger(n)) throw new RuntimeError(`--retries ${retries}: not a number`, instruction.line);
    if (n < 1) throw new RuntimeError(`--retries must be at least 1 (not ${n})`, instruction.line);
    check.Retries = n;
  }
  return check;
}

const ARCHIVE = /\.(?:tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz)$/;

function copy(evaluation: Evaluation, instruction: Instruction, ex: (word: string) => string, context: ContextFiles): void {
  const { state, contract } = evaluation;
  const isAdd = instruction.keyword === 'ADD';
  if (flag(instruction, 'from') !== undefined) {
    notCarried(evaluation, instruction, `copies from another build stage or image (--from=${flag(instruction, 'from')}), which addonix does not build: the image has what addonix builds itself (the npm app and its node_modules) and the add-on's own files`);
    return;
  }
  const args = instruction.json ?? instruction.text.split(/[\t\v\f\r ]+/).filter(Boolean);
  if (args.length < 2) throw new RuntimeError(`${instruction.keyword} requires at least two arguments, but got ${args.length}`, instruction.line);
  const dest = destination(state.workdir, ex(args.at(-1)!));
  const chmodFlag = flag(instruction, 'chmod');
  const chmod = chmodFlag ? ex(chmodFlag) : null;
  if (chmod !== null && !CHMOD_MODE.test(chmod)) throw new RuntimeError(`invalid --chmod ${JSON.stringify(chmod)}`, instruction.line);
  const ignoredFlags = instruction.flags.map((f) => f.name).filter((name) => !['chmod', 'link'].includes(name));
  if (ignoredFlags.length > 0) {
    notCarried(evaluation, instruction, `${ignoredFlags.map((name) => '--' + name).join(', ')}: not carried over (the files are owned by root, as the layer addonix writes has no other owner)`);
  }
  const heredocs = new Map(instruction.heredocs.map((doc) => [doc.name, doc]));
  const sources: string[] = [];
  for (const raw of args.slice(0, -1)) {
    const heredoc = /^\d*<<-?(.+)$/.exec(raw);
    if (heredoc && instruction.json === null) {
      const doc = heredocs.get(expandWord(heredoc[1]!, new Map()).value);
      if (doc) {
        const target = dest.endsWith('/') ? posixJoin(dest, doc.name) : dest;
        contract.steps.push({ op: 'write', line: instruction.line, dest: target, content: doc.expand ? ex(doc.content) : doc.content, chmod });
        continue;
      }
    }
    const source = ex(raw);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) || source.startsWith('git@')) {
      notCarried(evaluation, instruction, `${isAdd ? 'ADD' : 'COPY'} of ${source}: addonix downloads nothing at build time that the lockfile does not pin`);
      continue;
    }
    const relative = path.posix.normalize(source.replace(/^\/+/, '')).replace(/\/+$/, '') || '.';
    if (relative.startsWith('..')) throw new RuntimeError(`${source} is outside the build context (the add-on folder)`, instruction.line);
    const matches = expandContextGlob(relative, context);
    if (matches.length === 0) throw new RuntimeError(`${source}: no such file or folder in the add-on folder (the build context)`, instruction.line);
    sources.push(relative);
  }
  if (sources.length === 0) return;
  const expanded = sources.flatMap((source) => expandContextGlob(source, context));
  if (expanded.length > 1 && !dest.endsWith('/')) {
    throw new RuntimeError(`When using ${instruction.keyword} with more than one source file, the destination must be a directory and end with a /`, instruction.line);
  }
  const extract = isAdd && expanded.some((source) => ARCHIVE.test(source) && context.kind(source) === 'file');
  contract.steps.push({ op: 'copy', line: instruction.line, sources, dest, chmod, extract });
}

/** The context paths a COPY source names: itself, or the matches of its wildcards (`*`, `?`, `[...]`). */
export function expandContextGlob(source: string, context: ContextFiles): string[] {
  if (!/[*?[]/.test(source)) return context.kind(source) !== null && !context.ignored(source) ? [source] : [];
  const parts = source.split('/');
  let current = [''];
  for (const part of parts) {
    const next: string[] = [];
    for (const dir of current) {
      if (!/[*?[]/.test(part)) {
        const candidate = dir ? `${dir}/${part}` : part;
        if (context.kind(candidate) !== null) next.push(candidate);
        continue;
      }
      const regex = globRegex(part);
      for (const name of context.list(dir || '.')) if (regex.test(name)) next.push(dir ? `${dir}/${name}` : name);
    }
    current = next;
  }
  return current.filter((match) => !context.ignored(match)).sort();
}

/** Go's filepath.Match for one path component, as a RegExp. */
export function globRegex(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else if (ch === '\\' && i + 1 < pattern.length) out += '\\' + pattern[++i];
    else if (ch === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) {
        out += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      if (body.startsWith('^')) body = '!' + body.slice(1);
      out += '[' + (body.startsWith('!') ? '^' + body.slice(1) : body).replace(/\\/g, '\\\\') + ']';
      i = close;
    } else out += ch.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  return new RegExp('^' + out + '$', 's');
}

function run(evaluation: Evaluation, instruction: Instruction): void {
  const { state } = evaluation;
  if (instruction.json !== null) {
    runCommand(evaluation, instruction, instruction.json, state.workdir);
    return;
  }
  if (instruction.heredocs.length > 0) {
    notCarried(evaluation, instruction, 'a script in a here-document: addonix does not run build steps');
    return;
  }
  const commands = simpleCommands(instruction.text);
  if (commands === null) {
    // Still say what it installs, when an apk add or npm install is part of it.
    const text = instruction.text;
    if (/\bapk\s+add\b/.test(text) || /\bnpm\s+(ci|install|i)\b/.test(text)) {
      const pieces = text.split(/&&|;|\|\|/).map((piece) => simpleCommands(piece.trim()) ?? []).flat();
      for (const words of pieces) if (words[0] === 'apk' || words[0] === 'npm') runCommand(evaluation, instruction, words, state.workdir);
    }
    notCarried(evaluation, instruction, 'a shell command line addonix does not replay (pipes, redirections, variables or subshells); what it does to the image is left out');
    return;
  }
  let cwd = state.workdir;
  for (const words of commands) cwd = runCommand(evaluation, instruction, words, cwd) ?? cwd;
}

/** One simple command of a RUN; returns the new working folder after `cd`. */
function runCommand(evaluation: Evaluation, instruction: Instruction, words: string[], cwd: string): string | undefined {
  const { contract } = evaluation;
  const shown = words.join(' ');
  const [program, ...args] = words;
  const at = (p: string) => (p.startsWith('/') ? path.posix.normalize(p) : posixJoin(cwd, p));
  switch (program) {
    case 'cd':
      return at(args[0] ?? '/');
    case 'true':
    case ':':
    case 'set':
    case 'echo':
      return undefined;
    case 'apk':
      apk(evaluation, instruction, args);
      return undefined;
    case 'npm':
      npm(evaluation, instruction, args, cwd, shown);
      return undefined;
    case 'chmod': {
      const recursive = args.includes('-R');
      const rest = args.filter((a) => !a.startsWith('-') || /^-[rwxXst]+$/.test(a));
      const [mode, ...paths] = rest;
      if (mode && CHMOD_MODE.test(mode.replace(/^-/, '')) && paths.length > 0) {
        contract.steps.push({ op: 'chmod', line: instruction.line, mode, paths: paths.map(at), recursive });
      } else notCarried(evaluation, instruction, 'a chmod addonix does not understand', shown);
      return undefined;
    }
    case 'mkdir': {
      const paths = args.filter((a) => !a.startsWith('-'));
      if (paths.length > 0) contract.steps.push({ op: 'mkdir', line: instruction.line, paths: paths.map(at) });
      return undefined;
    }
    case 'ln': {
      const flags = args.filter((a) => a.startsWith('-')).join('');
      const operands = args.filter((a) => !a.startsWith('-'));
      if (flags.includes('s') && operands.length === 2) {
        contract.steps.push({ op: 'symlink', line: instruction.line, target: operands[0]!, path: at(operands[1]!) });
      } else notCarried(evaluation, instruction, 'a link addonix does not replay (only ln -s TARGET LINK)', shown);
      return undefined;
    }
    case 'rm': {
      const paths = args.filter((a) => !a.startsWith('-')).map(at);
      if (paths.length > 0) contract.steps.push({ op: 'remove', line: instruction.line, paths });
      return undefined;
    }
    default:
      notCarried(evaluation, instruction, `${program} is not run: addonix replays only what shapes the add-on's own files (cd, chmod, mkdir, ln -s, rm) and installs packages from its own tables`, shown);
      return undefined;
  }
}

function apk(evaluation: Evaluation, instruction: Instruction, args: string[]): void {
  const [sub, ...rest] = args.filter((a, i) => !(i === 0 && a.startsWith('-')));
  if (sub === 'update' || sub === 'upgrade' || sub === 'del' || sub === 'cache') return;
  if (sub !== 'add') {
    notCarried(evaluation, instruction, `apk ${sub ?? ''}: not carried over`, `apk ${args.join(' ')}`);
    return;
  }
  let buildOnly = false;
  const names: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (word === '--virtual' || word === '-t' || word === '--repository' || word === '-X') {
      if (word === '--virtual' || word === '-t') buildOnly = true;
      i++;
      continue;
    }
    if (word.startsWith('--virtual=') || word.startsWith('-t')) buildOnly = true;
    if (word.startsWith('-')) continue;
    names.push(word.replace(/[=~<>].*$/, ''));
  }
  // Python (and git) beside a compiler or npm in one apk add is there for node-gyp and npm install.
  const forBuild = names.some((name) => ['g++', 'gcc', 'make', 'build-base', 'npm', 'yarn'].includes(name));
  for (const name of names) {
    const known = alpinePackage(name);
    let use: PackageUse;
    if (buildOnly || ALPINE_BUILD_ONLY.has(name) || ((name.startsWith('python3') || name.startsWith('py3-') || name === 'git') && forBuild)) use = { name, line: instruction.line, kind: 'build', attr: null, inHaBase: false };
    else if (known === null) {
      notCarried(evaluation, instruction, `apk add ${name}: addonix knows no nixpkgs package for it; add it with extraContents = p: [ p.<name> ] in flake.nix`, `apk add ${name}`);
      continue;
    } else use = { name, line: instruction.line, kind: known.kind, attr: known.attr, inHaBase: known.inHaBase };
    if (!evaluation.contract.packages.some((p) => p.name === name)) evaluation.contract.packages.push(use);
  }
}

function npm(evaluation: Evaluation, instruction: Instruction, args: string[], cwd: string, shown: string): void {
  const { contract } = evaluation;
  const [sub, ...rest] = args;
  if (sub === 'ci' || sub === 'install' || sub === 'i' || sub === 'clean-install') {
    const packages = rest.filter((a) => !a.startsWith('-'));
    const prefixAt = rest.findIndex((a) => a === '--prefix' || a.startsWith('--prefix='));
    let dir = cwd;
    if (prefixAt >= 0) {
      const value = rest[prefixAt]!.includes('=') ? rest[prefixAt]!.split('=')[1]! : rest[prefixAt + 1] ?? '';
      dir = value.startsWith('/') ? value : posixJoin(cwd, value);
    }
    if (packages.filter((p) => !(prefixAt >= 0 && p === rest[prefixAt + 1])).length > 0) {
      notCarried(evaluation, instruction, 'npm install of named packages: addonix installs what package-lock.json locks, nothing else', shown);
      return;
    }
    if (contract.npmDir === null) {
      contract.npmDir = dir;
      contract.npmLine = instruction.line;
    }
    return;
  }
  if (sub === 'cache' || sub === 'prune' || sub === 'config' || sub === 'set') return;
  notCarried(evaluation, instruction, sub === 'run' || sub === 'run-script' ? 'npm scripts are not run: addonix installs the locked packages and compiles native addons; build the app before (commit the output) or give the image a prebuilt folder' : `npm ${sub ?? ''}: not carried over`, shown);
}

/** The image path a context file lands on through the copy steps (the last step that writes it), or null. */
export function imagePathOf(contract: RuntimeContract, relative: string, context: ContextFiles): string | null {
  let found: string | null = null;
  for (const step of contract.steps) {
    if (step.op !== 'copy') continue;
    for (const source of step.sources.flatMap((s) => expandContextGlob(s, context))) {
      const kind = context.kind(source);
      const inside = source === '.' ? relative : relative === source ? '' : relative.startsWith(source + '/') ? relative.slice(source.length + 1) : null;
      if (inside === null) continue;
      if (kind === 'dir') found = posixJoin(step.dest, inside);
      else if (inside === '') found = step.dest.endsWith('/') || BASE_DIRECTORIES.has(step.dest) ? posixJoin(step.dest, path.posix.basename(source)) : step.dest;
    }
  }
  return found;
}

/** The context file an image path comes from (the last copy step that writes it), or null. */
export function contextFileOf(contract: RuntimeContract, imagePath: string, context: ContextFiles): string | null {
  let found: string | null = null;
  const target = path.posix.normalize(imagePath);
  for (const step of contract.steps) {
    if (step.op !== 'copy') continue;
    for (const source of step.sources.flatMap((s) => expandContextGlob(s, context))) {
      const kind = context.kind(source);
      const dest = step.dest.replace(/\/+$/, '') || '/';
      if (kind === 'dir') {
        const inside = dest === '/' ? target.slice(1) : target.startsWith(dest + '/') ? target.slice(dest.length + 1) : null;
        if (inside === null || inside === '') continue;
        const candidate = source === '.' ? inside : `${source}/${inside}`;
        if (context.kind(candidate) === 'file' && !context.ignored(candidate)) found = candidate;
      } else {
        const landed = step.dest.endsWith('/') || BASE_DIRECTORIES.has(step.dest) ? posixJoin(step.dest, path.posix.basename(source)) : step.dest;
        if (landed === target) found = source;
      }
    }
  }
  return found;
}

/** The final command as Docker runs it: Entrypoint then Cmd, with what the base gives where unset. */
export function effectiveCommand(contract: RuntimeContract, base: ImageConfig | null): { entrypoint: string[]; cmd: string[] } {
  const has = (key: 'Entrypoint' | 'Cmd') => Object.prototype.hasOwnProperty.call(contract.config, key);
  const entrypoint = has('Entrypoint') ? contract.config.Entrypoint ?? [] : base?.Entrypoint ?? [];
  const cmd = has('Cmd') ? contract.config.Cmd ?? [] : base?.Cmd ?? [];
  return { entrypoint, cmd };
}

export { DEFAULT_PATH };

/** Every file the copy steps put in the image, with where it comes from (at most `limit`). */
export function copiedFiles(contract: RuntimeContract, context: ContextFiles, limit = 20000): { source: string; image: string }[] {
  const out = new Map<string, string>();
  const walk = (relative: string, image: string) => {
    if (out.size >= limit || context.ignored(relative)) return;
    const kind = context.kind(relative);
    if (kind === 'dir') {
      for (const name of context.list(relative)) walk(relative === '.' ? name : `${relative}/${name}`, posixJoin(image, name));
    } else if (kind !== null) out.set(image, relative);
  };
  for (const step of contract.steps) {
    if (step.op !== 'copy') continue;
    for (const source of step.sources.flatMap((s) => expandContextGlob(s, context))) {
      if (context.kind(source) === 'dir') walk(source, step.dest);
      else walk(source, step.dest.endsWith('/') || BASE_DIRECTORIES.has(step.dest) ? posixJoin(step.dest, path.posix.basename(source)) : step.dest);
    }
  }
  return [...out].map(([image, source]) => ({ source, image }));
}

/** Base images whose ENTRYPOINT is s6-overlay's /init: Home Assistant's and the community add-on base. */
export function isS6BaseImage(image: string | null): boolean {
  if (image === null) return false;
  return /^(?:ghcr\.io\/home-assistant\/[^:@]*base[^:@]*|ghcr\.io\/hassio-addons\/base(?:\/[^:@]+)?|(?:docker\.io\/)?hassioaddons\/[^:@]*base[^:@]*)(?:[:@]|$)/.test(image);
}

export interface FlavorChoice {
  flavor: Flavor;
  /** Why, naming the file and line that decided it. */
  reason: string;
}

const S6_FOLDERS = ['/etc/s6-overlay/s6-rc.d/', '/etc/services.d/', '/etc/cont-init.d/', '/etc/cont-finish.d/'];

/**
 * The flavor an add-on's image needs to start as its Dockerfile image does: "base" (on its base image,
 * with s6-overlay and bashio) for a bashio or with-contenv launcher, s6 services, or init: false on an
 * s6-overlay base image; "nix" (only what Nix builds) otherwise.
 */
export function chooseFlavor(
  contract: RuntimeContract,
  options: { init: boolean; baseImage: string | null; baseConfig: ImageConfig | null; context: ContextFiles; configFile: string },
): FlavorChoice {
  const { context } = options;
  const base = options.baseConfig ?? (isS6BaseImage(options.baseImage) ? { Entrypoint: ['/init'] } : null);
  const { entrypoint, cmd } = effectiveCommand(contract, base);
  const where = (key: 'Entrypoint' | 'Cmd') => contract.configSources[key] ?? `${contract.dockerfile}`;
  for (const [key, argv] of [['Cmd', cmd], ['Entrypoint', entrypoint]] as const) {
    for (const word of argv.slice(0, 3)) {
      if (word === 'bashio' || word.endsWith('/bashio') || word.endsWith('/with-contenv')) {
        return { flavor: 'base', reason: `${where(key)}: ${key === 'Cmd' ? 'CMD' : 'ENTRYPOINT'} runs ${word}, which the base image provides` };
      }
      if (!word.startsWith('/')) continue;
      const source = contextFileOf(contract, word, context);
      if (source === null) continue;
      const shebang = (context.head(source, 256) ?? '').split('\n')[0]!;
      if (/^#!.*\b(with-contenv|bashio)\b/.test(shebang)) {
        return { flavor: 'base', reason: `${where(key)}: ${key === 'Cmd' ? 'CMD' : 'ENTRYPOINT'} runs ${word}, a launcher that needs the base image (${source}:1: ${shebang.trim()})` };
      }
    }
  }
  // s6 services first (their folder named), then init scripts.
  const copied = copiedFiles(contract, context);
  for (const folder of S6_FOLDERS) {
    const file = copied.find((f) => f.image.startsWith(folder) && !f.image.startsWith('/etc/s6-overlay/s6-rc.d/user/'));
    if (!file) continue;
    const depth = folder.split('/').length;
    const image = folder.includes('cont-') ? file.image : file.image.split('/').slice(0, depth).join('/');
    const source = file.source.split('/').slice(0, file.source.split('/').length - (file.image.split('/').length - image.split('/').length)).join('/');
    const step = contract.steps.find((s) => s.op === 'copy' && s.sources.some((src) => file.source === src || src === '.' || file.source.startsWith(src + '/')));
    return { flavor: 'base', reason: `${source}: an s6-overlay ${folder.includes('cont-') ? 'init script' : 'service'} (${image}${step ? `, copied by ${contract.dockerfile}:${step.line}` : ''}), which the base image's /init runs` };
  }
  if (!options.init && (options.baseConfig?.Entrypoint?.[0] === '/init' || isS6BaseImage(options.baseImage))) {
    return { flavor: 'base', reason: `${options.configFile}: init: false, and the base image ${options.baseImage ?? ''} starts s6-overlay's /init` };
  }
  const s6Left = isS6BaseImage(options.baseImage) || options.baseConfig?.Entrypoint?.[0] === '/init'
    ? `; the base image's s6-overlay /init is left out, so the command runs directly${options.init ? " (Docker's image of it would not start under the Supervisor's init: s6-overlay refuses to)" : ''}`
    : '';
  return { flavor: 'nix', reason: `${contract.dockerfile}: no bashio launcher, no s6 service and no init: false on an s6-overlay base image: the image holds only what Nix builds${s6Left}` };
}
