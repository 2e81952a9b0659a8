/**
 * ADDONIX_NIX_FLAGS: read once (src/nix/install.ts), as a shell reads words, and given to every Nix
 * program addonix runs: `nix` for flakes (build, eval, dry runs, pin-base's evaluation), `nix` for the rest
 * (`show-config`, `hash to-sri`, `--version`), `nix-store` (closures, validity, links, NAR hashes, pin-base's
 * realisation) and `nix-instantiate` (the flakes probe). A recording Nix on PATH shows each call's
 * arguments; real Nix shows once that the flags change what it does (doctor reads the substituters the
 * variable sets, through `nix show-config`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { needTools, runCli, tempTree } from './helpers.js';
import { extraNixFlags, locateNix, splitNixFlags } from '../src/nix/install.js';
import { buildPlanned, linkResults, planBuild } from '../src/nix/build.js';
import { narHashes } from '../src/nix/path-info.js';
import { pullImageHashes } from '../src/nix/pull-image-hash.js';
import { UserError } from '../src/util/errors.js';

test('ADDONIX_NIX_FLAGS: words as a shell reads them (quotes, backslashes, nothing expanded); an open quote is a usage error saying where', () => {
  assert.deepEqual(splitNixFlags(''), []);
  assert.deepEqual(splitNixFlags('  --option  sandbox\tfalse\n'), ['--option', 'sandbox', 'false']);
  assert.deepEqual(splitNixFlags(`--option substituters 'file:///a file:///b' --x "a \\"b\\" \\$HOME \\n" c\\ d '' $HOME *`), [
    '--option', 'substituters', 'file:///a file:///b', '--x', 'a "b" $HOME \\n', 'c d', '', '$HOME', '*',
  ]);
  assert.deepEqual(splitNixFlags(`pre'fix'"ed"`), ['prefixed']);
  assert.deepEqual(splitNixFlags('--option \\\n  sandbox fal\\\nse'), ['--option', 'sandbox', 'false']);
  for (const [value, quote, at] of [[`--option substituters 'file:///a`, 'single', 23], [`--x "a\\"`, 'double', 5]] as const) {
    assert.throws(() => splitNixFlags(value), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.equal(error.code, 'usage');
      assert.match(error.message, new RegExp(`^ADDONIX_NIX_FLAGS: the ${quote} quote at character ${at} is never closed`));
      return true;
    });
  }
  // The calls that evaluate no flake get no flake flag (nix-store, nix-instantiate and show-config refuse them).
  const env = { ADDONIX_NIX_FLAGS: `--override-input addonix/nixpkgs path:/n -L --option sandbox false --impure --arg a 'b c' --no-write-lock-file --max-jobs 2` };
  assert.deepEqual(extraNixFlags(env), ['--override-input', 'addonix/nixpkgs', 'path:/n', '-L', '--option', 'sandbox', 'false', '--impure', '--arg', 'a', 'b c', '--no-write-lock-file', '--max-jobs', '2']);
  assert.deepEqual(extraNixFlags(env, 'other'), ['--option', 'sandbox', 'false', '--max-jobs', '2']);
});

const STORE = '/nix/store';
const DRV = `${STORE}/0c5ghv3jv9lg43v9ifxqj2mqhqqy8qjw-image.drv`;
const OUT = `${STORE}/1d6ghv3jv9lg43v9ifxqj2mqhqqy8qjw-image`;
const PULL_DRV = `${STORE}/2f7ghv3jv9lg43v9ifxqj2mqhqqy8qjw-addonix-pin-base.tar.drv`;
const NAR = 'sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s';

/**
 * nix, nix-store and nix-instantiate that write their arguments (calls ended by \x1e, words apart by \x1f)
 * and answer each call as Nix would, just enough for the caller to go on.
 */
function recordingNix(dir: string, log: string): void {
  const script = `#!/bin/sh
me=$(basename "$0")
{ printf '%s' "$me"; for a in "$@"; do printf '\\037%s' "$a"; done; printf '\\036'; } >> ${JSON.stringify(log)}
case "$me $*" in
  "nix --version"*) echo 'nix (Nix) 2.26.3' ;;
  "nix show-config"*) echo '{"system":{"value":"x86_64-linux"},"substituters":{"value":[]}}' ;;
  "nix-instantiate "*) echo true ;;
  "nix build --dry-run"*) echo '[{"drvPath":"${DRV}","outputs":{"out":"${OUT}"}}]' ;;
  "nix build "*) echo '[{"drvPath":"${DRV}","outputs":{"out":"${OUT}"}}]' ;;
  "nix-store --query --requisites"*) echo '${DRV}' ;;
  "nix-store --check-validity"*) ;;
  "nix-store --realise ${OUT}"*) echo '${OUT}' ;;
  "nix-store --query --hash"*) echo '${NAR}' ;;
  "nix --extra-experimental-features nix-command flakes eval"*) echo '["${PULL_DRV}"]' ;;
  "nix-store --realise --keep-going"*) printf "error: hash mismatch in fixed-output derivation '%s':\\n  specified: sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\\n     got:    %s\\n" '${PULL_DRV}' '${NAR}' >&2; exit 1 ;;
  "nix --extra-experimental-features nix-command flakes hash to-sri"*) echo 'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=' ;;
  *) echo "recording nix: unexpected call: $me $*" >&2; exit 1 ;;
esac
`;
  for (const name of ['nix', 'nix-store', 'nix-instantiate']) {
    writeFileSync(path.join(dir, name), script);
    chmodSync(path.join(dir, name), 0o755);
  }
}

test('ADDONIX_NIX_FLAGS reaches every kind of Nix call addonix makes: flake commands take every word, the others all but the flake flags', async (t) => {
  const dir = tempTree(t, {});
  const log = path.join(dir, 'calls');
  recordingNix(dir, log);
  const flags = `--override-input addonix/nixpkgs path:/srv/nixpkgs --option substituters 'file:///a file:///b'`;
  const env = { ...process.env, PATH: `${dir}:${process.env['PATH']}`, ADDONIX_NIX_FLAGS: flags };

  const install = await locateNix(env);
  assert.equal(install.nix, path.join(dir, 'nix'));
  assert.deepEqual(install.features, { nixCommand: true, flakes: true });
  const target = { label: 'amd64', arch: 'amd64', slug: null, attribute: 'dockerImage-amd64' };
  const plan = await planBuild(install, '/flake', [target], { env });
  assert.deepEqual(plan.planned.map((p) => p.outPath), [OUT]);
  const results = await buildPlanned(install, '/flake', plan, { env });
  assert.equal(results[0]!.status, 'cached');
  await linkResults(install, results, path.join(dir, 'result'), env);
  assert.equal((await narHashes(install, [OUT], env)).size, 1);
  assert.deepEqual(await pullImageHashes({ nixpkgs: 'github:NixOS/nixpkgs/0000000000000000000000000000000000000000', images: [{ imageName: 'ghcr.io/me/base', imageDigest: `sha256:${'0'.repeat(64)}`, finalImageName: 'ghcr.io/me/base', finalImageTag: '1', os: 'linux', arch: 'amd64', tlsVerify: true }], env }), [
    'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=',
  ]);

  const calls = readFileSync(log, 'utf8').split('\x1e').filter(Boolean).map((call) => call.split('\x1f'));
  const KINDS = ['--version', 'show-config', 'build', 'eval', 'hash', '--requisites', '--check-validity', '--keep-going', '--realise', '--hash'];
  const kinds = new Set(calls.map((argv) => `${argv[0]} ${KINDS.find((k) => argv.includes(k)) ?? ''}${argv.includes('--dry-run') ? ' --dry-run' : ''}`.trim()));
  // Every kind of call was made: version, settings, the flakes probe, dry run, build, closure, validity, link, NAR hash, pin-base's three.
  assert.deepEqual([...kinds].sort(), [
    'nix --version', 'nix show-config', 'nix-instantiate', 'nix build --dry-run', 'nix build', 'nix-store --requisites', 'nix-store --check-validity',
    'nix-store --realise', 'nix-store --hash', 'nix eval', 'nix-store --keep-going', 'nix hash',
  ].sort());
  assert.ok(calls.length >= 12, `${calls.length} calls`);
  const has = (argv: string[], words: string[]) => argv.some((_, i) => words.every((w, j) => argv[i + j] === w));
  for (const argv of calls) {
    const call = argv.join(' ');
    assert.ok(has(argv, ['--option', 'substituters', 'file:///a file:///b']), `the quoted substituters reach ${call}`);
    const flake = argv[0] === 'nix' && (argv.includes('build') || argv.includes('eval'));
    assert.equal(has(argv, ['--override-input', 'addonix/nixpkgs', 'path:/srv/nixpkgs']), flake, `--override-input ${flake ? 'reaches' : 'is kept from'} ${call}`);
  }

  // A quote left open stops the first call, naming the variable.
  await assert.rejects(locateNix({ ...env, ADDONIX_NIX_FLAGS: `--option substituters 'file:///a` }), /ADDONIX_NIX_FLAGS: the single quote at character 23 is never closed/);
});

test('ADDONIX_NIX_FLAGS with real Nix: doctor shows the substituters the variable sets (nix show-config takes it, its flake flags left out); an open quote is a failed check', (t) => {
  if (!needTools(t, 'nix')) return;
  const dir = tempTree(t, {});
  const env = { HOME: dir, ADDONIX_NIX_FLAGS: `--override-input addonix/nixpkgs path:${dir} --option substituters 'file://${dir}/one file://${dir}/two'` };
  const doctor = runCli(['doctor', '--json'], { env });
  const checks = JSON.parse(doctor.stdout) as { check: string; status: string; message: string; fix?: string }[];
  const substituters = checks.find((c) => c.check === 'substituters');
  assert.match(substituters?.message ?? '', new RegExp(`^file://${dir}/one, file://${dir}/two;`), JSON.stringify(checks, null, 1));
  const reach = checks.find((c) => c.check === 'cache-reach');
  assert.match(reach?.message ?? '', new RegExp(`file://${dir}/one`), JSON.stringify(reach));
  const open = runCli(['doctor', '--json'], { env: { ...env, ADDONIX_NIX_FLAGS: '--option substituters "file:///x' } });
  const nix = (JSON.parse(open.stdout) as { check: string; status: string; message: string; fix?: string }[]).find((c) => c.check === 'nix');
  assert.equal(nix?.status, 'fail');
  assert.match(nix?.message ?? '', /^ADDONIX_NIX_FLAGS: the double quote at character 23 is never closed/);
  assert.equal(nix?.fix, 'close the quote or escape the character it names in ADDONIX_NIX_FLAGS, or unset it');
});
