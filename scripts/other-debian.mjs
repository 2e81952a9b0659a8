#!/usr/bin/env node
// Runs scripts/test-all in a Debian root of the other release than this machine's (Debian 12 <-> 13),
// made with debootstrap: there, Debian's own Nix (2.8 or 2.26), Node.js, npm, compilers and patchelf
// are the ones under test. .ci/run calls it after the suite has passed on this machine's own Debian.
//
//   node scripts/other-debian.mjs [--release bookworm|trixie] [TEST FILE...]
//     (default: the other release; OTHER_RELEASE_TESTS below)
//   ADDONIX_DEBIAN_ROOTS=DIR   where the roots are kept (default /var/cache/addonix-debian): a root is
//                              made once (about a minute), then reused with its packages and Nix store
//
// The root is entered as Nix's sandbox needs it: in a mount namespace of its own
// (unshare -m), the root bind-mounted onto itself so that `/` is a mount point there, /proc, /dev and
// /sys from this machine. The checkout is copied in (its files as git sees them, without node_modules
// and dist), ../shared (the corpus, oracles) bound read-only beside it. Needs root.
import { $, fs, path, echo } from 'zx';

$.verbose = false;

/**
 * The tests that touch Nix, npm, the stand-in and image building, and the layer compressor's bytes:
 * the newcomer path, the image builds, the Nix library, the CLI's Nix commands, npm against the oracle,
 * the add-on run on the stand-in's base image, and the pinned layer bytes under this release's Node.js.
 */
const OTHER_RELEASE_TESTS = [
  'nix-build', 'newcomer', 'addon-run', 'npm-oracle', 'nix-library', 'build-cli', 'verify', 'nix-cache', 'nix-cost',
  'pin-base', 'doctor', 'npm-cli', 'unit-oci-read', 'unit-nix-log',
].map((name) => `dist/test/${name}.test.js`);

const RELEASES = { bookworm: '12', trixie: '13' };

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const releaseAt = args.indexOf('--release');
const own = /^VERSION_CODENAME=(.*)$/m.exec(await fs.readFile('/etc/os-release', 'utf8'))?.[1];
const release = releaseAt >= 0 ? args.splice(releaseAt, 2)[1] : own === 'bookworm' ? 'trixie' : 'bookworm';
const tests = args.length > 0 ? args : OTHER_RELEASE_TESTS;
if (!(release in RELEASES)) {
  echo(`other-debian: no Debian release '${release}' (bookworm or trixie)`);
  process.exit(2);
}
if (process.getuid() !== 0) {
  echo('other-debian: debootstrap, chroot and mounts need root');
  process.exit(1);
}

const roots = process.env.ADDONIX_DEBIAN_ROOTS ?? '/var/cache/addonix-debian';
const root = path.join(roots, release);
const ready = path.join(root, '.addonix-root-ready');
const started = Date.now();
const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;

if (!(await fs.pathExists(ready))) {
  if ((await $`command -v debootstrap`.nothrow()).exitCode !== 0) {
    echo('other-debian: installing debootstrap');
    await $`apt-get update -qq`;
    await $({ env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })`apt-get install -y -qq debootstrap`;
  }
  // The mirror this machine's apt uses (debootstrap's default where none is found).
  const sources = (await $`cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list`.nothrow()).stdout;
  const mirror = /(?:^URIs:\s*|^deb\s+(?:\[[^\]]*\]\s+)?)(https?:\/\/\S+\/debian)\/?\s*$/m.exec(sources)?.[1];
  echo(`other-debian: making a Debian ${RELEASES[release]} (${release}) root in ${root}`);
  await fs.remove(root);
  await fs.ensureDir(roots);
  await $`debootstrap --variant=minbase ${release} ${root} ${mirror ? [mirror] : []}`;
  await fs.writeFile(ready, `${new Date().toISOString()}\n`);
  echo(`other-debian: root made (${elapsed()})`);
}
await fs.copy('/etc/resolv.conf', path.join(root, 'etc', 'resolv.conf'), { dereference: true });
// This machine's trust goes in too: the certificate authorities it adds (which the root's own
// ca-certificates takes in when it builds its bundle) and its bundle until then, and the variables
// that name CA files or proxies, so that the npm registry and Debian's mirror answer as they do here.
if (await fs.pathExists('/usr/local/share/ca-certificates')) await fs.copy('/usr/local/share/ca-certificates', path.join(root, 'usr/local/share/ca-certificates'), { dereference: true });
if (await fs.pathExists('/etc/ssl/certs/ca-certificates.crt')) await fs.copy('/etc/ssl/certs/ca-certificates.crt', path.join(root, 'etc/ssl/certs/ca-certificates.crt'), { dereference: true });
const PASSED = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'NIX_SSL_CERT_FILE', 'GIT_SSL_CAINFO', 'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'];
const passed = PASSED.filter((name) => process.env[name]).map((name) => `${name}=${process.env[name]}`);

// The checkout as git sees it (tracked and new files, not ignored ones), copied afresh.
const build = path.join(root, 'build');
const checkout = path.join(build, 'addonix');
const shared = path.join(build, 'shared');
await fs.remove(checkout);
await fs.ensureDir(checkout);
await fs.ensureDir(shared);
const files = (await $({ cwd: repo })`git ls-files -z --cached --others --exclude-standard`).stdout.split('\0').filter((file) => file && fs.existsSync(path.join(repo, file)));
await $({ cwd: repo, input: files.join('\0') })`tar --null -T - -cf - | tar -C ${checkout} -xf -`;
const sharedSource = process.env.ADDONIX_SHARED ?? path.join(repo, '..', 'shared');

// Inside: a clean environment (CI passed on), the other release's own tools first on PATH.
const inside = [
  'env', '-i', 'HOME=/root', 'LANG=C.UTF-8', 'TERM=dumb', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  ...(process.env.CI ? [`CI=${process.env.CI}`] : []), ...passed, 'ADDONIX_SHARED=/build/shared',
  'bash', '-c', 'cd /build/addonix && exec ./scripts/test-all "$@"', 'test-all', ...tests,
];
const enter = `
set -e
root="$1"; shared_source="$2"; shift 2
mount --rbind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
if [ -d "$shared_source" ]; then mount --bind "$shared_source" "$root/build/shared"; mount -o remount,bind,ro "$root/build/shared"; fi
exec chroot "$root" "$@"
`;
echo(`other-debian: Debian ${RELEASES[release]} (${release}): scripts/test-all ${tests.join(' ')}`);
const run = await $({ stdio: 'inherit' })`unshare -m --propagation private bash -c ${enter} enter ${root} ${sharedSource} ${inside}`.nothrow();
echo(`other-debian: Debian ${RELEASES[release]} (${release}) finished with exit status ${run.exitCode} after ${elapsed()}`);
process.exit(run.exitCode ?? 1);
