/**
 * Reading images from a registry: manifests and configs (inspect-image), and layers streamed on demand
 * (diff, verify) — nothing is stored locally.
 */
import { UserError } from '../util/errors.js';
import { MAX_DOCUMENT_BYTES, parseJson } from '../oci/image.js';
import { isIndexType, isManifestType } from '../oci/media-types.js';
import { blobCandidate, listManifests, readManifestEntry, type FetchDocument, type ImageCandidate, type ManifestEntry } from '../oci/scan.js';
import { summarizeImage, type InspectResult } from '../oci/summary.js';
import type { Digest } from '../oci/digest.js';
import { RegistryClient } from './client.js';
import { lookupCredentials, type Credentials } from './credentials.js';
import { formatReference, type Reference } from './reference.js';

export interface RemoteOptions {
  insecure: boolean;
  credentials?: Credentials | undefined;
}

interface RemoteImages {
  client: RegistryClient;
  source: string;
  kind: 'index' | 'manifest';
  digest: Digest;
  mediaType: string;
  annotations: Record<string, string>;
  entries: ManifestEntry[];
}

/** The manifest or index a reference names, and every image manifest in it with its config. */
async function remoteManifests(ref: Reference, options: RemoteOptions): Promise<RemoteImages> {
  const client = new RegistryClient({ registry: ref.registry, insecure: options.insecure, credentials: options.credentials ?? (await lookupCredentials(ref.registry)) });
  client.addScope(ref.repository, 'pull');
  const top = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest', MAX_DOCUMENT_BYTES);
  const source = formatReference(ref);
  const document = parseJson<{ mediaType?: string; annotations?: Record<string, string> }>(top.bytes, `${source}: manifest`);
  const mediaType = document.mediaType ?? top.mediaType;
  const fetch: FetchDocument = async (digest, kind) =>
    kind === 'manifest' ? (await client.getManifest(ref.repository, digest, MAX_DOCUMENT_BYTES)).bytes : client.getBlob(ref.repository, digest, MAX_DOCUMENT_BYTES);
  const common = { client, source, digest: top.digest, mediaType, annotations: document.annotations ?? {} };
  if (isIndexType(mediaType)) {
    return { ...common, kind: 'index', entries: await listManifests(top.bytes, fetch, source) };
  }
  if (!isManifestType(mediaType)) throw new UserError(`${source} is a ${mediaType || 'document of unknown type'}, not an image`);
  const entry = await readManifestEntry({ mediaType, digest: top.digest, size: top.bytes.length }, top.bytes, fetch, source);
  return { ...common, kind: 'manifest', entries: [entry] };
}

export async function inspectRemote(ref: Reference, options: RemoteOptions): Promise<InspectResult> {
  const remote = await remoteManifests(ref, options);
  const images = remote.entries.map((entry) => summarizeImage(entry.manifest, entry.descriptor.digest, entry.config, remote.kind === 'index' ? entry.descriptor.platform : undefined));
  return { source: remote.source, kind: remote.kind, digest: remote.digest, mediaType: remote.mediaType, annotations: remote.annotations, images };
}

/** The images a reference names, their layers streamed from the registry when scanned. */
export async function openRemoteImages(ref: Reference, options: RemoteOptions): Promise<ImageCandidate[]> {
  const remote = await remoteManifests(ref, options);
  if (remote.entries.length === 0) throw new UserError(`${remote.source} holds no image`);
  return remote.entries.map((entry) =>
    blobCandidate(entry, remote.source, undefined, (descriptor) =>
      (async function* () {
        yield* await remote.client.openBlob(ref.repository, descriptor.digest);
      })(),
    ),
  );
}
