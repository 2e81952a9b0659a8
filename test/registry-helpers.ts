/**
 * Test servers on 127.0.0.1, each on a free port and stopped after its test: Debian's docker-registry
 * (distribution 2.8; optionally with htpasswd or token auth), a token server of our own for bearer auth,
 * and a fault proxy that resets connections mid-upload, answers 500s and 429s, and delays.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createHash, randomUUID, sign } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { tempTree } from './helpers.js';

export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function listen(server: NetServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Stops a server, cutting open keep-alive connections so that close() does not wait for them. */
function stopServer(t: TestContext, server: NetServer, sockets: Set<Socket>): void {
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

function trackSockets(server: NetServer): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return sockets;
}

export interface Registry {
  /** host:port, as a registry is named in references. */
  host: string;
  url: string;
  process: ChildProcess;
  /** Its storage folder. */
  data: string;
  /** Kills it at once (SIGKILL, as a crash would), and starts it again on the same port and storage when told. */
  kill(): Promise<void>;
  restart(): Promise<void>;
}

export interface RegistryAuth {
  htpasswd?: { user: string; password: string };
  token?: TokenServer;
}

/** Starts Debian's docker-registry on 127.0.0.1 with storage in a temporary folder. */
export async function startRegistry(t: TestContext, auth: RegistryAuth = {}): Promise<Registry> {
  const dir = tempTree(t, {});
  const port = await freePort();
  let authConfig = '';
  if (auth.htpasswd) {
    const file = path.join(dir, 'htpasswd');
    const result = spawnSync('htpasswd', ['-Bbn', auth.htpasswd.user, auth.htpasswd.password], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`htpasswd failed: ${result.stderr}`);
    writeFileSync(file, result.stdout);
    authConfig = `auth:\n  htpasswd:\n    realm: addonix-test\n    path: ${file}\n`;
  } else if (auth.token) {
    authConfig = `auth:\n  token:\n    realm: ${auth.token.url}/token\n    service: ${auth.token.service}\n    issuer: ${auth.token.issuer}\n    rootcertbundle: ${auth.token.certFile}\n`;
  }
  mkdirSync(path.join(dir, 'data'));
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${authConfig}`,
  );
  let child!: ChildProcess;
  let stderr = '';
  const url = `http://127.0.0.1:${port}`;
  const launch = async () => {
    child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    for (let i = 0; i < 100; i++) {
      try {
        const response = await fetch(`${url}/v2/`);
        if (response.status === 200 || response.status === 401) return;
      } catch {
        // Not listening yet.
      }
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`docker-registry did not start: ${stderr}`);
  };
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  t.after(kill);
  await launch();
  const registry: Registry = {
    host: `127.0.0.1:${port}`,
    url,
    get process() {
      return child;
    },
    data: path.join(dir, 'data'),
    kill,
    restart: launch,
  };
  return registry;
}

export interface TokenServer {
  url: string;
  service: string;
  issuer: string;
  certFile: string;
  /** Every token request: the scopes asked for and whether credentials came with it. */
  requests: { scopes: string[]; user: string | null }[];
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/**
 * A token server in the Docker token protocol: ES256 JWTs with the signing certificate in `x5c`, which
 * distribution 2.8 checks against its rootcertbundle. With `user`, it wants Basic credentials.
 */
export async function startTokenServer(t: TestContext, options: { user?: { name: string; password: string }; lifetimeSeconds?: number } = {}): Promise<TokenServer> {
  const dir = tempTree(t, {});
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=addonix-test-token'],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  const key = readFileSync(keyFile, 'utf8');
  const certDer = readFileSync(certFile, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const service = 'addonix-test-registry';
  const issuer = 'addonix-test-issuer';
  const requests: TokenServer['requests'] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const scopes = url.searchParams.getAll('scope');
    const header = req.headers.authorization;
    const user = header?.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : null;
    requests.push({ scopes, user: user ? user.split(':')[0]! : null });
    if (options.user && user !== `${options.user.name}:${options.user.password}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const lifetime = options.lifetimeSeconds ?? 300;
    const access = scopes.flatMap((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = rest.pop()!.split(',');
      return [{ type, name: rest.join(':'), actions }];
    });
    const header64 = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [certDer] }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub: user?.split(':')[0] ?? '', aud: service, exp: now + 3600, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const signature = sign('sha256', Buffer.from(`${header64}.${claims}`), { key, dsaEncoding: 'ieee-p1363' });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${header64}.${claims}.${b64url(signature)}`, expires_in: lifetime, issued_at: new Date().toISOString() }));
  });
  const sockets = trackSockets(server);
  const port = await listen(server);
  stopServer(t, server, sockets);
  return { url: `http://127.0.0.1:${port}`, service, issuer, certFile, requests };
}

export type Fault = 'reset-mid-body' | 'reset-before' | '500' | '429' | 'delay';

export interface FaultRule {
  /** Which requests: method and a pattern on the path. */
  method?: string;
  path?: RegExp;
  fault: Fault;
  /** How many matching requests get the fault (then they pass). */
  times: number;
  /** Only every this-many-th matching request (the others pass and do not count). */
  every?: number;
  delayMs?: number;
}

export interface FaultProxy {
  host: string;
  /** Faults actually injected, in order, for the test to check that each happened. */
  injected: string[];
}

/** A proxy to `upstream` (host:port) that injects faults by rule, each a bounded number of times. */
export async function startFaultProxy(t: TestContext, upstream: string, rules: FaultRule[]): Promise<FaultProxy> {
  const [upstreamHost, upstreamPort] = upstream.split(':');
  const remaining = rules.map((rule) => rule.times);
  const seen = rules.map(() => 0);
  const injected: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const pathname = (req.url ?? '/').split('?')[0]!;
    const index = rules.findIndex((rule, i) => {
      if (remaining[i]! <= 0 || (rule.method && rule.method !== req.method) || (rule.path && !rule.path.test(pathname))) return false;
      seen[i]!++;
      return seen[i]! % (rule.every ?? 1) === 0;
    });
    const rule = index >= 0 ? rules[index] : undefined;
    if (rule) {
      remaining[index]!--;
      injected.push(`${rule.fault} ${req.method} ${pathname}`);
    }
    const forward = () => {
      const upstreamRequest = httpRequest(
        { host: upstreamHost, port: Number(upstreamPort), method: req.method, path: req.url, headers: { ...req.headers, host: upstream } },
        (upstreamResponse) => {
          // Locations point at the registry; the client must keep talking to the proxy.
          const headers = { ...upstreamResponse.headers };
          if (typeof headers.location === 'string') headers.location = headers.location.replace(`http://${upstream}`, '');
          res.writeHead(upstreamResponse.statusCode ?? 502, headers);
          upstreamResponse.pipe(res);
        },
      );
      upstreamRequest.on('error', () => res.destroy());
      if (rule?.fault === 'reset-mid-body') {
        // Forward part of the body, then cut both connections: the registry sees half an upload.
        const limit = Math.max(1, Math.floor(Number(req.headers['content-length'] ?? 2) / 2));
        let forwarded = 0;
        req.on('data', (chunk: Buffer) => {
          if (forwarded >= limit) return;
          const part = chunk.subarray(0, limit - forwarded);
          forwarded += part.length;
          upstreamRequest.write(part);
          if (forwarded >= limit) {
            setTimeout(() => {
              upstreamRequest.destroy();
              req.socket.destroy();
            }, 20);
          }
        });
        return;
      }
      req.pipe(upstreamRequest);
    };
    switch (rule?.fault) {
      case 'reset-before':
        req.socket.destroy();
        return;
      case '500':
      case '429':
        req.resume();
        req.on('end', () => res.writeHead(Number(rule.fault), { 'content-type': 'application/json', 'retry-after': '0' }).end('{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}'));
        return;
      case 'delay':
        setTimeout(forward, rule.delayMs ?? 200);
        return;
      default:
        forward();
    }
  });
  const sockets = trackSockets(server);
  const port = await listen(server);
  stopServer(t, server, sockets);
  return { host: `127.0.0.1:${port}`, injected };
}

export interface Relay {
  host: string;
  /** Requests that reached it: method, path, and whether they carried an Authorization header. */
  seen: { method: string; path: string; authorization: boolean }[];
}

export interface RelayOptions {
  /** The Authorization header the relay itself sends upstream (as storage behind signed URLs would not need the registry's). */
  authorization?: string;
  /** Rewrites the Location of answers (upload sessions), e.g. to send the client to another relay. */
  location?: (location: string) => string;
  /** Answers a request with a redirect to the URL returned, instead of forwarding it. */
  redirect?: (method: string, url: string) => { status: number; location: string } | undefined;
}

/**
 * A relay to a registry on another port, standing for another host: it records what reaches it, may
 * authenticate upstream itself, rewrite Locations and answer with redirects.
 */
export async function startRelay(t: TestContext, upstream: string, options: RelayOptions = {}): Promise<Relay> {
  const seen: Relay['seen'] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method ?? '', path: (req.url ?? '/').split('?')[0]!, authorization: req.headers.authorization !== undefined });
    const redirect = options.redirect?.(req.method ?? 'GET', req.url ?? '/');
    if (redirect) {
      req.resume();
      req.on('end', () => res.writeHead(redirect.status, { location: redirect.location, 'content-length': '0' }).end());
      return;
    }
    const headers = { ...req.headers, host: upstream };
    if (options.authorization) headers.authorization = options.authorization;
    const upstreamRequest = httpRequest({ host: upstream.split(':')[0], port: Number(upstream.split(':')[1]), method: req.method, path: req.url, headers }, (upstreamResponse) => {
      const answer = { ...upstreamResponse.headers };
      if (typeof answer.location === 'string') {
        const local = answer.location.replace(`http://${upstream}`, '');
        answer.location = options.location ? options.location(local) : local;
      }
      res.writeHead(upstreamResponse.statusCode ?? 502, answer);
      upstreamResponse.pipe(res);
    });
    upstreamRequest.on('error', () => res.destroy());
    req.pipe(upstreamRequest);
  });
  const sockets = trackSockets(server);
  const port = await listen(server);
  stopServer(t, server, sockets);
  return { host: `127.0.0.1:${port}`, seen };
}

/** A server that sends an answer's headers at once and its body a byte at a time, `everyMs` apart. */
export async function startTrickleServer(t: TestContext, everyMs: number): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(body.length) });
    let at = 0;
    const timer = setInterval(() => {
      if (at >= body.length || res.destroyed) {
        clearInterval(timer);
        res.end();
        return;
      }
      res.write(body.subarray(at, ++at));
    }, everyMs);
    res.on('close', () => clearInterval(timer));
  });
  const sockets = trackSockets(server);
  const port = await listen(server);
  stopServer(t, server, sockets);
  return `127.0.0.1:${port}`;
}

/**
 * A registry that comes up late, as one restarting does: the first connection is accepted and reset,
 * then the port refuses connections for `downMs`, then it relays to `upstream`.
 */
export async function startLateRegistry(t: TestContext, upstream: string, downMs: number): Promise<string> {
  const port = await freePort();
  const first = createNetServer((socket) => {
    socket.on('error', () => undefined);
    socket.destroy();
    first.close();
    setTimeout(() => {
      void startRelayOn(t, upstream, port);
    }, downMs);
  });
  await new Promise<void>((resolve) => first.listen(port, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => first.close(() => resolve())));
  return `127.0.0.1:${port}`;
}

async function startRelayOn(t: TestContext, upstream: string, port: number): Promise<void> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const upstreamRequest = httpRequest({ host: upstream.split(':')[0], port: Number(upstream.split(':')[1]), method: req.method, path: req.url, headers: { ...req.headers, host: upstream } }, (upstreamResponse) => {
      res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
      upstreamResponse.pipe(res);
    });
    upstreamRequest.on('error', () => res.destroy());
    req.pipe(upstreamRequest);
  });
  const sockets = trackSockets(server);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  stopServer(t, server, sockets);
}

/** A server that accepts connections and never answers (stopped after the test); returns its host:port. */
export async function startSilentServer(t: TestContext): Promise<string> {
  const server = createNetServer((socket) => socket.on('error', () => undefined));
  const sockets = trackSockets(server);
  const port = await listen(server);
  stopServer(t, server, sockets);
  return `127.0.0.1:${port}`;
}

/** Everything a repository holds, by tag: for comparing two registries after two pushes. */
export async function tagDigests(registryUrl: string, repository: string, tags: string[], headers: Record<string, string> = {}): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const tag of tags) {
    const response = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
      headers: { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json', ...headers },
    });
    out[tag] = response.status === 200 ? `sha256:${createHash('sha256').update(Buffer.from(await response.arrayBuffer())).digest('hex')}` : null;
  }
  return out;
}
