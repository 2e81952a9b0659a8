/**
 * A local double of the Home Assistant Supervisor's HTTP API, as an add-on reaches it on
 * http://supervisor: what bashio (and an add-on's own code) asks, answered as the Supervisor 2026.08
 * answers it, and as unkindly (supervisor/api/middleware/security.py, api/utils.py, api/apps.py,
 * api/root.py, api/services.py, api/discovery.py):
 *
 * - the token comes from X-Supervisor-Token, X-Hassio-Key, or the last word of Authorization; none is
 *   401 and a wrong one (or a bare "Bearer") 403, both as aiohttp's plain text ("401: Unauthorized");
 * - the security check runs before routing: a path the add-on may not use is 403 even if it does not
 *   exist; the add-on's rights are api_bypass (/addons/self/*, /addons/self/options/config, /info,
 *   /services*, /discovery*, /auth) and, with hassio_api, its hassio_role's (default: paths ending in
 *   /info; manager and admin more); /supervisor/ping needs no token;
 * - then an unknown path is 404 and a known one with another method 405 (GET /addons/self/options);
 * - answers are {"result":"ok","data":...} (an empty data is {}), errors {"result":"error","message":...};
 * - /services/mqtt: 403 without mqtt in the add-on's services, 400 "Service not enabled" without a
 *   broker; POST /discovery: 403 for a service not in the add-on's discovery list.
 *
 * It runs inside the add-on's own network namespace (src/run/container.ts starts it with the image's
 * Node.js), so this file imports nothing but Node's own modules. Every request is logged on stdout as
 * one line: `supervisor: METHOD PATH STATUS`.
 *
 *   node supervisor-double.js STATE.json [PORT]
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** What the double serves, written by addonix run (src/run/state.ts). */
export interface SupervisorState {
  token: string;
  /** GET /addons/self/info's data. */
  addon: Record<string, unknown> & { slug: string; hassio_api: boolean; hassio_role: string; services: string[]; discovery: string[] };
  /** The options as the Supervisor validated them (GET /addons/self/options/config). */
  options: Record<string, unknown>;
  info: Record<string, unknown>;
  supervisor: Record<string, unknown>;
  core: Record<string, unknown>;
  host: Record<string, unknown>;
  os: Record<string, unknown>;
  network: Record<string, unknown>;
  /** The MQTT broker a provider published, or null (no broker). */
  mqtt: Record<string, unknown> | null;
}

const BYPASS = [/^\/addons\/self\/(?!security|update)[^/]+$/, /^\/addons\/self\/options\/config$/, /^\/info$/, /^\/services.*$/, /^\/discovery.*$/, /^\/auth$/];
const ROLES: Record<string, RegExp[]> = {
  default: [/^\/.+\/info$/],
  homeassistant: [/^\/.+\/info$/, /^\/core\/.+$/, /^\/homeassistant\/.+$/],
  backup: [/^\/.+\/info$/, /^\/backups.*$/],
  manager: [
    /^\/.+\/info$/,
    /^\/addons(?:\/(?:[^/]+\/(?!security).+|reload))?$/,
    /^\/(?:audio|cli|core|dns|docker|jobs|hardware|homeassistant|host|multicast|network|observer|resolution|security|supervisor)\/.*$/,
    /^\/os\/(?!datadisk\/wipe).*$/,
    /^\/(?:auth\/cache|available_updates|backups|mounts|refresh_updates|snapshots|store.*)$/,
  ],
  admin: [/^.*$/],
};

function tokenOf(request: IncomingMessage): string | null {
  const direct = request.headers['x-supervisor-token'] ?? request.headers['x-hassio-key'];
  if (typeof direct === 'string') return direct;
  const authorization = request.headers['authorization'];
  if (typeof authorization !== 'string') return null;
  const words = authorization.trim().split(/\s+/);
  return words[words.length - 1] ?? null;
}

function allowed(state: SupervisorState, path: string): boolean {
  if (BYPASS.some((rule) => rule.test(path))) return true;
  return state.addon.hassio_api && (ROLES[state.addon.hassio_role] ?? ROLES['default']!).some((rule) => rule.test(path));
}

type Handler = (state: SupervisorState, body: unknown) => { status: number; payload: unknown };
const ok = (data: unknown) => ({ status: 200, payload: { result: 'ok', data: data === null || data === undefined || data === true || (typeof data === 'object' && Object.keys(data as object).length === 0) ? {} : data } });
const error = (status: number, message: string) => ({ status, payload: { result: 'error', message } });

const ROUTES: Record<string, Partial<Record<string, Handler>>> = {
  '/addons/self/info': { GET: (state) => ok({ ...state.addon, options: state.options }) },
  '/addons/self/options/config': { GET: (state) => ok(state.options) },
  '/addons/self/options': {
    POST: (_state, body) => {
      const options = (body as { options?: unknown } | null)?.options;
      if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) return error(400, 'expected a dictionary for dictionary value @ data[\'options\']');
      return ok({});
    },
  },
  '/addons/self/stats': { GET: () => ok({ cpu_percent: 0.5, memory_usage: 52428800, memory_limit: 4147286016, memory_percent: 1.26, network_rx: 0, network_tx: 0, blk_read: 0, blk_write: 0 }) },
  '/info': { GET: (state) => ok(state.info) },
  '/supervisor/info': { GET: (state) => ok(state.supervisor) },
  '/supervisor/ping': { GET: () => ok({}) },
  '/core/info': { GET: (state) => ok(state.core) },
  '/host/info': { GET: (state) => ok(state.host) },
  '/os/info': { GET: (state) => ok(state.os) },
  '/network/info': { GET: (state) => ok(state.network) },
  '/services': { GET: (state) => ok({ services: [{ slug: 'mqtt', available: state.mqtt !== null, providers: state.mqtt ? [String(state.mqtt['addon'] ?? 'core_mosquitto')] : [] }, { slug: 'mysql', available: false, providers: [] }] }) },
  '/discovery': {
    POST: (state, body) => {
      const service = (body as { service?: unknown } | null)?.service;
      if (typeof service !== 'string') return error(400, "expected str for dictionary value @ data['service']");
      if (!state.addon.discovery.includes(service)) return error(403, 'Apps must list services they provide via discovery in their config!');
      return ok({ uuid: randomBytes(16).toString('hex') });
    },
  },
};

function route(state: SupervisorState, method: string, path: string, body: unknown): { status: number; payload: unknown } | 'not-found' | 'not-allowed' {
  const service = /^\/services\/([^/]+)$/.exec(path);
  if (service) {
    if (method !== 'GET') return 'not-allowed';
    if (!['mqtt', 'mysql'].includes(service[1]!)) return error(404, 'Service does not exist');
    if (!state.addon.services.some((entry) => entry.split(':')[0] === service[1])) return error(403, `No access to ${service[1]} service!`);
    if (service[1] === 'mqtt' && state.mqtt) return ok(state.mqtt);
    return error(400, 'Service not enabled');
  }
  if (path === '/discovery' && method === 'GET') return { status: 401, payload: '401: Unauthorized' };
  const handlers = ROUTES[path];
  if (!handlers) return 'not-found';
  const handler = handlers[method];
  if (!handler) return 'not-allowed';
  return handler(state, body);
}

function send(response: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  const text = typeof payload === 'string';
  const body = Buffer.from(text ? payload : JSON.stringify(payload));
  response.writeHead(status, { 'Content-Type': text ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8', 'Content-Length': String(body.length), ...headers });
  response.end(body);
}

/**
 * The double as an HTTP request listener, for a server of any port (tests use their own). The state is
 * read for each request: addonix writes the add-on's address into it once the container has one.
 */
export function supervisorHandler(current: () => SupervisorState, log: (line: string) => void): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const state = current();
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://supervisor');
      const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
      const method = request.method ?? 'GET';
      const reply = (status: number, payload: unknown, headers?: Record<string, string>) => {
        log(`supervisor: ${method} ${url.pathname} ${status}`);
        send(response, status, payload, headers);
      };
      if (path !== '/supervisor/ping') {
        const token = tokenOf(request);
        if (token === null) return reply(401, '401: Unauthorized');
        if (token !== state.token || !allowed(state, path)) return reply(403, '403: Forbidden');
      }
      let body: unknown = {};
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          return reply(400, { result: 'error', message: 'Invalid json' });
        }
      }
      const answer = route(state, method, path, body);
      if (answer === 'not-found') return reply(404, '404: Not Found');
      if (answer === 'not-allowed') return reply(405, '405: Method Not Allowed', { Allow: Object.keys(ROUTES[path] ?? { GET: 1 }).join(',') });
      reply(answer.status, answer.payload);
    });
  };
}

// Started as a program (in the add-on's network namespace): serve on 127.0.0.1:PORT (default 80).
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '\0')) {
  const file = process.argv[2]!;
  const port = Number(process.argv[3] ?? 80);
  const server = createServer(supervisorHandler(() => JSON.parse(readFileSync(file, 'utf8')) as SupervisorState, (line) => process.stdout.write(line + '\n')));
  server.listen(port, '127.0.0.1', () => process.stdout.write(`supervisor: listening on 127.0.0.1:${port}\n`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
