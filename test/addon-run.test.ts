/**
 * The add-on as it runs: five add-ons in the shapes of real ones (test/fixtures/addons/README.md), their
 * data generated, their amd64 images built by the Nix library through the nixpkgs stand-in on the tests'
 * base image (test/fixtures/base-image: stand-ins of s6-overlay and bashio on Debian's bash, curl and
 * jq), then each run with `addonix run` under Podman (runc): the app's start line with an option that
 * reached it (through bashio and the API double, or /data/options.json), its port answering, the
 * Supervisor API calls it made, the image config Docker would have written, and nothing left behind
 * after Ctrl-C.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { REPO, needTools, podmanEnv, runCliAsync, tempTree, CLI } from './helpers.js';
import { runCliInProcess } from './in-process-cli.js';
import { buildAttrs, nixPath, withLibrary } from './nix-helpers.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'addons');
const BASE = path.join(REPO, 'test', 'fixtures', 'base-image');
const ADDONS = ['spa-bridge', 'stream-proxy', 'ble-bridge', 'flow-editor', 'guest-manager'] as const;
type Addon = (typeof ADDONS)[number];
const RUN_OF = { 'spa-bridge': 'spa', 'stream-proxy': 'proxy', 'ble-bridge': 'ble', 'flow-editor': 'flow', 'guest-manager': 'guest' } as const;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The files of an image's last layer (addonix's: the customisation layer nix/image.nix writes), by path,
 * from the layer the stream script's conf names (dockerTools keeps it as a store path of its own).
 */
function layerFiles(stream: string): Map<string, string> {
  const layer = path.join(confOf(stream).customisation_layer, 'layer.tar');
  const files = new Map<string, string>();
  for (const line of execFileSync('tar', ['-tvf', layer], { encoding: 'utf8' }).trim().split('\n')) {
    const name = line.split(/\s+/).slice(5).join(' ').replace(/^\.\//, '/').replace(/ -> .*$/, '');
    files.set(name.replace(/\/$/, '') || '/', line.split(/\s+/)[0]!);
  }
  return files;
}

/** The config of an image the engine loaded (Podman shows an OCI image's fields: no Healthcheck or Shell). */
function engineConfig(reference: string, env: Record<string, string>): Record<string, any> {
  const [inspected] = JSON.parse(execFileSync('podman', ['image', 'inspect', reference], { env: { ...process.env, ...env }, encoding: 'utf8' })) as { Config: Record<string, any> }[];
  return inspected!.Config;
}

/** The image config dockerTools streams (its conf's), for what Podman does not show. */
function streamedConfig(stream: string): Record<string, any> {
  return confOf(stream).config;
}

/** dockerTools' conf.json, which the stream script names: the image's config and its customisation layer. */
function confOf(stream: string): { config: Record<string, any>; customisation_layer: string } {
  return JSON.parse(readFileSync(/\/nix\/store\/[^\s'"]+-conf\.json/.exec(readFileSync(stream, 'utf8'))![0], 'utf8'));
}

interface Running {
  output: () => string;
  /** Resolves with the text once `pattern` is in the output (rejects when the process ends first). */
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
  interrupt(): Promise<number | null>;
  exited: Promise<number | null>;
}

/** `addonix run` in a process group of its own, as from a terminal (Ctrl-C is SIGINT to the group). */
function startRun(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { cwd: REPO, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    output: () => text,
    exited,
    async waitFor(pattern, ms = 90_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const match = pattern.exec(text);
        if (match) return match[0];
        const done = await Promise.race([exited.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 200))]);
        if (done && !pattern.test(text)) throw new Error(`addonix run ended before ${pattern}:\n${text}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} after ${ms / 1000} s:\n${text}`);
      }
    },
    async interrupt() {
      process.kill(-child.pid!, 'SIGINT');
      return exited;
    },
  };
}

async function get(url: string): Promise<{ status: number; body: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(url);
      return { status: response.status, body: await response.text() };
    } catch (error) {
      if (attempt > 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function runContainers(env: Record<string, string>): string {
  return execFileSync('podman', ['ps', '-a', '--filter', 'label=io.addonix.run', '--format', '{{.Names}}'], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
}

/** The fixtures in a folder of their own, their data generated by the CLI (in this process: a process each cost a second of CPU). */
async function generateAll(t: TestContext): Promise<string> {
  const root = tempTree(t, {});
  for (const addon of ADDONS) {
    cpSync(path.join(FIXTURES, addon), path.join(root, addon), { recursive: true });
    const result = await runCliInProcess(['generate', path.join(root, addon)]);
    assert.equal(result.status, 0, `${addon}: ${result.stderr}`);
  }
  return root;
}

test('run: five real add-on shapes start as their Dockerfile images would, with their options, ports and API calls; Ctrl-C leaves nothing', async (t) => {
  if (!needTools(t, 'nix-build', 'podman', 'runc', 'curl', 'jq')) return;
  const root = await generateAll(t);
  // inspect says where the app is, what runs it and where that comes from.
  const inspect = await runCliInProcess(['inspect', path.join(root, 'spa-bridge')]);
  assert.equal(inspect.status, 0, inspect.stderr);
  assert.match(inspect.stdout, /^App +\. +\(package\.json main: \/bin\/node app\.js\)$/m);
  assert.match(inspect.stdout, /^  flavor +base: Dockerfile:17: CMD runs \/usr\/src\/app\/run\.sh, a launcher that needs the base image \(run\.sh:1: #!\/usr\/bin\/with-contenv bashio\)$/m);
  assert.match(inspect.stdout, /^  cmd +\/usr\/src\/app\/run\.sh \(Dockerfile:17\)$/m);
  assert.match((await runCliInProcess(['inspect', path.join(root, 'guest-manager')])).stdout, /^App +rootfs\/app /m);
  const work = tempTree(t, {});
  const podman = podmanEnv(work);
  const env = { ...podman, ADDONIX_CACHE_DIR: path.join(work, 'cache') };

  // The five amd64 images, one Nix run: mkAddonImages of each, on the tests' base image.
  const expression = withLibrary(`let base = import ${nixPath(BASE)}; one = name: let dir = ${nixPath(root)} + "/\${name}"; in (addonix.mkAddonImages {
    inherit pkgs; src = dir; addon = dataOf dir "addon"; npmDeps = dataOf dir "npm-deps"; buildArches = [ "amd64" ]; baseImages = { amd64 = base; };
  }).streams.amd64; in { ${ADDONS.map((a) => `"${a}" = one "${a}";`).join(' ')} }`);
  const streams = Object.fromEntries(buildAttrs(expression, [...ADDONS]).map((stream, i) => [ADDONS[i], stream])) as Record<Addon, string>;

  // Run each as the Supervisor would; all five at once (each has its own containers).
  const options = (name: string, value: object) => {
    const file = path.join(work, `${name}.yaml`);
    writeFileSync(file, JSON.stringify(value));
    return file;
  };
  const proxyPort = await freePort();
  const guestPort = await freePort();
  const runs = {
    spa: startRun([path.join(root, 'spa-bridge'), '--image', streams['spa-bridge'], '--engine', 'podman', '--api-log', '--options', options('spa', { mqtt_host: 'broker.test', spa_user: 'tester' })], env),
    proxy: startRun([path.join(root, 'stream-proxy'), '--image', streams['stream-proxy'], '--engine', 'podman', '--port', `${proxyPort}:7000`, '--options', options('proxy', { greeting: 'hej' })], env),
    ble: startRun([path.join(root, 'ble-bridge'), '--image', streams['ble-bridge'], '--engine', 'podman', '--api-log', '--options', options('ble', { site: 'Lab', log_level: 'debug' })], env),
    flow: startRun([path.join(root, 'flow-editor'), '--image', streams['flow-editor'], '--engine', 'podman', '--api-log', '--options', options('flow', { credential_secret: 's3cret', theme: 'dark' })], env),
    guest: startRun([path.join(root, 'guest-manager'), '--image', streams['guest-manager'], '--engine', 'podman', '--port', `${guestPort}:3000`, '--options', options('guest', { booking_email: 'host@example.com' })], env),
  };
  try {
    // What Docker would have written, as the engine loaded it, and addonix's layer of files.
    const references = Object.fromEntries(await Promise.all(ADDONS.map(async (a) => [a, /addonix: running (\S+) as/.exec(await runs[RUN_OF[a]].waitFor(/addonix: running \S+ as/))![1]!]))) as Record<Addon, string>;
    // What Docker would have written: the base image's entrypoint kept, the Dockerfile's CMD, ENV, WORKDIR.
    const spa = { config: { config: engineConfig(references['spa-bridge'], podman) }, files: layerFiles(streams['spa-bridge']) };
    assert.deepEqual(spa.config.config.Entrypoint, ['/init'], 'the base image\'s /init stays the entrypoint (init: false)');
    assert.deepEqual(spa.config.config.Cmd, ['/usr/src/app/run.sh'], 'the launcher is the Cmd');
    assert.equal(spa.config.config.WorkingDir, '/usr/src/app');
    assert.ok(spa.config.config.Env.includes('NODE_EXTRA_CA_CERTS=/usr/src/app/spa-ca-fullchain.pem'));
    assert.ok(spa.config.config.Env.includes('S6_BEHAVIOUR_IF_STAGE2_FAILS=2'), 'the base image\'s Env kept');
    assert.equal(spa.config.config.Labels['io.hass.type'], 'addon', 'the builder\'s label over the base\'s');
    assert.equal(spa.files.get('/usr/src/app/run.sh'), '-rwxr-xr-x', 'RUN chmod a+x carried over (the file is 0644 in the add-on)');
    assert.ok(spa.files.has('/usr/src/app/spa-ca-fullchain.pem') && spa.files.has('/usr/src/app/lib/spa.js'), 'COPY . . of the add-on folder');
    assert.ok(!spa.files.has('/usr/src/app/flake.nix') && !spa.files.has('/usr/src/app/nix'), 'addonix\'s own files stay out');
    assert.match(spa.files.get('/usr/src/app/node_modules') ?? '', /^l/, 'node_modules where npm install ran');
    assert.match(spa.files.get('/usr/bin/node') ?? '', /^l/, 'Node.js where apk puts it');
    assert.ok(![...spa.files.keys()].some((file) => file.startsWith('/include') || file === '/package.json' || file === '/CHANGELOG.md'), 'none of Node.js\'s headers or docs at the root');

    const proxy = { config: { config: engineConfig(references['stream-proxy'], podman) }, files: layerFiles(streams['stream-proxy']) };
    assert.equal(proxy.config.config.Entrypoint, undefined);
    assert.deepEqual(proxy.config.config.Cmd, ['node', 'index.js']);
    assert.equal(proxy.config.config.WorkingDir, '/app');
    assert.deepEqual(Object.keys(proxy.config.config.ExposedPorts), ['7000/tcp']);
    assert.equal(proxy.config.config.Labels['io.hass.arch'], 'amd64', 'the builder\'s io.hass.arch over the Dockerfile\'s LABEL');
    assert.ok(proxy.files.has('/app/lib/greet.js') && proxy.files.has('/app/index.js') && !proxy.files.has('/app/config.yaml'), 'only what the COPY lines name');
    assert.match(proxy.files.get('/bin/jq') ?? '', /^l/, 'apk add jq: nixpkgs\' jq on the PATH');

    const ble = { config: { config: engineConfig(references['ble-bridge'], podman) }, files: layerFiles(streams['ble-bridge']) };
    assert.equal(ble.config.config.Cmd, undefined, 'no CMD: s6 runs the services');
    assert.deepEqual(ble.config.config.Entrypoint, ['/init']);
    for (const script of ['/etc/services.d/bridge/run', '/etc/cont-init.d/10-ble-perms', '/usr/bin/bridge.sh']) assert.equal(ble.files.get(script), '-rwxr-xr-x', script);
    assert.ok(ble.files.has('/bridge/main.js') && ble.files.has('/bridge/Configuration.js') && ble.files.has('/bridge/config.json'), 'COPY ./*.js /bridge/');
    const flow = { config: { config: streamedConfig(streams['flow-editor']) }, files: layerFiles(streams['flow-editor']) };
    assert.deepEqual(flow.config.config.Healthcheck.Test, ['CMD-SHELL', 'curl --fail http://127.0.0.1:46836 || exit 1']);
    assert.equal(flow.config.config.Healthcheck.StartPeriod, 600e9);
    assert.equal(flow.config.config.Shell?.[0], '/bin/bash');
    assert.ok(flow.files.has('/etc/s6-overlay/s6-rc.d/flows/run') && flow.files.has('/opt/server.js') && flow.files.has('/opt/package.json'));
    const guest = { files: layerFiles(streams['guest-manager']) };
    assert.ok(guest.files.has('/app/src/server.js') && guest.files.has('/app/package.json') && !guest.files.has('/app/NOTES.md'));

    // A bashio launcher: the options through bashio::config and the API double, the CA and WORKDIR in place.
    await runs.spa.waitFor(/spa bridge starting: .*/);
    assert.match(runs.spa.output(), /spa bridge starting: mqtt=broker\.test:1883 user=tester celsius=false refresh=5m ca=present cwd=\/usr\/src\/app/);
    assert.match(runs.spa.output(), /supervisor: GET \/addons\/self\/options\/config 200/, 'bashio asked the API for the options, with the token');

    // A plain CMD node app: /data/options.json, its port published.
    await runs.proxy.waitFor(/stream proxy listening on 7000: greeting=hej cwd=\/app/);
    assert.match((await get(`http://127.0.0.1:${proxyPort}/`)).body, /^hej from the stream proxy/);

    // Legacy s6: cont-init.d ran, the service launched the app through its helper, bashio asked for MQTT.
    await runs.ble.waitFor(/ble bridge started: .*/);
    // s6's line and the script's bashio log come through different pipes (stderr, stdout), read here as
    // they arrive: their order is the scheduler's (under load the script's line came first once).
    assert.match(runs.ble.output(), /cont-init: info: running \/etc\/cont-init\.d\/10-ble-perms/);
    assert.match(runs.ble.output(), /Checking the bridge's files/);
    assert.match(runs.ble.output(), /ble bridge started: site=Lab timeout=2s rooms=false log_level=debug cwd=\/bridge/);
    assert.match(runs.ble.output(), /supervisor: GET \/services\/mqtt 400/, 'no broker: the Supervisor\'s "Service not enabled"');

    // s6-overlay v3: the oneshot wrote the settings from the options and the ingress port, the longrun serves on it.
    const ingress = await runs.flow.waitFor(/addonix: port (\d+)\/tcp on 127\.0\.0\.1:(\d+) \(ingress/);
    const [, containerPort, hostPort] = /port (\d+)\/tcp on 127\.0\.0\.1:(\d+)/.exec(ingress)!;
    assert.ok(Number(containerPort) >= 62000 && Number(containerPort) <= 65500, 'ingress_port: 0 is a port the Supervisor would pick');
    await runs.flow.waitFor(new RegExp(`flow editor listening on ${containerPort} with theme dark`));
    assert.match((await get(`http://127.0.0.1:${hostPort}/`)).body, /theme dark/);
    assert.match(runs.flow.output(), /supervisor: GET \/addons\/self\/info 200/);

    // The app under rootfs/app: services.d exported the options, config.yaml's environment reached it.
    await runs.guest.waitFor(/guest manager listening on 3000: .*/);
    assert.match(runs.guest.output(), /guest manager listening on 3000: email=host@example\.com headless=true node_env=production cwd=\/app/);
    assert.match(runs.guest.output(), /No booking password: the manager cannot sign in/);
    assert.equal(JSON.parse((await get(`http://127.0.0.1:${guestPort}/`)).body).retention, '7 days');
  } catch (error) {
    await Promise.all(Object.values(runs).map((run) => run.interrupt()));
    for (const [name, run] of Object.entries(runs)) t.diagnostic(`addonix run (${name}):\n${run.output()}`);
    throw error;
  }
  const codes = await Promise.all(Object.values(runs).map((run) => run.interrupt()));
  assert.deepEqual(codes, [130, 130, 130, 130, 130], 'Ctrl-C: exit status 130');
  assert.match(runs.spa.output(), /spa bridge stopping/, 'the app got SIGTERM, as from the Supervisor');
  assert.equal(runContainers(podman), '', 'no container is left behind');

  // Options the schema refuses: the Supervisor would not start the add-on, and run does not either.
  const refused = await runCliAsync(['run', path.join(root, 'spa-bridge'), '--image', streams['spa-bridge'], '--engine', 'podman', '--options', options('bad', { refresh_spa: 'often', extra: 1 })], { env });
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stderr, /the Supervisor would not start spa_bridge with these options:\n  option 'refresh_spa' is not a whole number/);
  assert.match(refused.stderr, /option 'extra' is not in the schema: the Supervisor drops it/);
  // A oneshot that fails (no credential_secret) stops the container, as S6_BEHAVIOUR_IF_STAGE2_FAILS=2 says; run exits with its status.
  const failing = await runCliAsync(['run', path.join(root, 'flow-editor'), '--image', streams['flow-editor'], '--engine', 'podman'], { env });
  assert.equal(failing.status, 1, failing.stdout + failing.stderr);
  assert.match(failing.stdout + failing.stderr, /FATAL: .*Please set a credential_secret/);
  assert.match(failing.stderr, /rc\.init: fatal: stopping the container\.[\s\S]*addonix: flow_editor exited with status 1/);
  assert.equal(runContainers(podman), '');
});
