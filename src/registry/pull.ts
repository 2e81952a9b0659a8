/**
 * The registry as an image source (the model's implementation for `REGISTRY/REPO[:TAG|@DIGEST]`):
 * manifests and configs read at once, layers streamed on demand when a consumer asks (diff, verify);
 * nothing is stored locally. inspect-image reads documents only.
 */
import { UserError } from '../util/errors.js';
import { MAX_DOCUMENT_BYTES, parseJson } from '../oci/image.js';
import { isIndexType, isManifestType } from '../oci/media-types.js';
import { readManifestAt, walkIndex, type FetchDocument, type IndexedArtifact, type IndexedManifest } from '../oci/index-walk.js';
import { blobImage, type ImageSource, type LayerConsumer, type LayerFacts, type SourceContents } from '../oci/model.js';
import { summarizeArtifact, summarizeImage, type InspectResult } from '../oci/summary.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import { RegistryClient, type ClientOptions } from './client.js';
import { lookupCredentials, type Credentials } from './credentials.js';
import { formatReference, type Reference } from './reference.js';

export interface RemoteOptions {
  insecure: boolean;
  credentials?: Credentials | undefined;
  /** Request timeout and retries (see ClientOptions). */
  client?: Pick<ClientOptions, 'timeoutMs' | 'retryForMs'> | undefined;
}

/** The top document a reference names and every image manifest in it, with its config. */
interface RemoteImages {
  client: RegistryClient;
  source: string;
  kind: 'index' | 'manifest';
  digest: Digest;
  mediaType: string;
  annotations: Record<string, string>;
  entries: IndexedManifest[];
  artifacts: IndexedArtifact[];
}

async function remoteManifests(ref: Reference, options: RemoteOptions): Promise<RemoteImages> {
  const client = new RegistryClient({ registry: ref.registry, insecure: options.insecure, credentials: options.credentials ?? (await lookupCredentials(ref.registry)), ...options.client });
  client.addScope(ref.repository, 'pull');
  const top = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest', MAX_DOCUMENT_BYTES);
  const source = formatReference(ref);
  const document = parseJson<{ mediaType?: string; annotations?: Record<string, string> }>(top.bytes, `${source}: manifest`);
  const mediaType = document.mediaType ?? top.mediaType;
  const fetch: FetchDocument = async (digest, kind) =>
    kind === 'manifest' ? (await client.getManifest(ref.repository, digest, MAX_DOCUMENT_BYTES)).bytes : client.getBlob(ref.repository, digest, MAX_DOCUMENT_BYTES);
  const common = { client, source, digest: top.digest, mediaType, annotations: document.annotations ?? {} };
  if (isIndexType(mediaType)) {
    const { images, artifacts } = await walkIndex(top.bytes, fetch, source);
    return { ...common, kind: 'index', entries: images, artifacts };
  }
  if (!isManifestType(mediaType)) throw new UserError('image-unsupported', `${source} is a ${mediaType || 'document of unknown type'}, not an image`);
  return { ...common, kind: 'manifest', entries: [await readManifestAt({ mediaType, digest: top.digest, size: top.bytes.length }, fetch, source, top.bytes)], artifacts: [] };
}

export async function inspectRemote(ref: Reference, options: RemoteOptions): Promise<InspectResult> {
  const remote = await remoteManifests(ref, options);
  const images = remote.entries.map((entry) => summarizeImage(entry.manifest, entry.descriptor.digest, entry.config, remote.kind === 'index' ? entry.descriptor.platform : undefined));
  return { source: remote.source, kind: remote.kind, digest: remote.digest, mediaType: remote.mediaType, annotations: remote.annotations, images, artifacts: remote.artifacts.map((artifact) => summarizeArtifact(artifact.descriptor)) };
}

/** A registry reference as an image source. */
export class RegistrySource implements ImageSource {
  readonly name: string;

  constructor(
    private readonly ref: Reference,
    private readonly options: RemoteOptions,
  ) {
    this.name = formatReference(ref);
  }

  async open<L extends LayerFacts>(consumer: LayerConsumer<L>): Promise<SourceContents<L>> {
    const remote = await remoteManifests(this.ref, this.options);
    if (remote.entries.length === 0) throw new UserError('image-invalid', `${remote.source} holds no image`);
    const repository = this.ref.repository;
    const openBlob = (descriptor: Descriptor) =>
      (async function* () {
        yield* await remote.client.openBlob(repository, descriptor.digest, descriptor.size);
      })();
    return {
      images: remote.entries.map((entry) => blobImage(entry, remote.source, [], consumer, openBlob)),
      artifacts: remote.artifacts.map((artifact) => ({ ...artifact, openBlob })),
    };
  }
}
