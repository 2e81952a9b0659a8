/**
 * Test images made by addonix's own tar writer: reproducible (fixed mtimes, uid 0), in the shapes real
 * tools write — dockerTools / docker save legacy (`<id>/layer.tar`, `<id>.json`, manifest.json last) and
 * Docker >= 25 (OCI layout plus manifest.json).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, writeFileSync, chmodSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeTar, type TarWriteEntry } from '../src/oci/tar.js';

export const sha = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export async function tarBuffer(entries: TarWriteEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of writeTar(entries)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A layer tar holding the given files. */
export function layer(files: Record<string, string | Buffer>): Promise<Buffer> {
  return tarBuffer(Object.entries(files).map(([name, content]) => ({ path: name, body: Buffer.from(content) })));
}

export interface TestImage {
  goarch: string;
  variant?: string;
  layers: Buffer[];
  labels?: Record<string, string>;
  repoTag?: string;
  /** The config's `config` (Env, Entrypoint, ...) instead of the default one; Labels still from `labels`. */
  config?: Record<string, unknown>;
}

export function imageConfig(image: TestImage): Buffer {
  return Buffer.from(
    JSON.stringify({
      created: '1970-01-01T00:00:01Z',
      architecture: image.goarch,
      ...(image.variant ? { variant: image.variant } : {}),
      os: 'linux',
      config: { ...(image.config ?? { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] }), Labels: image.labels ?? {} },
      rootfs: { type: 'layers', diff_ids: image.layers.map((l) => sha(l)) },
      history: image.layers.map(() => ({ created: '1970-01-01T00:00:01Z', created_by: 'test' })),
    }),
  );
}

/** The entries of a docker-archive in dockerTools' shape (manifest.json last). */
export function dockerToolsEntries(image: TestImage): TarWriteEntry[] {
  const config = imageConfig(image);
  const configName = `${sha(config).slice(7)}.json`;
  const layerDirs = image.layers.map((l) => sha(l).slice(7));
  const entries: TarWriteEntry[] = [];
  image.layers.forEach((l, i) => {
    entries.push({ path: `${layerDirs[i]}/`, type: 'directory' }, { path: `${layerDirs[i]}/layer.tar`, body: l });
  });
  entries.push({ path: configName, body: config });
  entries.push({
    path: 'manifest.json',
    body: Buffer.from(JSON.stringify([{ Config: configName, RepoTags: [image.repoTag ?? 'test/image:1.0.0'], Layers: layerDirs.map((d) => `${d}/layer.tar`) }])),
  });
  return entries;
}

/** The entries of a Docker >= 25 `docker save`: OCI layout blobs plus manifest.json. */
export function docker25Entries(image: TestImage): TarWriteEntry[] {
  const config = imageConfig(image);
  const blob = (data: Buffer) => `blobs/sha256/${sha(data).slice(7)}`;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: image.layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(l), size: l.length })),
    }),
  );
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length }] };
  return [
    { path: 'blobs/', type: 'directory' },
    { path: 'blobs/sha256/', type: 'directory' },
    ...image.layers.map((l) => ({ path: blob(l), body: l })),
    { path: blob(config), body: config },
    { path: blob(manifest), body: manifest },
    { path: 'index.json', body: Buffer.from(JSON.stringify(index)) },
    { path: 'manifest.json', body: Buffer.from(JSON.stringify([{ Config: blob(config), RepoTags: [image.repoTag ?? 'test/image:1.0.0'], Layers: image.layers.map(blob) }])) },
    { path: 'oci-layout', body: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
  ];
}

export async function writeTarFile(file: string, entries: TarWriteEntry[]): Promise<string> {
  await pipeline(writeTar(entries), createWriteStream(file));
  return file;
}

/** dockerTools.buildLayeredImage's output: the stream, gzip-compressed. */
export async function writeTarGz(file: string, entries: TarWriteEntry[]): Promise<string> {
  writeFileSync(file, gzipSync(await tarBuffer(entries)));
  return file;
}

/** A stand-in for the streamLayeredImage script: an executable that prints the tar on stdout. */
export function writeStreamScript(file: string, tarFile: string): string {
  writeFileSync(file, `#!/bin/sh\necho "Creating layer 1" >&2\nexec cat ${JSON.stringify(path.resolve(tarFile))}\n`);
  chmodSync(file, 0o755);
  return file;
}

/** Bytes that do not compress, the same on every run (a SHA-256 chain from a seed). */
export function noise(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Layers whose content differs per arch (so each arch has its own blobs), reproducible. */
export async function archLayers(arch: string, extra = ''): Promise<Buffer[]> {
  return [
    await layer({ 'etc/os-release': `NAME=test\nARCH=${arch}\n`, 'bin/tool': noise(arch, 96 * 1024) }),
    await layer({ 'app/main.js': `console.log(${JSON.stringify(arch + extra)});\n`, 'app/data.bin': Buffer.alloc(65536, 7) }),
  ];
}
