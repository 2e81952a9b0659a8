/**
 * What `addonix run` gives an add-on, as the Supervisor gives it (supervisor/docker/app.py, apps/model.py,
 * api/apps.py info_data; read at 2026.08.0): the slug of a local add-on (`local_<slug>`) and its
 * hostname, the environment (config.yaml's `environment`, then TZ, SUPERVISOR_TOKEN and HASSIO_TOKEN, a
 * new 112-hex-digit token per start), the folders of `map:` and /data, the ingress port (a random one
 * in 62000-65500 for `ingress_port: 0`), and what the API double answers (/addons/self/info and the
 * others of src/run/supervisor-double.ts).
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { AddonModel } from '../addon/model.js';
import type { SupervisorState } from './supervisor-double.js';

/** map: types and where the Supervisor mounts them (apps/validate.py MAP_*, docker/app.py mounts). */
export const MAP_TARGETS: Record<string, string> = {
  config: '/config',
  homeassistant_config: '/homeassistant',
  addon_config: '/config',
  app_config: '/config',
  all_addon_configs: '/addon_configs',
  all_app_configs: '/app_configs',
  ssl: '/ssl',
  addons: '/addons',
  local_apps: '/local_apps',
  backup: '/backup',
  share: '/share',
  media: '/media',
};

export interface MapMount {
  type: string;
  target: string;
  readOnly: boolean;
}

/** The map: entries of a config (strings `share:rw` or mappings {type, read_only, path}). */
export function mapMounts(config: Record<string, unknown>): MapMount[] {
  const entries = Array.isArray(config['map']) ? config['map'] : [];
  const mounts: MapMount[] = [];
  for (const entry of entries) {
    let type: string;
    let readOnly = true;
    let target: string | undefined;
    if (typeof entry === 'string') {
      const [name, mode] = entry.split(':');
      type = name!;
      readOnly = mode !== 'rw';
    } else if (entry && typeof entry === 'object') {
      const value = entry as Record<string, unknown>;
      type = String(value['type']);
      readOnly = value['read_only'] !== false;
      if (typeof value['path'] === 'string') target = value['path'];
    } else continue;
    if (type === 'data') continue;
    const path = target ?? MAP_TARGETS[type];
    if (path && !mounts.some((m) => m.target === path)) mounts.push({ type, target: path, readOnly });
  }
  return mounts;
}

export interface RunIdentity {
  slug: string;
  hostname: string;
  token: string;
  ingressPort: number | null;
}

export function runIdentity(model: AddonModel): RunIdentity {
  const slug = `local_${model.slug}`;
  return {
    slug,
    hostname: slug.replace(/_/g, '-'),
    token: randomBytes(56).toString('hex'),
    ingressPort: model.ingress ? (model.ingressPort === 0 ? randomInt(62000, 65501) : model.ingressPort) : null,
  };
}

/** The container's environment: config.yaml's, then what the Supervisor adds. */
export function addonEnvironment(model: AddonModel, identity: RunIdentity, timezone: string): Record<string, string> {
  return { ...model.environment, TZ: timezone, SUPERVISOR_TOKEN: identity.token, HASSIO_TOKEN: identity.token };
}

const list = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);

/** What the API double serves for this add-on. */
export function supervisorState(
  model: AddonModel,
  config: Record<string, unknown>,
  identity: RunIdentity,
  options: Record<string, unknown>,
  context: { arch: string; timezone: string; ipAddress: string; mqtt: Record<string, unknown> | null },
): SupervisorState {
  const ingressEntry = model.ingress ? `/api/hassio_ingress/${randomBytes(32).toString('base64url')}` : null;
  const configEntry = typeof config['ingress_entry'] === 'string' ? config['ingress_entry'].replace(/^\//, '') : '';
  const ports = Object.keys(model.ports).length > 0 ? model.ports : null;
  const bool = (key: string, fallback = false) => (typeof config[key] === 'boolean' ? (config[key] as boolean) : fallback);
  return {
    token: identity.token,
    addon: {
      name: model.name,
      slug: identity.slug,
      hostname: identity.hostname,
      dns: [`${identity.hostname}.local.hass.io`],
      description: model.description,
      long_description: null,
      advanced: bool('advanced'),
      stage: typeof config['stage'] === 'string' ? config['stage'] : 'stable',
      repository: 'local',
      version_latest: model.version,
      protected: true,
      rating: 6,
      boot_config: typeof config['boot'] === 'string' ? config['boot'] : 'auto',
      boot: config['boot'] === 'manual' ? 'manual' : 'auto',
      options,
      schema: null,
      arch: list(config['arch']),
      machine: list(config['machine']),
      homeassistant: typeof config['homeassistant'] === 'string' ? config['homeassistant'] : null,
      url: model.url,
      detached: false,
      available: true,
      build: model.imageTemplate === null,
      network: ports,
      network_description: (config['ports_description'] as Record<string, string> | undefined) ?? null,
      host_network: bool('host_network'),
      host_pid: bool('host_pid'),
      host_ipc: bool('host_ipc'),
      host_uts: bool('host_uts'),
      host_dbus: bool('host_dbus'),
      privileged: list(config['privileged']),
      full_access: bool('full_access'),
      apparmor: config['apparmor'] === false ? 'disable' : 'default',
      icon: false,
      logo: false,
      changelog: false,
      documentation: false,
      stdin: bool('stdin'),
      hassio_api: bool('hassio_api'),
      hassio_role: typeof config['hassio_role'] === 'string' ? config['hassio_role'] : 'default',
      auth_api: bool('auth_api'),
      homeassistant_api: bool('homeassistant_api'),
      gpio: bool('gpio'),
      usb: bool('usb'),
      uart: bool('uart'),
      kernel_modules: bool('kernel_modules'),
      devicetree: bool('devicetree'),
      udev: bool('udev'),
      docker_api: bool('docker_api'),
      video: bool('video'),
      audio: bool('audio'),
      startup: typeof config['startup'] === 'string' ? config['startup'] : 'application',
      services: list(config['services']),
      discovery: list(config['discovery']),
      translations: {},
      ingress: model.ingress,
      signed: false,
      state: 'started',
      webui: typeof config['webui'] === 'string' ? config['webui'] : null,
      ingress_entry: ingressEntry,
      ingress_url: ingressEntry ? `${ingressEntry}/${configEntry}` : null,
      ingress_port: identity.ingressPort,
      ingress_panel: model.ingress ? true : null,
      audio_input: null,
      audio_output: null,
      auto_update: false,
      ip_address: context.ipAddress,
      version: model.version,
      update_available: false,
      watchdog: typeof config['watchdog'] === 'string' ? true : null,
      devices: list(config['devices']),
      system_managed: false,
      system_managed_config_entry: null,
    },
    options,
    info: {
      supervisor: '2026.08.0',
      homeassistant: '2026.11.0',
      hassos: null,
      docker: '28.2.2',
      hostname: 'homeassistant',
      operating_system: 'addonix run',
      features: ['reboot', 'shutdown', 'services', 'network', 'hostname', 'timedate'],
      machine: 'qemux86-64',
      machine_id: null,
      arch: context.arch,
      state: 'running',
      supported_arch: [context.arch],
      supported: true,
      channel: 'stable',
      logging: 'info',
      timezone: context.timezone,
    },
    supervisor: { version: '2026.08.0', version_latest: '2026.08.0', update_available: false, channel: 'stable', arch: context.arch, supported: true, healthy: true, ip_address: '172.30.32.2', timezone: context.timezone, logging: 'info', debug: false, debug_block: false, diagnostics: null, auto_update: true, country: null },
    core: { version: '2026.11.0', version_latest: '2026.11.0', update_available: false, machine: 'qemux86-64', ip_address: '172.30.32.1', arch: context.arch, image: 'ghcr.io/home-assistant/qemux86-64-homeassistant', boot: true, port: 8123, ssl: false, watchdog: true, audio_input: null, audio_output: null },
    host: { hostname: 'homeassistant', operating_system: 'addonix run', kernel: null, chassis: 'vm', deployment: 'production', timezone: context.timezone, features: [] },
    os: { version: null, version_latest: null, update_available: false, board: null, boot: null },
    network: { interfaces: [], docker: { interface: 'hassio', address: '172.30.32.0/23', gateway: '172.30.32.1', dns: '172.30.32.3' }, host_internet: true, supervisor_internet: true },
    mqtt: context.mqtt,
  };
}
