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
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../util/errors.js';
import { isDigest, sha256, type Digest } from '../oci/digest.js';
import { MANIFEST_ACCEPT } from '../oci/media-types.js';
import type { Descriptor } from '../oci/types.js';
import type { Credentials } from './credentials.js';
import { registryBaseUrl } from './reference.js';

export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 7, baseMs: 250, maxMs: 8000 };
/** The size of the reads that feed a blob upload. */
const UPLOAD_CHUNK = 1 << 20;
/** Upload buffers kept for later uploads: two for each of the (default three) uploads at a time, and some. */
const MAX_SPARE_BUFFERS = 8;
/** Blobs larger than this go up in PATCH chunks of this size (a proxy may cap request bodies). */
export const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;

export interface ClientOptions {
  registry: string;
  insecure?: boolean;
  credentials?: Credentials | undefined;
  /** Repository → actions the token must cover (`pull`, `push`), asked for all at once. */
  scopes?: Map<string, Set<string>>;
  retry?: RetryPolicy;
  chunkBytes?: number;
  /** Reports retries ("retrying after ...") so a user sees why a push pauses. */
  onRetry?: (message: string) => void;
}

/** A registry answered something addonix cannot go on from. */
export class RegistryError extends UserError {
  constructor(
    message: string,
    readonly status?: number,
    /** The wait the registry asked for (Retry-After), for whoever retries. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const NETWORK_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'EAI_AGAIN']);

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A dropped or reset connection: worth another try. */
export function isTransientNetworkError(error: unknown): boolean {
  if (error instanceof UserError) return false;
  const code = errorCode(error);
  if (code) return NETWORK_CODES.has(code);
  return error instanceof TypeError && /fetch failed|terminated|other side closed/i.test(error.message);
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

function retryAfterMs(response: Response): number | undefined {
  const seconds = Number(response.headers.get('retry-after') ?? NaN);
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
  /** Made anew for every attempt (a stream can be sent only once). */
  body?: () => Buffer | ReadableStream<Uint8Array>;
  /** Statuses that are an answer; anything else is an error (after retries for transient ones). */
  expect: number[];
  what: string;
  /** Retry transient failures here (false for uploads, whose retry means resuming the upload). */
  retry?: boolean;
}

async function errorDetail(response: Response): Promise<string> {
  try {
    const text = (await response.text()).slice(0, 2000);
    const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) return parsed.errors.map((e) => `${e.code ?? ''}: ${e.message ?? ''}`).join('; ');
    return text.trim().slice(0, 200);
  } catch {
    return '';
  }
}

export class RegistryClient {
  readonly registry: string;
  readonly baseUrl: string;
  private readonly credentials: Credentials | undefined;
  private readonly scopes: Map<string, Set<string>>;
  readonly retry: RetryPolicy;
  readonly chunkBytes: number;
  private readonly onRetry: (message: string) => void;
  private challenge: Challenge | undefined;
  private token: { value: string; expiresAt: number } | undefined;
  /** Read buffers of finished uploads, for the next ones: fresh ones cost a page fault per 4 KiB. */
  private readonly spareBuffers: Buffer[] = [];
  /** Requests made, by method: the tests read it to prove what a push did and did not do. */
  readonly requestCounts = new Map<string, number>();

  constructor(options: ClientOptions) {
    this.registry = options.registry;
    this.baseUrl = registryBaseUrl(options.registry, options.insecure ?? false);
    this.credentials = options.credentials;
    this.scopes = options.scopes ?? new Map();
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.onRetry = options.onRetry ?? (() => undefined);
  }

  /** Adds actions on a repository to what tokens are asked for (before the first request needing them). */
  addScope(repository: string, ...actions: string[]): void {
    const set = this.scopes.get(repository) ?? new Set<string>();
    const before = set.size;
    for (const action of actions) set.add(action);
    this.scopes.set(repository, set);
    if (set.size !== before) this.token = undefined;
  }

  url(pathOrUrl: string): URL {
    return new URL(pathOrUrl, this.baseUrl);
  }

  private scopeList(extra?: string): string[] {
    const scopes = [...this.scopes].map(([repo, actions]) => `repository:${repo}:${[...actions].sort().join(',')}`);
    if (extra) for (const scope of extra.split(' ')) if (!scopes.includes(scope)) scopes.push(scope);
    return scopes;
  }

  private basicHeader(): string | undefined {
    if (!this.credentials || this.credentials.identityToken) return undefined;
    return `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
  }

  private async authorization(): Promise<string | undefined> {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === 'basic') return this.basicHeader();
    if (!this.token || Date.now() >= this.token.expiresAt) await this.fetchToken();
    return this.token ? `Bearer ${this.token.value}` : undefined;
  }

  /** Gets a bearer token for every scope of this push (push and pull, mount sources) from the realm. */
  private async fetchToken(): Promise<void> {
    const challenge = this.challenge!;
    if (!challenge.realm) throw new RegistryError(`${this.registry} asked for a bearer token without saying where to get one (no realm)`);
    const realm = new URL(challenge.realm);
    const scopes = this.scopeList(challenge.scope);
    let response: Response;
    const ask = async (): Promise<Response> => {
      if (this.credentials?.identityToken) {
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.credentials.identityToken, client_id: 'addonix', scope: scopes.join(' ') });
        if (challenge.service) form.set('service', challenge.service);
        return fetch(realm, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      }
      const url = new URL(realm);
      if (challenge.service) url.searchParams.set('service', challenge.service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      const basic = this.basicHeader();
      return fetch(url, { headers: basic ? { authorization: basic } : {} });
    };
    for (let attempt = 1; ; attempt++) {
      try {
        response = await ask();
      } catch (error) {
        if (attempt < this.retry.attempts && isTransientNetworkError(error)) {
          await sleep(retryDelay(this.retry, attempt));
          continue;
        }
        throw new RegistryError(`cannot get a token from ${realm.origin}: ${(error as Error).message}`);
      }
      if (RETRY_STATUS.has(response.status) && attempt < this.retry.attempts) {
        await response.body?.cancel();
        await sleep(retryDelay(this.retry, attempt, retryAfterMs(response)));
        continue;
      }
      break;
    }
    if (response.status === 401 || response.status === 403) {
      throw new RegistryError(
        this.credentials
          ? `${realm.origin} refused the credentials from ${this.credentials.from} for ${scopes.join(' ')}`
          : `${this.registry} needs a login for ${scopes.join(' ')}: run docker login ${this.registry}, or pass --username with --password-stdin`,
        response.status,
      );
    }
    if (!response.ok) throw new RegistryError(`the token server ${realm.origin} answered ${response.status} ${await errorDetail(response)}`, response.status);
    const body = (await response.json()) as { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    const value = body.token ?? body.access_token;
    if (!value) throw new RegistryError(`the token server ${realm.origin} answered without a token`);
    const lifetime = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60) * 1000;
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const start = Number.isFinite(issued) ? Math.min(issued, Date.now()) : Date.now();
    // Refresh a little before the end, so a token never expires in the middle of a request.
    this.token = { value, expiresAt: start + lifetime * 0.9 };
  }

  /** One API call with authentication and (unless told otherwise) retries of transient failures. */
  async request(method: string, pathOrUrl: string, init: CallOptions): Promise<Response> {
    const url = this.url(pathOrUrl);
    let reauthenticated = false;
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { 'user-agent': 'addonix', ...init.headers };
      const authorization = await this.authorization();
      if (authorization) headers['authorization'] = authorization;
      this.requestCounts.set(method, (this.requestCounts.get(method) ?? 0) + 1);
      let response: Response;
      try {
        const body = init.body?.();
        const options: RequestInit & { duplex?: 'half' } = { method, headers, redirect: 'follow' };
        if (body !== undefined) Object.assign(options, { body, duplex: 'half' });
        response = await fetch(url, options);
      } catch (error) {
        const code = errorCode(error);
        if (init.retry !== false && attempt < this.retry.attempts && isTransientNetworkError(error)) {
          this.onRetry(`${init.what}: connection lost (${code ?? 'reset'}), retrying`);
          await sleep(retryDelay(this.retry, attempt));
          continue;
        }
        if (code === 'ECONNREFUSED' || code === 'ENOTFOUND') throw new RegistryError(`cannot connect to ${this.registry} (${url.origin}): ${code === 'ENOTFOUND' ? 'no such host' : 'connection refused'}`);
        if (error instanceof UserError) throw error;
        throw Object.assign(new RegistryError(`${init.what}: ${(error as Error).message}${code ? ` (${code})` : ''}`), { cause: error });
      }
      if (response.status === 401 && !reauthenticated) {
        const challenge = parseChallenge(response.headers.get('www-authenticate'));
        await response.body?.cancel();
        if (!challenge) throw new RegistryError(`${init.what}: ${this.registry} refused access (401) without saying how to log in`, 401);
        if (challenge.scheme === 'basic' && !this.credentials) {
          throw new RegistryError(`${this.registry} needs a login: run docker login ${this.registry}, or pass --username with --password-stdin`, 401);
        }
        this.challenge = challenge;
        this.token = undefined;
        reauthenticated = true;
        attempt--;
        continue;
      }
      if (init.expect.includes(response.status)) return response;
      if (init.retry !== false && RETRY_STATUS.has(response.status) && attempt < this.retry.attempts) {
        await response.body?.cancel();
        this.onRetry(`${init.what}: ${this.registry} answered ${response.status}, retrying`);
        await sleep(retryDelay(this.retry, attempt, retryAfterMs(response)));
        continue;
      }
      throw await this.failure(response, init.what);
    }
  }

  private async failure(response: Response, what: string): Promise<RegistryError> {
    const detail = await errorDetail(response);
    const hint =
      response.status === 401 || response.status === 403
        ? this.credentials
          ? ` (the credentials from ${this.credentials.from} are not allowed to do this)`
          : ` (log in with docker login ${this.registry}, or pass --username with --password-stdin)`
        : response.status === 413
          ? ' (the request was too large: try a smaller --chunk-size)'
          : '';
    return new RegistryError(`${what}: ${this.registry} answered ${response.status}${detail ? ` ${detail}` : ''}${hint}`, response.status, retryAfterMs(response));
  }

  /** Whether the repository has the blob (HEAD). */
  async hasBlob(repository: string, digest: Digest): Promise<boolean> {
    const response = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`, { expect: [200, 404], what: `checking blob ${digest} in ${repository}` });
    return response.status === 200;
  }

  /** Mounts a blob from another repository of this registry; undefined when mounted, else an upload URL. */
  async mountBlob(repository: string, digest: Digest, from: string): Promise<string | undefined> {
    const query = new URLSearchParams({ mount: digest, from });
    const response = await this.request('POST', `/v2/${repository}/blobs/uploads/?${query}`, { expect: [201, 202], what: `mounting ${digest} into ${repository}` });
    await response.body?.cancel();
    if (response.status === 201) return undefined;
    return this.location(response, 'mount');
  }

  private location(response: Response, what: string): string {
    const location = response.headers.get('location');
    if (!location) throw new RegistryError(`${this.registry} started an upload (${what}) without a Location`);
    return this.url(location).toString();
  }

  async startUpload(repository: string): Promise<string> {
    const response = await this.request('POST', `/v2/${repository}/blobs/uploads/`, { expect: [202], what: `starting an upload to ${repository}` });
    await response.body?.cancel();
    return this.location(response, 'POST');
  }

  /** The offset to go on from in an upload session, or undefined when the registry lost or refused it. */
  private async uploadOffset(location: string): Promise<{ offset: number; location: string } | undefined> {
    try {
      const response = await this.request('GET', location, { expect: [204, 400, 404], what: 'asking where an upload stands' });
      await response.body?.cancel();
      if (response.status !== 204) return undefined;
      const range = /^(?:bytes=)?0-(\d+)$/.exec(response.headers.get('range') ?? '');
      const next = response.headers.get('location');
      return { offset: range ? Number(range[1]) + 1 : 0, location: next ? this.url(next).toString() : location };
    } catch (error) {
      if (error instanceof RegistryError) return undefined;
      throw error;
    }
  }

  /**
   * Uploads a blob: one PUT up to the chunk size, PATCH chunks above it. A dropped connection or a 5xx
   * resumes a chunked upload from the registry's Range (or starts over when the registry lost the
   * session), and restarts a monolithic one.
   */
  async uploadBlob(repository: string, blob: Descriptor, file: string, onBytes: (count: number) => void, session?: string): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      throw new UserError(`uploading ${blob.digest}: cannot read ${file} (${(error as Error).message})`);
    }
    // Two read buffers used in turn (see uploadFrom), reused by later uploads once this one has ended.
    const size = Math.min(UPLOAD_CHUNK, blob.size);
    const buffers: [Buffer, Buffer] = size === UPLOAD_CHUNK ? [this.takeBuffer(), this.takeBuffer()] : [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)];
    try {
      await this.uploadFrom(handle, repository, blob, buffers, onBytes, session);
    } finally {
      await handle.close();
      if (size === UPLOAD_CHUNK && this.spareBuffers.length < MAX_SPARE_BUFFERS) this.spareBuffers.push(...buffers);
    }
  }

  private takeBuffer(): Buffer {
    return this.spareBuffers.pop() ?? Buffer.allocUnsafeSlow(UPLOAD_CHUNK);
  }

  private async uploadFrom(
    handle: FileHandle,
    repository: string,
    blob: Descriptor,
    buffers: [Buffer, Buffer],
    onBytes: (count: number) => void,
    session: string | undefined,
  ): Promise<void> {
    const chunked = blob.size > this.chunkBytes;
    let location = session ?? (await this.startUpload(repository));
    let offset = 0;
    let failures = 0;
    let sent = 0; // Bytes read for the request in flight; sent again when it fails.
    /**
     * The bytes [start, end) of the blob as a request body, read into the two buffers used in turn. fetch
     * asks for a chunk only once the socket has taken the one before (undici waits for 'drain' after
     * writing more than the socket's 16 KiB high-water mark; every chunk but a range's last fills a buffer,
     * and a range under 16 KiB is one chunk), so a buffer is never overwritten while it is being sent. A
     * request that has failed may still have a read under way, which the next request waits for
     * (`settled`). A Node stream would be copied chunk by chunk by fetch. The registry checks the digest
     * of what arrives.
     */
    let reading: Promise<unknown> = Promise.resolve();
    const settled = () => reading.catch(() => undefined);
    const counted = (start: number, end: number): ReadableStream<Uint8Array> => {
      let position = start;
      return new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            if (position >= end) return controller.close();
            const buffer = buffers[0];
            buffers.reverse();
            const read = handle.read(buffer, 0, Math.min(buffer.length, end - position), position);
            reading = read;
            const { bytesRead } = await read;
            if (bytesRead === 0) throw new UserError(`uploading ${blob.digest}: the blob file ends at ${position} of ${blob.size} bytes`);
            position += bytesRead;
            sent += bytesRead;
            onBytes(bytesRead);
            controller.enqueue(buffer.subarray(0, bytesRead));
          },
        },
        { highWaterMark: 0 },
      );
    };
    const finish = (url: string, body?: () => ReadableStream<Uint8Array>) => {
      const target = this.url(url);
      target.searchParams.set('digest', blob.digest);
      return this.request('PUT', target.toString(), {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(body ? blob.size : 0) },
        ...(body ? { body } : {}),
        expect: [201],
        what: `uploading ${blob.digest} to ${repository}`,
        retry: false,
      });
    };
    for (;;) {
      sent = 0;
      try {
        await settled();
        if (!chunked) {
          const response = await finish(location, () => counted(0, blob.size));
          await response.body?.cancel();
          return;
        }
        while (offset < blob.size) {
          const end = Math.min(offset + this.chunkBytes, blob.size);
          const start = offset;
          await settled();
          const response = await this.request('PATCH', location, {
            headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end - 1}`, 'content-length': String(end - start) },
            body: () => counted(start, end),
            expect: [202],
            what: `uploading ${blob.digest} to ${repository}`,
            retry: false,
          });
          await response.body?.cancel();
          location = this.location(response, 'PATCH');
          offset = end;
          sent = 0;
        }
        const response = await finish(location);
        await response.body?.cancel();
        return;
      } catch (error) {
        const transient = isTransientNetworkError(error) || isTransientNetworkError((error as Error).cause) || (error instanceof RegistryError && error.status !== undefined && RETRY_STATUS.has(error.status));
        if (!transient || ++failures >= this.retry.attempts) throw error;
        onBytes(-sent);
        this.onRetry(`uploading ${blob.digest} to ${repository}: ${(error as Error).message}; ${chunked ? 'resuming' : 'starting over'}`);
        await sleep(retryDelay(this.retry, failures, error instanceof RegistryError ? error.retryAfterMs : undefined));
        const resumed = chunked ? await this.uploadOffset(location) : undefined;
        if (resumed && resumed.offset <= blob.size) {
          offset = resumed.offset;
          location = resumed.location;
        } else {
          offset = 0;
          location = await this.startUpload(repository);
        }
      }
    }
  }

  async hasManifest(repository: string, digest: Digest): Promise<boolean> {
    const response = await this.request('HEAD', `/v2/${repository}/manifests/${digest}`, { expect: [200, 404], headers: { accept: MANIFEST_ACCEPT }, what: `checking manifest ${digest} in ${repository}` });
    return response.status === 200;
  }

  /** PUTs a manifest or index under a digest or tag; checks the digest the registry computed. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<void> {
    const response = await this.request('PUT', `/v2/${repository}/manifests/${reference}`, {
      headers: { 'content-type': mediaType },
      body: () => bytes,
      expect: [201],
      what: `putting manifest ${reference} in ${repository}`,
    });
    await response.body?.cancel();
    const digest = response.headers.get('docker-content-digest');
    if (digest && digest !== sha256(bytes)) throw new RegistryError(`${this.registry} stored manifest ${reference} under ${digest}, not ${sha256(bytes)}`);
  }

  /** GETs a manifest or index, with its media type and checked digest. */
  async getManifest(repository: string, reference: string, maxBytes: number): Promise<{ bytes: Buffer; mediaType: string; digest: Digest }> {
    const response = await this.request('GET', `/v2/${repository}/manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT }, expect: [200], what: `getting manifest ${reference} from ${repository}` });
    const bytes = await readLimited(response, maxBytes, `manifest ${reference}`);
    const digest = sha256(bytes);
    if (isDigest(reference) && reference !== digest) throw new RegistryError(`${this.registry} answered manifest ${reference} with bytes that hash to ${digest}`);
    return { bytes, mediaType: (response.headers.get('content-type') ?? '').split(';')[0]!.trim(), digest };
  }

  /**
   * GETs a blob as a stream of its bytes (a layer), following the registry's redirect to its storage. The
   * caller checks the digest as it reads (the scanners hash every byte anyway).
   */
  async openBlob(repository: string, digest: Digest): Promise<AsyncIterable<Buffer>> {
    const response = await this.request('GET', `/v2/${repository}/blobs/${digest}`, { expect: [200], what: `getting blob ${digest} from ${repository}` });
    if (!response.body) throw new RegistryError(`${this.registry} answered blob ${digest} without a body`);
    const body = response.body as unknown as AsyncIterable<Uint8Array>;
    return (async function* () {
      for await (const chunk of body) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    })();
  }

  /** GETs a small blob (a config) and checks its digest. */
  async getBlob(repository: string, digest: Digest, maxBytes: number): Promise<Buffer> {
    const response = await this.request('GET', `/v2/${repository}/blobs/${digest}`, { expect: [200], what: `getting blob ${digest} from ${repository}` });
    const bytes = await readLimited(response, maxBytes, `blob ${digest}`);
    if (sha256(bytes) !== digest) throw new RegistryError(`${this.registry} answered blob ${digest} with bytes that hash to ${sha256(bytes)}`);
    return bytes;
  }
}

async function readLimited(response: Response, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new RegistryError(`${what} is larger than ${maxBytes} bytes; refusing to read it into memory`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
