import { withoutTemporary } from '../../util/atomic.js';
import { COMMAND_HEADS } from '../command-heads.js';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { parse as parseYaml } from 'yaml';
import type { BuildArch } from '../../addon/arch.js';
import { relativeDisplay } from '../../addon/load.js';
import { DEFAULT_ERA } from '../../addon/eras.js';
import { loadOneAddon } from '../addon-input.js';
import { resolveModel } from '../../addon/model.js';
import { pinnedBaseConfigs } from '../../nixgen/base-lock.js';
import { buildPlanned, planBuild } from '../../nix/build.js';
import { BuildProgress } from '../../nix/progress.js';
import { readInputs } from '../../oci/inputs.js';
import { formatPlatform, localArch } from '../../oci/platform.js';
import { loadIntoEngine, loadName, type Engine } from '../../engine/load.js';
import { chooseEngine } from '../../engine/choose.js';
import { optionsFileText, startOptions } from '../../run/options.js';
import { addonEnvironment, mapMounts, runIdentity, supervisorState } from '../../run/state.js';
import { runAddonContainers, type PublishedPort } from '../../run/container.js';
import { UserError, UsageError } from '../../util/errors.js';
import { checkArchesListed, flakeFor, interruptible, nixForCommand, overridesOf, targetsFor, type NixArgs } from '../nix-input.js';
import { layerRules, ProgressLine } from '../images.js';
import { reportRuntimeFindings } from '../runtime-report.js';
import { withOptions } from '../options.js';

interface RunArgs extends NixArgs {
  dir: string;
  arch?: BuildArch[];
  options?: string;
  port?: string[];
  engine?: Engine;
  image?: string;
  data?: string;
  'api-log': boolean;
  json: boolean;
}

/** The double's program, compiled beside this command (dist/src/run/supervisor-double.js). */
const DOUBLE = fileURLToPath(new URL('../../run/supervisor-double.js', import.meta.url));

/** --port HOST:CONTAINER[/udp], or ADDRESS:HOST:CONTAINER. */
export function parsePort(text: string): PublishedPort {
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(text);
  const valid = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (!m || !valid(Number(m[2])) || !valid(Number(m[3]))) throw new UsageError(`--port ${text}: give HOST:CONTAINER (e.g. 8080:8099), optionally ADDRESS:HOST:CONTAINER and /udp`);
  return { address: m[1] ?? '127.0.0.1', host: Number(m[2]), container: Number(m[3]), protocol: (m[4] ?? 'tcp') as 'tcp' | 'udp' };
}

function readOptionsFile(file: string, display: (file: string) => string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UserError('not-found', `--options ${display(file)}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new UserError('usage', `--options ${display(file)}: not YAML or JSON: ${(error as Error).message.split('\n')[0]}`, { file: display(file) });
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`--options ${display(file)}: must hold a mapping of option names to values, as the add-on's Configuration tab does`);
  return value as Record<string, unknown>;
}

export const runCommand: CommandModule<object, RunArgs> = {
  ...COMMAND_HEADS['run'],
  builder: (yargs: Argv) =>
    withOptions(
      yargs.positional('dir', { describe: 'The add-on folder', type: 'string', default: '.' }),
      'options', 'port', 'image', 'data', 'api-log',
      'arch', 'engine', 'flake', 'jobs', 'builders', 'substituters', 'override-input', 'verbose', 'json',
    )
      .example('$0 run', "Build this machine's arch, then run it in Docker as the Supervisor would")
      .example('$0 run --engine podman --options my-options.yaml --api-log', 'With your options, in Podman, showing the add-on\'s API calls')
      .example('$0 run --image result-amd64 --port 8080:8099', 'A built image, its port 8099 on localhost:8080')
      .epilogue(
        'The add-on starts from its own entrypoint and command (s6-overlay\'s /init with init: false) with what the Supervisor gives it: ' +
          '/data holding options.json (config.yaml\'s defaults, your --options over them, checked against the schema; the Supervisor refuses ' +
          'to start an add-on whose options fail it, and so does run), SUPERVISOR_TOKEN, TZ, config.yaml\'s environment, the map: folders ' +
          '(empty ones), the hostname local-<slug>, and http://supervisor: a double of the Supervisor API answering what bashio asks ' +
          '(/addons/self/info, /addons/self/options/config, /info, /services/mqtt, ...), 401 without the token and 403 where the Supervisor ' +
          'says forbidden. Its log is printed as it comes. Ctrl-C stops the add-on as the Supervisor stops it (SIGTERM, then SIGKILL after ' +
          'config.yaml\'s timeout) and removes its containers. Exit status: the add-on\'s, or 130 after Ctrl-C. With --json the add-on\'s log goes ' +
          'to stderr and stdout gets one JSON document when it has stopped.',
      ) as unknown as Argv<RunArgs>,
  handler: async (args) => {
    // Known before anything is built: the engine named, or this machine's (as doctor says).
    const engine = await chooseEngine(args.engine);
    const display = relativeDisplay();
    const addon = (await loadOneAddon(args.dir, DEFAULT_ERA, display))!;
    const model = resolveModel(addon, { era: DEFAULT_ERA, display, baseConfigs: await pinnedBaseConfigs(addon.location.dir) });
    const config = addon.config!;
    if (args.arch && args.arch.length > 1) throw new UsageError(`--arch ${args.arch.join(',')}: run runs one arch; name one`);
    const arch = args.arch?.[0] ?? localArch();
    checkArchesListed(model, [arch]);
    const ports = (args.port ?? []).map(parsePort);
    reportRuntimeFindings(model);

    // The options, as the Supervisor would start the add-on with them.
    const given = args.options ? readOptionsFile(args.options, display) : {};
    const start = startOptions(model, given);
    for (const key of start.dropped) process.stderr.write(`addonix: warning: option '${key}' is not in the schema: the Supervisor drops it\n`);
    if (start.options === null) {
      throw new UserError('addon-invalid', `the Supervisor would not start ${model.slug} with these options:\n  ${start.problems.join('\n  ')}`, { hint: 'set them in --options (or fix the defaults in config.yaml)' });
    }

    // The image: the one given, or this arch built now.
    const progress = new ProgressLine();
    let source = args.image;
    if (source === undefined) {
      const install = await nixForCommand();
      const flake = flakeFor(args.dir, args.flake);
      const overrides = overridesOf(args);
      const options = { jobs: args.jobs ?? availableParallelism(), builders: args.builders, substituters: args.substituters, overrides };
      await interruptible(async (signal) => {
        const targets = await targetsFor(install, flake, { model, dir: args.dir, arches: [arch], all: false, streams: true }, { signal, overrides });
        const plan = await planBuild(install, flake, targets, { ...options, signal });
        const shown = plan.planned.length > 0 ? new BuildProgress(process.stderr, plan) : undefined;
        const [result] = await buildPlanned(install, flake, plan, { ...options, signal, onEvent: shown?.onEvent }).finally(() => shown?.finish());
        if (!result?.outPath) throw new UserError('nix-failed', `${arch}: the image did not build: ${result?.failure?.message ?? 'no output'}`, { trace: result?.failure?.trace });
        source = result.outPath;
      }, 'nothing was run');
    } else if (!existsSync(source)) {
      throw new UserError('not-found', `--image ${display(source)}: no such file or folder`);
    }
    progress.update(() => 'reading the image...', true);
    const { images } = await readInputs([source!], { policy: { compression: 'none', keepCompressed: true }, rules: layerRules(false) }).finally(() => progress.done());
    const image = images.find((candidate) => candidate.arch === arch);
    if (!image) throw new UserError('platform-missing', `${display(source!)} has no image for ${arch} (it has ${images.map((i) => `${i.arch} (${formatPlatform(i.platform)})`).join(', ')}); pass --arch`);
    progress.update(() => `loading ${arch} into ${engine}...`, true);
    const [reference] = await loadIntoEngine(image, engine, loadName(image)).finally(() => progress.done());

    // What the Supervisor gives the container.
    const identity = runIdentity(model);
    const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    const work = mkdtempSync(path.join(tmpdir(), 'addonix-run-'));
    try {
      const dataDir = args.data ? path.resolve(args.data) : path.join(work, 'data');
      mkdirSync(dataDir, { recursive: true });
      if (!statSync(dataDir).isDirectory()) throw new UsageError(`--data ${display(dataDir)}: not a folder`);
      writeFileSync(path.join(dataDir, 'options.json'), optionsFileText(start.options), { mode: 0o600 });
      chmodSync(path.join(dataDir, 'options.json'), 0o600);
      const mounts = [{ source: dataDir, target: '/data', readOnly: false }];
      for (const map of mapMounts(config)) {
        const folder = path.join(work, 'map', map.type);
        mkdirSync(folder, { recursive: true });
        mounts.push({ source: folder, target: map.target, readOnly: map.readOnly });
      }
      const hostsFile = path.join(work, 'hosts');
      writeFileSync(hostsFile, `127.0.0.1\tlocalhost supervisor hassio\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${identity.hostname}\n`);
      const stateFile = path.join(work, 'supervisor.json');
      const writeState = (ipAddress: string) =>
        writeFileSync(stateFile, JSON.stringify(supervisorState(model, config, identity, start.options!, { arch, timezone, ipAddress, mqtt: null })));
      writeState('127.0.0.1');

      // Published: --port, else config.yaml's ports (where it gives a host port) and the ingress port.
      if (ports.length === 0) {
        for (const [key, host] of Object.entries(model.ports)) {
          const [container, protocol] = key.split('/');
          if (typeof host === 'number') ports.push({ address: '127.0.0.1', host, container: Number(container), protocol: (protocol ?? 'tcp') as 'tcp' | 'udp' });
        }
        if (identity.ingressPort !== null && !ports.some((p) => p.container === identity.ingressPort)) ports.push({ address: '127.0.0.1', host: identity.ingressPort, container: identity.ingressPort, protocol: 'tcp' });
      }
      const id = randomBytes(6).toString('hex');
      const timeout = typeof config['timeout'] === 'number' ? config['timeout'] : 10;
      process.stderr.write(`addonix: running ${reference} as ${identity.slug} (${model.arches.find((a) => a.arch === arch)!.runtime.flavor === 'base' ? 'on its base image' : 'flavor nix'}); Ctrl-C stops it\n`);
      for (const port of ports) process.stderr.write(`addonix: port ${port.container}/${port.protocol} on ${port.address}:${port.host}${port.container === identity.ingressPort ? ` (ingress: http://${port.address}:${port.host}/)` : ''}\n`);
      const result = await runAddonContainers({
        engine,
        image: reference!,
        id,
        slug: identity.slug,
        hostname: identity.hostname,
        env: addonEnvironment(model, identity, timezone),
        init: model.init,
        stopTimeout: timeout,
        mounts,
        ports,
        hostsFile,
        doubleScript: DOUBLE,
        stateFile,
        apiLog: args['api-log'] ? process.stderr : null,
        // With --json, stdout is the JSON document's alone: the add-on's log goes to stderr.
        output: { stdout: args.json ? process.stderr : process.stdout, stderr: process.stderr },
        onStarted: (address) => writeState(address),
      });
      if (result.interrupted) throw new UserError('interrupted', `interrupted: ${model.slug} was stopped and its containers removed`);
      process.exitCode = result.exitCode ?? 1;
      if (args.json) {
        process.stdout.write(JSON.stringify({ slug: model.slug, arch, image: reference, engine, exitCode: result.exitCode, ports }, null, 2) + '\n');
      }
      if (result.exitCode !== 0) process.stderr.write(`addonix: ${model.slug} exited with status ${result.exitCode}\n`);
    } catch (error) {
      // The engine's message may name the mounts made in here (options.json's /data, the map folders), gone with it.
      throw withoutTemporary(error, work, "(addonix run's temporary folder)");
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};
