/**
 * An OCI Distribution client on Node's own fetch: authentication (anonymous, basic, bearer tokens with
 * refresh), retries with backoff on 408/429/5xx and dropped connections, blob existence, cross-repository
 * mounts, monolithic and chunked uploads (resumed from the registry's Range), manifests.
 *
 * Registry 2.8 quirks handled here (BRIEF §7): blob PUT/PATCH need `Content-Type:
 * application/octet-stream`; Location may be relative and already carry a query; an index comes back only
 * with an OCI Accept header.
 */
import { open, type FileHandle } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError, type ErrorCode } from '../util/errors.js';
import { isDigest, sha256, type Digest } from '../oci/digest.js';
import { MANIFEST_ACCEPT } from '../oci/media-types.js';
import type { Descriptor } from '../oci/types.js';
import type { Credentials } from './credentials.js';
import { registryBaseUrl } from './reference.js';

export interface RetryPolicy {
  /** Tries of a request the registry answers with 408, 429 or 5xx. */
  attempts: number;
  /**
   * How long connections that fail (refused, reset, dropped) are tried again, from the first failure in
   * a row: long enough for a registry to restart.
   */
  retryForMs: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 7, retryForMs: 120_000, baseMs: 250, maxMs: 5_000 };
/** The longest addonix waits for a registry's answer, or for the next bytes of a request or answer in flight. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/**
 * The slowest a blob may travel, on average over a whole request, before the request's deadline ends it
 * (a registry trickling a byte a second otherwise holds a push forever: each byte resets the timeout).
 */
export const MIN_TRANSFER_KIB = 32;
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
/** Go's http.Client stops after ten redirects, and so does addonix. */
const MAX_REDIRECTS = 10;
/** The size of the reads that feed a blob upload. */
const UPLOAD_CHUNK = 1 << 20;
/** Upload buffers kept for later uploads: two for each of the (default three) uploads at a time, and some. */
const MAX_SPARE_BUFFERS = 8;
/** Blobs larger than this go up in PATCH chunks of this size (a proxy may cap request bodies). */
export const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;
/**
 * A blob still being written (compressed while it is uploaded) goes up in chunks of at most this size:
 * each is sent once it is whole, so the smaller they are, the less is left to send when compression ends.
 */
const GROWING_CHUNK_BYTES = 8 * 1024 * 1024;

export interface ClientOptions {
  registry: string;
  insecure?: boolean;
  credentials?: Credentials | undefined;
  /** Repository → actions the token must cover (`pull`, `push`), asked for all at once. */
  scopes?: Map<string, Set<string>>;
  retry?: RetryPolicy;
  /** Overrides retry.retryForMs (the --retry-for option). */
  retryForMs?: number | undefined;
  /** See DEFAULT_TIMEOUT_MS (the --timeout option). */
  timeoutMs?: number | undefined;
  chunkBytes?: number;
  /** Reports retries ("retrying after ...") so a user sees why a push pauses. */
  onRetry?: (message: string) => void;
  /** Stops every request (Ctrl-C). */
  signal?: AbortSignal | undefined;
}

/** A registry answered something addonix cannot go on from. */
export class RegistryError extends UserError {
  constructor(
    message: string,
    readonly status?: number,
    /** The wait the registry asked for (Retry-After), for whoever retries. */
    readonly retryAfterMs?: number,
    /** The registry's error code (`DIGEST_INVALID`, ...), when it gave one. */
    readonly registryCode?: string,
    /** addonix's code for it (default: from the status: 401, 403 auth; 404 not found; else refused). */
    code?: ErrorCode,
  ) {
    super(code ?? (status === 401 || status === 403 ? 'registry-auth' : status === 404 ? 'registry-not-found' : 'registry-refused'), message);
    this.name = 'RegistryError';
  }

  /** The registry could not be reached (within the retry budget). */
  static unreachable(message: string): RegistryError {
    return new RegistryError(message, undefined, undefined, undefined, 'registry-unreachable');
  }
}

/** The user stopped the work (Ctrl-C): not a failure to explain. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A refused, reset or dropped connection: worth another try while the time budget lasts. */
export function isTransientNetworkError(error: unknown): boolean {
  if (error instanceof UserError || error instanceof Interrupted) return false;
  const code = errorCode(error);
  if (code) return NETWORK_CODES.has(code);
  // fetch's own words for a connection that broke; a bare "fetch failed" may also be a refusal to try (a bad port).
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    if (/terminated|other side closed|socket hang up/i.test(current.message)) return true;
    current = current.cause;
  }
  return false;
}

/**
 * Aborts a request when the registry is silent for too long: no answer after the request was sent, or no
 * bytes of a body in flight (either way); paused while addonix itself has nothing to send yet. And a
 * deadline for the whole exchange, headers and body, which no trickle of bytes puts off.
 */
class Watchdog {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly deadline: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Why it aborted the request: silence, or the whole exchange took too long. */
  expired: 'silence' | 'deadline' | undefined;
  readonly signal: AbortSignal;

  constructor(
    private readonly ms: number,
    outer: AbortSignal | undefined,
    deadlineMs: number | undefined,
  ) {
    this.signal = outer ? AbortSignal.any([this.controller.signal, outer]) : this.controller.signal;
    this.touch();
    if (deadlineMs !== undefined) {
      this.deadline = setTimeout(() => this.expire('deadline'), deadlineMs);
      this.deadline.unref();
    }
  }

  private expire(why: 'silence' | 'deadline'): void {
    this.expired ??= why;
    this.controller.abort(new Error('timeout'));
  }

  /** Something moved: the wait starts again. */
  touch(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.expire('silence'), this.ms);
    this.timer.unref();
  }

  pause(): void {
    clearTimeout(this.timer);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
  }
}

/**
 * A registry's answer: its status, headers and body (read once). addonix speaks HTTP through Node's own
 * http and https modules rather than fetch: loading fetch and its parser, and its work per request,
 * took a third of a push with nothing to send.
 */
export class Answer {
  constructor(
    readonly status: number,
    /** The URL that answered (after redirects). */
    readonly url: string,
    private readonly message: IncomingMessage,
    /** An answer to HEAD (or a 204): no body whatever its Content-Length says. */
    private readonly bodyless: boolean,
  ) {
    // A connection that breaks while nobody reads the body (a discarded answer) is no crash; a reader sees it.
    message.on('error', () => undefined);
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  header(name: string): string | null {
    const value = this.message.headers[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }

  /** The body's chunks. */
  body(): AsyncIterable<Buffer> {
    return this.message;
  }

  /** The body as text (an error's explanation), at most `max` bytes of it. */
  async text(max = 64 * 1024): Promise<string> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of this.message) {
      chunks.push(chunk as Buffer);
      total += (chunk as Buffer).length;
      if (total >= max) break;
    }
    this.discard();
    return Buffer.concat(chunks).toString('utf8');
  }

  /** Lets the body go: read off when small (the connection serves again), the connection closed when not. */
  discard(): void {
    if (this.message.complete || this.message.destroyed) return;
    const length = Number(this.message.headers['content-length'] ?? NaN);
    if (this.bodyless || (Number.isFinite(length) && length <= 64 * 1024)) this.message.resume();
    else this.message.destroy();
  }
}

/** What a request may send: bytes, or chunks written one at a time (each used up before the next is asked for). */
type RequestBody = Buffer | string | AsyncIterable<Buffer>;

function retryAfterMs(response: Answer): number | undefined {
  const seconds = Number(response.header('retry-after') ?? NaN);
  return Number.isFinite(seconds) ? Math.max(0, seconds * 1000) : undefined;
}

function retryDelay(policy: RetryPolicy, attempt: number, asked?: number): number {
  if (asked !== undefined) return Math.min(policy.maxMs, asked);
  // Exponential with a little jitter, so that parallel uploads do not retry in lockstep.
  const base = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return base / 2 + Math.random() * (base / 2);
}

interface CallOptions {
  headers?: Record<string, string>;
  /** Made anew for every attempt (a stream can be sent only once); gets the request's watchdog. */
  body?: (watchdog: Watchdog) => RequestBody;
  /** Statuses that are an answer; anything else is an error (after retries for transient ones). */
  expect: number[];
  what: string;
  /** Retry transient failures here (false for uploads, whose retry means resuming the upload). */
  retry?: boolean;
  /** Bytes the request or its answer carries at most, which give it a longer deadline (see deadlineFor). */
  bytes?: number;
  /** A scope asked for beside the client's own (`repository:NAME:pull` of a mount source). */
  extraScope?: string;
}

async function errorDetail(response: Answer): Promise<{ text: string; code?: string }> {
  try {
    const text = (await response.text()).slice(0, 2000);
    const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
      return { text: parsed.errors.map((e) => `${e.code ?? ''}: ${e.message ?? ''}`).join('; '), ...(parsed.errors[0]?.code ? { code: parsed.errors[0].code } : {}) };
    }
    return { text: text.trim().slice(0, 200) };
  } catch {
    return { text: '' };
  }
}

/** A blob to upload: a file in a store, or one still being written (see GROWING_CHUNK_BYTES). */
export interface UploadSource {
  /** The blob's digest and size, once it is complete. */
  readonly digest: Digest | undefined;
  readonly size: number | undefined;
  /** Bytes there to be read now. */
  available(): number;
  /** Waits until at least `bytes` are there, or the blob is complete; throws when its writing failed. */
  waitFor(bytes: number): Promise<void>;
  /** Reads bytes of the blob that are there. */
  read(buffer: Buffer, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

/** A complete blob file as an upload source. */
export async function fileUploadSource(file: string, blob: Descriptor, missing?: () => UserError): Promise<UploadSource> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && missing) throw missing();
    throw new UserError('image-invalid', `uploading ${blob.digest}: cannot read ${file} (${(error as Error).message})`);
  }
  return {
    digest: blob.digest,
    size: blob.size,
    available: () => blob.size,
    waitFor: async () => undefined,
    read: async (buffer, length, position) => (await handle.read(buffer, 0, length, position)).bytesRead,
    close: () => handle.close(),
  };
}

/** A small blob held in memory (a signature payload, its manifest's config) as an upload source. */
export function bufferUploadSource(data: Buffer): UploadSource {
  return {
    digest: sha256(data),
    size: data.length,
    available: () => data.length,
    waitFor: async () => undefined,
    read: async (buffer, length, position) => data.copy(buffer, 0, position, Math.min(data.length, position + length)),
    close: async () => undefined,
  };
}

interface Challenge {
  scheme: 'basic' | 'bearer';
  realm?: string;
  service?: string;
  scope?: string;
}

/** Parses `Bearer realm="...",service="...",scope="repository:a:pull,push"` (commas inside quotes). */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  for (const param of match[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[param[1]!.toLowerCase()] = (param[2] ?? param[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme, ...(params['realm'] ? { realm: params['realm'] } : {}), ...(params['service'] ? { service: params['service'] } : {}), ...(params['scope'] ? { scope: params['scope'] } : {}) };
}

export class RegistryClient {
  readonly registry: string;
  readonly baseUrl: string;
  /** The registry's origin: the only one that gets its credentials. */
  private readonly origin: string;
  private readonly credentials: Credentials | undefined;
  private readonly scopes: Map<string, Set<string>>;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number;
  readonly chunkBytes: number;
  private readonly onRetry: (message: string) => void;
  private readonly signal: AbortSignal | undefined;
  private challenge: Challenge | undefined;
  /** Bearer tokens by the scope asked beside the client's own ('' for none): a mount source's pull, say. */
  private readonly tokens = new Map<string, { value: string; expiresAt: number }>();
  /** Read buffers of finished uploads, for the next ones: fresh ones cost a page fault per 4 KiB. */
  private readonly spareBuffers: Buffer[] = [];
  /** Watchdogs of answers whose bodies are still to be read. */
  private readonly watchdogs = new WeakMap<Answer, Watchdog>();
  /** Connections kept open between requests, as fetch keeps them (idle ones hold no process up). */
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  /** Loaded with the first HTTPS request: a registry on this machine speaks plain HTTP. */
  private https: Promise<{ module: typeof import('node:https'); agent: import('node:https').Agent }> | undefined;
  /** Requests made, by method: the tests read it to prove what a push did and did not do. */
  readonly requestCounts = new Map<string, number>();
  /**
   * Whether the registry answered once in this run: a registry that refuses connections from the start
   * is not there (a wrong address, not started), one that refuses them later is restarting.
   */
  private reached = false;

  constructor(options: ClientOptions) {
    this.registry = options.registry;
    this.baseUrl = registryBaseUrl(options.registry, options.insecure ?? false);
    this.origin = new URL(this.baseUrl).origin;
    this.credentials = options.credentials;
    this.scopes = options.scopes ?? new Map();
    this.retry = { ...(options.retry ?? DEFAULT_RETRY), ...(options.retryForMs !== undefined ? { retryForMs: options.retryForMs } : {}) };
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.onRetry = options.onRetry ?? (() => undefined);
    this.signal = options.signal;
  }

  /** Adds actions on a repository to what tokens are asked for (before the first request needing them). */
  addScope(repository: string, ...actions: string[]): void {
    const set = this.scopes.get(repository) ?? new Set<string>();
    const before = set.size;
    for (const action of actions) set.add(action);
    this.scopes.set(repository, set);
    if (set.size !== before) this.tokens.clear();
  }

  url(pathOrUrl: string): URL {
    return new URL(pathOrUrl, this.baseUrl);
  }

  private scopeList(extra?: string): string[] {
    // The challenge's scopes join this client's, one per repository with its actions merged: a
    // registry that asks for `push,pull` must not get that beside `pull,push` as a second scope.
    const merged = new Map([...this.scopes].map(([repo, actions]) => [repo, new Set(actions)]));
    const others: string[] = [];
    for (const scope of extra?.split(' ').filter(Boolean) ?? []) {
      const match = /^repository:(.+):([^:]+)$/.exec(scope);
      if (!match) {
        if (!others.includes(scope)) others.push(scope);
        continue;
      }
      const actions = merged.get(match[1]!) ?? new Set<string>();
      for (const action of match[2]!.split(',')) actions.add(action);
      merged.set(match[1]!, actions);
    }
    return [...[...merged].map(([repo, actions]) => `repository:${repo}:${[...actions].sort().join(',')}`), ...others];
  }

  private basicHeader(): string | undefined {
    if (!this.credentials || this.credentials.identityToken) return undefined;
    return `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
  }

  private async authorization(extraScope?: string): Promise<string | undefined> {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === 'basic') return this.basicHeader();
    const key = extraScope ?? '';
    let token = this.tokens.get(key);
    if (!token || Date.now() >= token.expiresAt) token = await this.fetchToken(extraScope);
    return `Bearer ${token.value}`;
  }

  private timeoutError(what: string, host: string, why: Watchdog['expired']): RegistryError {
    if (why === 'deadline') {
      return new RegistryError(
        `${what}: ${host} took too long (it sends its answer, or takes the request, more slowly than addonix waits for: ` +
          `${Math.round(this.timeoutMs / 1000)} s for a document, and ${MIN_TRANSFER_KIB} KiB/s for a blob); --timeout SECONDS sets the time for a document`,
      );
    }
    return new RegistryError(
      `${what}: ${host} did not answer within ${Math.round(this.timeoutMs / 1000)} s (it accepted the connection but sent nothing); ` +
        'it may be stuck or overloaded. --timeout SECONDS sets how long addonix waits',
    );
  }

  /**
   * How long a whole exchange may take: --timeout for documents, and for a blob the time it takes at
   * MIN_TRANSFER_KIB KiB/s on top, so that a registry trickling bytes cannot hold addonix forever.
   */
  private deadlineFor(bytes: number | undefined): number {
    return this.timeoutMs + Math.ceil(((bytes ?? 0) / (MIN_TRANSFER_KIB * 1024)) * 1000);
  }

  /** Headers for a request to `url`: credentials only for the registry's own origin (scheme, host and port). */
  private async headersFor(url: URL, headers: Record<string, string> | undefined, extraScope?: string): Promise<Record<string, string>> {
    const out: Record<string, string> = { 'user-agent': 'addonix', ...headers };
    if (url.origin === this.origin) {
      const authorization = await this.authorization(extraScope);
      if (authorization) out['authorization'] = authorization;
    }
    return out;
  }

  /**
   * One HTTP exchange up to the answer's headers, with the timeout and the deadline, and tried again while
   * connections fail (refused, reset: a registry restarting) for retry.retryForMs. Redirects are followed
   * here, as Go's client follows them (the method and body kept for 307 and 308, a GET for 301, 302 and
   * 303 of anything else), with `headers(url)` for each hop: credentials do not follow a redirect to
   * another host. The answer's body is watched too (see bodyOf); `retry: false` leaves failed connections
   * to the caller.
   */
  private async send(
    start: URL,
    init: { method: string; headers: (url: URL) => Promise<Record<string, string>> | Record<string, string>; deadlineMs: number },
    what: string,
    retry: boolean,
    body?: (watchdog: Watchdog) => RequestBody,
  ): Promise<Answer> {
    let firstFailure: number | undefined;
    let url = start;
    let method = init.method;
    let sendBody = body;
    let hops = 0;
    for (let attempt = 1; ; attempt++) {
      if (this.signal?.aborted) throw new Interrupted();
      const watchdog = new Watchdog(this.timeoutMs, this.signal, init.deadlineMs);
      this.requestCounts.set(method, (this.requestCounts.get(method) ?? 0) + 1);
      let response: Answer;
      try {
        const headers = await init.headers(url);
        // A redirect that turned the request into a GET leaves its body behind, and what described it.
        if (method !== init.method) for (const name of Object.keys(headers)) if (/^content-/i.test(name)) delete headers[name];
        response = await this.exchange(url, method, headers, sendBody?.(watchdog), watchdog);
        watchdog.touch();
        this.reached = true;
      } catch (error) {
        watchdog.stop();
        if (this.signal?.aborted) throw new Interrupted();
        if (watchdog.expired) throw this.timeoutError(what, url.host, watchdog.expired);
        const code = errorCode(error);
        // A connection accepted, then reset: something listens there (a registry going down or coming up).
        if (code !== 'ECONNREFUSED' && isTransientNetworkError(error)) this.reached = true;
        if (retry && isTransientNetworkError(error) && (this.reached || code !== 'ECONNREFUSED')) {
          firstFailure ??= Date.now();
          const elapsed = Date.now() - firstFailure;
          if (elapsed < this.retry.retryForMs) {
            this.onRetry(`${what}: ${code === 'ECONNREFUSED' ? 'connection refused' : `connection lost (${code ?? 'reset'})`}, retrying`);
            await this.pause(Math.min(retryDelay(this.retry, attempt), this.retry.retryForMs - elapsed));
            continue;
          }
          throw RegistryError.unreachable(`${what}: cannot reach ${url.host} (${code ?? 'connection lost'}), tried for ${Math.round(elapsed / 1000)} s; is the registry running? (--retry-for SECONDS sets how long addonix tries)`);
        }
        if (code === 'ENOTFOUND') throw RegistryError.unreachable(`cannot connect to ${url.host} (${url.origin}): no such host`);
        if (code === 'ECONNREFUSED') throw RegistryError.unreachable(`cannot connect to ${url.host} (${url.origin}): connection refused`);
        if (error instanceof UserError) throw error;
        const cause = (error as Error).cause instanceof Error ? `: ${((error as Error).cause as Error).message}` : '';
        throw Object.assign(RegistryError.unreachable(`${what}: ${(error as Error).message}${cause}${code ? ` (${code})` : ''}`), { cause: error });
      }
      const location = response.header('location');
      if (REDIRECT_STATUS.has(response.status) && location) {
        watchdog.stop();
        response.discard();
        if (++hops > MAX_REDIRECTS) throw new RegistryError(`${what}: ${url.host} redirected more than ${MAX_REDIRECTS} times`);
        url = new URL(location, url);
        if (response.status !== 307 && response.status !== 308 && method !== 'GET' && method !== 'HEAD') {
          method = 'GET';
          sendBody = undefined;
        }
        attempt = 0;
        firstFailure = undefined;
        continue;
      }
      this.watchdogs.set(response, watchdog);
      return response;
    }
  }

  /**
   * One request and its answer's headers. A body of chunks is written one chunk at a time, each handed
   * on once the previous has gone out to the socket: a source reading through two buffers in turn (see
   * uploadFrom) reuses neither while it is being sent.
   */
  private async exchange(url: URL, method: string, headers: Record<string, string>, body: RequestBody | undefined, watchdog: Watchdog): Promise<Answer> {
    const secure = url.protocol === 'https:';
    if (body !== undefined && typeof body !== 'object') headers['content-length'] ??= String(Buffer.byteLength(body));
    if (Buffer.isBuffer(body)) headers['content-length'] ??= String(body.length);
    const tls = secure ? await (this.https ??= import('node:https').then((module) => ({ module, agent: new module.Agent({ keepAlive: true }) }))) : undefined;
    return new Promise<Answer>((resolve, reject) => {
      let answered = false;
      const request = (tls ? tls.module : http).request(url, { method, headers, agent: tls ? tls.agent : this.httpAgent, signal: watchdog.signal }, (message) => {
        answered = true;
        resolve(new Answer(message.statusCode ?? 0, url.toString(), message, method === 'HEAD' || message.statusCode === 204 || message.statusCode === 304));
      });
      request.on('error', (error) => {
        if (!answered) reject(error);
      });
      if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
        request.end(body);
        return;
      }
      const chunks = body;
      void (async () => {
        let sent: Promise<void> = Promise.resolve();
        for await (const chunk of chunks) {
          await sent;
          if (request.destroyed) return;
          sent = new Promise<void>((done, failed) => request.write(chunk, (error) => (error ? failed(error) : done())));
          // A write that fails while the next chunk is being read (a registry reset under load) is seen
          // by the next `await sent`; until then it must not count as an unhandled rejection, which
          // ended the whole process ("write ECONNRESET").
          sent.catch(() => undefined);
        }
        await sent;
        request.end();
      })().catch((error: unknown) => request.destroy(error as Error));
    });
  }

  /** Waits, unless the user stops the work meanwhile. */
  private async pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, this.signal ? { signal: this.signal } : {});
    } catch {
      throw new Interrupted();
    }
  }

  /** The body of an answer as chunks, its silence limited by the request's watchdog. */
  private async *bodyOf(response: Answer, what: string): AsyncGenerator<Buffer> {
    const watchdog = this.watchdogs.get(response);
    try {
      for await (const chunk of response.body()) {
        watchdog?.touch();
        yield chunk;
      }
    } catch (error) {
      if (this.signal?.aborted) throw new Interrupted();
      if (watchdog?.expired) throw this.timeoutError(what, new URL(response.url || this.baseUrl).host, watchdog.expired);
      throw Object.assign(RegistryError.unreachable(`${what}: the answer broke off (${errorCode(error) ?? (error as Error).message})`), { cause: error });
    } finally {
      watchdog?.stop();
      response.discard();
    }
  }

  /** Drops an answer's body (not wanted, or an error already read). */
  private discard(response: Answer): void {
    this.watchdogs.get(response)?.stop();
    response.discard();
  }

  /**
   * Gets a bearer token for every scope of this push (push and pull, mount sources) from the realm, and
   * `extraScope` beside them (a repository a blob may be mounted from).
   */
  private async fetchToken(extraScope?: string): Promise<{ value: string; expiresAt: number }> {
    const challenge = this.challenge!;
    if (!challenge.realm) throw new RegistryError(`${this.registry} asked for a bearer token without saying where to get one (no realm)`);
    const realm = new URL(challenge.realm);
    const scopes = this.scopeList([challenge.scope, extraScope].filter(Boolean).join(' '));
    const what = `getting a token from ${realm.origin}`;
    // The credentials go to the realm the registry named (a token server is often another host), and only there.
    const deadlineMs = this.deadlineFor(undefined);
    let response: Answer;
    for (let attempt = 1; ; attempt++) {
      if (this.credentials?.identityToken) {
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.credentials.identityToken, client_id: 'addonix', scope: scopes.join(' ') });
        if (challenge.service) form.set('service', challenge.service);
        response = await this.send(realm, { method: 'POST', headers: () => ({ 'user-agent': 'addonix', 'content-type': 'application/x-www-form-urlencoded' }), deadlineMs }, what, true, () => form.toString());
      } else {
        const url = new URL(realm);
        if (challenge.service) url.searchParams.set('service', challenge.service);
        for (const scope of scopes) url.searchParams.append('scope', scope);
        const basic = this.basicHeader();
        response = await this.send(url, { method: 'GET', headers: (at) => ({ 'user-agent': 'addonix', ...(basic && at.origin === realm.origin ? { authorization: basic } : {}) }), deadlineMs }, what, true);
      }
      if (RETRY_STATUS.has(response.status) && attempt < this.retry.attempts) {
        this.discard(response);
        await this.pause(retryDelay(this.retry, attempt, retryAfterMs(response)));
        continue;
      }
      break;
    }
    if (response.status === 401 || response.status === 403) {
      this.discard(response);
      throw new RegistryError(
        this.credentials
          ? `${realm.origin} refused the credentials from ${this.credentials.from} for ${scopes.join(' ')}`
          : `${this.registry} needs a login for ${scopes.join(' ')}: run docker login ${this.registry}, or pass --username with --password-stdin`,
        response.status,
      );
    }
    if (!response.ok) throw new RegistryError(`the token server ${realm.origin} answered ${response.status} ${(await errorDetail(response)).text}`, response.status);
    const body = JSON.parse((await readLimited(this.bodyOf(response, what), 1 << 20, 'the token')).toString('utf8')) as { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    const value = body.token ?? body.access_token;
    if (!value) throw new RegistryError(`the token server ${realm.origin} answered without a token`);
    const lifetime = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60) * 1000;
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const start = Number.isFinite(issued) ? Math.min(issued, Date.now()) : Date.now();
    // Refresh a little before the end, so a token never expires in the middle of a request.
    const token = { value, expiresAt: start + lifetime * 0.9 };
    this.tokens.set(extraScope ?? '', token);
    return token;
  }

  /** One API call with authentication, the timeout, and (unless told otherwise) retries of transient failures. */
  async request(method: string, pathOrUrl: string, init: CallOptions): Promise<Answer> {
    const url = this.url(pathOrUrl);
    let reauthenticated = false;
    for (let attempt = 1; ; attempt++) {
      const response = await this.send(url, { method, headers: (at) => this.headersFor(at, init.headers, init.extraScope), deadlineMs: this.deadlineFor(init.bytes) }, init.what, init.retry !== false, init.body);
      if (response.status === 401 && !reauthenticated && new URL(response.url || url).origin === this.origin) {
        const challenge = parseChallenge(response.header('www-authenticate'));
        this.discard(response);
        if (!challenge) throw new RegistryError(`${init.what}: ${this.registry} refused access (401) without saying how to log in`, 401);
        if (challenge.scheme === 'basic' && !this.credentials) {
          throw new RegistryError(`${this.registry} needs a login: run docker login ${this.registry}, or pass --username with --password-stdin`, 401);
        }
        this.challenge = challenge;
        this.tokens.clear();
        reauthenticated = true;
        attempt--;
        continue;
      }
      if (init.expect.includes(response.status)) return response;
      if (init.retry !== false && RETRY_STATUS.has(response.status) && attempt < this.retry.attempts) {
        this.discard(response);
        this.onRetry(`${init.what}: ${this.registry} answered ${response.status}, retrying`);
        await this.pause(retryDelay(this.retry, attempt, retryAfterMs(response)));
        continue;
      }
      throw await this.failure(response, init.what);
    }
  }

  private async failure(response: Answer, what: string): Promise<RegistryError> {
    const detail = await errorDetail(response);
    this.watchdogs.get(response)?.stop();
    const hint =
      response.status === 401 || response.status === 403
        ? this.credentials
          ? ` (the credentials from ${this.credentials.from} are not allowed to do this)`
          : ` (log in with docker login ${this.registry}, or pass --username with --password-stdin)`
        : response.status === 413
          ? ' (the request was too large: try a smaller --chunk-size)'
          : '';
    return new RegistryError(`${what}: ${this.registry} answered ${response.status}${detail.text ? ` ${detail.text}` : ''}${hint}`, response.status, retryAfterMs(response), detail.code);
  }

  /** Whether the repository has the blob (HEAD); `pullScope`: a repository outside the client's scopes. */
  async hasBlob(repository: string, digest: Digest, pullScope = false): Promise<boolean> {
    const response = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`, { expect: [200, 404], what: `checking blob ${digest} in ${repository}`, ...(pullScope ? { extraScope: `repository:${repository}:pull` } : {}) });
    this.discard(response);
    return response.status === 200;
  }

  /**
   * Mounts a blob from another repository of this registry; undefined when mounted, else an upload URL.
   * `pullScope`: the source is outside the client's scopes (a location remembered from another push).
   */
  async mountBlob(repository: string, digest: Digest, from: string, pullScope = false): Promise<string | undefined> {
    const query = new URLSearchParams({ mount: digest, from });
    const response = await this.request('POST', `/v2/${repository}/blobs/uploads/?${query}`, { expect: [201, 202], what: `mounting ${digest} into ${repository}`, ...(pullScope ? { extraScope: `repository:${from}:pull` } : {}) });
    this.discard(response);
    if (response.status === 201) return undefined;
    return this.location(response, 'mount');
  }

  /** The Location of an answer, resolved against the URL it answered (an upload's sessions may live on another host). */
  private location(response: Answer, what: string): string {
    const location = response.header('location');
    if (!location) throw new RegistryError(`${this.registry} started an upload (${what}) without a Location`);
    return new URL(location, response.url || this.baseUrl).toString();
  }

  async startUpload(repository: string): Promise<string> {
    const response = await this.request('POST', `/v2/${repository}/blobs/uploads/`, { expect: [202], what: `starting an upload to ${repository}` });
    this.discard(response);
    return this.location(response, 'POST');
  }

  /** The offset to go on from in an upload session, or undefined when the registry lost or refused it. */
  private async uploadOffset(location: string): Promise<{ offset: number; location: string } | undefined> {
    try {
      const response = await this.request('GET', location, { expect: [204, 400, 404], what: 'asking where an upload stands' });
      this.discard(response);
      if (response.status !== 204) return undefined;
      const range = /^(?:bytes=)?0-(\d+)$/.exec(response.header('range') ?? '');
      const next = response.header('location');
      return { offset: range ? Number(range[1]) + 1 : 0, location: next ? new URL(next, response.url || location).toString() : location };
    } catch (error) {
      if (error instanceof RegistryError) return undefined;
      throw error;
    }
  }

  /**
   * Uploads a blob: a complete one in one PUT up to the chunk size and in PATCH chunks above it; a growing
   * one in chunks as they are written, the rest with the final PUT. Each chunk has its own retries: a
   * failed connection is tried again for retry.retryForMs, a 5xx retry.attempts times; the upload then
   * goes on from the registry's Range, or starts over when the registry lost the session.
   */
  async uploadBlob(repository: string, source: UploadSource, onBytes: (count: number) => void, session?: string): Promise<Digest> {
    const buffers: [Buffer, Buffer] = [this.takeBuffer(), this.takeBuffer()];
    try {
      return await this.uploadFrom(source, repository, buffers, onBytes, session);
    } finally {
      if (this.spareBuffers.length < MAX_SPARE_BUFFERS) this.spareBuffers.push(...buffers);
    }
  }

  private takeBuffer(): Buffer {
    return this.spareBuffers.pop() ?? Buffer.allocUnsafeSlow(UPLOAD_CHUNK);
  }

  private async uploadFrom(source: UploadSource, repository: string, buffers: [Buffer, Buffer], onBytes: (count: number) => void, session: string | undefined): Promise<Digest> {
    const growing = source.digest === undefined;
    const chunkBytes = growing ? Math.min(this.chunkBytes, GROWING_CHUNK_BYTES) : this.chunkBytes;
    const what = () => `uploading ${source.digest ?? 'a layer'} to ${repository}`;
    let location = session ?? (await this.startUpload(repository));
    let offset = 0;
    let failures = 0;
    let firstFailure: number | undefined;
    let sent = 0; // Bytes read for the request in flight; sent again when it fails.
    /**
     * The bytes [start, end) of the blob as a request body, read into the two buffers used in turn: the
     * request writes a chunk only once the one before has gone out to the socket (see exchange), so a
     * buffer is never overwritten while it is being sent. A request that has failed may still have a read
     * under way, which the next request waits for (`settled`). The registry checks the digest of what
     * arrives.
     */
    let reading: Promise<unknown> = Promise.resolve();
    const settled = () => reading.catch(() => undefined);
    const counted = (start: number, end: number) =>
      async function* (watchdog: Watchdog): AsyncGenerator<Buffer> {
        for (let position = start; position < end; ) {
          const buffer = buffers[0];
          buffers.reverse();
          const read = source.read(buffer, Math.min(buffer.length, end - position), position);
          reading = read;
          const bytesRead = await read;
          if (bytesRead === 0) throw new UserError('image-invalid', `uploading ${source.digest}: the blob file ends at ${position} of ${end} bytes`);
          watchdog.touch();
          position += bytesRead;
          sent += bytesRead;
          onBytes(bytesRead);
          yield buffer.subarray(0, bytesRead);
        }
      };
    for (;;) {
      sent = 0;
      try {
        await settled();
        // A growing blob: wait for a whole chunk, or for its end (not the registry's silence: no request is open).
        await source.waitFor(offset + chunkBytes);
        if (source.digest !== undefined && source.size! - offset <= chunkBytes) {
          const size = source.size!;
          const target = this.url(location);
          target.searchParams.set('digest', source.digest);
          const response = await this.request('PUT', target.toString(), {
            headers: { 'content-type': 'application/octet-stream', 'content-length': String(size - offset) },
            ...(size > offset ? { body: counted(offset, size) } : {}),
            bytes: size - offset,
            expect: [201],
            what: what(),
            retry: false,
          });
          this.discard(response);
          return source.digest;
        }
        const start = offset;
        const end = offset + chunkBytes;
        const response = await this.request('PATCH', location, {
          headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end - 1}`, 'content-length': String(end - start) },
          body: counted(start, end),
          bytes: end - start,
          expect: [202],
          what: what(),
          retry: false,
        });
        this.discard(response);
        location = this.location(response, 'PATCH');
        offset = end;
        // The next chunk has retries of its own.
        failures = 0;
        firstFailure = undefined;
      } catch (error) {
        const network = isTransientNetworkError(error) || isTransientNetworkError((error as Error).cause);
        const status = error instanceof RegistryError && error.status !== undefined && RETRY_STATUS.has(error.status);
        if (!network && !status) {
          // The blob's own writing failed (not the registry): the session is dropped rather than left to expire.
          if (!(error instanceof RegistryError) && !(error instanceof Interrupted)) await this.cancelUpload(location);
          throw error;
        }
        if (status && ++failures >= this.retry.attempts) throw error;
        if (network) {
          firstFailure ??= Date.now();
          if (Date.now() - firstFailure >= this.retry.retryForMs) {
            throw RegistryError.unreachable(`${what()}: cannot reach ${this.registry} (${errorCode(error) ?? (error as Error).message}), tried for ${Math.round(this.retry.retryForMs / 1000)} s; is the registry running?`);
          }
        }
        onBytes(-sent);
        this.onRetry(`${what()}: ${(error as Error).message}; ${offset > 0 ? 'resuming' : 'starting over'}`);
        await this.pause(retryDelay(this.retry, Math.max(1, failures), error instanceof RegistryError ? error.retryAfterMs : undefined));
        const resumed = offset > 0 ? await this.uploadOffset(location) : undefined;
        if (resumed && resumed.offset <= offset) {
          offset = resumed.offset;
          location = resumed.location;
        } else {
          offset = 0;
          location = await this.startUpload(repository);
        }
      }
    }
  }

  /** Drops an upload session, as far as the registry lets it (no retries: this is tidying up). */
  private async cancelUpload(location: string): Promise<void> {
    try {
      const response = await this.send(this.url(location), { method: 'DELETE', headers: (at) => this.headersFor(at, undefined), deadlineMs: this.deadlineFor(undefined) }, 'cancelling an upload', false);
      this.discard(response);
    } catch {
      // The registry drops sessions left alone after a while anyway.
    }
  }

  async hasManifest(repository: string, digest: Digest): Promise<boolean> {
    const response = await this.request('HEAD', `/v2/${repository}/manifests/${digest}`, { expect: [200, 404], headers: { accept: MANIFEST_ACCEPT }, what: `checking manifest ${digest} in ${repository}` });
    this.discard(response);
    return response.status === 200;
  }

  /** The digest a tag points at now, or null when the repository has no such tag (or no such repository). */
  async tagDigest(repository: string, tag: string): Promise<Digest | null> {
    const response = await this.request('HEAD', `/v2/${repository}/manifests/${tag}`, { expect: [200, 404], headers: { accept: MANIFEST_ACCEPT }, what: `checking tag ${tag} in ${repository}` });
    this.discard(response);
    if (response.status === 404) return null;
    const digest = response.header('docker-content-digest');
    if (isDigest(digest)) return digest;
    return (await this.getManifest(repository, tag, 4 * 1024 * 1024)).digest;
  }

  /** PUTs a manifest or index under a digest or tag; checks the digest the registry computed. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<void> {
    const response = await this.request('PUT', `/v2/${repository}/manifests/${reference}`, {
      headers: { 'content-type': mediaType },
      body: () => bytes,
      expect: [201],
      what: `putting manifest ${reference} in ${repository}`,
    });
    this.discard(response);
    const digest = response.header('docker-content-digest');
    if (digest && digest !== sha256(bytes)) throw new RegistryError(`${this.registry} stored manifest ${reference} under ${digest}, not ${sha256(bytes)}`);
  }

  /** GETs a manifest or index, with its media type and checked digest. */
  async getManifest(repository: string, reference: string, maxBytes: number): Promise<{ bytes: Buffer; mediaType: string; digest: Digest }> {
    const what = `getting manifest ${reference} from ${repository}`;
    const response = await this.request('GET', `/v2/${repository}/manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT }, expect: [200], what });
    const bytes = await readLimited(this.bodyOf(response, what), maxBytes, `manifest ${reference}`);
    const digest = sha256(bytes);
    if (isDigest(reference) && reference !== digest) throw new RegistryError(`${this.registry} answered manifest ${reference} with bytes that hash to ${digest}`);
    return { bytes, mediaType: (response.header('content-type') ?? '').split(';')[0]!.trim(), digest };
  }

  /**
   * GETs a blob as a stream of its bytes (a layer), following the registry's redirect to its storage. The
   * caller checks the digest as it reads (the scanners hash every byte anyway).
   */
  async openBlob(repository: string, digest: Digest, size: number): Promise<AsyncIterable<Buffer>> {
    const what = `getting blob ${digest} from ${repository}`;
    const response = await this.request('GET', `/v2/${repository}/blobs/${digest}`, { expect: [200], what, bytes: size });
    if (!response.body) throw new RegistryError(`${this.registry} answered blob ${digest} without a body`);
    return this.bodyOf(response, what);
  }

  /** GETs a small blob (a config) and checks its digest. */
  async getBlob(repository: string, digest: Digest, maxBytes: number): Promise<Buffer> {
    const what = `getting blob ${digest} from ${repository}`;
    const response = await this.request('GET', `/v2/${repository}/blobs/${digest}`, { expect: [200], what });
    const bytes = await readLimited(this.bodyOf(response, what), maxBytes, `blob ${digest}`);
    if (sha256(bytes) !== digest) throw new RegistryError(`${this.registry} answered blob ${digest} with bytes that hash to ${sha256(bytes)}`);
    return bytes;
  }
}

async function readLimited(body: AsyncGenerator<Buffer>, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > maxBytes) {
      await body.return(undefined);
      throw new RegistryError(`${what} is larger than ${maxBytes} bytes; refusing to read it into memory`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
