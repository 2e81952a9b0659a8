/**
 * Loading an image into Docker or Podman: the image is written as a docker-archive stream straight into
 * `docker load` / `podman load` (no archive file in between), and the engine's own words say what it
 * loaded.
 */
import { spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { UserError, UsageError } from '../util/errors.js';
import { dockerArchive } from '../oci/docker-archive.js';
import { shortDigest } from '../oci/digest.js';
import type { LocalImage } from '../oci/image.js';
import { isValidNameAndTag } from '../oci/reference-grammar.js';

import type { Engine } from './engines.js';
export { ENGINES, type Engine } from './engines.js';

/**
 * The name the loaded image gets: as given (--tag, checked), else the input's own name:tag when it is a
 * valid one, else one from arch and digest. A name the input gives that is not a valid image name is
 * refused rather than handed to the engine.
 */
export function loadName(image: LocalImage, given?: string): string {
  if (given) return checkLoadName(given);
  return ownName(image);
}

/** `--name` as given, when it is a valid NAME:TAG. */
export function checkLoadName(given: string): string {
  if (!isValidNameAndTag(given)) throw new UsageError(`--name ${JSON.stringify(given)} is not an image name NAME:TAG (lowercase repository, e.g. localhost/my-addon:1.0)`);
  return given;
}

function ownName(image: LocalImage): string {
  // A full `name:tag` (a layout's ref.name is often a bare tag, which names nothing).
  const named = image.names.filter((name) => name.lastIndexOf(':') > name.lastIndexOf('/'));
  const invalid = named.find((name) => !isValidNameAndTag(name));
  if (invalid !== undefined) {
    throw new UserError('image-invalid', `${image.source} names its image ${JSON.stringify(invalid)}, which is not a valid image name; name it with --name NAME:TAG`);
  }
  return named[0] ?? `localhost/addonix:${image.arch}-${shortDigest(image.manifestDigest)}`;
}

/** Streams the image into `<engine> load`; returns the references the engine reports. */
export async function loadIntoEngine(image: LocalImage, engine: Engine, name: string): Promise<string[]> {
  const child = spawn(engine, ['load'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-8000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new UserError('engine-missing', `${engine} is not installed (or not on PATH); choose the engine with --engine ${engine === 'docker' ? 'podman' : 'docker'}`) : error),
    );
    child.on('close', resolve);
  });
  const streaming = pipeline(dockerArchive(image, name), child.stdin).catch((error: NodeJS.ErrnoException) => {
    // The engine closing its input early (EPIPE) is explained by its exit status below.
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_PREMATURE_CLOSE') throw error;
  });
  const [code] = await Promise.all([exited, streaming]);
  if (code !== 0) {
    throw new UserError('engine-failed', `${engine} load failed (exit ${code ?? 'by signal'}): ${(stderr || stdout).trim().split('\n').slice(-8).join('\n')}`);
  }
  const loaded = [...stdout.matchAll(/^Loaded image(?:\(s\))?(?: ID)?:\s*(.+)$/gm)].flatMap((match) => match[1]!.split(',').map((s) => s.trim()));
  return loaded.length > 0 ? loaded : [name];
}
