#!/usr/bin/env node
// The second half of scripts/test-all (run by it, after `npm ci`): the Debian packages the suite uses,
// installed when missing, as the release has them; then the suite (or the test files named).
//
// The system tools: Nix (reading the generated data, evaluating and building the library and the
// tests' own flakes), a real registry, skopeo, umoci (an engine's reading of layers), podman with the runc runtime and catatonit (addonix run
// starts containers; crun refuses this machine's cgroups), htpasswd, openssl (the token server's
// certificate), git; bash, curl and jq (the tests' base image is made of them); and what
// test/nixpkgs-stand-in builds with: the host compiler, Debian's aarch64 and armhf cross compilers and
// sysroots, clang, lld and LLVM's binutils (standing in for nixpkgs' llvmPackages), patchelf, QEMU user
// emulation, readelf, python3, perl. Tests skip without them, except under CI=true.
import { $, fs, echo } from 'zx';

$.verbose = false;

/** The LLVM each release has (Debian's clang-N, lld-N, llvm-N packages). */
const LLVM = { bookworm: 14, trixie: 19 };

const osRelease = Object.fromEntries(
  (await fs.readFile('/etc/os-release', 'utf8'))
    .split('\n')
    .map((line) => /^(\w+)=(?:"(.*)"|(.*))$/.exec(line))
    .filter(Boolean)
    .map((m) => [m[1], m[2] ?? m[3]]),
);
const codename = osRelease.VERSION_CODENAME;
if (osRelease.ID !== 'debian' || !(codename in LLVM)) {
  echo(`scripts/test-all: this is ${osRelease.PRETTY_NAME ?? 'an unknown system'}; the suite's setup knows Debian 12 (bookworm) and 13 (trixie)`);
  process.exit(1);
}
const llvm = LLVM[codename];
echo(`scripts/test-all: ${osRelease.PRETTY_NAME}, LLVM ${llvm}, Node.js ${process.version}, npm ${(await $`npm --version`).stdout.trim()}`);

// [program or file it installs, package]
const tools = [
  ['nix', 'nix-bin'], ['nix-instantiate', 'nix-bin'], ['nix-store', 'nix-bin'],
  // Debian 13's nix.conf (sandbox on) and the nixbld users come with it; Debian 12's has the sandbox off.
  ['/etc/nix/nix.conf', 'nix-setup-systemd'],
  ['docker-registry', 'docker-registry'], ['skopeo', 'skopeo'], ['podman', 'podman'], ['umoci', 'umoci'],
  ['runc', 'runc'], ['/usr/libexec/podman/catatonit', 'catatonit'], ['jq', 'jq'],
  ['htpasswd', 'apache2-utils'], ['openssl', 'openssl'], ['git', 'git'],
  ['g++', 'g++'], ['make', 'make'], ['aarch64-linux-gnu-g++', 'g++-aarch64-linux-gnu'], ['arm-linux-gnueabihf-g++', 'g++-arm-linux-gnueabihf'],
  [`clang-${llvm}`, `clang-${llvm}`], [`ld.lld-${llvm}`, `lld-${llvm}`], [`llvm-ar-${llvm}`, `llvm-${llvm}`],
  ['patchelf', 'patchelf'], ['perl', 'perl'], ['qemu-aarch64-static', 'qemu-user-static'],
  ['readelf', 'binutils'], ['curl', 'curl'], ['/usr/bin/python3', 'python3'], ['xz', 'xz-utils'],
];

async function present(tool) {
  if (tool.startsWith('/')) return fs.pathExists(tool);
  return (await $`command -v ${tool}`.nothrow().quiet()).exitCode === 0;
}

const missing = [];
for (const [tool, pkg] of tools) if (!(await present(tool)) && !missing.includes(pkg)) missing.push(pkg);
if (missing.length > 0) {
  if (process.getuid() !== 0) {
    echo(`scripts/test-all: the tests need the Debian packages: ${missing.join(' ')} (run as root, or install them first)`);
    process.exit(1);
  }
  echo(`scripts/test-all: installing ${missing.join(' ')}`);
  await $`apt-get update -qq`;
  await $({ env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })`apt-get install -y -qq ${missing}`;
}

const run = await $({ stdio: 'inherit' })`node scripts/run-tests.mjs ${process.argv.slice(2)}`.nothrow();
process.exit(run.exitCode ?? 1);
