#!/usr/bin/env node
// Builds prebuilds-better-sqlite3-<arch> for every arch through the nixpkgs stand-in (test/
// nixpkgs-stand-in: zig as the musl cross compiler) and checks with readelf that each
// better_sqlite3.node, in both forms (v12 tarballs, one per Node.js ABI: 115, 127, 137; v13 prebuilds/),
// is an ELF for that arch that loads in Alpine's Node.js: linked against musl's libc.so only (libstdc++
// and libgcc linked in, no NEEDED of them, no GLIBC_ or GLIBCXX_ symbol versions), without RUNPATH or
// RPATH, and (v12) registering itself for the ABI its name says. Prints one JSON object per
// arch. The test suite builds aarch64 and armv7 (each arch costs minutes on a cold store); this covers
// every arch: node scripts/check-musl-prebuilds.mjs [arch...]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arches = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['amd64', 'aarch64', 'armv7', 'armhf'];
const machines = { amd64: 'Advanced Micro Devices X86-64', aarch64: 'AArch64', armv7: 'ARM', armhf: 'ARM' };
const expr = (arch) => `(import ${path.join(repo, 'nix', 'lib.nix')} { addonixSrc = ${repo}; }).prebuildsFor { pkgs = import ${path.join(repo, 'test', 'nixpkgs-stand-in')} { }; arch = "${arch}"; }`;

function elf(file) {
  const read = (flag) => execFileSync('readelf', [flag, file], { encoding: 'utf8' });
  return {
    machine: /Machine:\s+(.+)/.exec(read('-h'))[1].trim(),
    attributes: (/Tag_CPU_arch: (.+)/.exec(spawnSync('readelf', ['-A', file], { encoding: 'utf8' }).stdout) ?? [])[1] ?? null,
    needed: [...read('-d').matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]),
    runpath: [...read('-d').matchAll(/\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[(.+?)\]/g)].map((m) => m[1]),
    glibcVersions: /GLIBC_\d/.test(read('-V')),
    glibcxxVersions: /GLIBCXX_\d/.test(read('-V')),
    registers: [...execFileSync('readelf', ['--dyn-syms', '-W', file], { encoding: 'utf8' }).matchAll(/\sGLOBAL\s+DEFAULT\s+\d+\s+node_register_module_v(\d+)\s*$/gm)].map((m) => m[1]),
  };
}

let failed = false;
for (const arch of arches) {
  const started = Date.now();
  const build = spawnSync('nix-build', ['--no-out-link', '--option', 'substituters', '', '--option', 'sandbox', 'false', '--max-jobs', '2', '--expr', expr(arch)], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (build.status !== 0) {
    console.log(JSON.stringify({ arch, ok: false, error: build.stderr.split('\n').slice(-15).join('\n') }));
    failed = true;
    continue;
  }
  const out = build.stdout.trim();
  const unpacked = mkdtempSync(path.join(tmpdir(), 'prebuild-'));
  const files = {};
  for (const name of readdirSync(out)) {
    if (name.endsWith('.tar.gz')) {
      execFileSync('tar', ['-xzf', path.join(out, name), '-C', unpacked]);
      files[name] = { abi: /-node-v(\d+)-/.exec(name)[1], ...elf(path.join(unpacked, 'build', 'Release', 'better_sqlite3.node')) };
    } else {
      for (const node of readdirSync(path.join(out, name, 'prebuilds'))) files[`${name}/prebuilds/${node}`] = elf(path.join(out, name, 'prebuilds', node));
    }
  }
  rmSync(unpacked, { recursive: true, force: true });
  const ok = Object.keys(files).length === 4 && Object.values(files).every((f) => f.machine === machines[arch] && f.needed.every((name) => name === 'libc.so') && f.runpath.length === 0 && !f.glibcVersions && !f.glibcxxVersions && (f.abi === undefined || f.registers.join() === f.abi));
  failed ||= !ok;
  console.log(JSON.stringify({ arch, ok, seconds: Math.round((Date.now() - started) / 1000), files }));
}
process.exit(failed ? 1 : 0);
