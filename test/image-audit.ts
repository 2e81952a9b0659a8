/**
 * Opening a built image the way a container engine would: the stream script's docker-archive unpacked,
 * its layers applied in order into one root folder; then what is inside: every ELF file's machine, the
 * store paths the layers hold, sizes. Used by the Nix build tests and by bench/image-sizes.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
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
