/**
 * The registry client (src/registry/client.ts) in process, against Debian's docker-registry (distribution
 * 2.8) on 127.0.0.1: uploads in one PUT and in PATCH chunks, existence checks, cross-repository mounts,
 * manifests and an index (which 2.8 returns only with an OCI Accept header), tags; basic and bearer
 * authentication; retries of 5xx/429 and resets through a fault proxy; refusals and silence as errors
 * with codes. Pushing whole images through the CLI is push.test.ts and push-faults.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileUploadSource, isTransientNetworkError, parseChallenge, RegistryClient, RegistryError, type ClientOptions, type RetryPolicy } from '../src/registry/client.js';
import { lookupCredentials } from '../src/registry/credentials.js';
import { formatReference, parseReference } from '../src/registry/reference.js';
import { sha256, type Digest } from '../src/oci/digest.js';
import { MediaType } from '../src/oci/media-types.js';
import { UserError } from '../src/util/errors.js';
import { needTools, tempTree } from './helpers.js';
import { freePort, startFaultProxy, startLateRegistry, startRegistry, startRelay, startSilentServer, startTokenServer, startTrickleServer } from './registry-helpers.js';

/** Retries without long waits: the behaviour is the same, the pauses short. */
const QUICK: RetryPolicy = { attempts: 7, retryForMs: 5_000, baseMs: 10, maxMs: 50 };

function client(registry: string, options: Partial<ClientOptions> = {}): RegistryClient {
  return new RegistryClient({ registry, retry: QUICK, ...options });
}

/** A blob written to a file, with its descriptor. */
function blobFile(t: TestContext, bytes: Buffer): { file: string; digest: Digest; size: number } {
  const dir = tempTree(t, { blob: bytes });
  return { file: path.join(dir, 'blob'), digest: sha256(bytes), size: bytes.length };
}

async function upload(registryClient: RegistryClient, repository: string, blob: { file: string; digest: Digest; size: number }): Promise<{ digest: Digest; bytes: number }> {
  const source = await fileUploadSource(blob.file, { mediaType: 'application/octet-stream', digest: blob.digest, size: blob.size });
  let bytes = 0;
  try {
    const digest = await registryClient.uploadBlob(repository, source, (count) => (bytes += count));
    return { digest, bytes };
  } finally {
    await source.close();
  }
}

/** A small image: a config and one layer uploaded, and its manifest's bytes. */
async function smallImage(t: TestContext, registryClient: RegistryClient, repository: string) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = randomBytes(3000);
  for (const bytes of [config, layer]) await upload(registryClient, repository, blobFile(t, bytes));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    }),
  );
  return { config, layer, manifest };
}

async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => assert.fail('expected the registry call to fail'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof RegistryError, `a RegistryError, not ${String(error)}`);
  assert.ok(error instanceof UserError, 'registry errors are user errors (rendered with their code, no stack)');
  return error;
}

test('registry client: blobs in one PUT and in PATCH chunks, HEAD, GET checked against the digest, a mount into another repository', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const whole = client(registry.host);
  const small = blobFile(t, randomBytes(10_000));
  assert.equal(await whole.hasBlob('me/one', small.digest), false);
  const sent = await upload(whole, 'me/one', small);
  assert.deepEqual(sent, { digest: small.digest, bytes: small.size }, 'every byte counted once');
  assert.equal(whole.requestCounts.get('PATCH') ?? 0, 0, 'a blob under the chunk size goes in one PUT');
  assert.equal(await whole.hasBlob('me/one', small.digest), true);
  assert.ok((await whole.getBlob('me/one', small.digest, 1 << 20)).equals(readFileSync(small.file)));

  // 200 KB in 64 KiB chunks: PATCHes, then the final PUT with the rest.
  const chunked = client(registry.host, { chunkBytes: 64 * 1024 });
  const big = blobFile(t, randomBytes(200_000));
  assert.equal((await upload(chunked, 'me/one', big)).bytes, big.size);
  assert.equal(chunked.requestCounts.get('PATCH'), 3);
  const streamed: Buffer[] = [];
  for await (const chunk of await chunked.openBlob('me/one', big.digest, big.size)) streamed.push(Buffer.from(chunk));
  assert.equal(sha256(Buffer.concat(streamed)), big.digest);

  // A small blob read with a limit below its size is refused, not read into memory.
  const tooBig = await rejection(whole.getBlob('me/one', big.digest, 1000));
  assert.match(tooBig.message, /is larger than 1000 bytes; refusing to read it into memory/);

  // Mounted into another repository of the same registry: no upload URL, and the blob is there.
  assert.equal(await whole.mountBlob('me/two', small.digest, 'me/one'), undefined);
  assert.equal(await whole.hasBlob('me/two', small.digest), true);
  // A mount of a blob the source does not have starts an upload instead.
  const missing = sha256(Buffer.from('not pushed'));
  const location = await whole.mountBlob('me/two', missing, 'me/one');
  assert.match(location ?? '', new RegExp(`^http://${registry.host.replace(/\./g, '\\.')}/v2/me/two/blobs/uploads/`));
});

test('registry client: a manifest by digest and tag, an index read back only with the OCI Accept header, tags moved and missing', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const registryClient = client(registry.host);
  const { manifest } = await smallImage(t, registryClient, 'me/addon');
  const manifestDigest = sha256(manifest);
  assert.equal(await registryClient.hasManifest('me/addon', manifestDigest), false);
  await registryClient.putManifest('me/addon', manifestDigest, manifest, MediaType.ociManifest);
  assert.equal(await registryClient.hasManifest('me/addon', manifestDigest), true);

  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [{ mediaType: MediaType.ociManifest, digest: manifestDigest, size: manifest.length, platform: { architecture: 'amd64', os: 'linux' } }],
    }),
  );
  assert.equal(await registryClient.tagDigest('me/addon', '1.0.0'), null, 'no such tag yet');
  await registryClient.putManifest('me/addon', '1.0.0', index, MediaType.ociIndex);
  assert.equal(await registryClient.tagDigest('me/addon', '1.0.0'), sha256(index));
  const read = await registryClient.getManifest('me/addon', '1.0.0', 1 << 20);
  assert.deepEqual({ mediaType: read.mediaType, digest: read.digest }, { mediaType: MediaType.ociIndex, digest: sha256(index) });
  assert.ok(read.bytes.equals(index), 'the index byte for byte');
  const byDigest = await registryClient.getManifest('me/addon', manifestDigest, 1 << 20);
  assert.equal(byDigest.mediaType, MediaType.ociManifest);
  assert.ok(byDigest.bytes.equals(manifest));

  // The tag moves to the manifest.
  await registryClient.putManifest('me/addon', '1.0.0', manifest, MediaType.ociManifest);
  assert.equal(await registryClient.tagDigest('me/addon', '1.0.0'), manifestDigest);

  const notFound = await rejection(registryClient.getManifest('me/addon', 'nope', 1 << 20));
  assert.equal(notFound.code, 'registry-not-found');
  assert.equal(notFound.status, 404);
  assert.match(notFound.message, /getting manifest nope from me\/addon: 127\.0\.0\.1:\d+ answered 404 MANIFEST_UNKNOWN/);
  assert.equal(await registryClient.tagDigest('nobody/here', 'latest'), null, 'a repository that does not exist has no tags');

  // A manifest naming a blob the repository lacks is refused with the registry's own code.
  const dangling = Buffer.from(JSON.stringify({ ...JSON.parse(manifest.toString()), config: { mediaType: MediaType.ociConfig, digest: sha256(Buffer.from('nothing')), size: 7 } }));
  const refused = await rejection(registryClient.putManifest('me/addon', sha256(dangling), dangling, MediaType.ociManifest));
  assert.equal(refused.code, 'registry-refused');
  assert.equal(refused.registryCode, 'MANIFEST_BLOB_UNKNOWN');
});

test('registry client: htpasswd auth; anonymous and wrong credentials refused with a hint and without the secret', async (t) => {
  if (!needTools(t, 'docker-registry', 'htpasswd')) return;
  const registry = await startRegistry(t, { htpasswd: { user: 'alice', password: 'secret-pw' } });
  const blob = blobFile(t, randomBytes(1000));

  const anonymous = await rejection(client(registry.host).hasBlob('me/addon', blob.digest));
  assert.equal(anonymous.code, 'registry-auth');
  assert.match(anonymous.message, /needs a login: run docker login 127\.0\.0\.1:\d+, or pass --username with --password-stdin/);

  const wrong = await rejection(client(registry.host, { credentials: { username: 'alice', password: 'not-the-pw', from: '--password-stdin' } }).hasBlob('me/addon', blob.digest));
  assert.equal(wrong.code, 'registry-auth');
  assert.match(wrong.message, /answered 401.*\(the credentials from --password-stdin are not allowed to do this\)/);
  assert.doesNotMatch(wrong.message, /not-the-pw/);

  const right = client(registry.host, { credentials: { username: 'alice', password: 'secret-pw', from: 'test' } });
  assert.equal((await upload(right, 'me/addon', blob)).digest, blob.digest);
  assert.equal(await right.hasBlob('me/addon', blob.digest), true);
});

test('registry client: bearer tokens for every scope at once, with credentials, refreshed when a new scope is added', async (t) => {
  if (!needTools(t, 'docker-registry', 'openssl')) return;
  const tokens = await startTokenServer(t, { user: { name: 'bob', password: 'hunter2' } });
  const registry = await startRegistry(t, { token: tokens });
  const registryClient = client(registry.host, { credentials: { username: 'bob', password: 'hunter2', from: 'test' } });
  registryClient.addScope('me/addon', 'pull', 'push');
  const blob = blobFile(t, randomBytes(1000));
  await upload(registryClient, 'me/addon', blob);
  assert.equal(await registryClient.hasBlob('me/addon', blob.digest), true);
  assert.equal(tokens.requests.length, 1, 'one token for the whole upload');
  assert.deepEqual(tokens.requests[0], { scopes: ['repository:me/addon:pull,push'], user: 'bob' });
  // A mount needs pull on the source: the next token covers both repositories.
  registryClient.addScope('me/other', 'pull', 'push');
  registryClient.addScope('me/addon', 'pull');
  assert.equal(await registryClient.mountBlob('me/other', blob.digest, 'me/addon'), undefined);
  assert.equal(tokens.requests.length, 2);
  assert.deepEqual(tokens.requests[1]!.scopes.sort(), ['repository:me/addon:pull,push', 'repository:me/other:pull,push']);

  const refused = await rejection(client(registry.host, { credentials: { username: 'bob', password: 'wrong', from: 'a credential helper' } }).hasBlob('me/addon', blob.digest));
  assert.equal(refused.code, 'registry-auth');
  assert.match(refused.message, /refused the credentials from a credential helper for repository:me\/addon:pull/);
  const anonymous = await rejection(client(registry.host).hasBlob('me/addon', blob.digest));
  assert.match(anonymous.message, /needs a login for repository:me\/addon:pull: run docker login/);
});

test('registry client: 500, 429 and reset connections are retried and told; each chunk of an upload has retries of its own', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const proxy = await startFaultProxy(t, registry.host, [
    { method: 'HEAD', fault: '500', times: 2 },
    { method: 'HEAD', fault: '429', times: 1 },
    { method: 'PATCH', fault: '500', every: 2, times: 10 },
    { method: 'GET', path: /\/manifests\//, fault: 'reset-before', times: 1 },
  ]);
  const retries: string[] = [];
  const registryClient = client(proxy.host, { chunkBytes: 64 * 1024, onRetry: (message) => retries.push(message) });
  const blob = blobFile(t, randomBytes(1_200_000));
  assert.equal(await registryClient.hasBlob('me/chunks', blob.digest), false, 'after two 500s and a 429');
  assert.equal(registryClient.requestCounts.get('HEAD'), 4);
  // Some 19 chunks of 64 KiB, ten of them refused once: more than the tries a whole blob has.
  const sent = await upload(registryClient, 'me/chunks', blob);
  assert.equal(sent.digest, blob.digest);
  assert.equal(sent.bytes, blob.size, 'bytes of failed requests are taken back from the count');
  assert.equal(proxy.injected.filter((fault) => fault.startsWith('500 PATCH')).length, 10);
  assert.equal(await registryClient.hasBlob('me/chunks', blob.digest), true);
  // A dropped connection before the answer is tried again.
  const { manifest } = await smallImage(t, client(registry.host), 'me/chunks');
  await client(registry.host).putManifest('me/chunks', '1', manifest, MediaType.ociManifest);
  assert.equal((await registryClient.getManifest('me/chunks', '1', 1 << 20)).digest, sha256(manifest));
  assert.ok(proxy.injected.includes('reset-before GET /v2/me/chunks/manifests/1'));
  assert.ok(retries.some((message) => /answered 500, retrying/.test(message)), retries.join('\n'));
  assert.ok(retries.some((message) => /answered 429, retrying/.test(message)), retries.join('\n'));
  assert.ok(retries.some((message) => /connection lost .*retrying/.test(message)), retries.join('\n'));
});

test('registry client: an upload whose last request is cut in the middle goes on or starts over, and stores the right blob', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const proxy = await startFaultProxy(t, registry.host, [{ method: 'PUT', path: /\/blobs\/uploads\//, fault: 'reset-mid-body', times: 1 }]);
  const retries: string[] = [];
  const registryClient = client(proxy.host, { chunkBytes: 64 * 1024, onRetry: (message) => retries.push(message) });
  const blob = blobFile(t, randomBytes(300_000));
  const sent = await upload(registryClient, 'me/cut', blob);
  assert.equal(sent.digest, blob.digest);
  // The registry keeps half of the cut request, so the upload starts over: its chunks are sent (and counted) again.
  assert.ok(sent.bytes >= blob.size, `${sent.bytes} bytes counted`);
  assert.deepEqual(proxy.injected.filter((fault) => fault.startsWith('reset-mid-body')).length, 1);
  assert.ok(retries.some((message) => /uploading sha256:\w+ to me\/cut: .*(resuming|starting over)$/.test(message)), retries.join('\n'));
  assert.equal(sha256(await client(registry.host).getBlob('me/cut', blob.digest, 1 << 20)), blob.digest, 'the stored blob is the right one');
});

test('registry client: a 5xx for good gives up after its tries with the registry\'s words', async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const proxy = await startFaultProxy(t, registry.host, [{ method: 'GET', fault: '500', times: 100 }]);
  const registryClient = client(proxy.host);
  const error = await rejection(registryClient.getManifest('me/addon', '1', 1 << 20));
  assert.equal(registryClient.requestCounts.get('GET'), QUICK.attempts);
  assert.equal(error.status, 500);
  assert.equal(error.code, 'registry-refused');
  assert.match(error.message, /answered 500 UNAVAILABLE: injected/);
});

test('registry client: an address nothing listens on fails at once; a registry that never answers fails after the timeout', async (t) => {
  const port = await freePort();
  const retries: string[] = [];
  const absent = await rejection(client(`127.0.0.1:${port}`, { onRetry: (message) => retries.push(message) }).hasBlob('me/addon', sha256(Buffer.from('x'))));
  assert.equal(absent.code, 'registry-unreachable');
  assert.match(absent.message, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port} \\(http://127\\.0\\.0\\.1:${port}\\): connection refused`));
  assert.deepEqual(retries, [], 'an address nothing listens on is not retried');

  const host = await startSilentServer(t);
  const stuck = await rejection(client(host, { timeoutMs: 1000 }).getManifest('me/addon', '1', 1 << 20));
  assert.match(stuck.message, new RegExp(`getting manifest 1 from me/addon: ${host.replace(/\./g, '\\.')} did not answer within 1 s .*--timeout SECONDS sets how long addonix waits`));
});

test('registry client: WWW-Authenticate challenges, and which failures are worth another try', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), {
    scheme: 'bearer',
    realm: 'https://auth.example/token',
    service: 'registry.example',
    scope: 'repository:a/b:pull,push',
  });
  assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', realm: 'Registry Realm' });
  assert.deepEqual(parseChallenge('bearer realm=https://x/t, service=s'), { scheme: 'bearer', realm: 'https://x/t', service: 's' });
  assert.equal(parseChallenge('Negotiate abc'), undefined);
  assert.equal(parseChallenge(null), undefined);

  assert.equal(isTransientNetworkError(Object.assign(new Error('x'), { code: 'ECONNRESET' })), true);
  assert.equal(isTransientNetworkError(new TypeError('fetch failed', { cause: Object.assign(new Error('y'), { code: 'UND_ERR_SOCKET' }) })), true);
  assert.equal(isTransientNetworkError(new TypeError('fetch failed', { cause: new Error('other side closed') })), true);
  assert.equal(isTransientNetworkError(Object.assign(new Error('x'), { code: 'ENOTFOUND' })), false);
  assert.equal(isTransientNetworkError(new RegistryError('refused', 400)), false, 'an answer is not a network failure');
  assert.equal(isTransientNetworkError(new Error('fetch failed')), false);
});

test('registry references: registry, repository, tag or digest, and what is refused', () => {
  assert.deepEqual(parseReference('ghcr.io/me/my-addon:1.2.3'), { registry: 'ghcr.io', repository: 'me/my-addon', tag: '1.2.3' });
  assert.deepEqual(parseReference('127.0.0.1:5000/me/addon'), { registry: '127.0.0.1:5000', repository: 'me/addon' });
  const digest = sha256(Buffer.from('m'));
  assert.deepEqual(parseReference(`localhost:5000/a/b@${digest}`), { registry: 'localhost:5000', repository: 'a/b', digest });
  assert.equal(formatReference(parseReference('ghcr.io/me/my-addon:1.2.3')), 'ghcr.io/me/my-addon:1.2.3');
  assert.throws(() => parseReference('https://ghcr.io/me/addon'), /leave out the scheme/);
  assert.throws(() => parseReference('ghcr.io/Me/addon'), /'Me' is not a valid repository name component/);
  assert.throws(() => parseReference('ghcr.io/me/addon@sha256:abc'), /is not a sha256 digest/);
  assert.equal(parseReference('ghcr.io/me/{arch}-addon', { allowArchTemplate: true }).repository, 'me/{arch}-addon');
});

test("registry credentials: Docker's config file, auths by host, identity tokens, a helper that is not installed", async (t) => {
  const dir = tempTree(t, {});
  const previous = process.env['DOCKER_CONFIG'];
  t.after(() => {
    if (previous === undefined) delete process.env['DOCKER_CONFIG'];
    else process.env['DOCKER_CONFIG'] = previous;
  });
  process.env['DOCKER_CONFIG'] = dir;
  assert.equal(await lookupCredentials('ghcr.io'), undefined, 'no config file: anonymous');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hubpass').toString('base64') },
        'http://127.0.0.1:5000': { username: 'local', password: 'pw' },
        'token.example': { identitytoken: 'refresh-me' },
        'broken.example': { auth: Buffer.from('no-colon').toString('base64') },
      },
      credHelpers: { 'helped.example': 'addonix-test-missing' },
    }),
  );
  assert.deepEqual(pick(await lookupCredentials('docker.io')), { username: 'hubuser', password: 'hubpass' });
  assert.deepEqual(pick(await lookupCredentials('127.0.0.1:5000')), { username: 'local', password: 'pw' });
  assert.equal((await lookupCredentials('token.example'))?.identityToken, 'refresh-me');
  assert.equal(await lookupCredentials('other.example'), undefined);
  await assert.rejects(lookupCredentials('broken.example'), (error: unknown) => error instanceof UserError && error.code === 'credentials' && /not base64 of USER:PASSWORD/.test(error.message));
  await assert.rejects(
    lookupCredentials('helped.example'),
    (error: unknown) => error instanceof UserError && error.code === 'credentials' && /docker-credential-addonix-test-missing is not on PATH/.test(error.message),
  );
});

function pick(credentials: { username: string; password: string } | undefined) {
  return credentials && { username: credentials.username, password: credentials.password };
}

test('registry client: credentials go only to the registry\'s own host; an upload sent elsewhere, or redirected, goes on without them', async (t) => {
  if (!needTools(t, 'docker-registry', 'htpasswd')) return;
  const user = { user: 'alice', password: 'secret-pw' };
  const registry = await startRegistry(t, { htpasswd: user });
  const basic = `Basic ${Buffer.from(`${user.user}:${user.password}`).toString('base64')}`;
  const credentials = { username: user.user, password: user.password, from: 'test' };
  // Another host:port holding the upload sessions (as storage behind a registry does): it needs no
  // credentials of the client, and records whether it got some.
  const storage = await startRelay(t, registry.host, { authorization: basic });
  const front = await startRelay(t, registry.host, { location: (location) => `http://${storage.host}${location}` });
  const blob = blobFile(t, randomBytes(200_000));
  const small = client(front.host, { credentials, chunkBytes: 64 * 1024 });
  assert.equal((await upload(small, 'me/addon', blob)).digest, blob.digest);
  assert.ok(front.seen.some((r) => r.authorization), 'the registry got the credentials (once it asked for them)');
  assert.ok(storage.seen.length >= 4, `the upload went to the other host in chunks: ${JSON.stringify(storage.seen)}`);
  assert.deepEqual(storage.seen.filter((r) => r.authorization), [], 'the other host got none of them');
  assert.equal(await small.hasBlob('me/addon', blob.digest), true);

  // Redirects: an upload's chunks and its last PUT answered with 307 to another host, a blob's GET with
  // a 302 to it: followed, the body sent again, the credentials left behind.
  const redirected = await startRelay(t, registry.host, {
    redirect: (method, url) => (method === 'PATCH' || method === 'PUT' || (method === 'GET' && url.includes('/blobs/sha256:')) ? { status: method === 'GET' ? 302 : 307, location: `http://${storage.host}${url}` } : undefined),
  });
  storage.seen.length = 0;
  const other = blobFile(t, randomBytes(150_000));
  const following = client(redirected.host, { credentials, chunkBytes: 64 * 1024 });
  assert.equal((await upload(following, 'me/addon', other)).digest, other.digest);
  const back: Buffer[] = [];
  for await (const chunk of await following.openBlob('me/addon', other.digest, other.size)) back.push(Buffer.from(chunk));
  assert.equal(sha256(Buffer.concat(back)), other.digest, 'the redirected GET gives the blob');
  assert.deepEqual([...new Set(storage.seen.map((r) => r.method))].sort(), ['GET', 'PATCH', 'PUT']);
  assert.deepEqual(storage.seen.filter((r) => r.authorization), [], 'no credentials followed a redirect to another host');
});

test('registry client: an answer that trickles in ends at its deadline; a registry reset before it first answers is waited for', async (t) => {
  const host = await startTrickleServer(t, 200);
  const started = Date.now();
  const slow = await rejection(client(host, { timeoutMs: 1000 }).getManifest('me/addon', '1', 1 << 20));
  assert.match(slow.message, /took too long/);
  assert.ok(Date.now() - started < 4000, `it stopped at the deadline, not after the whole body (${Date.now() - started} ms)`);

  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  // Accepted and reset, then refused for a while: a registry restarting, not an address nothing listens on.
  const late = await startLateRegistry(t, registry.host, 600);
  const retries: string[] = [];
  assert.equal(await client(late, { onRetry: (message) => retries.push(message) }).hasBlob('me/addon', sha256(Buffer.from('x'))), false);
  assert.ok(retries.some((message) => /connection refused, retrying/.test(message)), retries.join('\n'));
});
