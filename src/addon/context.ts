/**
 * The build context of an add-on (its folder, as Docker sends it to the builder): what .dockerignore
 * leaves out, with the rules of moby/patternmatcher (the `.dockerignore` reader of Docker and BuildKit),
 * and what addonix leaves out of every image (its own files, git's, node_modules). The patterns are
 * compiled once, to regular expressions that both JavaScript and POSIX ERE (Nix's builtins.match, in
 * nix/runtime.nix) read the same way, so that `generate` and the Nix build agree on every file.
 */
import { lstatSync, readdirSync, readFileSync, openSync, readSync, closeSync } from 'node:fs';
import path from 'node:path';
import type { ContextFiles } from './runtime.js';

export interface IgnoreRule {
  /** The line as written in .dockerignore. */
  pattern: string;
  /** Matches a whole relative path (no leading slash). */
  regex: string;
  /** false for `!pattern`: takes back what an earlier pattern left out. */
  exclude: boolean;
}

/** Kept in step with nix/runtime.nix (ownFiles). */
const OWN_TOP_LEVEL = new Set(['nix', 'flake.nix', 'flake.lock', '.git']);

function escapeRegex(ch: string): string {
  return /[.+^$(){}|\\]/.test(ch) ? '\\' + ch : ch;
}

/** One .dockerignore pattern as a regex source (patternmatcher's compile). */
export function ignoreRegex(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        // `**/` matches any number of folders (none included), a final `**` anything.
        if (pattern[i + 1] === '/') {
          i++;
          out += '(.*/)?';
        } else out += '.*';
      } else out += '[^/]*';
    } else if (ch === '?') out += '[^/]';
    else if (ch === '\\' && i + 1 < pattern.length) out += escapeRegex(pattern[++i]!);
    else if (ch === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) out += '\\[';
      else {
        let body = pattern.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        out += '[' + body.replace(/\\/g, '') + ']';
        i = close;
      }
    } else out += escapeRegex(ch);
  }
  return out;
}

/** The rules of a .dockerignore text, in order. */
export function compileDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.replace(/\r\n?/g, '\n').split('\n')) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let exclude = true;
    if (line.startsWith('!')) {
      exclude = false;
      line = line.slice(1).trim();
    }
    let cleaned = path.posix.normalize(line);
    if (cleaned.length > 1 && cleaned.startsWith('/')) cleaned = cleaned.replace(/^\/+/, '');
    if (cleaned === '.' || cleaned === '') continue;
    rules.push({ pattern: raw.trim(), regex: ignoreRegex(cleaned.replace(/\/+$/, '')), exclude });
  }
  return rules;
}

/** Whether the rules leave `relative` out: the last rule matching it or a folder above it decides. */
export function ignoredBy(rules: readonly IgnoreRule[], relative: string, compiled = rules.map((rule) => new RegExp('^(?:' + rule.regex + ')$', 's'))): boolean {
  const parts = relative.split('/');
  let ignored = false;
  rules.forEach((rule, i) => {
    const regex = compiled[i]!;
    let match = regex.test(relative);
    for (let n = 1; !match && n < parts.length; n++) match = regex.test(parts.slice(0, n).join('/'));
    if (match) ignored = rule.exclude;
  });
  return ignored;
}

/** Whether addonix leaves a path out of every image (its own files, git's, node_modules). */
export function ownFile(relative: string): boolean {
  const parts = relative.split('/');
  if (parts.includes('node_modules')) return true;
  return OWN_TOP_LEVEL.has(parts[0]!) || parts[0]!.startsWith('result');
}

/** The add-on folder as the build context: the .dockerignore rules and read access. */
export function addonContext(dir: string, extraRules: readonly IgnoreRule[] = []): ContextFiles & { rules: IgnoreRule[] } {
  let text = '';
  try {
    text = readFileSync(path.join(dir, '.dockerignore'), 'utf8');
  } catch {
    // No .dockerignore: everything is in the context.
  }
  const rules = [...compileDockerignore(text), ...extraRules];
  const compiled = rules.map((rule) => new RegExp('^(?:' + rule.regex + ')$', 's'));
  const abs = (relative: string) => (relative === '.' || relative === '' ? dir : path.join(dir, ...relative.split('/')));
  return {
    rules,
    kind(relative) {
      try {
        const stat = lstatSync(abs(relative));
        return stat.isSymbolicLink() ? 'symlink' : stat.isDirectory() ? 'dir' : stat.isFile() ? 'file' : null;
      } catch {
        return null;
      }
    },
    list(relative) {
      try {
        return readdirSync(abs(relative)).sort();
      } catch {
        return [];
      }
    },
    head(relative, bytes) {
      try {
        const fd = openSync(abs(relative), 'r');
        try {
          const buffer = Buffer.alloc(bytes);
          const n = readSync(fd, buffer, 0, bytes, 0);
          return buffer.subarray(0, n).toString('utf8');
        } finally {
          closeSync(fd);
        }
      } catch {
        return null;
      }
    },
    ignored(relative) {
      if (relative === '.' || relative === '') return false;
      return ownFile(relative) || ignoredBy(rules, relative, compiled);
    },
  };
}
