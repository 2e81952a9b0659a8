/**
 * Pushing assembled images: every blob each destination lacks (HEAD first, a cross-repository mount when
 * another destination on the same registry has it, else an upload), then the per-arch manifests by
 * digest, then the index by digest (a push of one tag to one repository, unsigned, puts it by that tag
 * alone), and only when all of that has succeeded, the tags: all of them or
 * none (each tag's old target is read first, and put back when a later tag cannot be set). A push that
 * fails or is interrupted on the way leaves every tag where it was. Layers may go before the images are
 * known: each as soon as the cache has it, and a layer being compressed while it is compressed (its blob
 * file read as it grows), to the repositories that get every image.
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import { UsageError, UserError } from '../util/errors.js';
import type { Digest } from '../oci/digest.js';
import { pushBlobs, type AssembledIndex } from '../oci/assemble.js';
import type { LocalImage } from '../oci/image.js';
import type { CarriedArtifact } from '../oci/import.js';
import type { BlobStore } from '../oci/store.js';
import type { Descriptor } from '../oci/types.js';
import { MediaType } from '../oci/media-types.js';
import { fileUploadSource, Interrupted, RegistryClient, RegistryError, type RetryPolicy, type UploadSource } from './client.js';
import { lookupCredentials, type Credentials } from './credentials.js';
import { claimedRepository, CosignWriter, statementFor } from './cosign.js';
import type { SigningKey } from './cosign-keys.js';
import { BlobLocations } from './locations.js';
import { formatReference, isValidTag, parseReference } from './reference.js';

export interface PushOptions {
  /** `--to` values: REGISTRY/REPO, or with `{arch}` for one repository per arch. */
  to: string[];
  tags: string[];
  perArchRepos: boolean;
  /** Move tags that point at another image (a version is published once: without it they are refused). */
  force?: boolean;
  /** When every tag exists already (at this image or another), push nothing: a version is published once. */
  skipPublished?: boolean;
  insecure: boolean;
  /** Given on the command line; otherwise Docker's config is asked per registry. */
  credentials?: Credentials | undefined;
  chunkBytes?: number | undefined;
  concurrency?: number;
  retry?: RetryPolicy;
  /** --timeout and --retry-for (see ClientOptions). */
  timeoutMs?: number | undefined;
  retryForMs?: number | undefined;
  reporter?: PushReporter;
  /** --sign: cosign signatures of the index and each manifest, and these attestations, before the tags move. */
  signing?: PushSigning | undefined;
}

/** What --sign writes besides the signatures. */
export interface PushSigning {
  key: SigningKey;
  /** Statements to attest about a manifest (its arch; null for the index): predicate type and predicate. */
  attestations?: (subject: { digest: Digest; arch: string | null }) => Promise<{ predicateType: string; predicate: unknown }[]>;
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
  /** The artifacts the index carries (index targets only). */
  artifacts: CarriedArtifact[];
}

export interface PushResult {
  index: Digest | null;
  manifests: { arch: string; digest: Digest }[];
  blobs: { uploaded: number; skipped: number; mounted: number; bytesUploaded: number };
  pushed: { repository: string; tags: string[]; digest: Digest }[];
  /** With --sign: per repository and manifest, the signature (`.sig`) and attestation (`.att`) tags and the layers added to them. */
  signed: { repository: string; digest: Digest; tag: string; added: number }[];
  /** With skipPublished: every tag existed, so nothing was pushed; where each points. */
  published?: { reference: string; digest: Digest; thisImage: boolean }[];
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
      ? assembled.images.map((image) => ({ registry: destination.registry, repository: destination.repository.replace(/\{arch\}/g, image.arch), kind: 'arch', images: [image], artifacts: [] }))
      : [{ registry: destination.registry, repository: destination.repository, kind: 'index', images: assembled.images, artifacts: assembled.artifacts }],
  );
}

type BlobOutcome = 'uploaded' | 'skipped' | 'mounted';

/** Remembered repositories a blob is looked for in before it is uploaded (containers/image tries five). */
const MOUNT_CANDIDATES = 3;
/**
 * Blobs sent at a time (HEADs and mounts included), as containers/image copies six layers at a time: a
 * push whose blobs are all in the registry already is a row of small requests, each a round trip.
 */
const DEFAULT_CONCURRENCY = 6;

type Repository = Pick<PushTarget, 'registry' | 'repository'>;

/** A tag of a repository, as a key. */
const tagKey = (target: Repository, tag: string): string => `${target.registry}/${target.repository}:${tag}`;

/**
 * A blob being written by an import (see ImportEvents): read through its temporary file as it grows, until
 * the import names its digest or fails.
 */
class GrowingBlob implements UploadSource {
  digest: Digest | undefined;
  size: number | undefined;
  private written = 0;
  private failure: Error | undefined;
  private waiters: (() => void)[] = [];

  constructor(private readonly handle: FileHandle) {}

  static async open(temporary: string): Promise<GrowingBlob> {
    return new GrowingBlob(await open(temporary, 'r'));
  }

  available(): number {
    return this.written;
  }

  grew(bytes: number): void {
    this.written = Math.max(this.written, bytes);
    this.wake();
  }

  complete(descriptor: Descriptor): void {
    this.written = descriptor.size;
    this.size = descriptor.size;
    this.digest = descriptor.digest;
    this.wake();
  }

  /** The blob's writing failed (a complete blob is uploaded whatever happens to the rest of its import). */
  fail(error: Error): void {
    if (this.digest !== undefined) return;
    this.failure = error;
    this.wake();
  }

  async waitFor(bytes: number): Promise<void> {
    while (!this.failure && this.digest === undefined && this.written < bytes) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.failure) throw this.failure;
  }

  async read(buffer: Buffer, length: number, position: number): Promise<number> {
    return (await this.handle.read(buffer, 0, length, position)).bytesRead;
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** The import of this blob failed: its upload stops quietly (the import's own error is the one reported). */
class SourceGone extends Error {}

/** What has been sent so far, for the result and for a Ctrl-C. */
export interface PushProgress {
  uploaded: number;
  skipped: number;
  mounted: number;
  bytesUploaded: number;
}

/**
 * Sends blobs, each to each repository at most once and a few at a time; the first failure stops those
 * not yet started. A blob whose repository lacks it (HEAD) is mounted from another repository of the same
 * registry known to have it, else uploaded. Growing blobs are uploaded as they grow, outside that limit
 * (at most one per input is written at a time).
 */
class BlobSender {
  private readonly sends = new Map<string, Promise<BlobOutcome>>();
  /** Per registry: digest → a repository that has it, the source of cross-repository mounts. */
  private readonly known = new Map<string, Map<string, string>>();
  private readonly growing = new Set<Promise<unknown>>();
  /** Where blobs are, remembered across pushes (the cache's locations/). */
  private readonly locations = new BlobLocations();
  /** Writes of that memory under way, awaited before the push ends. */
  private readonly remembering = new Set<Promise<void>>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private failure: { error: unknown } | undefined;
  /** The first failure of a send itself (not a stop). */
  private sendFailure: { error: unknown } | undefined;
  readonly progress: PushProgress = { uploaded: 0, skipped: 0, mounted: 0, bytesUploaded: 0 };

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

  /** Uploads a blob while it is written; once complete it counts as sent to `target`. */
  sendGrowing(target: Repository, blob: GrowingBlob): void {
    const client = this.clients.get(target.registry)!;
    const upload = (async () => {
      if (this.failure) throw this.failure.error;
      const digest = await client.uploadBlob(target.repository, blob, (count) => this.counted(count));
      return digest;
    })();
    const tracked = upload.then(
      (digest) => {
        const key = `${target.registry}/${target.repository}@${digest}`;
        if (!this.sends.has(key)) {
          this.sends.set(key, Promise.resolve('uploaded'));
          this.settle(target, digest, 'uploaded', blob.size!);
        }
      },
      (error: unknown) => {
        if (error instanceof SourceGone) return;
        this.failure ??= { error };
        this.sendFailure ??= { error };
      },
    );
    this.growing.add(tracked);
    void tracked.finally(() => this.growing.delete(tracked));
  }

  /** Stops what has not started yet (the push failed elsewhere). */
  stop(error: unknown): void {
    this.failure ??= { error };
  }

  /** The first failure of a send, if any. */
  get failed(): unknown {
    return this.failure?.error;
  }

  /** The first failure of a send itself, if any (not the error that stopped the sends). */
  get ownFailure(): unknown {
    return this.sendFailure?.error;
  }

  /** Waits until nothing is on its way any more. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.sends.values(), ...this.growing]);
    await Promise.allSettled(this.remembering);
  }

  /** Whether no growing blob is being uploaded (its digest is not known to be sent until it is done). */
  get growingIdle(): boolean {
    return this.growing.size === 0;
  }

  /** Waits for the uploads of growing blobs. */
  async growingDone(): Promise<void> {
    while (this.growing.size > 0) await Promise.allSettled([...this.growing]);
  }

  private counted(count: number): void {
    this.progress.bytesUploaded += count;
    this.reporter?.bytes(count);
  }

  private settle(target: Repository, digest: Digest, outcome: BlobOutcome, size: number): BlobOutcome {
    let whereIs = this.known.get(target.registry);
    if (!whereIs) this.known.set(target.registry, (whereIs = new Map()));
    if (outcome !== 'mounted') whereIs.set(digest, target.repository);
    this.remembering.add(this.locations.remember(target.registry, digest, target.repository));
    this.progress[outcome]++;
    this.reporter?.blob(outcome, size);
    return outcome;
  }

  /**
   * The blob from a repository where an earlier push left it (the cache's memory of this registry): a
   * mount asked for at once, which the registry answers with the blob linked (201) or, when the source
   * has it no more, with an upload session (202). Then the candidate is forgotten, the target checked
   * (it may hold the blob already), and the next candidate tried, the session kept for the upload. A
   * candidate this login may not read is skipped. Without candidates: the target checked (HEAD).
   * Answers what happened, or the session to upload into (undefined: none yet).
   */
  private async mountRemembered(client: RegistryClient, target: Repository, descriptor: Descriptor): Promise<'skipped' | 'mounted' | string | undefined> {
    const candidates = (await this.locations.candidates(target.registry, descriptor.digest, target.repository)).slice(0, MOUNT_CANDIDATES);
    if (candidates.length === 0) return (await client.hasBlob(target.repository, descriptor.digest)) ? 'skipped' : undefined;
    let session: string | undefined;
    for (const candidate of candidates) {
      try {
        const opened = await client.mountBlob(target.repository, descriptor.digest, candidate, true);
        if (opened === undefined) return 'mounted';
        session ??= opened;
        await this.locations.forget(target.registry, descriptor.digest, candidate);
        if (await client.hasBlob(target.repository, descriptor.digest)) return 'skipped';
      } catch (error) {
        // A repository this login may not read, gone, or refusing: the blob is uploaded instead.
        if (!(error instanceof RegistryError)) throw error;
      }
    }
    return session ?? ((await client.hasBlob(target.repository, descriptor.digest)) ? 'skipped' : undefined);
  }

  private async inTurn<T>(task: () => Promise<T>): Promise<T> {
    while (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      if (this.failure) throw this.failure.error;
      try {
        return await task();
      } catch (error) {
        this.sendFailure ??= { error };
        throw error;
      }
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
    const from = this.known.get(target.registry)?.get(descriptor.digest);
    let session: string | undefined;
    if (from && from !== target.repository) {
      if (await client.hasBlob(target.repository, descriptor.digest)) return this.settle(target, descriptor.digest, 'skipped', descriptor.size);
      session = await client.mountBlob(target.repository, descriptor.digest, from);
      if (session === undefined) return this.settle(target, descriptor.digest, 'mounted', descriptor.size);
    } else {
      const remembered = await this.mountRemembered(client, target, descriptor);
      if (remembered === 'skipped' || remembered === 'mounted') return this.settle(target, descriptor.digest, remembered, descriptor.size);
      session = remembered;
    }
    const source = await fileUploadSource(store.path(descriptor.digest), descriptor, () => store.missing(descriptor.digest, `uploading ${descriptor.digest}`));
    try {
      await client.uploadBlob(target.repository, source, (count) => this.counted(count), session);
    } catch (error) {
      if (error instanceof RegistryError && error.registryCode === 'DIGEST_INVALID' && !(await store.verify(descriptor.digest))) {
        // A blob file damaged after it was written (a disk fault, a hand edit): no push can use it. One of
        // addonix's cache is removed (the next push makes it again); one of a layout folder is the user's.
        if (!store.owned) throw new UserError('image-invalid', `${store.path(descriptor.digest)} does not match its digest ${descriptor.digest}: the layout is damaged`);
        await rm(store.path(descriptor.digest), { force: true });
        throw new UserError('image-invalid', `${store.path(descriptor.digest)} is damaged (its content does not match its digest ${descriptor.digest}); it was removed: run the push again`);
      }
      throw error;
    } finally {
      await source.close();
    }
    return this.settle(target, descriptor.digest, 'uploaded', descriptor.size);
  }
}

/** Where a tag pointed before the push, to put it back. */
interface TagBefore {
  target: PushTarget;
  tag: string;
  /** null: the tag did not exist. */
  digest: Digest | null;
  bytes?: Buffer;
  mediaType?: string;
}

/**
 * A push under way: registry clients for every destination, set up before any image is read, so that
 * layers can be sent while the inputs are still being read (`sendEarly`, `growingBlob`); `finish` then
 * pushes what is left in the order that keeps tags safe.
 */
export class Push {
  private readonly destinations: Destination[];
  private readonly clients = new Map<string, RegistryClient>();
  private readonly sender: BlobSender;
  /** Per registry, the first repository that gets every image: where layers go before the images are known. */
  private readonly early = new Map<string, Repository>();
  private readonly transfers = new AbortController();
  /** Set once the tags are being set: an interrupt then waits for them (all or none). */
  private tagging = false;
  /**
   * Where the tags of the repositories known from the start point, asked for at once (while the inputs
   * are read) by `registry/repository:tag`; awaited by the push, which would otherwise begin with them.
   */
  private readonly tagsAsked = new Map<string, Promise<Digest | null>>();
  /** Their answers as they come, by the same keys. */
  private readonly tagsAnswered = new Map<string, Digest | null>();

  private constructor(private readonly options: PushOptions) {
    this.destinations = parseDestinations(options);
    this.sender = new BlobSender(this.clients, options.concurrency ?? DEFAULT_CONCURRENCY, options.reporter);
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
          timeoutMs: options.timeoutMs,
          retryForMs: options.retryForMs,
          signal: started.transfers.signal,
          onRetry: (message) => options.reporter?.note(message),
        });
        started.clients.set(destination.registry, client);
      }
      // The per-arch repositories are named once the arches are known (finish).
      if (!destination.perArch) client.addScope(destination.repository, 'pull', 'push');
    }
    for (const destination of started.destinations) {
      if (destination.perArch) continue;
      const client = started.clients.get(destination.registry)!;
      for (const tag of options.tags) {
        const key = tagKey(destination, tag);
        const asked = client.tagDigest(destination.repository, tag);
        // Awaited by the push; a push that fails before then (its inputs) does not crash on it.
        asked.then((digest) => started.tagsAnswered.set(key, digest)).catch(() => undefined);
        started.tagsAsked.set(key, asked);
      }
    }
    return started;
  }

  /**
   * Where a tag points now: asked at the start, or now for a repository named later (per arch). Several
   * are asked at once and awaited in turn: one failing before the others are awaited is no crash.
   */
  private tagDigest(target: PushTarget, tag: string): Promise<Digest | null> {
    const asked = this.tagsAsked.get(tagKey(target, tag)) ?? this.clients.get(target.registry)!.tagDigest(target.repository, tag);
    asked.catch(() => undefined);
    return asked;
  }

  /** What has been sent so far. */
  get progress(): PushProgress {
    return this.sender.progress;
  }

  /**
   * Stops the push (Ctrl-C): nothing more is sent. Answers whether no tag moved; when the tags are being
   * set already, they are set (all of them) before this answers false.
   */
  interrupt(): boolean {
    if (this.tagging) return false;
    this.transfers.abort();
    return true;
  }

  /** A layer already in a store: sent at once to the repositories that will get every image. */
  sendEarly(descriptor: Descriptor, store: BlobStore): void {
    for (const target of this.early.values()) void this.sender.send(target, descriptor, store);
  }

  /** Hooks for an import's events (see InputEvents): growing blobs go up as they are written. */
  importEvents() {
    return {
      known: (descriptor: Descriptor, store: BlobStore) => this.sendEarly(descriptor, store),
      started: (id: number, temporary: string) => {
        if (this.early.size === 0) return;
        // A small blob may be complete and renamed before it can be opened: it then goes up once stored.
        const opening = GrowingBlob.open(temporary).then(
          (blob) => {
            for (const target of this.early.values()) this.sender.sendGrowing(target, blob);
            return blob;
          },
          () => null,
        );
        this.opening.set(id, opening);
      },
      written: (id: number, bytes: number) => void this.opening.get(id)?.then((blob) => blob?.grew(bytes)),
      stored: (id: number, descriptor: Descriptor, store: BlobStore) =>
        void this.opening.get(id)?.then((blob) => (blob ? blob.complete(descriptor) : this.sendEarly(descriptor, store))),
      failed: (id: number) => void this.opening.get(id)?.then((blob) => blob?.fail(new SourceGone())),
    };
  }

  /** Blobs being written, by import id: null when the file was gone before it could be opened. */
  private readonly opening = new Map<number, Promise<GrowingBlob | null>>();

  /**
   * Gives up (reading the images failed): nothing more is sent; returns once nothing is on its way, with
   * the error to report. That is `error`, unless reading failed for a blob missing from the cache and a
   * send had failed on its own first: a send that finds a cached blob damaged removes it, and an import
   * still under way then misses it (the cache seems emptied), which is no news to the user.
   */
  async abandon(error: unknown): Promise<unknown> {
    this.sender.stop(error);
    for (const blob of await Promise.all(this.opening.values())) blob?.fail(new SourceGone());
    await this.sender.settled();
    await this.closeBlobs();
    const own = this.sender.ownFailure;
    return error instanceof UserError && error.code === 'cache-gone' && own !== undefined ? own : error;
  }

  private async closeBlobs(): Promise<void> {
    const opened = await Promise.all(this.opening.values());
    await Promise.all(opened.map((blob) => blob?.close().catch(() => undefined)));
    this.opening.clear();
  }

  /** Pushes the images: the blobs not sent yet, then manifests and the index by digest, then the tags. */
  async finish(assembled: AssembledIndex): Promise<PushResult> {
    try {
      return await this.push(assembled);
    } catch (error) {
      this.sender.stop(error);
      await this.sender.settled();
      if (this.transfers.signal.aborted && !(error instanceof UserError)) throw new Interrupted();
      throw error;
    } finally {
      await this.closeBlobs();
    }
  }

  private async push(assembled: AssembledIndex): Promise<PushResult> {
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
      signed: [],
    };

    // The first repository's blobs go at once, while the tags' answers are awaited below; not when the
    // answers are in and say every tag points at this image already, nor with --skip-published (which
    // may leave everything alone), nor while a growing blob is still going up (it would go twice).
    const answered = targets.every((target) => options.tags.every((tag) => this.tagsAnswered.get(tagKey(target, tag)) === this.tagged(target, assembled)[2]));
    if (!answered && !options.skipPublished && this.sender.growingIdle && targets[0]) {
      for (const { descriptor, store } of pushBlobs(targets[0].images, targets[0].artifacts)) void this.sender.send(targets[0], descriptor, store);
    }

    // 0. Where the tags point now (to put them back if one cannot be moved). A tag that points at what
    // this push would set needs nothing: the registry took that manifest, so it has all it names.
    const before: TagBefore[] = [];
    const asked = new Map(targets.flatMap((target) => options.tags.map((tag) => [tagKey(target, tag), this.tagDigest(target, tag)] as const)));
    for (const target of targets) {
      const client = clients.get(target.registry)!;
      for (const tag of options.tags) {
        const digest = await asked.get(tagKey(target, tag))!;
        const entry: TagBefore = { target, tag, digest };
        if (digest !== null && digest !== this.tagged(target, assembled)[2]) {
          const old = await client.getManifest(target.repository, digest, 4 * 1024 * 1024);
          Object.assign(entry, { bytes: old.bytes, mediaType: old.mediaType || MediaType.ociIndex });
        }
        before.push(entry);
      }
    }
    if (options.skipPublished && before.every((entry) => entry.digest !== null)) {
      this.transfers.abort();
      await this.sender.settled();
      result.published = before.map((entry) => ({
        reference: formatReference({ registry: entry.target.registry, repository: entry.target.repository, tag: entry.tag }),
        digest: entry.digest!,
        thisImage: entry.digest === this.tagged(entry.target, assembled)[2],
      }));
      return result;
    }
    const taken = options.force ? [] : before.filter((entry) => entry.digest !== null && entry.digest !== this.tagged(entry.target, assembled)[2]);
    if (taken.length > 0) {
      // Nothing more is sent: blobs already up stay (they are no tag), the rest is stopped.
      this.transfers.abort();
      await this.sender.settled();
      const names = taken.map((entry) => `${formatReference({ registry: entry.target.registry, repository: entry.target.repository, tag: entry.tag })} points at ${entry.digest}`);
      throw new UserError('exists', `${names.join('; ')}, not at this image (${this.tagged(taken[0]!.target, assembled)[2]}): a version is published once, and the Supervisor updates by version; push under a new tag, or pass --force to move it. No tag was moved`);
    }
    if (before.every((entry) => entry.digest === this.tagged(entry.target, assembled)[2])) {
      await this.sender.settled();
      for (const target of targets) result.blobs.skipped += pushBlobs(target.images, target.artifacts).length;
      for (const target of targets) result.pushed.push({ repository: formatReference({ registry: target.registry, repository: target.repository }), tags: options.tags, digest: this.tagged(target, assembled)[2] });
      options.reporter?.note('every tag points at this image already: nothing to send');
      await this.sign(targets, assembled, result);
      return result;
    }

    // 1. Blobs (those being written go up as they grow), and nothing else on its way before the manifests.
    try {
      await this.sender.growingDone();
      if (this.sender.failed) throw this.sender.failed;
      for (const target of targets) {
        const blobs = pushBlobs(target.images, target.artifacts);
        const outcomes = await Promise.all(blobs.map(({ descriptor, store }) => this.sender.send(target, descriptor, store)));
        outcomes.forEach((outcome, i) => {
          result.blobs[outcome]++;
          if (outcome === 'uploaded') result.blobs.bytesUploaded += blobs[i]!.descriptor.size;
        });
      }
    } finally {
      await this.sender.settled();
    }

    // 2. Manifests by digest, and the artifacts as they were (all of a repository at once), then the
    // index that names them by digest. A PUT of a manifest is idempotent: none is looked for first.
    for (const target of targets) {
      const client = clients.get(target.registry)!;
      await Promise.all([
        ...target.images.map((image) => client.putManifest(target.repository, image.manifestDigest, image.manifestBytes, image.manifest.mediaType)),
        ...target.artifacts.map((artifact) => client.putManifest(target.repository, artifact.descriptor.digest, artifact.bytes, artifact.descriptor.mediaType)),
      ]);
      // The index by digest first, so that every repository has it before any tag moves; one repository
      // of one tag unsigned needs no such step: its tag's PUT below is the index's first.
      const alone = targets.length === 1 && options.tags.length === 1 && !options.signing;
      if (target.kind === 'index' && !alone) await client.putManifest(target.repository, assembled.digest, assembled.bytes, MediaType.ociIndex);
    }

    // 2b. Signatures and attestations (their own tags, sha256-<hex>.sig/.att): a tag moved below points at a signed image.
    await this.sign(targets, assembled, result);

    // 3. Tags, last: until here nothing a user pulls by tag has changed. From here an interrupt waits.
    if (this.transfers.signal.aborted) throw new Interrupted();
    this.tagging = true;
    const moved: TagBefore[] = [];
    for (const entry of before) {
      const { target, tag } = entry;
      const client = clients.get(target.registry)!;
      const [bytes, mediaType, digest] = this.tagged(target, assembled);
      if (entry.digest === digest) continue;
      try {
        await client.putManifest(target.repository, tag, bytes, mediaType);
      } catch (error) {
        throw new UserError(error instanceof UserError ? error.code : 'registry-refused', `${(error as Error).message}
${await this.restore(moved)}`);
      }
      moved.push(entry);
      options.reporter?.note(`${formatReference({ registry: target.registry, repository: target.repository, tag })} -> ${digest}`);
    }
    for (const target of targets) result.pushed.push({ repository: formatReference({ registry: target.registry, repository: target.repository }), tags: options.tags, digest: this.tagged(target, assembled)[2] });
    return result;
  }

  /** Signs the index and every manifest of each target, and attests what the signing options give. */
  private async sign(targets: PushTarget[], assembled: AssembledIndex, result: PushResult): Promise<void> {
    const signing = this.options.signing;
    if (!signing) return;
    for (const target of targets) {
      const writer = new CosignWriter(this.clients.get(target.registry)!, target.repository, signing.key);
      const claimed = claimedRepository(target.registry, target.repository);
      const repository = formatReference({ registry: target.registry, repository: target.repository });
      const subjects = [
        ...(target.kind === 'index' ? [{ digest: assembled.digest, arch: null }] : []),
        ...target.images.map((image) => ({ digest: image.manifestDigest, arch: image.arch as string | null })),
      ];
      for (const subject of subjects) {
        const signed = await writer.sign(claimed, subject.digest);
        result.signed.push({ repository, ...signed });
        const statements = (await signing.attestations?.(subject)) ?? [];
        if (statements.length > 0) {
          const attested = await writer.attest(
            subject.digest,
            statements.map(({ predicateType, predicate }) => ({ predicateType, statement: statementFor(claimed, subject.digest, predicateType, predicate) })),
          );
          result.signed.push({ repository, ...attested });
        }
      }
      this.options.reporter?.note(`${repository}: signed ${subjects.length} manifest${subjects.length === 1 ? '' : 's'} with ${signing.key.file}`);
    }
  }

  private tagged(target: PushTarget, assembled: AssembledIndex): [Buffer, string, Digest] {
    return target.kind === 'index'
      ? [assembled.bytes, MediaType.ociIndex, assembled.digest]
      : [target.images[0]!.manifestBytes, target.images[0]!.manifest.mediaType, target.images[0]!.manifestDigest];
  }

  /** Puts moved tags back where they were; says where every tag of the push points now. */
  private async restore(moved: TagBefore[]): Promise<string> {
    const lines: string[] = [];
    for (const entry of moved) {
      const name = formatReference({ registry: entry.target.registry, repository: entry.target.repository, tag: entry.tag });
      if (entry.digest === null) {
        lines.push(`${name} did not exist before and now points at the new image (delete it by hand if it must not)`);
        continue;
      }
      try {
        await this.clients.get(entry.target.registry)!.putManifest(entry.target.repository, entry.tag, entry.bytes!, entry.mediaType!);
        lines.push(`${name} was put back to ${entry.digest}`);
      } catch (error) {
        lines.push(`${name} could not be put back and now points at the new image, not ${entry.digest} (${(error as Error).message})`);
      }
    }
    return lines.length > 0 ? `tags already moved by this push: ${lines.join('; ')}; no other tag was moved` : 'no tag was moved';
  }

  private isEarly(target: PushTarget): boolean {
    return this.early.get(target.registry)?.repository === target.repository;
  }
}

/** Reads a password from standard input (for --password-stdin), without its trailing newline. */
export async function readPasswordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UserError('usage', '--password-stdin reads the password from a pipe, e.g. echo "$TOKEN" | addonix push ... --password-stdin');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!password) throw new UserError('usage', '--password-stdin: standard input was empty');
  return password;
}
