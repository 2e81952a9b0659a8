/**
 * Alpine packages that add-on Dockerfiles install (`apk add`), and what an addonix image takes instead:
 * the nixpkgs attribute of the same program (from the target's package set), whether Home Assistant's
 * base images already have it (flavor "base" then takes it from there), or that it is only needed to
 * build (node-gyp's compilers, npm itself). Node.js is addonix's own. One table, read by the runtime
 * contract (src/addon/runtime.ts); names not in it are said, with their line, as not carried over.
 *
 * Sources: home-assistant/docker-base alpine/Dockerfile and hassio-addons/addon-base base/Dockerfile
 * (what the base images install), Alpine's package index (names), nixpkgs pkgs/top-level/all-packages.nix
 * and pkgs/by-name (attributes).
 */

export interface AlpinePackage {
  /** The nixpkgs attribute with the same programs, or null when nothing needs to be added (a library Nix links by store path). */
  attr: string | null;
  /** Home Assistant's base images (and the community add-on base) install it. */
  inHaBase: boolean;
  kind: 'runtime' | 'node' | 'library';
}

/** Only needed to build the image: compilers and tools for node-gyp, package managers. */
export const ALPINE_BUILD_ONLY: ReadonlySet<string> = new Set([
  'npm', 'yarn', 'pnpm', 'make', 'g++', 'gcc', 'build-base', 'musl-dev', 'libc-dev', 'linux-headers', 'pkgconf', 'pkgconfig',
  'cmake', 'autoconf', 'automake', 'libtool', 'python3-dev', 'py3-setuptools', 'py3-pip', 'binutils',
]);

const R = (attr: string, inHaBase = false): AlpinePackage => ({ attr, inHaBase, kind: 'runtime' });
const LIB: AlpinePackage = { attr: null, inHaBase: false, kind: 'library' };

const TABLE: Readonly<Record<string, AlpinePackage>> = {
  nodejs: { attr: null, inHaBase: false, kind: 'node' },
  'nodejs-current': { attr: null, inHaBase: false, kind: 'node' },
  'nodejs-lts': { attr: null, inHaBase: false, kind: 'node' },
  // What the Home Assistant base images install (docker-base alpine/Dockerfile).
  bash: R('bash', true),
  curl: R('curl', true),
  jq: R('jq', true),
  tzdata: R('tzdata', true),
  'ca-certificates': R('cacert', true),
  xz: R('xz', true),
  'bind-tools': R('dnsutils', true),
  bashio: { attr: null, inHaBase: true, kind: 'runtime' },
  tempio: { attr: null, inHaBase: true, kind: 'runtime' },
  // Common runtime tools of Node.js add-ons.
  python3: R('python3'),
  ffmpeg: R('ffmpeg'),
  openssl: R('openssl'),
  openssh: R('openssh'),
  'openssh-client': R('openssh'),
  sqlite: R('sqlite'),
  imagemagick: R('imagemagick'),
  'mosquitto-clients': R('mosquitto'),
  coreutils: R('coreutils'),
  procps: R('procps'),
  'procps-ng': R('procps'),
  tini: R('tini'),
  'su-exec': R('su-exec'),
  nginx: R('nginx'),
  socat: R('socat'),
  'netcat-openbsd': R('netcat-openbsd'),
  iproute2: R('iproute2'),
  iputils: R('iputils'),
  wget: R('wget'),
  zip: R('zip'),
  unzip: R('unzip'),
  gzip: R('gzip'),
  tar: R('gnutar'),
  grep: R('gnugrep'),
  sed: R('gnused'),
  gawk: R('gawk'),
  findutils: R('findutils'),
  git: R('git'),
  eudev: R('eudev'),
  udev: R('eudev'),
  dbus: R('dbus'),
  avahi: R('avahi'),
  bluez: R('bluez'),
  'bluez-deprecated': R('bluez'),
  chromium: R('chromium'),
  'ttf-dejavu': R('dejavu_fonts'),
  'font-noto': R('noto-fonts'),
  'nss-tools': R('nss'),
  // Libraries: a Nix binary or addon links them by store path, nothing to add by name.
  'libstdc++': LIB,
  libgcc: LIB,
  'libc6-compat': LIB,
  gcompat: LIB,
  libusb: LIB,
  'libusb-dev': LIB,
  vips: LIB,
  'vips-dev': LIB,
  cairo: LIB,
  pango: LIB,
  giflib: LIB,
  libjpeg: LIB,
  'libjpeg-turbo': LIB,
};

/** The table's row for an Alpine package name, or null when addonix does not know it. */
export function alpinePackage(name: string): AlpinePackage | null {
  return TABLE[name] ?? null;
}
