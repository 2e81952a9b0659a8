/**
 * Pushing assembled images: every blob each destination lacks (HEAD first, a cross-repository mount when
 * another destination on the same registry has it, else an upload), then the per-arch manifests by
 * digest, then the index by digest, and only when all of that has succeeded, the tags. A push that fails
 * on the way leaves every tag where it was. Layers may go before the images are known: each as soon as
 * it is in the local store, to the repositories that get every image.
 */
import { UsageError, UserError } from '../util/errors.js';
import type { Digest } from '../oci/digest.js';
import { pushBlobs, type AssembledIndex } from '../oci/assemble.js';
import type { LocalImage } from '../oci/image.js';
import type { BlobStore } from '../oci/store.js';
import type { Descriptor } from '../oci/types.js';
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

type BlobOutcome = 'uploaded' | 'skipped' | 'mounted';

type Repository = Pick<PushTarget, 'registry' | 'repository'>;

/**
 * Sends blobs, each to each repository at most once and a few at a time; the first failure stops those
 * not yet started. A blob whose repository lacks it (HEAD) is mounted from another repository of the same
 * registry known to have it, else uploaded.
 */
class BlobSender {
  private readonly sends = new Map<string, Promise<BlobOutcome>>();
  /** Per registry: digest → a repository that has it, the source of cross-repository mounts. */
  private readonly known = new Map<string, Map<string, string>>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly clients: Map<string, RegistryClient>,
    private readonly limit: number,
    private readonly reporter: PushReporter | undefined,
  ) {}

  send(target: Repository, descriptor: Descriptor, store: BlobStore): Promise<BlobOutcome> {
    const key = `${target.registry}/${target.repository}@${descriptor.digest}`;
    let sending = this.sends.get(key);
    if (!sending) {
      sending = this.inTurn(() => this.transfer(target, descriptor, store));
      // Awaited by whoever needs the outcome; failing before then is no crash.
      sending.catch(() => undefined);
      this.sends.set(key, sending);
    }
    return sending;
  }

  /** Stops what has not started yet (the push failed elsewhere). */
  stop(error: unknown): void {
    this.failure ??= { error };
  }

  /** Waits until nothing is on its way any more. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.sends.values());
  }

  private async inTurn<T>(task: () => Promise<T>): Promise<T> {
    while (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      if (this.failure) throw this.failure.error;
      return await task();
    } catch (error) {
      this.failure ??= { error };
      throw error;
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async transfer(target: Repository, descriptor: Descriptor, store: BlobStore): Promise<BlobOutcome> {
    const client = this.clients.get(target.registry)!;
    let whereIs = this.known.get(target.registry);
    if (!whereIs) this.known.set(target.registry, (whereIs = new Map()));
    const settle = (outcome: BlobOutcome) => {
      if (outcome !== 'mounted') whereIs.set(descriptor.digest, target.repository);
      this.reporter?.blob(outcome, descriptor.size);
      return outcome;
    };
    if (await client.hasBlob(target.repository, descriptor.digest)) return settle('skipped');
    const from = whereIs.get(descriptor.digest);
    let session: string | undefined;
    if (from && from !== target.repository) {
      session = await client.mountBlob(target.repository, descriptor.digest, from);
      if (session === undefined) return settle('mounted');
    }
    await client.uploadBlob(target.repository, descriptor, store.path(descriptor.digest), (count) => this.reporter?.bytes(count), session);
    return settle('uploaded');
  }
}

/**
 * A push under way: registry clients for every destination, set up before any image is read, so that
 * layers can be sent while the inputs are still being read (`sendEarly`); `finish` then pushes what is
 * left in the order that keeps tags safe.
 */
export class Push {
  private readonly destinations: Destination[];
  private readonly clients = new Map<string, RegistryClient>();
  private readonly sender: BlobSender;
  /** Per registry, the first repository that gets every image: where layers go before the images are known. */
  private readonly early = new Map<string, Repository>();

  private constructor(private readonly options: PushOptions) {
    this.destinations = parseDestinations(options);
    this.sender = new BlobSender(this.clients, options.concurrency ?? 3, options.reporter);
    for (const destination of this.destinations) {
      if (!destination.perArch && !this.early.has(destination.registry)) {
        this.early.set(destination.registry, { registry: destination.registry, repository: destination.repository });
      }
    }
  }

  /** Checks the destinations and makes the clients (credentials come from Docker's config unless given). */
  static async start(options: PushOptions): Promise<Push> {
    const started = new Push(options);
    for (const destination of started.destinations) {
      let client = started.clients.get(destination.registry);
      if (!client) {
        const credentials = options.credentials ?? (await lookupCredentials(destination.registry));
        client = new RegistryClient({
          registry: destination.registry,
          insecure: options.insecure,
          credentials,
          ...(options.chunkBytes ? { chunkBytes: options.chunkBytes } : {}),
          ...(options.retry ? { retry: options.retry } : {}),
          onRetry: (message) => options.reporter?.note(message),
        });
        started.clients.set(destination.registry, client);
      }
      // The per-arch repositories are named once the arches are known (finish).
      if (!destination.perArch) client.addScope(destination.repository, 'pull', 'push');
    }
    return started;
  }

  /** A layer already in a store: sent at once to the repositories that will get every image. */
  sendEarly(descriptor: Descriptor, store: BlobStore): void {
    for (const target of this.early.values()) void this.sender.send(target, descriptor, store);
  }

  /** Gives up (reading the images failed): nothing more is sent; returns once nothing is on its way. */
  async abandon(error: unknown): Promise<void> {
    this.sender.stop(error);
    await this.sender.settled();
  }

  /** Pushes the images: the blobs not sent yet, then manifests and the index by digest, then the tags. */
  async finish(assembled: AssembledIndex): Promise<PushResult> {
    const { options, clients } = this;
    // The repositories that got layers early go first, so that the others can mount from them.
    const targets = planTargets(assembled, this.destinations).sort((a, b) => Number(this.isEarly(b)) - Number(this.isEarly(a)));
    // One token covers every repository of the push: pushing to each, mounting from the others.
    for (const target of targets) clients.get(target.registry)!.addScope(target.repository, 'pull', 'push');
    const result: PushResult = {
      index: assembled.images.length > 0 && targets.some((t) => t.kind === 'index') ? assembled.digest : null,
      manifests: assembled.images.map((image) => ({ arch: image.arch, digest: image.manifestDigest })),
      blobs: { uploaded: 0, skipped: 0, mounted: 0, bytesUploaded: 0 },
      pushed: [],
    };

    // 1. Blobs, and nothing else on its way before the manifests.
    try {
      for (const target of targets) {
        const blobs = pushBlobs(target.images);
        const outcomes = await Promise.all(blobs.map(({ descriptor, store }) => this.sender.send(target, descriptor, store)));
        outcomes.forEach((outcome, i) => {
          result.blobs[outcome]++;
          if (outcome === 'uploaded') result.blobs.bytesUploaded += blobs[i]!.descriptor.size;
        });
      }
    } finally {
      await this.sender.settled();
    }

    // 2. Manifests by digest (all of a repository at once), then the index by digest.
    for (const target of targets) {
      const client = clients.get(target.registry)!;
      await Promise.all(
        target.images.map(async (image) => {
          if (!(await client.hasManifest(target.repository, image.manifestDigest))) {
            await client.putManifest(target.repository, image.manifestDigest, image.manifestBytes, image.manifest.mediaType);
          }
        }),
      );
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
        options.reporter?.note(`${formatReference({ registry: target.registry, repository: target.repository, tag })} -> ${digest}`);
      }
      result.pushed.push({ repository: formatReference({ registry: target.registry, repository: target.repository }), tags: options.tags, digest });
    }
    return result;
  }

  private isEarly(target: PushTarget): boolean {
    return this.early.get(target.registry)?.repository === target.repository;
  }
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
