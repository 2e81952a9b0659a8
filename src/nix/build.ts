/**
 * Building add-on images with Nix: find the image outputs a flake has, plan (one dry run: derivations,
 * output paths, what will be built or fetched), build every chosen image in one `nix build --keep-going`
 * so Nix shares the work and one failing arch does not stop the others, then link the results as
 * `result-<arch>` (garbage-collector roots, written only once the build is over). Interrupting stops Nix
 * and leaves the links as they were.
 */
import { spawn } from 'node:child_process';
import { lstat, readFile, readlink, rm } from 'node:fs/promises';
import { ARCH_TABLE } from '../addon/arch.js';
import { nixAttrName } from '../nixgen/nix.js';
import { UserError } from '../util/errors.js';
import { extraNixFlags, featureArgs, runProgram, type NixInstall } from './install.js';
import { BuildMonitor, LineSplitter, type NixEvent } from './log.js';
import { hintContext, hintsFor, type Hint } from './hints.js';
import { buildableSystems, derivationSystem, fetchSizes, foreignBuildAdvice, foreignBuilds, isImagePlan, type DryRun, type ForeignBuild, type ImagePlan } from './cost.js';

/** Nix was stopped by Ctrl-C (or SIGTERM) through the signal given to it. */
export class BuildInterrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'BuildInterrupted';
  }
}

/** One image output of a flake. */
export interface ImageTarget {
  /** What the user sees and the link is named after: `amd64`, or `<slug>-amd64` in a repository flake. */
  label: string;
  arch: string;
  slug: string | null;
  /** The attribute under packages.<system>, e.g. dockerImage-amd64. */
  attribute: string;
}

export interface NixOptions {
  /** --max-jobs. */
  jobs?: number | undefined;
  /** Passed as --builders (remote builders, Nix's syntax). */
  builders?: string | undefined;
  /** Passed as --option substituters. */
  substituters?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Every event of the Nix log, after the monitor has taken it in. */
  onEvent?: ((event: NixEvent, monitor: BuildMonitor) => void) | undefined;
  /** Environment for Nix (default: addonix's own). */
  env?: NodeJS.ProcessEnv | undefined;
  /** Flake inputs replaced for this run (Nix's --override-input NAME REF), e.g. nixpkgs by a mirror. */
  overrides?: readonly (readonly [string, string])[] | undefined;
}

export interface NixRun {
  code: number | null;
  stdout: string;
  monitor: BuildMonitor;
}

/** Runs `nix ARGS --log-format internal-json`, following its log; an aborted signal stops it with SIGINT. */
export async function runNix(install: NixInstall, args: string[], options: NixOptions = {}): Promise<NixRun> {
  if (options.signal?.aborted) throw new BuildInterrupted();
  const monitor = new BuildMonitor();
  const overrides = (options.overrides ?? []).flatMap(([name, ref]) => ['--override-input', name, ref]);
  const env = options.env ?? process.env;
  const child = spawn(install.nix, [...featureArgs(install), ...args, ...extraNixFlags(env), ...overrides, '--log-format', 'internal-json'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  const lines = new LineSplitter((line) => {
    const event = monitor.line(line);
    if (event) options.onEvent?.(event, monitor);
  });
  child.stderr.on('data', (chunk: Buffer) => lines.push(chunk));
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    // Nix stops its builders and cleans up on SIGINT; a Nix that does not stop in time is killed.
    child.kill('SIGINT');
    killTimer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  };
  options.signal?.addEventListener('abort', stop, { once: true });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', (error) => reject(new UserError('nix-missing', `cannot run ${install.nix}: ${error.message}`)));
    child.on('close', (exitCode) => resolve(exitCode));
  }).finally(() => {
    options.signal?.removeEventListener('abort', stop);
    clearTimeout(killTimer);
    lines.end();
  });
  if (options.signal?.aborted) throw new BuildInterrupted();
  return { code, stdout, monitor };
}

/** Options every build-related Nix call shares: jobs, remote builders, substituters. */
function sharedArgs(options: NixOptions): string[] {
  const args: string[] = [];
  if (options.jobs !== undefined) args.push('--max-jobs', String(options.jobs));
  if (options.builders !== undefined) args.push('--builders', options.builders);
  if (options.substituters !== undefined) args.push('--option', 'substituters', options.substituters);
  return args;
}

/** `REF#packages.<system>.<attr>`, the attribute quoted when it is not a plain name (slugs may hold dots). */
function installable(flake: string, system: string, attribute: string): string {
  return `${flake}#packages.${system}.${nixAttrName(attribute)}`;
}

/** The error of a failed Nix call, with hints, as a UserError. */
export function nixFailure(what: string, run: NixRun, install: NixInstall): UserError {
  const errors = run.monitor.errors.length > 0 ? run.monitor.errors : run.monitor.text.slice(-10);
  const message = errors.join('\n').trim() || `nix exited with ${run.code}`;
  const hints = hintsFor(message, hintContext(install), true);
  return new UserError('nix-failed', `${what}:\n${indent(message)}${hints.map((h) => `\nhint: ${h.text}`).join('')}`, { trace: run.monitor.trace() });
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

/** The attribute names under packages.<system> of a flake. */
export async function listPackages(install: NixInstall, flake: string, options: NixOptions = {}): Promise<string[]> {
  const run = await runNix(install, ['eval', '--json', `${flake}#packages.${install.system}`, '--apply', 'builtins.attrNames'], options);
  if (run.code !== 0) {
    if (run.monitor.errors.some((e) => /does not provide attribute 'packages\./.test(e))) {
      throw new UserError('flake-missing', `the flake ${flake} has no packages for ${install.system}, the system of this machine (is it an addonix flake? addonix init writes one)`);
    }
    throw nixFailure(`cannot evaluate the flake ${flake}`, run, install);
  }
  return JSON.parse(run.stdout) as string[];
}

const ARCH_NAMES = new Set(Object.keys(ARCH_TABLE));

/** The image outputs among package names: `dockerImage-<arch>` and `dockerImage-<slug>-<arch>`. */
export function imageOutputs(names: string[]): ImageTarget[] {
  const targets: ImageTarget[] = [];
  for (const attribute of names) {
    const match = /^dockerImage-(?:(.+)-)?([a-z0-9]+)$/.exec(attribute);
    if (!match || !ARCH_NAMES.has(match[2]!)) continue;
    const slug = match[1] ?? null;
    targets.push({ label: slug ? `${slug}-${match[2]}` : match[2]!, arch: match[2]!, slug, attribute });
  }
  return targets;
}

/** The images to build for an add-on's arches: `dockerImage-<slug>-<arch>` when the flake has it, else `dockerImage-<arch>`. */
export function chooseTargets(available: ImageTarget[], arches: string[], slug: string | null, flake: string): ImageTarget[] {
  const missing: string[] = [];
  const chosen: ImageTarget[] = [];
  for (const arch of arches) {
    const found = available.find((t) => t.arch === arch && slug !== null && t.slug === slug) ?? available.find((t) => t.arch === arch && t.slug === null);
    if (found) chosen.push(found);
    else missing.push(arch);
  }
  if (missing.length > 0) {
    const have = available.map((t) => t.attribute).join(', ') || 'none';
    throw new UserError('flake-missing', `the flake ${flake} has no image for ${missing.join(', ')} (it has: ${have}); run addonix generate after editing the arches, or choose others with --arch`);
  }
  return chosen;
}

/** An image the dry run could plan: its derivation, output, and the derivations it needs. */
export interface PlannedTarget extends ImageTarget {
  drvPath: string;
  outPath: string;
  /** Every derivation in its closure (the image's own included). */
  closure: Set<string>;
}

export interface BuildPlan {
  planned: PlannedTarget[];
  /** Images that could not even be evaluated, with Nix's error. */
  unplanned: { target: ImageTarget; error: UserError }[];
  /** Derivations this build will build, and store paths it will fetch. */
  willBuild: Set<string>;
  willFetch: Set<string>;
  /** Per planned image (by attribute): what it would build for a system this machine cannot build. */
  foreign: Map<string, ForeignBuild[]>;
}

/** The systems of derivations, read from their .drv files (one that cannot be read is left out). */
export async function derivationSystems(drvs: Iterable<string>): Promise<Map<string, string>> {
  const systems = new Map<string, string>();
  await Promise.all(
    [...drvs].map(async (drv) => {
      try {
        systems.set(drv, derivationSystem(await readFile(drv, 'utf8')));
      } catch {
        // Not readable here (a store on another machine): Nix itself will say what it cannot build.
      }
    }),
  );
  return systems;
}

/**
 * The systems this machine builds for: its own, extra-platforms, and its remote builders' (--builders,
 * else the configuration's `builders`, whose `@FILE` entries name machine files).
 */
export async function machineSystems(install: NixInstall, options: NixOptions = {}): Promise<Set<string>> {
  const spec = options.builders ?? (typeof install.settings['builders'] === 'string' ? install.settings['builders'] : '');
  const lines: string[] = [];
  for (const entry of spec.split(/[\n;]/)) {
    const trimmed = entry.trim();
    if (trimmed.startsWith('@')) lines.push(await readFile(trimmed.slice(1), 'utf8').catch(() => ''));
    else lines.push(trimmed);
  }
  return buildableSystems(install.system, install.settings['extra-platforms'], lines.join('\n'));
}

/**
 * The plan without the images that need a derivation this machine cannot build (an aarch64 package the
 * binary cache lacks, on an x86_64 machine): each becomes a `no-builder` failure that says which and what
 * to do, before anything is built; the other images build.
 */
export function refuseForeign(plan: BuildPlan, plans: Map<string, ImagePlan | null>, install: NixInstall): BuildPlan {
  const refused = plan.planned.filter((t) => (plan.foreign.get(t.attribute) ?? []).length > 0);
  if (refused.length === 0) return plan;
  return {
    ...plan,
    planned: plan.planned.filter((t) => !refused.includes(t)),
    unplanned: [
      ...plan.unplanned,
      ...refused.map((target) => ({
        target: { label: target.label, arch: target.arch, slug: target.slug, attribute: target.attribute },
        error: new UserError('no-builder', foreignBuildAdvice(target.label, plan.foreign.get(target.attribute)!, install.system, plans.get(target.attribute) ?? null)),
      })),
    ],
  };
}

/**
 * The derivations and paths Nix's dry run lists. Its log text, not an interface: "these N derivations
 * will be built:" (or "this derivation will be built:"), "these N paths will be fetched (S download, S
 * unpacked):" (or "this path ..."), each followed by one message per store path indented by two spaces;
 * the same in Nix 2.8 and 2.26 (test/unit-nix-log.test.ts holds both).
 */
export function readDryRun(monitor: BuildMonitor, willBuild: Set<string>, willFetch: Set<string>): void {
  let section: Set<string> | undefined;
  for (const notice of monitor.notices) {
    if (/will be built:?$/.test(notice.trim())) section = willBuild;
    else if (/will be fetched/.test(notice)) section = willFetch;
    else if (section && /^\s+\/nix\/store\//.test(notice)) section.add(notice.trim());
  }
}

async function closureOf(install: NixInstall, drvPath: string, env?: NodeJS.ProcessEnv): Promise<Set<string>> {
  const result = await runProgram(install.nixStore, ['--query', '--requisites', drvPath, ...extraNixFlags(env, 'other')], { env: env ?? process.env });
  if (result.code !== 0) return new Set([drvPath]);
  return new Set(result.stdout.split('\n').filter((line) => line.endsWith('.drv')));
}

/**
 * Plans the build with one dry run. When that fails and there are several images, each is tried alone,
 * so that one image that does not evaluate does not stop the others.
 */
export async function planBuild(install: NixInstall, flake: string, targets: ImageTarget[], options: NixOptions = {}): Promise<BuildPlan> {
  const plan: BuildPlan = { planned: [], unplanned: [], willBuild: new Set(), willFetch: new Set(), foreign: new Map() };
  const dryRun = async (group: ImageTarget[]): Promise<NixRun> =>
    runNix(install, ['build', '--dry-run', '--json', ...sharedArgs(options), ...group.map((t) => installable(flake, install.system, t.attribute))], { ...options, onEvent: undefined });
  const take = async (group: ImageTarget[], run: NixRun) => {
    const results = JSON.parse(run.stdout) as { drvPath: string; outputs: Record<string, string> }[];
    readDryRun(run.monitor, plan.willBuild, plan.willFetch);
    for (const [i, target] of group.entries()) {
      const result = results[i]!;
      const outPath = result.outputs['out'] ?? Object.values(result.outputs)[0]!;
      plan.planned.push({ ...target, drvPath: result.drvPath, outPath, closure: await closureOf(install, result.drvPath, options.env) });
    }
  };
  // What each image would build for a system this machine cannot build, said before anything is built.
  const findForeign = async () => {
    const systems = await derivationSystems(plan.willBuild);
    const buildable = await machineSystems(install, options);
    for (const target of plan.planned) plan.foreign.set(target.attribute, foreignBuilds([...target.closure].filter((drv) => plan.willBuild.has(drv)), systems, buildable));
    return plan;
  };
  const all = await dryRun(targets);
  if (all.code === 0) {
    await take(targets, all);
    return findForeign();
  }
  if (targets.length === 1) {
    plan.unplanned.push({ target: targets[0]!, error: nixFailure(`${targets[0]!.label}: cannot evaluate ${targets[0]!.attribute}`, all, install) });
    return plan;
  }
  for (const target of targets) {
    const one = await dryRun([target]);
    if (one.code === 0) await take([target], one);
    else plan.unplanned.push({ target, error: nixFailure(`${target.label}: cannot evaluate ${target.attribute}`, one, install) });
  }
  return findForeign();
}

/**
 * How the library builds each image (the image derivation's `addonix` attribute), in one evaluation;
 * null for an image without one (a flake not made by addonix's library, or an older one).
 */
export async function imagePlans(install: NixInstall, flake: string, targets: ImageTarget[], options: NixOptions = {}): Promise<Map<string, ImagePlan | null>> {
  const wanted = `[ ${targets.map((t) => JSON.stringify(t.attribute)).join(' ')} ]`;
  const apply = `p: builtins.listToAttrs (map (name: { inherit name; value = p.\${name}.addonix or null; }) ${wanted})`;
  const run = await runNix(install, ['eval', '--json', `${flake}#packages.${install.system}`, '--apply', apply], { ...options, onEvent: undefined });
  if (run.code !== 0) throw nixFailure(`cannot evaluate the images of ${flake}`, run, install);
  const plans = JSON.parse(run.stdout) as Record<string, unknown>;
  return new Map(targets.map((t) => [t.attribute, isImagePlan(plans[t.attribute]) ? (plans[t.attribute] as ImagePlan) : null]));
}

/** Nix's dry run of one image alone: what building it here needs, built and fetched. */
export async function dryRunImage(install: NixInstall, flake: string, target: ImageTarget, options: NixOptions = {}): Promise<DryRun> {
  const run = await runNix(install, ['build', '--dry-run', '--json', ...sharedArgs(options), installable(flake, install.system, target.attribute)], { ...options, onEvent: undefined });
  if (run.code !== 0) throw nixFailure(`${target.label}: cannot evaluate ${target.attribute}`, run, install);
  const willBuild = new Set<string>();
  const willFetch = new Set<string>();
  readDryRun(run.monitor, willBuild, willFetch);
  const notice = run.monitor.notices.find((n) => /will be fetched/.test(n)) ?? '';
  const foreign = foreignBuilds(willBuild, await derivationSystems(willBuild), await machineSystems(install, options));
  return { willBuild: [...willBuild], willFetch: [...willFetch], ...fetchSizes(notice), foreign };
}

export interface TargetFailure {
  /** The derivation that failed first (the image's own, or one it needs), when Nix said which. */
  derivation: string | null;
  message: string;
  /** The evaluation trace Nix printed before its errors (shown with --verbose). */
  trace: string[];
  /** The last lines of that derivation's log. */
  log: string[];
  hints: Hint[];
}

export interface TargetResult {
  target: ImageTarget;
  status: 'built' | 'cached' | 'failed';
  drvPath: string | null;
  outPath: string | null;
  /** Seconds from the first derivation of its closure built now until the image's own was built; null when it was not built now. */
  seconds: number | null;
  failure?: TargetFailure;
}

/** Why an image failed: the failed derivation in its closure that Nix blames first, its error, its log tail. */
function explainFailure(target: PlannedTarget, monitor: BuildMonitor, install: NixInstall): TargetFailure {
  const failed = [...monitor.failedDerivations()].filter((drv) => target.closure.has(drv));
  // "dependencies of derivation X failed" blames X's inputs, not X: prefer a derivation whose own build failed.
  const own = failed.find((drv) => monitor.errors.some((e) => e.includes(drv) && !/dependencies of derivation/.test(e) && !/^build of /.test(e))) ?? failed[0] ?? null;
  const errors = own ? monitor.errors.filter((e) => e.includes(own) && !/^build of /.test(e)) : monitor.errors;
  const message = errors.join('\n').trim() || monitor.errors.join('\n').trim() || 'Nix did not build it and did not say why';
  const log = own ? (monitor.builds.get(own)?.log ?? []) : [];
  return { derivation: own, message, trace: monitor.trace(), log, hints: hintsFor(`${message}\n${log.join('\n')}`, hintContext(install)) };
}

/** Builds every planned image in one Nix invocation; returns a result per image, failures explained. */
export async function buildPlanned(install: NixInstall, flake: string, plan: BuildPlan, options: NixOptions = {}): Promise<TargetResult[]> {
  const results: TargetResult[] = plan.unplanned.map(({ target, error }) => ({
    target,
    status: 'failed',
    drvPath: null,
    outPath: null,
    seconds: null,
    failure: { derivation: null, message: error.message, trace: [...error.trace], log: [], hints: [] },
  }));
  if (plan.planned.length === 0) return results;
  const started = Date.now();
  const run = await runNix(
    install,
    ['build', '--keep-going', '--no-link', '--json', ...sharedArgs(options), ...plan.planned.map((t) => installable(flake, install.system, t.attribute))],
    options,
  );
  const invalid = await invalidPaths(install, plan.planned.map((t) => t.outPath), options.env);
  for (const target of plan.planned) {
    const { drvPath, outPath, closure: _closure, ...image } = target;
    const own = run.monitor.builds.get(drvPath);
    // The image's own time: from the first of its derivations built in this run to the image itself.
    const firstStart = Math.min(...[...target.closure].map((drv) => run.monitor.builds.get(drv)?.startedAt ?? Infinity));
    const seconds = own?.stoppedAt ? (own.stoppedAt - (Number.isFinite(firstStart) ? firstStart : started)) / 1000 : null;
    if (invalid.has(outPath)) {
      results.push({ target: image, status: 'failed', drvPath, outPath: null, seconds: null, failure: explainFailure(target, run.monitor, install) });
    } else {
      results.push({ target: image, status: own ? 'built' : 'cached', drvPath, outPath, seconds });
    }
  }
  return results;
}

/** The given store paths that are not valid (not built) in the store. */
async function invalidPaths(install: NixInstall, paths: string[], env?: NodeJS.ProcessEnv): Promise<Set<string>> {
  const result = await runProgram(install.nixStore, ['--check-validity', '--print-invalid', ...paths, ...extraNixFlags(env, 'other')], { env: env ?? process.env });
  if (result.code !== 0) throw new UserError('nix-failed', `nix-store --check-validity failed: ${result.stderr.trim()}`);
  return new Set(result.stdout.split('\n').filter(Boolean));
}

/** `result-amd64` for prefix `result`. */
function linkName(prefix: string, target: ImageTarget): string {
  return `${prefix}-${target.label}`;
}

/**
 * Points `<prefix>-<label>` at each built image (a garbage-collector root, replaced atomically by Nix), and
 * removes the link of an image that failed now, so that no stale image is taken for this build's.
 */
export async function linkResults(install: NixInstall, results: TargetResult[], prefix: string, env?: NodeJS.ProcessEnv): Promise<Map<string, string>> {
  const links = new Map<string, string>();
  for (const result of results) {
    const link = linkName(prefix, result.target);
    if (result.outPath) {
      const made = await runProgram(install.nixStore, ['--realise', result.outPath, '--add-root', link, ...extraNixFlags(env, 'other')], { env: env ?? process.env });
      if (made.code !== 0) throw new UserError('nix-failed', `cannot create the link ${link}: ${made.stderr.trim()}`);
      links.set(result.target.label, link);
    } else if (await isStoreLink(link)) {
      await rm(link);
    }
  }
  return links;
}

async function isStoreLink(file: string): Promise<boolean> {
  try {
    return (await lstat(file)).isSymbolicLink() && (await readlink(file)).startsWith('/nix/store/');
  } catch {
    return false;
  }
}

export type RebuildResult = { deterministic: true } | { deterministic: false; outPath: string; checkPath: string };

/**
 * Builds an image again (`nix build --rebuild`) and lets Nix compare the result with the one in the store,
 * so that a cached or downloaded result proves nothing by itself. When they differ, Nix keeps the new one
 * beside the old as `<out>.check` (--keep-failed); its build folder goes to `tempDir`, which the caller
 * removes.
 */
export async function rebuild(install: NixInstall, flake: string, target: PlannedTarget, tempDir: string, options: NixOptions = {}): Promise<RebuildResult> {
  const env = { ...(options.env ?? process.env), TMPDIR: tempDir };
  const run = await runNix(install, ['build', '--rebuild', '--keep-failed', '--no-link', ...sharedArgs(options), installable(flake, install.system, target.attribute)], { ...options, env });
  if (run.code === 0) return { deterministic: true };
  for (const error of run.monitor.errors) {
    const match = /may not be deterministic: output '([^']+)' differs from '([^']+)'/.exec(error);
    if (match) return { deterministic: false, outPath: match[1]!, checkPath: match[2]! };
  }
  throw nixFailure(`${target.label}: the rebuild of ${target.attribute} failed`, run, install);
}
