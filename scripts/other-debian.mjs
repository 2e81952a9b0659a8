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
// /sys from this machine, and made that namespace's root with pivot_root, not chroot alone: Nix 2.8
// runs git for a flake after setns() back into the mount namespace it started in, which resets the
// root to the namespace's own, so under a chroot git ran in this machine's root, not the checkout's
// ("'<checkout>' is not a Git repository"). The checkout is copied in (its files as git sees them, without node_modules
// and dist), ../shared (the corpus, oracles) bound read-only beside it. Needs root.
import { $, fs, path, echo } from 'zx';

$.verbose = false;

/**
 * The tests that touch Nix, npm, the stand-in and image building, and the layer compressor's bytes:
 * the newcomer path, the image builds, the Nix library, the CLI's Nix commands, npm against the oracle,
 * the add-on run on the stand-in's base image, the prebuilds for three Node.js ABIs, and the pinned layer
 * bytes under this release's Node.js.
 */
const OTHER_RELEASE_TESTS = [
  'nix-build', 'newcomer', 'addon-run', 'npm-oracle', 'nix-library', 'build-cli', 'verify', 'nix-cache', 'nix-cost',
  'pin-base', 'doctor', 'npm-cli', 'unit-oci-read', 'unit-nix-log', 'prebuilds',
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
// Nix kills every process of a build user before it builds as that user, and counts on its own lock
// files to own the user. The root's Nix has its own locks but, from its own useradd, the same uids as
// this machine's nixbld users: a build here (another test run, another engineer's) killed the root's
// builds as "signal 9 (Killed)". The root's build users get uids of their own (3000 + N), once.
await renumberBuildUsers(path.join(root, 'etc', 'passwd'));

async function renumberBuildUsers(passwdFile) {
  if (!(await fs.pathExists(passwdFile))) return;
  const text = await fs.readFile(passwdFile, 'utf8');
  const renumbered = text.replace(/^(nixbld(\d+):[^:]*:)\d+:/gm, (_, head, n) => `${head}${3000 + Number(n)}:`);
  if (renumbered !== text) await fs.writeFile(passwdFile, renumbered);
}

await fs.copy('/etc/resolv.conf', path.join(root, 'etc', 'resolv.conf'), { dereference: true });
// This machine's trust goes in too: the certificate authorities it adds (which the root's own
// ca-certificates takes in when it builds its bundle) and its bundle until then, and the variables
// that name CA files or proxies, so that the npm registry and Debian's mirror answer as they do here.
if (await fs.pathExists('/usr/local/share/ca-certificates')) await fs.copy('/usr/local/share/ca-certificates', path.join(root, 'usr/local/share/ca-certificates'), { dereference: true });
if (await fs.pathExists('/etc/ssl/certs/ca-certificates.crt')) await fs.copy('/etc/ssl/certs/ca-certificates.crt', path.join(root, 'etc/ssl/certs/ca-certificates.crt'), { dereference: true });
const PASSED = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'NIX_SSL_CERT_FILE', 'GIT_SSL_CAINFO', 'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'];
const passed = PASSED.filter((name) => process.env[name]).map((name) => `${name}=${process.env[name]}`);

// The checkout: a clone (the tests clone it, and Nix reads it as a git flake), with the working tree
// as it is here laid over it (changes not committed yet, new files staged so that Nix sees them).
const build = path.join(root, 'build');
// A folder of this run's own: two runs at once (two checkouts tested) must not remove each other's.
await fs.ensureDir(build);
const checkout = await fs.mkdtemp(path.join(build, 'addonix-'));
// mkdtemp's 0700 would keep out the users the tests run the CLI as (nobody, Nix's build users).
await fs.chmod(checkout, 0o755);
const inside = `/build/${path.basename(checkout)}`;
const shared = path.join(build, 'shared');
await fs.ensureDir(shared);
await $`git clone -q --no-hardlinks ${repo} ${checkout}`;
const files = (await $({ cwd: repo })`git ls-files -z --cached --others --exclude-standard`).stdout.split('\0').filter((file) => file && fs.existsSync(path.join(repo, file)));
await $({ cwd: repo, input: files.join('\0') })`tar --null -T - -cf - | tar -C ${checkout} -xf -`;
for (const gone of (await $({ cwd: repo })`git ls-files -z --deleted`).stdout.split('\0').filter(Boolean)) await fs.remove(path.join(checkout, gone));
await $({ cwd: checkout })`git add -A`;
const sharedSource = process.env.ADDONIX_SHARED ?? path.join(repo, '..', 'shared');

// Inside: a clean environment (CI passed on), the other release's own tools first on PATH.
const environment = [
  'HOME=/root', 'LANG=C.UTF-8', 'TERM=dumb', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  ...(process.env.CI ? [`CI=${process.env.CI}`] : []), ...passed, 'ADDONIX_SHARED=/build/shared',
];
const enter = `
set -e
root="$1"; shared_source="$2"; shift 2
mount --rbind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
if [ -d "$shared_source" ]; then mount --bind "$shared_source" "$root/build/shared"; mount -o remount,bind,ro "$root/build/shared"; fi
mkdir -p "$root/.old-root"
cd "$root"
pivot_root . .old-root
umount -l /.old-root
exec chroot / "$@"
`;
/** Runs a command in the root, in a mount namespace of its own; its output goes where this one's goes. */
function inRoot(command, options = {}) {
  return $({ stdio: options.quiet ? 'pipe' : 'inherit' })`unshare -m --propagation private bash -c ${enter} enter ${root} ${sharedSource} env -i ${environment} ${command}`.nothrow();
}

// Node.js, which scripts/test-all expects on a machine of the project's kind: the release's own where
// it is recent enough (Debian 13's 20.19), else the official build from the npm registry (Debian 12's
// is 18), of the major this machine runs.
const nodeOk = async () => {
  const version = (await inRoot(['node', '-p', 'process.versions.node'], { quiet: true })).stdout.trim().split('.').map(Number);
  return version[0] > 20 || (version[0] === 20 && version[1] >= 19);
};
if (!(await nodeOk())) {
  const apt = await inRoot(['bash', '-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null']);
  if (apt.exitCode !== 0 || !(await nodeOk())) {
    const major = process.versions.node.split('.')[0];
    const cpu = { x64: 'x64', arm64: 'arm64' }[process.arch];
    echo(`other-debian: the release's Node.js is older than 20.19: the official Node.js ${major} (node-linux-${cpu}@${major}) from the npm registry, in /usr/local`);
    const temp = await fs.mkdtemp(path.join(roots, 'node-'));
    try {
      const packed = (await $({ cwd: temp })`npm pack --silent node-linux-${cpu}@${major}`).stdout.trim().split('\n').pop();
      await $`tar -xzf ${path.join(temp, packed)} -C ${temp}`;
      for (const dir of ['bin', 'lib', 'include']) if (await fs.pathExists(path.join(temp, 'package', dir))) await fs.copy(path.join(temp, 'package', dir), path.join(root, 'usr/local', dir));
    } finally {
      await fs.remove(temp);
    }
    if (!(await nodeOk())) {
      echo('other-debian: no Node.js >= 20.19 in the root');
      process.exit(1);
    }
  }
}

echo(`other-debian: Debian ${RELEASES[release]} (${release}): scripts/test-all ${tests.join(' ')}`);
const run = await inRoot(['bash', '-c', 'cd "$0" && exec ./scripts/test-all "$@"', inside, ...tests]);
await fs.remove(checkout);
echo(`other-debian: Debian ${RELEASES[release]} (${release}) finished with exit status ${run.exitCode} after ${elapsed()}`);
process.exit(run.exitCode ?? 1);
