/**
 * Running an add-on's image as the Supervisor would, in Docker or Podman: a sidecar container from the
 * same image runs the Supervisor API double (src/run/supervisor-double.ts, with the image's own Node.js)
 * and owns the network namespace; the add-on's container joins it, so `http://supervisor` (an
 * /etc/hosts entry) is the double on 127.0.0.1:80, and the ports it publishes are the add-on's. The
 * add-on gets /data (options.json), the map: folders, the Supervisor's environment and hostname, and
 * Docker's init when config.yaml says init: true. Its log is this command's output. When it exits, or
 * on Ctrl-C (then it is stopped as the Supervisor stops it: SIGTERM, then SIGKILL after `timeout`),
 * both containers are removed; nothing is left behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { UserError } from '../util/errors.js';
import type { Engine } from '../engine/engines.js';

export interface PublishedPort {
  host: number;
  container: number;
  protocol: 'tcp' | 'udp';
  /** Address on this machine (default 127.0.0.1). */
  address: string;
}

export interface RunSpec {
  engine: Engine;
  /** The image as the engine names it. */
  image: string;
  id: string;
  slug: string;
  hostname: string;
  env: Record<string, string>;
  /** config.yaml init: Docker's init as PID 1. */
  init: boolean;
  /** Seconds between SIGTERM and SIGKILL when stopping (config.yaml timeout). */
  stopTimeout: number;
  mounts: { source: string; target: string; readOnly: boolean }[];
  ports: PublishedPort[];
  hostsFile: string;
  doubleScript: string;
  stateFile: string;
  /** Write each API request the double answers to this stream. */
  apiLog: NodeJS.WritableStream | null;
  output: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };
  /** Called once the add-on container runs, with the address of the double's container. */
  onStarted?: (sidecarAddress: string) => void;
}

export interface RunResult {
  /** The add-on container's exit status, or null when it was stopped by the user. */
  exitCode: number | null;
  interrupted: boolean;
}

const LABEL = 'io.addonix.run';

function engineSync(engine: Engine, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(engine, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new UserError('engine-missing', `${engine} is not installed (or not on PATH); choose the engine with --engine ${engine === 'docker' ? 'podman' : 'docker'}`);
  }
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/** Removes every container of this run (both, whatever state they are in). */
export function removeRunContainers(engine: Engine, id: string): void {
  const listed = engineSync(engine, ['ps', '-a', '-q', '--filter', `label=${LABEL}=${id}`]);
  const ids = listed.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
  if (ids.length > 0) engineSync(engine, ['rm', '-f', ...ids]);
}

/** Containers of addonix run still there (any run), for tests and `doctor`. */
export function runContainers(engine: Engine): string[] {
  return engineSync(engine, ['ps', '-a', '-q', '--filter', `label=${LABEL}`]).stdout.split('\n').map((line) => line.trim()).filter(Boolean);
}

async function waitForDouble(engine: Engine, name: string, deadline: number, interrupted: () => boolean): Promise<void> {
  for (;;) {
    if (interrupted()) return;
    const logs = engineSync(engine, ['logs', name]);
    if (/supervisor: listening on/.test(logs.stdout + logs.stderr)) return;
    const state = engineSync(engine, ['inspect', '-f', '{{.State.Running}}', name]);
    if (state.status !== 0 || state.stdout.trim() === 'false') {
      throw new UserError('engine-failed', `the Supervisor API double did not start in the image (it runs the image's own node): ${(logs.stdout + logs.stderr).trim().split('\n').slice(-6).join('\n') || state.stderr.trim()}`);
    }
    if (Date.now() > deadline) throw new UserError('engine-failed', 'the Supervisor API double did not answer within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** Runs the add-on until it exits or the user stops it; both containers are removed in every case. */
export async function runAddonContainers(spec: RunSpec): Promise<RunResult> {
  const sidecar = `addonix-${spec.id}-supervisor`;
  const addon = `addonix-${spec.id}`;
  const labels = ['--label', `${LABEL}=${spec.id}`];
  let interrupted = false;
  let child: ReturnType<typeof spawn> | null = null;
  let logs: ReturnType<typeof spawn> | null = null;
  let stopping: NodeJS.Timeout | undefined;
  // As the Supervisor stops an add-on: SIGTERM, then SIGKILL after its timeout. Asked again each second
  // until the engine's client has exited: Ctrl-C may come while the container is still being created.
  const stopAddon = () => spawnSync(spec.engine, ['stop', '-t', String(spec.stopTimeout), addon], { stdio: 'ignore' });
  const stop = () => {
    if (interrupted) return;
    interrupted = true;
    if (child) {
      stopAddon();
      stopping = setInterval(stopAddon, 1000);
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const publish = spec.ports.flatMap((port) => ['-p', `${port.address}:${port.host}:${port.container}/${port.protocol}`]);
    // Docker shares the network container's hostname (and refuses --hostname beside --network
    // container:); Podman keeps a UTS namespace per container.
    const hostnameOfSidecar = spec.engine === 'docker' ? ['--hostname', spec.hostname] : [];
    const hostnameOfAddon = spec.engine === 'docker' ? [] : ['--hostname', spec.hostname];
    const started = engineSync(spec.engine, [
      'run', '-d', '--rm', '--name', sidecar, ...labels, ...hostnameOfSidecar, '--user', '0', '--entrypoint', 'node',
      '-v', `${spec.doubleScript}:/addonix/supervisor.mjs:ro`, '-v', `${spec.stateFile}:/addonix/state.json:ro`,
      ...publish, spec.image, '/addonix/supervisor.mjs', '/addonix/state.json',
    ]);
    if (started.status !== 0) {
      const said = (started.stderr + started.stdout).trim().split('\n').slice(-6).join('\n');
      throw new UserError('engine-failed', `${spec.engine} run failed (the Supervisor API double, exit ${started.status ?? 'by signal'}): ${said || 'no message'}`);
    }
    await waitForDouble(spec.engine, sidecar, Date.now() + 30_000, () => interrupted);
    if (interrupted) return { exitCode: null, interrupted };
    const address = engineSync(spec.engine, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', sidecar]).stdout.trim();
    spec.onStarted?.(address || '127.0.0.1');
    if (spec.apiLog) {
      logs = spawn(spec.engine, ['logs', '-f', sidecar], { stdio: ['ignore', 'pipe', 'ignore'] });
      logs.stdout!.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line.startsWith('supervisor: ') && !line.includes('listening on')) spec.apiLog!.write(line + '\n');
      });
    }
    const args = [
      'run', '--rm', '--name', addon, ...labels, '--network', `container:${sidecar}`, ...hostnameOfAddon,
      '-v', `${spec.hostsFile}:/etc/hosts:ro`,
      ...spec.mounts.flatMap((mount) => ['-v', `${mount.source}:${mount.target}${mount.readOnly ? ':ro' : ''}`]),
      ...Object.entries(spec.env).flatMap(([name, value]) => ['-e', `${name}=${value}`]),
      ...(spec.init ? ['--init'] : []),
      '--stop-timeout', String(spec.stopTimeout),
      spec.image,
    ];
    // In a process group of its own: Ctrl-C reaches addonix, which stops the add-on as the Supervisor does.
    child = spawn(spec.engine, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (interrupted) stopping = setInterval(stopAddon, 1000);
    child.stdout!.pipe(spec.output.stdout, { end: false });
    child.stderr!.pipe(spec.output.stderr, { end: false });
    const code = await new Promise<number | null>((resolve, reject) => {
      child!.on('error', reject);
      child!.on('close', (status) => resolve(status));
    });
    return { exitCode: interrupted ? null : code, interrupted };
  } finally {
    clearInterval(stopping);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    logs?.kill();
    removeRunContainers(spec.engine, spec.id);
  }
}
