/**
 * A CycloneDX 1.6 SBOM (JSON) of one image addonix built, from what the build knows rather than what a
 * scanner guesses: every Nix store path in the image's layers (name and version as Nix parses them,
 * the store hash, and the NAR SHA-256 where the local store has the path), every npm package the
 * lockfile installs for the image's target (purl, version, integrity, license as the lockfile records
 * it, the tarball URL), each native addon with the plan, target and toolchain it was compiled with and
 * the SHA-256 of its `.node` files in the image, and, for the flavor `base`, the base image by digest.
 *
 * Store paths of packages the image takes from nixpkgs also carry what the Nix library knows of them
 * (nix/image.nix's `addonixPackages`, evaluated from the add-on's flake): the package set's attribute
 * (`nix:attribute`) and `meta.license` (an SPDX identifier as `license.id`, any other as
 * `license.name`). The `nix:` and `addonix:` property namespaces are this tool's own (the CycloneDX
 * property taxonomy registers neither).
 *
 * The document is a function of the image and the add-on's files only (no timestamp; the serial number
 * derived from the image's config digest), so that the same build gives the same SBOM.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { AddonModel } from '../addon/model.js';
import { archInfo, defaultLibc, type BuildArch } from '../addon/arch.js';
import { readBaseLock, type BaseImagePin } from '../nixgen/base-lock.js';
import { findAppDir } from '../npm/app-dir.js';
import { resolveDeps } from '../npm/deps.js';
import type { PackageEntry } from '../npm/packages.js';
import type { NativePlan } from '../npm/native.js';
import { targetName, type Target } from '../npm/target.js';
import { locateNix } from '../nix/install.js';
import { narHashes } from '../nix/path-info.js';
import type { NixLicense, NixPackageData } from '../nix/package-facts.js';
import type { Digest } from '../oci/digest.js';
import type { LayerRules } from '../oci/layer-rules.js';
import { openLocalImages, type ScannedImage } from '../oci/scan.js';
import { UserError } from '../util/errors.js';
import { createRequire } from 'node:module';
import { spdxFromCycloneDx } from './spdx.js';

/** SPDX's license list (the ids CycloneDX's schema accepts as `license.id`). */
const SPDX_IDS: ReadonlySet<string> = new Set(createRequire(import.meta.url)('spdx-license-ids') as string[]);

export const CYCLONEDX_SPEC = '1.6';

export interface SbomInput {
  model: AddonModel;
  arch: BuildArch;
  image: ScannedImage;
  /** The npm packages installed for the image's target (null: the add-on has no npm project). */
  npm: { target: Target; packages: PackageEntry[]; native: NativePlan[]; appDir: string } | null;
  /** NAR SHA-256 (hex) of store paths, where the local Nix store has them. */
  narHashes: ReadonlyMap<string, string>;
  /** The pinned base image of the arch (flavor `base`). */
  basePin: BaseImagePin | null;
  /** What the Nix library says of the nixpkgs packages of the image (null: not known). */
  nixPackages?: NixPackageData | null;
  addonixVersion: string;
}

interface Property {
  name: string;
  value: string;
}

interface Component {
  type: 'library' | 'application' | 'container' | 'file';
  'bom-ref': string;
  name: string;
  group?: string;
  version?: string;
  purl?: string;
  hashes?: { alg: 'SHA-256' | 'SHA-384' | 'SHA-512' | 'SHA-1'; content: string }[];
  licenses?: ({ expression: string } | { license: { id: string } | { name: string } })[];
  externalReferences?: { type: 'distribution'; url: string }[];
  properties?: Property[];
  components?: Component[];
}

const STORE_PATH = /^\/nix\/store\/([0-9a-df-np-sv-z]{32})-([^/]+)/;

/** Nix's builtins.parseDrvName: the version starts at the first dash followed by something not a letter. */
export function parseDrvName(name: string): { name: string; version: string } {
  const match = /-[^a-zA-Z]/.exec(name);
  return match ? { name: name.slice(0, match.index), version: name.slice(match.index + 1) } : { name, version: '' };
}

/** The store paths whose files are in the image (each path once, sorted). */
export function imageStorePaths(image: ScannedImage): string[] {
  const found = new Set<string>();
  for (const layer of image.layers) {
    const files = layer.files;
    if (!files) continue;
    for (let i = 0; i < files.count; i++) {
      const match = STORE_PATH.exec(files.path(i));
      if (match) found.add(`/nix/store/${match[1]}-${match[2]}`);
    }
  }
  return [...found].sort();
}

/** Regular files of the image (the last layer holding a path wins): path -> SHA-256. */
function imageFiles(image: ScannedImage, wanted: (file: string) => boolean): Map<string, Digest> {
  const out = new Map<string, Digest>();
  for (const layer of image.layers) {
    const files = layer.files;
    if (!files) continue;
    for (let i = 0; i < files.count; i++) {
      const file = files.path(i);
      if (!wanted(file)) continue;
      const facts = files.get(i);
      if (facts.kind === 'file' && facts.sha256) out.set(file, facts.sha256);
    }
  }
  return out;
}

/** `pkg:npm/%40scope/name@version`, as the purl spec writes npm packages. */
export function npmPurl(name: string, version: string): string {
  const [scope, bare] = name.startsWith('@') ? [name.slice(0, name.indexOf('/')), name.slice(name.indexOf('/') + 1)] : [null, name];
  return `pkg:npm/${scope ? `${encodeURIComponent(scope)}/` : ''}${encodeURIComponent(bare)}@${encodeURIComponent(version)}`;
}

/** An SRI integrity (`sha512-<base64>`, several separated by spaces) as CycloneDX hashes. */
function integrityHashes(integrity: string | null): Component['hashes'] {
  const algs = { sha1: 'SHA-1', sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' } as const;
  const hashes: NonNullable<Component['hashes']> = [];
  for (const part of (integrity ?? '').split(/\s+/).filter(Boolean)) {
    const match = /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/=]+)$/.exec(part);
    if (match) hashes.push({ alg: algs[match[1] as keyof typeof algs], content: Buffer.from(match[2]!, 'base64').toString('hex') });
  }
  return hashes.length > 0 ? hashes : undefined;
}

/** The license the lockfile records for a package: an SPDX expression, or an old-style object's type as a name. */
function lockfileLicense(entry: PackageEntry): Component['licenses'] {
  const license = (entry.node.package as { license?: unknown }).license;
  if (typeof license === 'string' && license.trim()) return [{ expression: license.trim() }];
  if (license && typeof license === 'object' && typeof (license as { type?: unknown }).type === 'string') return [{ license: { name: (license as { type: string }).type } }];
  return undefined;
}

/** A UUID (RFC 4122 form, version 5 bits) derived from a digest: the same image gives the same serial number. */
function serialFrom(digest: string): string {
  const bytes = createHash('sha256').update(`addonix sbom ${digest}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `ghcr.io/me/x@sha256:…` as a purl of type oci (`pkg:oci/x@sha256%3A…?repository_url=ghcr.io/me/x`). */
function ociPurl(imageName: string, digest: string, tag?: string): string {
  const name = imageName.slice(imageName.lastIndexOf('/') + 1);
  return `pkg:oci/${encodeURIComponent(name)}@${encodeURIComponent(digest)}?repository_url=${encodeURIComponent(imageName).replace(/%2F/g, '/')}${tag ? `&tag=${encodeURIComponent(tag)}` : ''}`;
}

/** A license of meta.license: its SPDX id where SPDX's list has it, else its full (or short) name; null when it has neither. */
export function nixLicense(license: NixLicense): { id: string } | { name: string } | null {
  if (license.spdxId && SPDX_IDS.has(license.spdxId)) return { id: license.spdxId };
  const name = license.fullName ?? license.shortName ?? license.spdxId;
  return name ? { name } : null;
}

function storePathComponent(storePath: string, narHash: string | undefined, nixPackages: NixPackageData | null): Component {
  const base = path.posix.basename(storePath);
  const hash = base.slice(0, 32);
  const { name, version } = parseDrvName(base.slice(33));
  const facts = nixPackages?.paths.get(storePath);
  const licenses = (facts?.licenses ?? []).map(nixLicense).filter((l) => l !== null).map((license) => ({ license }));
  return {
    type: 'library',
    'bom-ref': storePath,
    name,
    ...(version ? { version } : {}),
    ...(narHash ? { hashes: [{ alg: 'SHA-256' as const, content: narHash }] } : {}),
    ...(licenses.length > 0 ? { licenses } : {}),
    properties: [
      { name: 'nix:store-path', value: storePath },
      { name: 'nix:store-hash', value: hash },
      ...(narHash ? [{ name: 'nix:nar-hash', value: `sha256:${narHash}` }] : []),
      ...(facts?.attribute ? [{ name: 'nix:attribute', value: facts.attribute }] : []),
      ...(facts ? [{ name: 'nix:output', value: facts.output }] : []),
      ...(facts?.override ? [{ name: 'nix:override', value: facts.override }] : []),
      ...(facts && nixPackages?.packageSet ? [{ name: 'nix:package-set', value: nixPackages.packageSet }] : []),
    ],
  };
}

function npmComponent(entry: PackageEntry, imagePath: string, filesAt: string): Component {
  const scoped = entry.name.startsWith('@');
  const hashes = integrityHashes(entry.integrity);
  const licenses = lockfileLicense(entry);
  return {
    type: 'library',
    'bom-ref': `npm:${entry.location}`,
    name: scoped ? entry.name.slice(entry.name.indexOf('/') + 1) : entry.name,
    ...(scoped ? { group: entry.name.slice(0, entry.name.indexOf('/')) } : {}),
    version: entry.version,
    purl: npmPurl(entry.name, entry.version),
    ...(hashes ? { hashes } : {}),
    ...(licenses ? { licenses } : {}),
    ...(entry.url && /^https?:\/\//.test(entry.url) ? { externalReferences: [{ type: 'distribution' as const, url: entry.url }] } : {}),
    properties: [
      { name: 'npm:location', value: entry.location },
      { name: 'addonix:image-path', value: imagePath },
      ...(filesAt !== imagePath ? [{ name: 'addonix:files-at', value: filesAt }] : []),
      ...(entry.integrity ? [{ name: 'npm:integrity', value: entry.integrity }] : []),
      ...(entry.bundled ? [{ name: 'npm:bundled', value: 'true' }] : []),
      ...(entry.optional ? [{ name: 'npm:optional', value: 'true' }] : []),
    ],
  };
}

/** How a native addon got its binary: the plan, the target triple, and the toolchain the Nix library uses for it. */
function toolchainOf(plan: NativePlan, target: Target): string {
  const triple = target.libc === 'musl' ? archInfo(target.arch).muslTarget : archInfo(target.arch).glibcTarget;
  switch (plan.plan) {
    case 'platform-package':
      return `none: the binary of the platform package npm installs for ${triple}`;
    case 'unsupported':
      return 'none: no way to build it for this target';
    default:
      return `node-gyp with the C/C++ compiler of the ${triple} package set and the headers of the image's Node.js (nix/native-addon.nix)`;
  }
}

/** Builds the CycloneDX document (see the module comment). */
export function buildSbom(input: SbomInput): object {
  const { model, arch, image, npm } = input;
  const archModel = model.arches.find((a) => a.arch === arch);
  const flavor = archModel?.runtime.flavor ?? 'nix';
  const storePaths = imageStorePaths(image);
  const components: Component[] = storePaths.map((p) => storePathComponent(p, input.narHashes.get(p), input.nixPackages ?? null));

  if (npm) {
    const { appPath, modulesRoot } = imageModules(image);
    // A package's folder where its files are: node_modules/x is modulesRoot/x.
    const realPath = (location: string) => path.posix.join(modulesRoot, location.slice('node_modules'.length));
    const byLocation = new Map(npm.packages.map((entry) => [entry.location, entry]));
    components.push(...npm.packages.map((entry) => npmComponent(entry, path.posix.join(appPath, entry.location), realPath(entry.location))));
    for (const plan of npm.native) {
      const where = realPath(plan.location) + '/';
      const binaries = imageFiles(image, (file) => file.startsWith(where) && file.endsWith('.node'));
      const triple = npm.target.libc === 'musl' ? archInfo(npm.target.arch).muslTarget : archInfo(npm.target.arch).glibcTarget;
      const entry = byLocation.get(plan.location);
      components.push({
        type: 'library',
        'bom-ref': `native:${plan.location}`,
        name: plan.name,
        version: plan.version,
        purl: npmPurl(plan.name, plan.version),
        properties: [
          { name: 'addonix:native-plan', value: plan.plan },
          { name: 'addonix:native-target', value: targetName(npm.target) },
          { name: 'addonix:native-triple', value: triple },
          { name: 'addonix:native-toolchain', value: toolchainOf(plan, npm.target) },
          ...Object.entries(plan.settings.env).map(([name, value]) => ({ name: `addonix:native-env:${name}`, value })),
          ...(entry?.integrity ? [{ name: 'npm:integrity', value: entry.integrity }] : []),
        ],
        components: [...binaries].sort(([a], [b]) => a.localeCompare(b)).map(([file, digest]) => ({
          type: 'file' as const,
          'bom-ref': `file:${file}`,
          name: file,
          hashes: [{ alg: 'SHA-256' as const, content: digest.slice('sha256:'.length) }],
        })),
      });
    }
  }

  if (flavor === 'base' && input.basePin) {
    const pin = input.basePin;
    components.push({
      type: 'container',
      'bom-ref': `base:${pin.imageName}@${pin.imageDigest}`,
      name: pin.imageName,
      version: pin.imageDigest,
      purl: ociPurl(pin.imageName, pin.imageDigest),
      hashes: [{ alg: 'SHA-256', content: pin.imageDigest.replace(/^sha256:/, '') }],
      properties: [
        { name: 'addonix:flavor', value: 'base' },
        { name: 'addonix:base-reference', value: pin.reference },
        ...(pin.hash ? [{ name: 'nix:pull-image-hash', value: pin.hash }] : []),
      ],
    });
  }

  const imageName = archModel?.image.replace(/:[^:/]+$/, '') ?? model.slug;
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: CYCLONEDX_SPEC,
    serialNumber: serialFrom(image.configDigest),
    version: 1,
    metadata: {
      // The CycloneDX taxonomy's own property: no timestamp, a stable order.
      properties: [{ name: 'cdx:reproducible', value: 'true' }],
      tools: { components: [{ type: 'application', name: 'addonix', version: input.addonixVersion, purl: npmPurl('addonix', input.addonixVersion) }] },
      component: {
        type: 'container',
        'bom-ref': 'image',
        name: imageName,
        version: model.version,
        hashes: [{ alg: 'SHA-256', content: image.configDigest.replace(/^sha256:/, '') }],
        properties: [
          { name: 'addonix:arch', value: arch },
          { name: 'addonix:flavor', value: flavor },
          { name: 'oci:config-digest', value: image.configDigest },
          ...(image.manifest ? [{ name: 'oci:manifest-digest', value: image.manifest.digest }] : []),
          { name: 'oci:platform', value: [image.platform.os, image.platform.architecture, image.platform.variant].filter(Boolean).join('/') },
        ],
      },
    },
    components,
    dependencies: [{ ref: 'image', dependsOn: components.map((c) => c['bom-ref']) }],
  };
}

/**
 * Where the app's node_modules is in the image: the folder holding it (outside the store), and where its
 * packages really are (node_modules is a link into the store path the Nix library builds it in).
 */
function imageModules(image: ScannedImage): { appPath: string; modulesRoot: string } {
  let found: { appPath: string; modulesRoot: string } | undefined;
  for (const layer of image.layers) {
    const files = layer.files;
    if (!files) continue;
    for (let i = 0; i < files.count; i++) {
      const file = files.path(i);
      if (!file.endsWith('/node_modules') || file.startsWith('/nix/store/') || file.slice(0, -'/node_modules'.length).includes('/node_modules')) continue;
      const facts = files.get(i);
      const appPath = path.posix.dirname(file);
      if (facts.kind === 'symlink' && facts.linkTarget) found = { appPath, modulesRoot: path.posix.resolve(appPath, facts.linkTarget) };
      else if (facts.kind === 'directory') found = { appPath, modulesRoot: file };
    }
  }
  return found ?? { appPath: '/app', modulesRoot: '/app/node_modules' };
}

export interface SbomRequest {
  /** The add-on folder (its config, lockfile and base image lock). */
  dir: string;
  model: AddonModel;
  /** Image inputs as push and sbom take them (a result link, tarball, stream script, layout; ARCH=PATH). */
  inputs: readonly string[];
  /** Only these arches (default: every image of the inputs). */
  arches?: readonly BuildArch[];
  rules: LayerRules;
  app?: string | undefined;
  addonixVersion: string;
  display?: (file: string) => string;
  /** Told when Nix is not there to give NAR hashes, or the flake not there to give nixpkgs' facts. */
  note?: (message: string) => void;
  /** CycloneDX (the default) or SPDX 2.3 (spdx.ts, made from the CycloneDX document). */
  format?: 'cyclonedx' | 'spdx';
  /** What the Nix library says of each arch's nixpkgs packages (see nix/package-facts.ts), when known. */
  nixPackages?: (arches: readonly BuildArch[]) => Promise<ReadonlyMap<string, NixPackageData | null>>;
}

/** An image's creation time as SPDX writes times (seconds, UTC, `Z`); the Unix epoch's second 1 when it has none. */
function spdxTime(created: string | undefined): string {
  const time = created ? new Date(created) : new Date(NaN);
  return (Number.isNaN(time.getTime()) ? new Date(1000) : time).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The SBOM of each image of the inputs, by arch: each read whole, the npm packages of its arch's default target. */
export async function sbomsOf(request: SbomRequest): Promise<Map<BuildArch, object>> {
  const { model, rules } = request;
  const appDir = await findAppDir(request.dir, request.app, request.display);
  const lock = await readBaseLock(request.dir);
  let nix: Awaited<ReturnType<typeof locateNix>> | null = null;
  try {
    nix = await locateNix();
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    request.note?.(`no NAR hashes in the SBOM: ${error.message}`);
  }
  let nixPackages: ReadonlyMap<string, NixPackageData | null> = new Map();
  if (request.nixPackages) {
    try {
      nixPackages = await request.nixPackages(request.arches ?? model.arches.map((a) => a.arch));
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      request.note?.(`no nixpkgs attributes or licenses in the SBOM: ${error.message}`);
    }
  }
  const out = new Map<BuildArch, object>();
  for (const input of request.inputs) {
    for (const candidate of await openLocalImages(input, rules, { inProcess: true, whole: true })) {
      const arch = candidate.facts.arch;
      if (arch === null || out.has(arch) || (request.arches && !request.arches.includes(arch))) continue;
      const image = await candidate.scan();
      let npm: SbomInput['npm'] = null;
      if (appDir) {
        const target = { arch, libc: defaultLibc(arch) };
        const deps = await resolveDeps(appDir, [target], request.display ? { display: request.display } : {});
        const installed = deps.installed.get(targetName(target))!;
        npm = { target, appDir, packages: deps.packages.filter((entry) => installed.has(entry.location)), native: deps.targets[0]!.native };
      }
      const basePin = lock && 'lock' in lock ? (lock.lock.images[arch] ?? null) : null;
      const hashes = nix ? await narHashes(nix, imageStorePaths(image)) : new Map<string, string>();
      const bom = buildSbom({ model, arch, image, npm, narHashes: hashes, basePin, addonixVersion: request.addonixVersion, nixPackages: nixPackages.get(arch) ?? null });
      out.set(arch, request.format === 'spdx' ? spdxFromCycloneDx(bom, spdxTime(image.config.created)) : bom);
    }
  }
  return out;
}
