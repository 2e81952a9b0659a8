/**
 * Where blobs are, per registry: the repositories a push found or put each blob in, kept in addonix's
 * cache (`locations/<registry>/<digest hex>`), as containers/image's blob-info cache keeps them for
 * skopeo and Podman. A later push to another repository of the same registry mounts a blob from one of
 * them (checked there first) instead of uploading it again. The most recent few locations of each blob
 * are kept; one that turns out not to have the blob is forgotten. Losing the folder loses nothing but
 * the mounts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { cacheDir } from '../oci/cache.js';
import { digestHex, type Digest } from '../oci/digest.js';

/** Locations kept per blob and registry (containers/image tries five). */
const KEPT = 5;
/** How long a location counts as just seen. */
const FRESH_MS = 3600_000;

/** Repository → when the blob was last seen there (ms since the epoch). */
type Seen = Record<string, number>;

export class BlobLocations {
  constructor(private readonly dir: string = path.join(cacheDir(), 'locations')) {}

  private file(registry: string, digest: Digest): string {
    return path.join(this.dir, registry.replace(/[^A-Za-z0-9._-]/g, '_'), digestHex(digest));
  }

  private async read(registry: string, digest: Digest): Promise<Seen> {
    try {
      const parsed = JSON.parse(await readFile(this.file(registry, digest), 'utf8')) as unknown;
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Seen) : {};
    } catch {
      return {};
    }
  }

  /** Repositories of the registry that had the blob, most recently seen first (`except` left out). */
  async candidates(registry: string, digest: Digest, except: string): Promise<string[]> {
    const seen = await this.read(registry, digest);
    return Object.entries(seen)
      .filter(([repository, when]) => repository !== except && typeof when === 'number')
      .sort((a, b) => b[1] - a[1])
      .map(([repository]) => repository);
  }

  /**
   * The blob is in the repository now (written only when not known there since the last hour, so that a
   * push finding its blobs in place writes nothing). Failing to write is no failure of the push: a
   * mount is lost, no more.
   */
  async remember(registry: string, digest: Digest, repository: string): Promise<void> {
    const seen = await this.read(registry, digest);
    if (Date.now() - (seen[repository] ?? 0) < FRESH_MS) return;
    seen[repository] = Date.now();
    await this.write(registry, digest, seen);
  }

  /** The blob is not (or no longer) in the repository. */
  async forget(registry: string, digest: Digest, repository: string): Promise<void> {
    const seen = await this.read(registry, digest);
    if (!(repository in seen)) return;
    delete seen[repository];
    await this.write(registry, digest, seen);
  }

  private async write(registry: string, digest: Digest, seen: Seen): Promise<void> {
    const kept = Object.fromEntries(Object.entries(seen).sort((a, b) => b[1] - a[1]).slice(0, KEPT));
    await writeFileAtomic(this.file(registry, digest), JSON.stringify(kept)).catch(() => undefined);
  }
}
