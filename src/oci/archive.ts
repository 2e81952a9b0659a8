/**
 * The docker-archive source (docker save, legacy or Docker >= 25; dockerTools' tarball, its gzip form, a
 * streamLayeredImage script's output) and the OCI layout as a tarball: one streaming pass whatever the
 * order of the entries. Layers are handed to the consumer as they stream past, small documents are kept,
 * links are recorded; at the end `index.json` (real manifests; Docker >= 25 has both) or `manifest.json`
 * says which image is which, and every digest a path names is checked.
 *
 * What an image archive may hold is decided here: files, folders and links whose names stay inside the
 * archive, each path once; large entries that are not layers are refused.
 */
import path from 'node:path';
import { UserError } from '../util/errors.js';
import { showName, textToBytes } from '../util/names.js';
import { bufferChunks, peek } from './bytes.js';
import { looksLikeTar, sniffCompression } from './compression.js';
import { digestHex, sha256, type Digest } from './digest.js';
import { checkConfig, MAX_DOCUMENT_BYTES, parseJson } from './image.js';
import { walkIndex, type FetchDocument } from './index-walk.js';
import { checkLayers, type ImageSource, type LayerConsumer, type LayerFacts, type SourceContents, type SourceImage } from './model.js';
import type { TarEntry } from './tar.js';
import { Annotation, type Descriptor, type DockerArchiveEntry } from './types.js';

/** Links followed from one path before it counts as a loop (or an archive made to waste time). */
const MAX_LINK_HOPS = 16;

/** `blobs/sha256/<hex>` for a digest: where layouts and Docker >= 25 archives keep a blob. */
export function blobPath(digest: Digest): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

/** The digest an archive path claims: `blobs/sha256/<hex>` (a blob), `<hex>/layer.tar` (nixpkgs names layers by diff_id). */
function claimedDigest(entryPath: string): Digest | undefined {
  const match = /^(?:blobs\/sha256\/([a-f0-9]{64})|([a-f0-9]{64})\/layer\.tar)$/.exec(entryPath);
  const hex = match?.[1] ?? match?.[2];
  return hex ? `sha256:${hex}` : undefined;
}

/** A path inside the archive, normalized (no `./`, no trailing `/`); refuses `..`, absolute or NUL. */
function archivePath(name: string, what: string): string {
  if (name === '') throw new UserError('image-invalid', `${what}: refusing an entry without a name`);
  if (name.includes('\0')) throw new UserError('image-invalid', `${what}: refusing entry ${showName(name)}: a NUL in its name`);
  if (name.startsWith('/')) throw new UserError('image-invalid', `${what}: refusing entry ${showName(name)}: absolute paths are not allowed in an image archive`);
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new UserError('image-invalid', `${what}: refusing entry ${showName(name)}: '..' would point outside the archive`);
  return parts.join('/');
}

/** Where a link inside an image archive points, as an archive path; refuses links that leave the archive. */
function linkTarget(entry: TarEntry, from: string, what: string): string {
  const target = entry.linkpath ?? '';
  if (target === '') throw new UserError('image-invalid', `${what}: refusing ${entry.type} ${showName(from)}: it has no target`);
  const joined = entry.type === 'symlink' ? path.posix.normalize(path.posix.join(path.posix.dirname(from), target)) : target;
  if (target.startsWith('/') || joined.startsWith('..')) {
    throw new UserError('image-invalid', `${what}: refusing ${entry.type} ${showName(from)} -> ${showName(target)}: it points outside the archive`);
  }
  return archivePath(joined, what);
}

/** Something read from an archive's entries: the small documents, the layers, the links between them. */
interface ArchiveContents<L> {
  documents: Map<string, Buffer>;
  layers: Map<string, L>;
  links: Map<string, string>;
}

/**
 * An image archive read as a tar: `entries` gives its entries (once, in one pass); `again` gives them
 * anew, for reading one layer again later (`openLayer`).
 */
export class ArchiveSource implements ImageSource {
  constructor(
    readonly name: string,
    private readonly entries: () => AsyncIterable<TarEntry>,
    private readonly transient: boolean,
    /** After a failed read: a better explanation, when there is one (a stream script's own failure). */
    private readonly explain?: () => Promise<UserError | undefined>,
    /** The archive's file when it is a plain tar (its layers can be read where they lie). */
    private readonly file?: string,
  ) {}

  async open<L extends LayerFacts>(consumer: LayerConsumer<L>): Promise<SourceContents<L>> {
    try {
      const contents = await this.read(consumer);
      const found = await this.images(contents, consumer);
      if (found.images.length === 0) throw new UserError('image-invalid', `${this.name} holds no image`);
      return found;
    } catch (error) {
      throw (await this.explain?.()) ?? error;
    }
  }

  private async read<L extends LayerFacts>(consumer: LayerConsumer<L>): Promise<ArchiveContents<L>> {
    const what = this.name;
    const contents: ArchiveContents<L> = { documents: new Map(), layers: new Map(), links: new Map() };
    const seen = new Set<string>();
    for await (const entry of this.entries()) {
      // Folders name nothing; a pax global header and a volume label describe the archive, not a file.
      if (entry.type === 'directory' || entry.type === 'global' || entry.typeFlag === 'V') continue;
      const at = archivePath(entry.name, what);
      if (seen.has(at)) throw new UserError('image-invalid', `${what}: the archive holds ${showName(at)} twice; which one is meant is ambiguous (the archive is damaged or hostile)`);
      seen.add(at);
      if (entry.type === 'symlink' || entry.type === 'hardlink') {
        contents.links.set(at, linkTarget(entry, at, what));
        continue;
      }
      if (entry.type !== 'file') throw new UserError('image-invalid', `${what}: refusing entry ${showName(at)}: an image archive holds only files, folders and links`);
      const { head, all } = await peek(entry.body(), 512);
      if (looksLikeTar(head) || sniffCompression(head) !== 'none') {
        const claimed = claimedDigest(at);
        const range = this.file !== undefined && entry.offset !== undefined ? { range: { file: this.file, offset: entry.offset, size: entry.size } } : {};
        const layer = await consumer.layer({ where: `${what}: ${showName(at)}`, entry: at, ...(claimed ? { claimed } : {}), ...range, open: () => all, transient: this.transient });
        contents.layers.set(at, layer);
      } else if (entry.size <= MAX_DOCUMENT_BYTES) {
        const chunks: Buffer[] = [];
        // Copied as read (a transient chunk is gone once the next is read), so one chunk needs no concat.
        for await (const chunk of all) chunks.push(Buffer.from(chunk));
        contents.documents.set(at, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      } else {
        throw new UserError('image-invalid', `${what}: entry ${showName(at)} (${entry.size} bytes) is neither a layer nor a JSON document`);
      }
    }
    return contents;
  }

  private resolve(contents: ArchiveContents<unknown>, entryPath: string): string {
    let current = archivePath(entryPath, this.name);
    for (let hops = 0; contents.links.has(current); hops++) {
      if (hops > MAX_LINK_HOPS) throw new UserError('image-invalid', `${this.name}: ${showName(entryPath)} is a chain of links that does not end`);
      current = contents.links.get(current)!;
    }
    return current;
  }

  /** The document at a path (links followed), checked against the digest its path names. */
  private document(contents: ArchiveContents<unknown>, entryPath: string, purpose: string): Buffer {
    const resolved = this.resolve(contents, entryPath);
    const found = contents.documents.get(resolved);
    if (!found) throw new UserError('image-invalid', `${this.name}: ${purpose} ${showName(entryPath)} is not in the archive`);
    const named = /^blobs\/sha256\/[a-f0-9]{64}$/.test(resolved) ? claimedDigest(resolved) : undefined;
    if (named && sha256(found) !== named) throw new UserError('image-invalid', `${this.name}: ${showName(entryPath)} does not match its digest ${named}`);
    return found;
  }

  private async images<L extends LayerFacts>(contents: ArchiveContents<L>, consumer: LayerConsumer<L>): Promise<SourceContents<L>> {
    const what = this.name;
    const layerAt = async (entryPath: string, purpose: string): Promise<{ layer: L; entry: string }> => {
      const resolved = this.resolve(contents, entryPath);
      let layer = contents.layers.get(resolved);
      if (layer === undefined) {
        // A small layer that did not look like one (an old tar header without the ustar magic) was kept as a document.
        const bytes = contents.documents.get(resolved);
        if (!bytes) throw new UserError('image-invalid', `${what}: ${purpose} ${showName(entryPath)} is not in the archive`);
        layer = await consumer.layer({ where: `${what}: ${showName(resolved)}`, entry: resolved, open: () => bufferChunks(bytes), transient: false });
        contents.layers.set(resolved, layer);
      }
      const named = resolved.startsWith('blobs/') ? claimedDigest(resolved) : undefined;
      if (named && layer.digest !== undefined && layer.digest !== named) throw new UserError('image-invalid', `${what}: ${showName(entryPath)} does not match its digest ${named} (it hashes to ${layer.digest})`);
      return { layer, entry: resolved };
    };
    const image = (fields: Omit<SourceImage<L>, 'source' | 'layers' | 'openLayer' | 'layerCount'>, found: { layer: L; entry: string }[], layerNames: string[]): SourceImage<L> => {
      const made: SourceImage<L> = {
        ...fields,
        source: what,
        layerCount: found.length,
        layers: async () => found.map((f) => f.layer),
        openLayer: (i) => this.openEntry(found[i]!.entry),
        layerEntries: found.map((f) => f.entry),
      };
      checkLayers(made, found.map((f) => f.layer), layerNames);
      return made;
    };

    // manifest.json: the docker-archive's own list, and the names (RepoTags) of its images by config.
    const listed = contents.documents.get('manifest.json');
    const dockerEntries: DockerArchiveEntry[] = [];
    const namesByConfig = new Map<string, string[]>();
    if (listed) {
      const parsed = parseJson<DockerArchiveEntry[]>(listed, `${what}: manifest.json`);
      if (!Array.isArray(parsed) || parsed.length === 0) throw new UserError('image-invalid', `${what}: manifest.json lists no image`);
      for (const entry of parsed) {
        if (typeof entry?.Config !== 'string' || !Array.isArray(entry.Layers) || !entry.Layers.every((l) => typeof l === 'string')) {
          throw new UserError('image-invalid', `${what}: manifest.json has an entry without Config or Layers`);
        }
        if (entry.RepoTags != null && (!Array.isArray(entry.RepoTags) || !entry.RepoTags.every((t) => typeof t === 'string'))) {
          throw new UserError('image-invalid', `${what}: manifest.json has RepoTags that are not a list of names`);
        }
        dockerEntries.push(entry);
        namesByConfig.set(sha256(this.document(contents, textToBytes(entry.Config), 'manifest.json names the config')), entry.RepoTags ?? []);
      }
    }

    const images: SourceImage<L>[] = [];
    const index = contents.documents.get('index.json');
    if (index) {
      const fetch: FetchDocument = async (digest) => this.document(contents, blobPath(digest), `blob ${digest}, named by the index,`);
      const walked = await walkIndex(index, fetch, what);
      // An artifact's blobs are small documents (attestations, signatures), kept in memory as the archive passed.
      const artifacts = walked.artifacts.map((artifact) => {
        const blobs = new Map<Digest, Buffer>();
        for (const blob of artifact.blobs) {
          if (contents.layers.has(blobPath(blob.digest))) {
            throw new UserError('image-unsupported', `${what}: the artifact ${artifact.descriptor.digest} names ${blob.digest}, a blob that reads as a layer; addonix carries artifacts of archives only when their blobs are documents (of at most ${MAX_DOCUMENT_BYTES} bytes)`);
          }
          blobs.set(blob.digest, this.document(contents, blobPath(blob.digest), `blob ${blob.digest}, named by the artifact ${artifact.descriptor.digest},`));
        }
        return { ...artifact, openBlob: (descriptor: Descriptor) => bufferChunks(blobs.get(descriptor.digest)!) };
      });
      for (const entry of walked.images) {
        const descriptor = entry.descriptor;
        const found = [];
        for (const layer of entry.manifest.layers) found.push(await layerAt(blobPath(layer.digest), 'the layer'));
        const refName = descriptor.annotations?.[Annotation.refName];
        images.push(
          image(
            {
              names: namesByConfig.get(entry.manifest.config.digest) ?? (refName ? [refName] : []),
              manifest: { digest: descriptor.digest, mediaType: entry.manifest.mediaType, bytes: entry.bytes, document: entry.manifest },
              indexPlatform: descriptor.platform,
              configBytes: entry.configBytes,
              configDigest: entry.manifest.config.digest,
              config: entry.config,
            },
            found,
            entry.manifest.layers.map((l) => l.digest),
          ),
        );
      }
      return { images, artifacts };
    }
    if (!listed) throw new UserError('image-invalid', `${what} holds neither manifest.json (docker-archive) nor index.json (OCI layout): it is not an image archive`);
    for (const entry of dockerEntries) {
      const configBytes = this.document(contents, textToBytes(entry.Config), 'manifest.json names the config');
      const config = checkConfig(parseJson(configBytes, `${what}: ${entry.Config}`), what);
      const found = [];
      for (const layerPath of entry.Layers) found.push(await layerAt(textToBytes(layerPath), 'manifest.json names the layer'));
      images.push(image({ names: entry.RepoTags ?? [], manifest: null, indexPlatform: undefined, configBytes, configDigest: sha256(configBytes), config }, found, entry.Layers));
    }
    return { images, artifacts: [] };
  }

  /** The bytes of one entry (a path LayerHandle.entry gave), from a fresh pass over the archive. */
  async *openEntry(entryPath: string): AsyncGenerator<Buffer> {
    for await (const entry of this.entries()) {
      if (entry.type === 'file' && archivePath(entry.name, this.name) === entryPath) {
        yield* entry.body();
        return;
      }
    }
    throw new UserError('image-invalid', `${this.name}: ${showName(entryPath)} is no longer in the archive (did it change since it was read?)`);
  }
}
