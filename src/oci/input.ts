/**
 * Image inputs as users name them on the command line: a `result` link, a docker-archive tarball (plain
 * or gzip), a streamLayeredImage script, or an OCI layout (folder or tarball); `ARCH=PATH` names the arch
 * of an image that does not say it. Each becomes the ImageSource of its kind.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import type { BuildArch } from '../addon/arch.js';
import { UserError } from '../util/errors.js';
import { ArchiveSource } from './archive.js';
import { sniffCompression } from './compression.js';
import { LayoutSource } from './layout.js';
import type { ImageSource } from './model.js';
import { splitArchPrefix } from './platform.js';
import { BlobStore } from './store.js';
import { StreamScript } from './stream-script.js';
import { readTar, readTarFile } from './tar.js';

export type InputKind = 'layout-directory' | 'tar' | 'tar.gz' | 'stream-script';

export async function detectInput(file: string, display: string): Promise<InputKind> {
  let info;
  try {
    info = await stat(file);
  } catch {
    throw new UserError('not-found', `${display} does not exist`);
  }
  if (info.isDirectory()) {
    try {
      await stat(path.join(file, 'oci-layout'));
    } catch {
      throw new UserError('image-invalid', `${display} is a folder but not an OCI image layout (it has no oci-layout file)`);
    }
    return 'layout-directory';
  }
  if (!info.isFile()) throw new UserError('image-invalid', `${display} is neither a file nor a folder`);
  const handle = await open(file, 'r');
  const head = Buffer.alloc(512);
  let length;
  try {
    ({ bytesRead: length } = await handle.read(head, 0, 512, 0));
  } finally {
    await handle.close();
  }
  const start = head.subarray(0, length);
  if (start.subarray(0, 2).toString('latin1') === '#!') {
    if ((info.mode & 0o111) === 0) throw new UserError('image-invalid', `${display} looks like a stream script (it starts with #!) but is not executable`);
    return 'stream-script';
  }
  const compression = sniffCompression(start);
  if (compression === 'gzip') return 'tar.gz';
  if (compression === 'zstd') throw new UserError('image-unsupported', `${display} is zstd-compressed; decompress it first (zstd -d) or use a plain or gzip tarball`);
  if (length < 512 || start.subarray(257, 262).toString('latin1') !== 'ustar') {
    throw new UserError('image-invalid', `${display} is not an image: expected a tarball (docker save, dockerTools), a gzip-compressed one, a stream script or an OCI layout folder`);
  }
  return 'tar';
}

/** The gunzipped bytes of a file, read as they come; a damaged or cut file fails the iteration. */
function gunzipped(file: string, signal: AbortSignal | undefined): AsyncIterable<Buffer> {
  const gunzip = zlib.createGunzip({ chunkSize: 1 << 20 });
  const input = createReadStream(file, { highWaterMark: 1 << 20, ...(signal ? { signal } : {}) });
  input.on('error', (error) => gunzip.destroy(error));
  gunzip.on('error', () => input.destroy());
  gunzip.on('close', () => input.destroy());
  return input.pipe(gunzip);
}

/**
 * The source for an image file (the kind already known). A stream script's failure, when reading its
 * output fails, is the error reported.
 */
export function fileSource(file: string, kind: Exclude<InputKind, 'layout-directory'>, display: string, signal?: AbortSignal): ArchiveSource {
  switch (kind) {
    case 'tar':
      return new ArchiveSource(display, () => readTarFile(file, display, { transient: true, signal }), true);
    case 'tar.gz':
      return new ArchiveSource(display, () => readTar(gunzipped(file, signal), display), false);
    case 'stream-script': {
      const script = new StreamScript(file, display, signal);
      return new ArchiveSource(display, () => readTar(script.output(), display), false, () => script.failure());
    }
  }
}

export interface LocalInput {
  source: ImageSource;
  kind: InputKind;
  /** The file or folder, links resolved. */
  file: string;
  /** The arch `ARCH=PATH` named. */
  arch: BuildArch | undefined;
  /** A layout folder's blobs, read in place. */
  layout?: BlobStore;
}

/** The source for a command-line argument naming a local image. */
export async function localInput(argument: string, signal?: AbortSignal): Promise<LocalInput> {
  const { arch, path: given } = splitArchPrefix(argument);
  const kind = await detectInput(given, given);
  const file = path.resolve(given);
  if (kind === 'layout-directory') {
    const layout = new BlobStore(file);
    return { source: new LayoutSource(given, layout), kind, file, arch, layout };
  }
  return { source: fileSource(file, kind, given, signal), kind, file, arch };
}
