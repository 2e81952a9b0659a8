/**
 * Running Nix from the tests: the library (nix/lib.nix) against the nixpkgs stand-in
 * (test/nixpkgs-stand-in), which builds with this machine's tools, so these builds run with the sandbox
 * off (Debian 12's nix.conf has it off, Debian 13's on: it is set here) and no binary cache (there is
 * none to reach here). The tests of the CLI build in the sandbox (build-cli-helpers.ts, TEST_NIX_CONFIG).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO } from './helpers.js';

export const STAND_IN = path.join(REPO, 'test', 'nixpkgs-stand-in');
export const NIX_OPTIONS = ['--option', 'substituters', '', '--option', 'sandbox', 'false'];
const FLAKES = ['--extra-experimental-features', 'nix-command flakes'];

export interface NixResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A Nix string literal of a file path, as a path value (`/. + "..."` survives spaces). */
export function nixPath(file: string): string {
  return `(/. + ${JSON.stringify(path.resolve(file))})`;
}

/** The preamble of test expressions: `pkgs` (the stand-in, built on x86_64-linux) and `addonix` (nix/lib.nix). */
export function withLibrary(body: string): string {
  return `let
  pkgs = import ${nixPath(STAND_IN)} { };
  addonix = import ${nixPath(path.join(REPO, 'nix', 'lib.nix'))} { addonixSrc = ${nixPath(REPO)}; };
  dataOf = dir: name: import (dir + "/nix/\${name}.generated.nix");
in
${body}`;
}

function run(command: string, args: string[], timeoutMs = 15 * 60_000, env: Record<string, string> = {}): NixResult {
  const result = spawnSync(command, args, { cwd: REPO, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs, env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/** `nix-instantiate --eval --strict --json` of an expression; throws with Nix's message when it fails. */
export function evalJson<T = unknown>(expression: string): T {
  const result = evalRaw(expression);
  if (result.status !== 0) throw new Error(`nix-instantiate failed:\n${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

export function evalRaw(expression: string, env: Record<string, string> = {}): NixResult {
  return run('nix-instantiate', ['--eval', '--strict', '--json', ...NIX_OPTIONS, '--expr', expression], 15 * 60_000, env);
}

/** Builds attributes of an attribute-set expression; returns their output paths in the order asked. */
export function buildAttrs(expression: string, attrs: string[], extra: string[] = []): string[] {
  const result = run('nix-build', ['--no-out-link', ...NIX_OPTIONS, ...extra, '--expr', expression, ...attrs.flatMap((attr) => ['-A', attr])]);
  if (result.status !== 0) throw new Error(`nix-build failed:\n${result.stderr.split('\n').slice(-60).join('\n')}`);
  const paths = result.stdout.trim().split('\n').filter(Boolean);
  if (paths.length !== attrs.length) throw new Error(`nix-build printed ${paths.length} paths for ${attrs.length} attributes:\n${result.stdout}`);
  return paths;
}

/** The `nix` command with flakes, on this repository (git+file: the committed and tracked files). */
export function nixFlake(args: string[]): NixResult {
  return run('nix', [...FLAKES, ...args, ...NIX_OPTIONS]);
}

/** The stand-in in place of the flake's nixpkgs input. */
export const OVERRIDE_NIXPKGS = ['--override-input', 'nixpkgs', `path:${STAND_IN}`];

/** One derivation of a graph: its name, environment, inputs. */
export interface GraphNode {
  name: string;
  env: Record<string, string>;
  inputDrvs: string[];
}

/** The derivation graph under some .drv files (`nix show-derivation --recursive`). */
export function derivationGraph(drvs: string[]): Map<string, GraphNode> {
  const result = run('nix', [...FLAKES, 'show-derivation', '--recursive', ...drvs]);
  if (result.status !== 0) throw new Error(`nix show-derivation failed:\n${result.stderr}`);
  const parsed = JSON.parse(result.stdout) as Record<string, { env: Record<string, string>; inputDrvs: Record<string, string[]> }>;
  const graph = new Map<string, GraphNode>();
  for (const [drv, value] of Object.entries(parsed)) {
    graph.set(drv, { name: value.env['name'] ?? path.basename(drv).slice(33, -4), env: value.env, inputDrvs: Object.keys(value.inputDrvs) });
  }
  return graph;
}

/**
 * What building a derivation costs a user with an empty store, read from the stand-in's marks
 * (test/nixpkgs-stand-in): nixpkgs' packages the public binary cache serves are fetched (and what they
 * need is not built), the others are compiled; derivations without a mark are the caller's own
 * (addonix's), fixed-output ones among them downloads.
 */
export interface BuildCost {
  /** nixpkgs derivations a user compiles, with the stand-in's note of what each costs. */
  nixpkgsBuilt: { name: string; cost: string; drv: string }[];
  /** nixpkgs derivations substituted from the binary cache. */
  substituted: string[];
  /** addonix's own derivations (the caller's), downloads excluded. */
  own: string[];
  /** Fixed-output derivations (npm tarballs and the like). */
  downloads: string[];
}

export function buildCost(graph: Map<string, GraphNode>, roots: string[]): BuildCost {
  const cost: BuildCost = { nixpkgsBuilt: [], substituted: [], own: [], downloads: [] };
  const seen = new Set<string>();
  const visit = (drv: string) => {
    if (seen.has(drv)) return;
    seen.add(drv);
    const node = graph.get(drv);
    if (!node) throw new Error(`${drv} is not in the graph`);
    if (node.env['standInOrigin'] === 'nixpkgs') {
      if (node.env['standInCache'] === 'substituted') {
        cost.substituted.push(node.name);
        return;
      }
      cost.nixpkgsBuilt.push({ name: node.name, cost: node.env['standInCost'] ?? '?', drv });
    } else if (node.env['outputHash']) cost.downloads.push(node.name);
    else cost.own.push(node.name);
    for (const input of node.inputDrvs) visit(input);
  };
  for (const root of roots) visit(root);
  return cost;
}

/** Instantiates attributes of an expression (writes their .drv files); returns the .drv paths in order. */
export function instantiate(expression: string, attrs: string[]): string[] {
  const result = run('nix-instantiate', [...NIX_OPTIONS, '--expr', expression, ...attrs.flatMap((attr) => ['-A', attr])]);
  if (result.status !== 0) throw new Error(`nix-instantiate failed:\n${result.stderr}`);
  return result.stdout.trim().split('\n').filter(Boolean);
}
