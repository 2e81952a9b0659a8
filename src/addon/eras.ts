/**
 * The two generations of Supervisor rules addonix validates against.
 *
 * - 2026, "apps": home-assistant/supervisor `supervisor/apps/validate.py`, `apps/options.py`,
 *   `apps/build.py`, `const.py`, `validate.py` at HEAD 2026-08 (add-ons renamed apps).
 * - 2025, "addons": the same files under `supervisor/addons/` at tag 2025.06.0.
 *
 * Everything that differs between the two lives here; the rest of src/addon is shared.
 */
import type { HaArch } from './arch.js';
import { pyMatch } from './python-values.js';
import type { Era } from './era-names.js';

export { DEFAULT_ERA, ERAS, type Era } from './era-names.js';

export interface EraRules {
  era: Era;
  /** For messages: "Supervisor 2026.08". */
  label: string;
  deprecatedArches: readonly HaArch[];
  /** MappingType values accepted in `map` entries given as mappings. */
  mapTypes: readonly string[];
  /** RE_VOLUME (Python): map entries given as strings. */
  volumePattern: string;
  /** Map types replaced by an app-named equivalent (deprecated 2026.07). */
  legacyMapTypes: Readonly<Record<string, string>>;
  /** RE_MACHINE, as a JSON Schema pattern. */
  machinePattern: string;
  deprecatedMachines: readonly string[];
  /** RE_SCHEMA_ELEMENT from options.py (Python `re` syntax that JavaScript reads the same way). */
  schemaElementPattern: RegExp;
  /** 2026 nests option schemas to any depth; 2025 allowed only two levels. */
  schemaNesting: 'recursive' | 'two-levels';
  /** Returns why an `image` value is refused, or null. */
  dockerImageProblem(image: string): string | null;
  /** 2025 validated `codenotary` as an email; 2026 ignores it with a warning. */
  codenotary: 'email' | 'deprecated';
  ulimits: boolean;
  advancedDeprecated: boolean;
  /** 2026 refuses `ingress_port: 0` together with host ports in the dynamic ingress range. */
  dynamicIngressPortCheck: boolean;
  /** 2026 logs skipped map entries; 2025 skipped them silently (and kept all of them when none was valid). */
  mapRepair: '2026' | '2025';
  buildFileDeprecated: boolean;
  squashIgnored: boolean;
  /** BUILD_FROM passed when a build file exists without `build_from`. */
  defaultBuildFrom(arch: string): string;
  /** Whether BUILD_FROM is passed when there is no build file at all. */
  buildFromWithoutBuildFile: boolean;
}

export const INGRESS_DYNAMIC_PORT_MIN = 62000;
export const INGRESS_DYNAMIC_PORT_MAX = 65500;

const MACHINES_2025 = [
  'intel-nuc', 'generic-x86-64', 'odroid-c2', 'odroid-c4', 'odroid-m1', 'odroid-n2', 'odroid-xu',
  'qemuarm-64', 'qemuarm', 'qemux86-64', 'qemux86', 'raspberrypi', 'raspberrypi2', 'raspberrypi3-64',
  'raspberrypi3', 'raspberrypi4-64', 'raspberrypi4', 'raspberrypi5-64', 'yellow', 'green', 'tinker',
];
const MACHINES_2026 = [...MACHINES_2025.slice(0, 1), 'khadas-vim3', 'generic-aarch64', ...MACHINES_2025.slice(1)];

/** RE_MACHINE starts with an empty alternative, so "" and "!" are accepted too. */
function machinePattern(machines: readonly string[]): string {
  return `^!?(?:|${machines.join('|')})$`;
}

// --- docker image names -------------------------------------------------------------------------

/** supervisor/docker/utils.py IMAGE_DOMAIN_REGEX, a port of distribution/reference's DomainRegexp. */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const IMAGE_DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[(?:[a-fA-F0-9:]+)\\])(?::[0-9]+)?$`);
const IMAGE_PATH_COMPONENT = '^[a-z0-9{][a-z0-9.\\-_{}]*$';

/** splitDockerDomain(): the registry part of a reference, if its first component looks like one. */
export function splitDockerDomain(reference: string): [string | null, string] {
  const slash = reference.indexOf('/');
  if (slash < 0) return [null, reference];
  const first = reference.slice(0, slash);
  const rest = reference.slice(slash + 1);
  if (first === 'index.docker.io') return ['docker.io', rest];
  if (first === 'localhost' || first.includes('.') || first.includes(':') || first.toLowerCase() !== first) {
    return [first, rest];
  }
  return [null, reference];
}

function dockerImageProblem2026(image: string): string | null {
  if (!image) return 'the image name is empty';
  const [registry, path] = splitDockerDomain(image);
  if (registry !== null) {
    if (registry !== registry.toLowerCase()) return `the registry '${registry}' must be lowercase`;
    if (!IMAGE_DOMAIN.test(registry)) return `'${registry}' is not a valid registry name`;
  }
  if (!path) return 'the image has no name after the registry';
  if (path.includes(':')) return 'the image must not carry a tag: the Supervisor uses `version` as the tag';
  for (const component of path.split('/')) {
    if (!pyMatch(IMAGE_PATH_COMPONENT, component)) {
      return `'${component}' is not a valid image path component (lowercase letters, digits, '.', '-', '_' and {arch}/{machine})`;
    }
  }
  return null;
}

const DOCKER_IMAGE_2025 = '^([a-z0-9][a-z0-9.\\-]*(:[0-9]+)?/)*?([a-z0-9{][a-z0-9.\\-_{}]*/)*?([a-z0-9{][a-z0-9.\\-_{}]*)$';

function dockerImageProblem2025(image: string): string | null {
  if (pyMatch(DOCKER_IMAGE_2025, image)) return null;
  const lastSlash = image.lastIndexOf('/');
  if (image.slice(lastSlash + 1).includes(':')) {
    return 'the image must not carry a tag: the Supervisor uses `version` as the tag';
  }
  return 'not a valid image name (lowercase registry/path components, {arch} allowed, no tag)';
}

// --- the two eras ---------------------------------------------------------------------------------

const MAP_TYPES_2025 = ['data', 'config', 'ssl', 'addons', 'backup', 'share', 'media', 'homeassistant_config', 'all_addon_configs', 'addon_config'];
const MAP_TYPES_2026 = ['data', 'config', 'ssl', 'local_apps', 'backup', 'share', 'media', 'homeassistant_config', 'all_app_configs', 'app_config', 'addons', 'all_addon_configs', 'addon_config'];

function volumePattern(types: readonly string[]): string {
  return `^(${types.join('|')})(?::(rw|ro))?$`;
}

export const ERA_RULES: Readonly<Record<Era, EraRules>> = {
  '2026': {
    era: '2026',
    label: 'Supervisor 2026',
    deprecatedArches: ['armhf', 'armv7', 'i386'],
    mapTypes: MAP_TYPES_2026,
    volumePattern: volumePattern(MAP_TYPES_2026),
    legacyMapTypes: { addons: 'local_apps', all_addon_configs: 'all_app_configs', addon_config: 'app_config' },
    machinePattern: machinePattern(MACHINES_2026),
    deprecatedMachines: ['odroid-xu', 'qemuarm', 'qemux86', 'raspberrypi', 'raspberrypi2', 'raspberrypi3', 'raspberrypi4', 'tinker'],
    schemaElementPattern:
      /^(?:|bool|email|url|port|device(?:\((?<filter>subsystem=[a-z]+)\))?|str(?:\((?<s_min>\d+)?,(?<s_max>\d+)?\))?|password(?:\((?<p_min>\d+)?,(?<p_max>\d+)?\))?|int(?:\((?<i_min>-?\d+)?,(?<i_max>-?\d+)?\))?|float(?:\((?<f_min>-?\d*\.?\d+)?,(?<f_max>-?\d*\.?\d+)?\))?|match\((?<match>.*)\)|list\((?<list>.+)\))\??$/,
    schemaNesting: 'recursive',
    dockerImageProblem: dockerImageProblem2026,
    codenotary: 'deprecated',
    ulimits: true,
    advancedDeprecated: true,
    dynamicIngressPortCheck: true,
    mapRepair: '2026',
    buildFileDeprecated: true,
    squashIgnored: true,
    defaultBuildFrom: () => 'ghcr.io/home-assistant/base:latest',
    buildFromWithoutBuildFile: false,
  },
  '2025': {
    era: '2025',
    label: 'Supervisor 2025.06',
    deprecatedArches: [],
    mapTypes: MAP_TYPES_2025,
    volumePattern: volumePattern(MAP_TYPES_2025),
    legacyMapTypes: {},
    machinePattern: machinePattern(MACHINES_2025),
    deprecatedMachines: [],
    schemaElementPattern:
      /^(?:|bool|email|url|port|device(?:\((?<filter>subsystem=[a-z]+)\))?|str(?:\((?<s_min>\d+)?,(?<s_max>\d+)?\))?|password(?:\((?<p_min>\d+)?,(?<p_max>\d+)?\))?|int(?:\((?<i_min>\d+)?,(?<i_max>\d+)?\))?|float(?:\((?<f_min>[\d.]+)?,(?<f_max>[\d.]+)?\))?|match\((?<match>.*)\)|list\((?<list>.+)\))\??$/,
    schemaNesting: 'two-levels',
    dockerImageProblem: dockerImageProblem2025,
    codenotary: 'email',
    ulimits: false,
    advancedDeprecated: false,
    dynamicIngressPortCheck: false,
    mapRepair: '2025',
    buildFileDeprecated: false,
    squashIgnored: false,
    defaultBuildFrom: (arch) => `ghcr.io/home-assistant/${arch}-base:latest`,
    buildFromWithoutBuildFile: true,
  },
};

export function otherEra(era: Era): Era {
  return era === '2026' ? '2025' : '2026';
}
