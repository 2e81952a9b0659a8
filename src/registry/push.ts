/**
 * Pushing assembled images: every blob each destination lacks (HEAD first, a cross-repository mount when
 * another destination on the same registry has it, else an upload), then the per-arch manifests by
 * digest, then the index by digest, and only when all of that has succeeded, the tags. A push that fails
 * on the way leaves every tag where it was.
 */
import { UsageError, UserError } from '../util/errors.js';
import type { Digest } from '../oci/digest.js';
import { pushBlobs, type AssembledIndex } from '../oci/assemble.js';
import type { LocalImage } from '../oci/image.js';
import { MediaType } from '../oci/media-types.js';
import { RegistryClient, type RetryPolicy } from './client.js';
import { lookupCredentials, type Credentials } from './credentials.js';
import { formatReference, isValidTag, parseReference } from './reference.js';

export interface PushOptions {
  /** `--to` values: REGISTRY/REPO, or with `{arch}` for one repository per arch. */
  to: string[];
  tags: string[];
  perArchRepos: boolean;
  insecure: boolean;
  /** Given on the command line; otherwise Docker's config is asked per registry. */
  credentials?: Credentials | undefined;
  chunkBytes?: number;
  concurrency?: number;
  retry?: RetryPolicy;
  reporter?: PushReporter;
}

export interface PushReporter {
  /** Bytes sent (negative when a failed request's bytes will be sent again). */
  bytes(count: number): void;
  /** A blob is settled: uploaded, skipped (the registry had it) or mounted. */
  blob(outcome: 'uploaded' | 'skipped' | 'mounted', size: number): void;
  /** A step worth a line: retries, tags. */
  note(message: string): void;
}

export interface PushTarget {
  registry: string;
  repository: string;
  /** `index`: all arches and the index; `arch`: one arch's manifest (legacy per-arch naming). */
  kind: 'index' | 'arch';
  images: LocalImage[];
}

export interface PushResult {
  index: Digest | null;
  manifests: { arch: string; digest: Digest }[];
  blobs: { uploaded: number; skipped: number; mounted: number; bytesUploaded: number };
  pushed: { repository: string; tags: string[]; digest: Digest }[];
}

export interface Destination {
  registry: string;
  /** The repository; with `{arch}` in it for the legacy per-arch naming. */
  repository: string;
  perArch: boolean;
}

/** Checks --to, --tag and --per-arch-repos before any work: usage mistakes are reported at once. */
export function parseDestinations(options: Pick<PushOptions, 'to' | 'tags' | 'perArchRepos'>): Destination[] {
  if (options.to.length === 0) throw new UsageError('say where to push with --to REGISTRY/REPO');
  if (options.tags.length === 0) throw new UsageError('give at least one --tag');
  for (const tag of options.tags) if (!isValidTag(tag)) throw new UsageError(`--tag '${tag}' is not a valid tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')`);
  const destinations = options.to.map((to): Destination => {
    const ref = parseReference(to, { allowArchTemplate: true });
    if (ref.tag || ref.digest) throw new UsageError(`--to ${to}: give the repository only; tags go in --tag`);
    const perArch = ref.repository.includes('{arch}');
    if (perArch && !options.perArchRepos) throw new UsageError(`--to ${to} has {arch}: pass --per-arch-repos to push one repository per arch (the legacy naming)`);
    return { registry: ref.registry, repository: ref.repository, perArch };
  });
  if (options.perArchRepos && !destinations.some((d) => d.perArch)) {
    throw new UsageError('--per-arch-repos needs a --to with {arch} in it, e.g. --to ghcr.io/me/{arch}-addon-foo');
  }
  const seen = new Set<string>();
  for (const { registry, repository } of destinations) {
    if (seen.has(`${registry}/${repository}`)) throw new UsageError(`${registry}/${repository} is named twice in --to`);
    seen.add(`${registry}/${repository}`);
  }
  return destinations;
}

/** Where each image goes: the multi-arch repositories get all of them, per-arch ones one each. */
export function planTargets(assembled: AssembledIndex, destinations: Destination[]): PushTarget[] {
  return destinations.flatMap((destination): PushTarget[] =>
    destination.perArch
      ? assembled.images.map((image) => ({ registry: destination.registry, repository: destination.repository.replace(/\{arch\}/g, image.arch), kind: 'arch', images: [image] }))
      : [{ registry: destination.registry, repository: destination.repository, kind: 'index', images: assembled.images }],
  );
}

/** Runs tasks with at most `limit` at once; the first failure stops the rest from starting. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function push(assembled: AssembledIndex, options: PushOptions): Promise<PushResult> {
  const targets = planTargets(assembled, parseDestinations(options));
  const reporter = options.reporter;
  const clients = new Map<string, RegistryClient>();
  for (const target of targets) {
    let client = clients.get(target.registry);
    if (!client) {
      const credentials = options.credentials ?? (await lookupCredentials(target.registry));
      client = new RegistryClient({
        registry: target.registry,
        insecure: options.insecure,
        credentials,
        ...(options.chunkBytes ? { chunkBytes: options.chunkBytes } : {}),
        ...(options.retry ? { retry: options.retry } : {}),
        onRetry: (message) => reporter?.note(message),
      });
      clients.set(target.registry, client);
    }
    // One token covers every repository of the push: pushing to each, mounting from the others.
    client.addScope(target.repository, 'pull', 'push');
  }

  const result: PushResult = {
    index: assembled.images.length > 0 && targets.some((t) => t.kind === 'index') ? assembled.digest : null,
    manifests: assembled.images.map((image) => ({ arch: image.arch, digest: image.manifestDigest })),
    blobs: { uploaded: 0, skipped: 0, mounted: 0, bytesUploaded: 0 },
    pushed: [],
  };
  /** Per registry: digest → a repository that has it, the source of cross-repository mounts. */
  const known = new Map<string, Map<string, string>>();
  const settle = (outcome: 'uploaded' | 'skipped' | 'mounted', size: number) => {
    result.blobs[outcome]++;
    if (outcome === 'uploaded') result.blobs.bytesUploaded += size;
    reporter?.blob(outcome, size);
  };

  // 1. Blobs.
  for (const target of targets) {
    const client = clients.get(target.registry)!;
    const whereIs = known.get(target.registry) ?? new Map<string, string>();
    known.set(target.registry, whereIs);
    await pool(pushBlobs(target.images), options.concurrency ?? 3, async ({ descriptor, store }) => {
      if (await client.hasBlob(target.repository, descriptor.digest)) {
        whereIs.set(descriptor.digest, target.repository);
        settle('skipped', descriptor.size);
        return;
      }
      const from = whereIs.get(descriptor.digest);
      let session: string | undefined;
      if (from && from !== target.repository) {
        session = await client.mountBlob(target.repository, descriptor.digest, from);
        if (session === undefined) {
          settle('mounted', descriptor.size);
          return;
        }
      }
      await client.uploadBlob(target.repository, descriptor, (start, end) => store.open(descriptor.digest, start, end), (count) => reporter?.bytes(count), session);
      whereIs.set(descriptor.digest, target.repository);
      settle('uploaded', descriptor.size);
    });
  }

  // 2. Manifests by digest, then the index by digest.
  for (const target of targets) {
    const client = clients.get(target.registry)!;
    for (const image of target.images) {
      if (!(await client.hasManifest(target.repository, image.manifestDigest))) {
        await client.putManifest(target.repository, image.manifestDigest, image.manifestBytes, image.manifest.mediaType);
      }
    }
    if (target.kind === 'index' && !(await client.hasManifest(target.repository, assembled.digest))) {
      await client.putManifest(target.repository, assembled.digest, assembled.bytes, MediaType.ociIndex);
    }
  }

  // 3. Tags, last: until here nothing a user pulls by tag has changed.
  for (const target of targets) {
    const client = clients.get(target.registry)!;
    const [bytes, mediaType, digest] =
      target.kind === 'index'
        ? [assembled.bytes, MediaType.ociIndex, assembled.digest]
        : [target.images[0]!.manifestBytes, target.images[0]!.manifest.mediaType, target.images[0]!.manifestDigest];
    for (const tag of options.tags) {
      await client.putManifest(target.repository, tag, bytes, mediaType);
      reporter?.note(`${formatReference({ registry: target.registry, repository: target.repository, tag })} -> ${digest}`);
    }
    result.pushed.push({ repository: formatReference({ registry: target.registry, repository: target.repository }), tags: options.tags, digest });
  }
  return result;
}

/** Reads a password from standard input (for --password-stdin), without its trailing newline. */
export async function readPasswordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UserError('--password-stdin reads the password from a pipe, e.g. echo "$TOKEN" | addonix push ... --password-stdin');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!password) throw new UserError('--password-stdin: standard input was empty');
  return password;
}
