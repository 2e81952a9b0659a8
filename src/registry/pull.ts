/** Reading an image's manifests and configs from a registry (never its layers), for inspect-image. */
import { UserError } from '../util/errors.js';
import { checkConfig, MAX_DOCUMENT_BYTES, parseJson } from '../oci/image.js';
import { isIndexType, isManifestType } from '../oci/media-types.js';
import { summarizeImage, type InspectResult } from '../oci/summary.js';
import type { ImageIndex, ImageManifest } from '../oci/types.js';
import { RegistryClient } from './client.js';
import { lookupCredentials, type Credentials } from './credentials.js';
import { formatReference, type Reference } from './reference.js';

export async function inspectRemote(ref: Reference, options: { insecure: boolean; credentials?: Credentials | undefined }): Promise<InspectResult> {
  const client = new RegistryClient({ registry: ref.registry, insecure: options.insecure, credentials: options.credentials ?? (await lookupCredentials(ref.registry)) });
  client.addScope(ref.repository, 'pull');
  const top = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest', MAX_DOCUMENT_BYTES);
  const source = formatReference(ref);
  const document = parseJson<{ mediaType?: string; manifests?: unknown; config?: unknown }>(top.bytes, `${source}: manifest`);
  const mediaType = document.mediaType ?? top.mediaType;
  const readImage = async (digest: typeof top.digest, bytes: Buffer, platform?: ImageIndex['manifests'][number]['platform']) => {
    const manifest = parseJson<ImageManifest>(bytes, `${source}: manifest ${digest}`);
    const config = checkConfig(parseJson(await client.getBlob(ref.repository, manifest.config.digest, MAX_DOCUMENT_BYTES), `${source}: config`), source);
    return summarizeImage(manifest, digest, config, platform);
  };
  if (isIndexType(mediaType)) {
    const index = document as ImageIndex;
    const images = [];
    for (const descriptor of index.manifests ?? []) {
      if (!isManifestType(descriptor.mediaType) || descriptor.platform?.os === 'unknown') continue;
      const child = await client.getManifest(ref.repository, descriptor.digest, MAX_DOCUMENT_BYTES);
      images.push(await readImage(descriptor.digest, child.bytes, descriptor.platform));
    }
    return { source, kind: 'index', digest: top.digest, mediaType, annotations: index.annotations ?? {}, images };
  }
  if (!isManifestType(mediaType)) throw new UserError(`${source} is a ${mediaType || 'document of unknown type'}, not an image`);
  const image = await readImage(top.digest, top.bytes);
  return { source, kind: 'manifest', digest: top.digest, mediaType, annotations: (document as ImageManifest).annotations ?? {}, images: [image] };
}
