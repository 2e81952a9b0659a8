/**
 * The common reasons a Nix build fails for addonix users, recognised in Nix's own words, each with what to
 * do about it. The wording of the messages is Nix's (2.8 to 2.2x) and nixpkgs' (lib/minfeatures.nix).
 */
import { ENABLE_FLAKES_HINT, INSTALL_HINT, isOlderThanMinimum, MINIMUM_NIX, type NixInstall } from './install.js';

export type HintCause = 'network' | 'old-nix' | 'flakes-disabled' | 'platform' | 'hash-mismatch' | 'untracked-file' | 'not-deterministic';

export interface Hint {
  cause: HintCause;
  text: string;
}

interface Rule {
  cause: HintCause;
  pattern: RegExp;
  text: (match: RegExpMatchArray, context: HintContext) => string;
}

export interface HintContext {
  /** The Nix version, e.g. 2.8.0. */
  version: string;
  /** The machine's Nix system. */
  system: string;
  olderThanMinimum: boolean;
}

export function hintContext(install: NixInstall): HintContext {
  return { version: install.version, system: install.system, olderThanMinimum: isOlderThanMinimum(install) };
}

const RULES: Rule[] = [
  {
    cause: 'flakes-disabled',
    pattern: /experimental Nix feature '(flakes|nix-command)' is disabled/,
    text: (m) => `this Nix refuses the '${m[1]}' feature even with --extra-experimental-features: ${ENABLE_FLAKES_HINT}`,
  },
  {
    cause: 'hash-mismatch',
    pattern: /hash mismatch in fixed-output derivation '([^']+)':\s*specified:\s*(\S+)\s*got:\s*(\S+)/,
    text: (m) =>
      `a download did not match the hash recorded for it (${m[1]}: wanted ${m[2]}, got ${m[3]}). For an npm package the lockfile's integrity ` +
      'no longer matches the registry tarball: run npm install, then addonix generate. Anything else: correct the hash in the Nix code.',
  },
  {
    cause: 'network',
    pattern: /(?:unable to download '([^']+)'|Couldn't resolve host name|Could not resolve host|Failed to connect|Network is unreachable|Connection timed out|Timeout was reached|SSL connect error)/,
    text: (m) =>
      `Nix could not download ${m[1] ? `'${m[1]}'` : 'what it needed'}: this machine cannot reach it. nixpkgs comes from GitHub and prebuilt ` +
      'packages from cache.nixos.org: build where they are reachable, pass --substituters with a binary cache you can reach, or copy ' +
      "the inputs in beforehand (nix flake archive --to file://... on a machine with network, then nix copy --from).",
  },
  {
    cause: 'platform',
    pattern: /a '([\w-]+)' with features \{[^}]*\} is required to build '([^']+)', but I am a '([\w-]+)'/,
    text: (m) =>
      `this machine (${m[3]}) cannot build for ${m[1]}: add a remote builder for it (--builders 'ssh://HOST ${m[1]}'), or let this machine ` +
      `run ${m[1]} binaries (binfmt with qemu-user-static and extra-platforms = ${m[1]} in nix.conf), or use the cross strategy, which ` +
      'builds everything on this machine. addonix doctor shows what this machine can build.',
  },
  {
    cause: 'platform',
    pattern: /(?:is not available on the requested hostPlatform|is not supported on|not supported on|unsupported system)/i,
    text: (_m, context) => `a package in the image does not support the target platform (the build machine is ${context.system}); the error above names it and the platforms it supports.`,
  },
  {
    cause: 'old-nix',
    pattern: /(?:requires Nix (?:version )?>= ?([\d.]+)|Nix version .* is too old|minimum Nix version)/i,
    text: (m, context) => `Nix ${context.version} is too old for this nixpkgs (it needs ${m[1] ?? MINIMUM_NIX}): ${INSTALL_HINT}`,
  },
  {
    cause: 'untracked-file',
    pattern: /(?:path '([^']*\/(?:flake\.nix|flake\.lock|nix\/[^']+))' does not exist|getting status of '(\/nix\/store\/[^']+-source\/[^']+)': No such file or directory|no (nix\/[\w.-]+\.generated\.nix) in the add-on folder)/,
    text: (m) => {
      const file = (m[1] ?? m[2] ?? m[3])!.replace(/^\/nix\/store\/[^/]+\//, '');
      return `in a git repository Nix sees only the files git tracks, and ${file} is not among them: git add flake.nix nix/ (and flake.lock once a build has written it), then build again`;
    },
  },
  {
    cause: 'not-deterministic',
    pattern: /may not be deterministic: output '([^']+)' differs/,
    text: () => 'building the same derivation twice gave different bytes: something in the build depends on time, randomness or the build machine; addonix verify shows which file differs',
  },
];

/**
 * Hints for an error (Nix's message and the build's log tail), most specific first, each cause once.
 * `evaluation`: the error came before any build (evaluating the flake), where an old Nix is a likely cause.
 */
export function hintsFor(text: string, context: HintContext, evaluation = false): Hint[] {
  const hints: Hint[] = [];
  for (const rule of RULES) {
    if (hints.some((h) => h.cause === rule.cause)) continue;
    const match = text.match(rule.pattern);
    if (match) hints.push({ cause: rule.cause, text: rule.text(match, context) });
  }
  // Older Nix fails on newer nixpkgs in a few recognisable ways (syntax it does not know, builtins it
  // lacks): say so for those, not for every failure of an old Nix.
  const oldNixFailure = /syntax error|undefined variable|unexpected|attribute '\w+' missing.*builtins|unknown builtin/i;
  if (evaluation && context.olderThanMinimum && oldNixFailure.test(text) && !hints.some((h) => h.cause === 'old-nix')) {
    hints.push({ cause: 'old-nix', text: `Nix ${context.version} is older than ${MINIMUM_NIX}, which nixpkgs >= 25.11 needs; if the error is in evaluating nixpkgs, that is why: ${INSTALL_HINT}` });
  }
  return hints;
}
