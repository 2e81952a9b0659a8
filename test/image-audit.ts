/**
 * Opening a built image the way a container engine would: the stream script's docker-archive unpacked,
 * its layers applied in order into one root folder; then what is inside: every ELF file's machine, the
 * store paths the layers hold, sizes. Used by the Nix build tests and by bench/image-sizes.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync, statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** ELF e_machine values (System V gABI) for the arches' GOARCH. */
export const ELF_MACHINES: Record<string, number> = { amd64: 62, arm64: 183, arm: 40, '386': 3, riscv64: 243 };

export interface UnpackedImage {
  /** The folder holding manifest.json, the config and the layer tars. */
  archiveDir: string;
  /** The layers applied in order. */
  root: string;
  config: { architecture: string; config: Record<string, unknown>; rootfs: { diff_ids: string[] } };
  /** Bytes of the docker-archive, and of its layers (uncompressed). */
  archiveBytes: number;
  layerBytes: number;
}

/** Runs a stream script (or takes a docker-archive tar file) and unpacks it under a new folder in `parent`. */
export function unpackImage(source: string, parent = tmpdir()): UnpackedImage {
  const work = mkdtempSync(path.join(parent, 'addonix-image-'));
  const archive = path.join(work, 'image.tar');
  if (statSync(source).size < 64 * 1024 && readFileSync(source, 'utf8').startsWith('#!')) execFileSync('sh', ['-c', `"$0" > "$1"`, source, archive]);
  else execFileSync('cp', [source, archive]);
  const archiveDir = path.join(work, 'archive');
  mkdirSync(archiveDir);
  execFileSync('tar', ['-xf', archive, '-C', archiveDir]);
  const manifest = JSON.parse(readFileSync(path.join(archiveDir, 'manifest.json'), 'utf8'))[0] as { Config: string; Layers: string[] };
  const root = path.join(work, 'root');
  mkdirSync(root);
  let layerBytes = 0;
  for (const layer of manifest.Layers) {
    layerBytes += statSync(path.join(archiveDir, layer)).size;
    execFileSync('tar', ['-xf', path.join(archiveDir, layer), '-C', root]);
  }
  return {
    archiveDir,
    root,
    config: JSON.parse(readFileSync(path.join(archiveDir, manifest.Config), 'utf8')),
    archiveBytes: statSync(archive).size,
    layerBytes,
  };
}

/** The machine of an ELF file, or null when the file is not ELF. */
export function elfMachine(file: string): number | null {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(20);
    if (readSync(fd, head, 0, 20, 0) < 20 || head.readUInt32BE(0) !== 0x7f454c46) return null;
    return head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
  } finally {
    closeSync(fd);
  }
}

/** Every regular file under a folder (symbolic links not followed), relative paths. */
export function regularFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      const stat = lstatSync(file);
      if (stat.isDirectory()) walk(file);
      else if (stat.isFile()) found.push(path.relative(root, file));
    }
  };
  walk(root);
  return found;
}

/** The ELF files of an image root whose machine is not `machine`, with theirs. */
export function foreignElfFiles(root: string, machine: number): { file: string; machine: number }[] {
  const foreign: { file: string; machine: number }[] = [];
  for (const file of regularFiles(root)) {
    const found = elfMachine(path.join(root, file));
    if (found !== null && found !== machine) foreign.push({ file, machine: found });
  }
  return foreign;
}

/** The store paths an image root holds (/nix/store/<hash>-<name>). */
export function storePaths(root: string): string[] {
  const store = path.join(root, 'nix', 'store');
  try {
    return readdirSync(store).map((name) => `/nix/store/${name}`).sort();
  } catch {
    return [];
  }
}

/** What an ELF file asks of the dynamic loader (readelf): its NEEDED libraries, its RUNPATH (or RPATH) folders, whether it names an interpreter (a program, not a library). */
export function elfDynamic(file: string): { needed: string[]; runpath: string[]; program: boolean } {
  const text = execFileSync('readelf', ['-d', '-l', '-W', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return {
    needed: [...text.matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]!),
    runpath: [...text.matchAll(/\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[(.+?)\]/g)].flatMap((m) => m[1]!.split(':')).filter(Boolean),
    program: /Requesting program interpreter/.test(text),
  };
}

/** Names the loader itself provides to whatever it runs: the C library and the loader (glibc's and musl's). */
const LOADER_PROVIDED = /^(libc\.so(\.6)?|ld-linux[-\w.]*\.so\.\d|ld-musl-[\w]+\.so\.1)$/;

/**
 * How the image's ELF files find their libraries, read as the loader reads them with the image as the
 * whole file system: every RUNPATH folder must be in the image and hold one of the file's NEEDED
 * libraries (what `patchelf --shrink-rpath` leaves; a folder that holds none is a self RUNPATH or a
 * leftover, and keeps a store path in the image for nothing), and every NEEDED library must be found in
 * the file's RUNPATH or be loaded by the image's programs (their libraries, through their RUNPATHs, all
 * the way down) or sit beside the loader (nixpkgs' glibc searches its own folder by default), the C
 * library and the loader aside. `needed: false` checks the RUNPATHs only (for images whose programs the
 * stand-in cannot link right: its musl sets' Node.js is a glibc build).
 */
export function libraryProblems(root: string, { needed = true }: { needed?: boolean } = {}): string[] {
  const elves = new Map<string, ReturnType<typeof elfDynamic>>();
  for (const file of regularFiles(root)) if (elfMachine(path.join(root, file)) !== null) elves.set(file, elfDynamic(path.join(root, file)));
  const inImage = (dir: string) => !dir.includes('$') && existsIn(root, dir);
  const loaderDirs = [...new Set([...elves.keys()].filter((file) => LOADER_PROVIDED.test(path.basename(file)) && path.basename(file).startsWith('ld-')).map((file) => `/${path.dirname(file)}`))];
  const find = (name: string, runpath: string[]) => [...runpath, ...loaderDirs].find((dir) => inImage(dir) && existsIn(root, path.join(dir, name)));
  // What the programs load: their NEEDED libraries resolved through RUNPATHs, recursively.
  const loaded = new Set<string>();
  const queue = [...elves.values()].filter((elf) => elf.program);
  while (queue.length > 0) {
    const elf = queue.shift()!;
    for (const name of elf.needed) {
      if (loaded.has(name)) continue;
      const dir = find(name, elf.runpath);
      if (!dir) continue;
      loaded.add(name);
      const library = elves.get(path.relative(root, realIn(root, path.join(dir, name))));
      if (library) queue.push(library);
    }
  }
  const problems: string[] = [];
  for (const [file, elf] of elves) {
    for (const dir of elf.runpath) {
      if (dir.includes('$ORIGIN')) continue;
      if (!inImage(dir)) problems.push(`${file}: its RUNPATH folder ${dir} is not in the image`);
      else if (!elf.needed.some((name) => existsIn(root, path.join(dir, name)))) problems.push(`${file}: its RUNPATH folder ${dir} holds none of the libraries it needs (${elf.needed.join(', ') || 'none'}): a self RUNPATH or a leftover`);
    }
    for (const name of needed ? elf.needed : []) {
      if (LOADER_PROVIDED.test(name) || loaded.has(name) || find(name, elf.runpath)) continue;
      problems.push(`${file} needs ${name}, which is neither in its RUNPATH (${elf.runpath.join(':') || 'none'}) nor loaded by the image's programs`);
    }
  }
  return problems;
}

/** Whether a path (absolute inside the image) exists in the image root, following links inside it. */
function existsIn(root: string, inside: string): boolean {
  try {
    statSync(realIn(root, inside));
    return true;
  } catch {
    return false;
  }
}

/** A path inside the image with its links resolved inside the image (absolute targets are the image's), as a path of the host. */
function realIn(root: string, inside: string): string {
  let current = root;
  const parts = inside.split('/').filter(Boolean);
  for (let hops = 0; parts.length > 0 && hops < 64; ) {
    const next = path.join(current, parts.shift()!);
    let stat;
    try {
      stat = lstatSync(next);
    } catch {
      return path.join(next, ...parts);
    }
    if (stat.isSymbolicLink()) {
      hops++;
      const target = readlinkSync(next);
      parts.unshift(...target.split('/').filter(Boolean));
      if (target.startsWith('/')) current = root;
    } else current = next;
  }
  return current;
}

/** Files at the image root that do not run: what linking a whole package at / puts there (setup hooks, headers, docs, a package.json). */
export function rootProblems(root: string): string[] {
  const notRunning = ['nix-support', 'include', 'share/doc', 'share/man', 'share/info', 'lib/node_modules', 'package.json', 'default.script', 'README', 'README.md', 'CHANGELOG.md', 'LICENSE', 'bin/README'];
  return notRunning.filter((entry) => existsLink(path.join(root, entry))).map((entry) => `/${entry} is at the image root`);
}

function existsLink(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * `node dist/test/image-audit.js [--runpath-only] STREAM-OR-ARCHIVE...`: the library and root checks of
 * each image, one problem a line; exit 1 when there is one. --runpath-only leaves out the NEEDED check
 * (for the stand-in's musl images, whose Node.js is a glibc build).
 */
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const needed = !args.includes('--runpath-only');
  let found = 0;
  for (const source of args.filter((arg) => arg !== '--runpath-only')) {
    const image = unpackImage(source);
    try {
      const problems = [...libraryProblems(image.root, { needed }), ...rootProblems(image.root)];
      found += problems.length;
      console.log(`${source}: ${problems.length === 0 ? 'no problem' : `${problems.length} problem(s)`}`);
      for (const problem of problems) console.log(`  ${problem}`);
    } finally {
      rmSync(path.dirname(image.root), { recursive: true, force: true });
    }
  }
  process.exitCode = found > 0 ? 1 : 0;
}
