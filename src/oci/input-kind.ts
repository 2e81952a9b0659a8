/**
 * What kind of image input a path is (a layout folder, a tarball, a gzip-compressed one, a stream
 * script), told from its first bytes: kept apart from the sources that read each kind, so that a command
 * finding its input in the cache's records loads none of them.
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../util/errors.js';
import { sniffCompression } from './compression.js';

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

