/**
 * The thin flake `addonix init` writes: the add-on repository takes addonix as an input and hands its
 * source to the library, which reads the generated data (nix/addon.generated.nix, nix/npm-deps.generated.nix).
 * This is the one place that knows the library's entry points (mkAddonFlake, mkRepositoryFlake; the
 * Nix library's issue defines them), so a change there is a change here only. Strings go through the one
 * Nix writer.
 */
import { nixString, toNix } from '../nixgen/nix.js';

export const DEFAULT_ADDONIX_FLAKE = 'github:addonix/addonix';

const HEADER = '# Written by `addonix init`. The images, apps and checks come from addonix; the add-on data from nix/*.generated.nix (addonix generate).\n';

/**
 * What an add-on without a Node.js app must say for itself: addonix builds no app for it, so the image
 * needs a command and the packages it runs (mkAddonImages' `run` and `extraContents`).
 */
const NO_APP_ARGUMENTS = [
  '    # This add-on has no package.json: addonix builds the image of a Node.js app, and has none to build',
  '    # here. Say what the container runs and which packages of the target system it needs, e.g.:',
  '    #   run = [ "/bin/sh" "/app/run.sh" ];',
  '    #   extraContents = pkgs: [ pkgs.bash pkgs.jq ];',
  '    # Until then a build stops with "the image needs a command".',
];

/** flake.nix for a folder that is one add-on (`hasApp`: it has a Node.js app). */
export function addonFlake(addon: { name: string; slug: string }, addonixRef: string, hasApp = true): string {
  const outputs = hasApp
    ? '  outputs = { self, addonix }: addonix.lib.mkAddonFlake { src = ./.; };\n'
    : ['  outputs = { self, addonix }: addonix.lib.mkAddonFlake {', '    src = ./.;', ...NO_APP_ARGUMENTS, '  };'].join('\n') + '\n';
  return (
    HEADER +
    '{\n' +
    `  description = ${nixString(`Home Assistant add-on ${addon.name} (${addon.slug}), built with addonix`)};\n` +
    `  inputs.addonix.url = ${nixString(addonixRef)};\n` +
    outputs +
    '}\n'
  );
}

/** flake.nix for a repository of several add-ons (folders relative to the repository root). */
export function repositoryFlake(addonDirs: string[], addonixRef: string, description: string): string {
  const list = toNix(addonDirs).replace(/\n/g, '\n    ');
  return (
    HEADER +
    '{\n' +
    `  description = ${nixString(description)};\n` +
    `  inputs.addonix.url = ${nixString(addonixRef)};\n` +
    `  outputs = { self, addonix }: addonix.lib.mkRepositoryFlake {\n` +
    '    src = ./.;\n' +
    `    addons = ${list};\n` +
    '  };\n' +
    '}\n'
  );
}

/** What `.gitignore` needs: Nix's result links, and the reports `addonix verify` writes where it runs. */
export const GITIGNORE_ENTRIES = ['result', 'result-*', 'verify-*.json'];

/** `.gitignore` with the entries it lacks appended (unchanged text when it has them all). */
export function gitignoreWith(existing: string | null): string {
  const lines = new Set((existing ?? '').split('\n').map((line) => line.trim()));
  const missing = GITIGNORE_ENTRIES.filter((entry) => !lines.has(entry) && !lines.has(`/${entry}`));
  if (missing.length === 0) return existing ?? '';
  const base = existing && !existing.endsWith('\n') ? `${existing}\n` : (existing ?? '');
  return `${base}# Nix build results and verify reports (addonix build, nix build, addonix verify)\n${missing.join('\n')}\n`;
}
