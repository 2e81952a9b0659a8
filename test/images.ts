/**
 * Test images made by addonix's own tar writer: reproducible (fixed mtimes, uid 0), in the shapes real
 * tools write — dockerTools / docker save legacy (`<id>/layer.tar`, `<id>.json`, manifest.json last) and
 * Docker >= 25 (OCI layout plus manifest.json).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync, writeFileSync, chmodSync } from 'node:fs';
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

const SYLLABLES = 'ab ac ad al an ar at be ca ch co de di el en er es ex fi fo ge ha in is it la le li lo ma me mo na ne no on or pa pe po pr qu re ri ro sa se si st ta te th ti to tr un ur ve wa wi'.split(' ');
const SEPARATORS = [' ', ' ', ' ', '.', '(', ')', ', ', ';', ' = ', ': ', ' { ', ' }', '"', ' => ', '[', ']'].map((text) => Buffer.from(text));

/**
 * Text that compresses as source code does, the same on every run: lines of identifiers (a vocabulary
 * used with a skewed frequency), numbers and punctuation, indented, half of them repeating one of the
 * last 200. Measured against a real Node.js install at zlib levels 4 and 6 in 1 MiB blocks: 3.5x and
 * 3.6x (real: 3.5x and 3.7x), in about the same time.
 */
export function sourceText(seed: string, size: number): Buffer {
  let state = 0;
  for (const char of seed) state = (Math.imul(state, 31) + char.charCodeAt(0)) >>> 0;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const vocabulary: Buffer[] = [];
  for (let i = 0; i < 4096; i++) {
    let word = '';
    for (let n = 1 + Math.floor(random() * 4); n > 0; n--) word += SYLLABLES[Math.floor(random() * SYLLABLES.length)]!;
    vocabulary.push(Buffer.from(random() < 0.3 ? word[0]!.toUpperCase() + word.slice(1) : word));
  }
  const out = Buffer.alloc(size);
  const recent: Buffer[] = [];
  let at = 0;
  while (at < size) {
    if (recent.length > 64 && random() < 0.5) {
      at += recent[recent.length - 1 - Math.floor(Math.min(recent.length, 200) * random() ** 2)]!.copy(out, at);
      continue;
    }
    const start = at;
    at = Math.min(size, at + Math.floor(random() * 5) * 2); // indentation: the buffer is zeroed, so write spaces
    out.fill(0x20, start, at);
    for (let tokens = 2 + Math.floor(random() * 10); tokens > 0 && at < size; tokens--) {
      const pick = random();
      at += pick < 0.08 ? out.write(String(Math.floor(random() * 100000)), at) : vocabulary[Math.floor(vocabulary.length * pick ** 3)]!.copy(out, at);
      if (at < size) at += SEPARATORS[Math.floor(random() * SEPARATORS.length)]!.copy(out, at);
    }
    if (at < size) out[at++] = 0x0a;
    recent.push(Buffer.from(out.subarray(start, at)));
    if (recent.length > 1024) recent.splice(0, 512);
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

/** Writes a blob into a layout folder; answers its descriptor fields. */
export function putBlob(layout: string, data: Buffer): { digest: string; size: number } {
  writeFileSync(path.join(layout, 'blobs', 'sha256', sha(data).slice(7)), data);
  return { digest: sha(data), size: data.length };
}

interface IndexDocument {
  schemaVersion: 2;
  mediaType?: string;
  manifests: { mediaType: string; digest: string; size: number; platform?: Record<string, string>; annotations?: Record<string, string>; artifactType?: string }[];
  annotations?: Record<string, string>;
}

/**
 * Edits the index of a layout `assemble` wrote (index.json names the index blob): `edit` changes it in
 * place; the new index blob is written and index.json made to name it.
 */
export function editLayoutIndex(layout: string, edit: (index: IndexDocument) => void): void {
  const top = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as IndexDocument;
  const entry = top.manifests[0]!;
  const index = JSON.parse(readFileSync(path.join(layout, 'blobs', 'sha256', entry.digest.slice(7)), 'utf8')) as IndexDocument;
  edit(index);
  Object.assign(entry, putBlob(layout, Buffer.from(JSON.stringify(index))));
  writeFileSync(path.join(layout, 'index.json'), JSON.stringify(top));
}

/**
 * Adds to a layout `assemble` wrote, about its first image, an attestation manifest as buildx writes
 * them (platform unknown/unknown, an in-toto layer) and an OCI artifact (an SBOM with a subject).
 * Answers their manifest digests.
 */
export function addArtifacts(layout: string): { attestation: string; sbom: string } {
  let digests = { attestation: '', sbom: '' };
  editLayoutIndex(layout, (index) => {
    const image = index.manifests[0]!;
    const statement = putBlob(layout, Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2', subject: [{ name: 'image', digest: { sha256: image.digest.slice(7) } }] })));
    const attestationConfig = putBlob(layout, Buffer.from(JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [statement.digest] } })));
    const attestation = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...attestationConfig },
      layers: [{ mediaType: 'application/vnd.in-toto+json', ...statement, annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' } }],
    }));
    const empty = putBlob(layout, Buffer.from('{}'));
    const sbom = putBlob(layout, Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'test' })));
    const artifact = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/spdx+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
      layers: [{ mediaType: 'application/spdx+json', ...sbom }],
      subject: { mediaType: image.mediaType, digest: image.digest, size: image.size },
    }));
    const attestationBlob = putBlob(layout, attestation);
    const artifactBlob = putBlob(layout, artifact);
    index.manifests.push(
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...attestationBlob, platform: { architecture: 'unknown', os: 'unknown' }, annotations: { 'vnd.docker.reference.digest': image.digest, 'vnd.docker.reference.type': 'attestation-manifest' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...artifactBlob, artifactType: 'application/spdx+json' },
    );
    digests = { attestation: attestationBlob.digest, sbom: artifactBlob.digest };
  });
  return digests;
}
