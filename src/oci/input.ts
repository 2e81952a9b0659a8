/**
 * The sources of image files as users name them on the command line: a docker-archive tarball (plain
 * or gzip), a streamLayeredImage script, or an OCI layout tarball (input-kind.ts tells which; a layout
 * folder is layout.ts's LayoutSource).
 */
import { createReadStream } from 'node:fs';
import zlib from 'node:zlib';
import { ArchiveSource } from './archive.js';
import type { InputKind } from './input-kind.js';
import { StreamScript } from './stream-script.js';
import { readTar, readTarFile } from './tar.js';

export { detectInput, type InputKind } from './input-kind.js';

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
      return new ArchiveSource(display, () => readTarFile(file, display, { transient: true, signal }), true, undefined, file);
    case 'tar.gz':
      return new ArchiveSource(display, () => readTar(gunzipped(file, signal), display), false);
    case 'stream-script': {
      const script = new StreamScript(file, display, signal);
      return new ArchiveSource(display, () => readTar(script.output(), display), false, () => script.failure());
    }
  }
}
