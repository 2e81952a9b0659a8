#!/usr/bin/env node
// Runs the compiled test files (dist/test/*.test.js; `npm run build` first) with node:test, several
// files at once, the longest first.
//
// Why several at once: most files spend their time waiting on other processes (Nix, npm, a registry,
// Podman, QEMU), so one file at a time leaves a 2-core machine half idle. Why the longest first: on a
// cold Nix store, nix-build and newcomer build the stand-in's images (minutes of compiling); started
// first, they overlap with everything else instead of ending the run alone.
//
// Where temporary files go: the tests write a lot of them (npm ci's trees, images, registries' storage,
// Podman's). When TMPDIR is unset and /dev/shm is a memory file system with room, a folder there is
// TMPDIR for the run (removed after it): on a virtual machine's disk the same writes cost about three
// times the CPU (npm ci of one real lockfile: 14 s of CPU on disk, 5 s in memory).
//
//   node scripts/run-tests.mjs [FILE...]   (default: every dist/test/*.test.js)
//   ADDONIX_TEST_CONCURRENCY=N             files run at once (default 3)
//   TMPDIR=DIR                             temporary files there (default: see above)
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Longest first. The Nix tests first of all: from a cold store they take minutes each (newcomer about
// 7.5 min: SQLite for three arches, zig's musl runtime, Node.js builds; nix-build builds the same
// derivations of the example's images, which Nix builds once for both); started first, they overlap with
// everything else instead of ending the run.
// Then the others by their time warm, each measured alone on a 2-core machine with other work on it
// (seconds; the CPU-bound files of the suite share the cores, so the longest must not start last).
// The rest follow in name order.
const LONGEST = [
  'newcomer', 'nix-build', 'addon-run', 'prebuilds',
  'npm-oracle' /* 106 */, 'ci-tools' /* 95 */, 'unit-oci-read' /* 55 */, 'init' /* 47 */, 'generate' /* 40 */,
  'push-faults' /* 38 */, 'fs-errors' /* 37 */, 'hostile' /* 37 */, 'load' /* 35 */, 'cosign' /* 34 */, 'dockerfile-oracle' /* 34 */,
  'nix-library' /* 33 */, 'build-cli' /* 32 */, 'pin-base' /* 32 */, 'cache' /* 30 */, 'push' /* 30 */, 'docs' /* 27 */,
  'doctor' /* 23 */, 'unit-npm' /* 23 */, 'sbom' /* 22 */, 'verify' /* 22 */, 'engines' /* 21 */, 'diff' /* 18 */,
  'unit-diff' /* 17 */, 'inspect' /* 17 */, 'nix-cost' /* 17 */, 'unit-python-regex' /* 15 */, 'papercuts' /* 13 */,
];

const named = process.argv.slice(2);
const rank = (file) => {
  const at = LONGEST.indexOf(path.basename(file, '.test.js'));
  return at < 0 ? LONGEST.length : at;
};
// Files named on the command line run in the same order (scripts/other-debian.mjs names fifteen: from a
// cold store, the prebuilds' compiles must not start last).
const given = named.length > 0 ? named : readdirSync(path.join(REPO, 'dist', 'test')).filter((name) => name.endsWith('.test.js')).map((name) => path.join('dist', 'test', name));
const files = given.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));

const concurrency = Number(process.env['ADDONIX_TEST_CONCURRENCY'] ?? 3);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`run-tests: ADDONIX_TEST_CONCURRENCY must be a whole number from 1 (it is ${process.env['ADDONIX_TEST_CONCURRENCY']})`);
  process.exit(2);
}

/** A folder for the run's temporary files in memory, or undefined to keep the default. */
function memoryTmpdir() {
  if (process.env['TMPDIR']) return undefined;
  const TMPFS_MAGIC = 0x01021994;
  const ROOM = 8 * 1024 ** 3;
  try {
    const fs = statfsSync('/dev/shm');
    if (fs.type !== TMPFS_MAGIC || fs.bavail * fs.bsize < ROOM) return undefined;
    // A short name: Podman refuses a runroot of over 50 characters, and the tests' are in TMPDIR. Open
    // to every user, as /tmp is: Nix's build users and the `nobody` of the file-system tests enter it.
    const dir = mkdtempSync('/dev/shm/axt-');
    chmodSync(dir, 0o1777);
    return dir;
  } catch {
    return undefined;
  }
}

const tmpdir = memoryTmpdir();
if (tmpdir) console.log(`run-tests: temporary files in ${tmpdir} (memory), ${concurrency} files at once`);
else console.log(`run-tests: temporary files in ${process.env['TMPDIR'] || '/tmp'}, ${concurrency} files at once`);
// Ctrl-C reaches node --test too (same process group); this process waits for it, then cleans up.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => {});
const env = tmpdir ? { ...process.env, TMPDIR: tmpdir } : process.env;
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${path.join(REPO, 'scripts', 'file-times.mjs')}`, '--test-reporter-destination=stdout', ...files], { cwd: REPO, stdio: 'inherit', env });
if (tmpdir) {
  try {
    rmSync(tmpdir, { recursive: true, force: true });
  } catch (error) {
    // A mount a failed test left behind (Podman's overlay, EBUSY) keeps its folder: the run's verdict
    // is the tests', not this cleanup's.
    console.log(`run-tests: ${tmpdir} not removed (${error.code ?? error.message}); a test left a mount in it (umount it, then remove it)`);
  }
}
process.exit(result.status ?? 1);
