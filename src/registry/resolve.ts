/**
 * Resolving an image reference to the digest of one platform's image manifest, as `docker pull
 * --platform` does: an index gives the entry whose platform matches; a single manifest must be for that
 * platform itself (its config says). Only manifests and configs are read, never layers.
 */
import { UserError } from '../util/errors.js';
import type { Digest } from '../oci/digest.js';
import { checkConfig, MAX_DOCUMENT_BYTES, parseJson } from '../oci/image.js';
import { isIndexType, isManifestType } from '../oci/media-types.js';
import { formatPlatform } from '../oci/platform.js';
import { imageEntries } from '../oci/index-walk.js';
import type { ImageManifest, Platform } from '../oci/types.js';
import { RegistryClient } from './client.js';
import { lookupCredentials, type Credentials } from './credentials.js';
import { formatReference, type Reference } from './reference.js';

export interface PlatformManifest {
  /** The digest of the platform's image manifest (what `imageName@digest` pulls). */
  digest: Digest;
  mediaType: string;
  /** The top-level document the reference names: an index (or Docker manifest list), or the manifest itself. */
  kind: 'index' | 'manifest';
  /** The digest of that top-level document. */
  topDigest: Digest;
}

/** The variant an image without one means: arm64 images are v8 (the OCI image-spec's platform table). */
function normalizedVariant(platform: { architecture: string; variant?: string | undefined }): string {
  if (platform.variant) return platform.variant;
  return platform.architecture === 'arm64' ? 'v8' : '';
}

/** Whether a platform an image or index entry declares is the one wanted. */
export function platformMatches(found: Partial<Platform> | undefined, wanted: Platform): boolean {
  if (!found || found.os !== wanted.os || found.architecture !== wanted.architecture) return false;
  return normalizedVariant({ architecture: found.architecture, variant: found.variant }) === normalizedVariant(wanted);
}

/**
 * Reads a reference once and answers for several platforms: one request for the top document, one more
 * per platform of a single-arch image (its config).
 */
export class PlatformResolver {
  private readonly client: RegistryClient;
  private top: Promise<{ bytes: Buffer; mediaType: string; digest: Digest }> | undefined;

  constructor(
    readonly ref: Reference,
    options: { insecure: boolean; credentials?: Credentials | undefined },
  ) {
    this.client = new RegistryClient({ registry: ref.registry, insecure: options.insecure, credentials: options.credentials });
    this.client.addScope(ref.repository, 'pull');
  }

  static async create(ref: Reference, options: { insecure: boolean }): Promise<PlatformResolver> {
    return new PlatformResolver(ref, { insecure: options.insecure, credentials: await lookupCredentials(ref.registry) });
  }

  private topDocument() {
    this.top ??= this.client.getManifest(this.ref.repository, this.ref.digest ?? this.ref.tag ?? 'latest', MAX_DOCUMENT_BYTES);
    return this.top;
  }

  /** The manifest for `platform`; a UserError (RegistryError for what the registry said) otherwise. */
  async resolve(platform: Platform): Promise<PlatformManifest> {
    const source = formatReference(this.ref);
    const top = await this.topDocument();
    const document = parseJson<{ mediaType?: string }>(top.bytes, `${source}: manifest`);
    const mediaType = document.mediaType ?? top.mediaType;
    if (isIndexType(mediaType)) {
      // Nested indexes are followed as every other reader follows them.
      const entries = await imageEntries(top.bytes, async (digest) => (await this.client.getManifest(this.ref.repository, digest, MAX_DOCUMENT_BYTES)).bytes, source);
      const match = entries.find((entry) => platformMatches(entry.platform, platform));
      if (!match) {
        const offered = entries.map((entry) => (entry.platform ? formatPlatform(entry.platform) : '(no platform)'));
        throw new UserError('platform-missing', `${source} has no image for ${formatPlatform(platform)}; it offers ${offered.length > 0 ? offered.join(', ') : 'no images'}`);
      }
      return { digest: match.digest, mediaType: match.mediaType, kind: 'index', topDigest: top.digest };
    }
    if (!isManifestType(mediaType)) throw new UserError('image-unsupported', `${source} is a ${mediaType || 'document of unknown type'}, not an image`);
    const manifest = document as ImageManifest;
    const config = checkConfig(parseJson(await this.client.getBlob(this.ref.repository, manifest.config.digest, MAX_DOCUMENT_BYTES), `${source}: config`), source);
    const found = { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
    // A 32-bit ARM image that names no variant could be either; take it at its word.
    const matches = platformMatches(found, platform) || (!config.variant && config.os === platform.os && config.architecture === platform.architecture && platform.architecture === 'arm');
    if (!matches) {
      throw new UserError('platform-missing', `${source} is a single-arch image for ${formatPlatform(found)}, not ${formatPlatform(platform)}`);
    }
    return { digest: top.digest, mediaType, kind: 'manifest', topDigest: top.digest };
  }

  /** The image config (its `config`: Entrypoint, Env, ...) of the manifest `digest` resolve gave. */
  async imageConfig(digest: Digest): Promise<Record<string, unknown>> {
    const source = `${formatReference({ registry: this.ref.registry, repository: this.ref.repository })}@${digest}`;
    const manifest = parseJson<ImageManifest>((await this.client.getManifest(this.ref.repository, digest, MAX_DOCUMENT_BYTES)).bytes, `${source}: manifest`);
    const config = checkConfig(parseJson(await this.client.getBlob(this.ref.repository, manifest.config.digest, MAX_DOCUMENT_BYTES), `${source}: config`), source);
    return ((config as { config?: Record<string, unknown> }).config ?? {}) as Record<string, unknown>;
  }
}
