/**
 * addonix's reading of a Dockerfile against a real builder's: Podman's (buildah) `podman build` of the
 * same Dockerfiles on the tests' base image is the oracle. For each, the image config addonix's data
 * and the Nix library make (src/addon/runtime.ts, then nix/runtime.nix's configFor over the base
 * image's config) and the files nix/docker-copy.py lays out (COPY, ADD of an archive, RUN chmod, mkdir,
 * ln -s, rm, .dockerignore, --chmod, a stage built FROM another) are compared with what the builder
 * made. Known differences of buildah (1.28, Debian 12's) from Docker's BuildKit are kept out of the
 * Dockerfiles: EXPOSE ranges, which BuildKit expands and buildah keeps as written, and the ${VAR%pattern}
 * forms it does not know, and an ENV of a variable the base image sets, which buildah moves to the end
 * while BuildKit (and dockerTools) replace it in place (src/addon/shell-words.ts and nix/runtime.nix follow
 * BuildKit; the unit tests check those). Its own label (io.buildah.version) is not compared.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { needTools, podmanEnv, REPO, tempTree } from './helpers.js';
import { buildAttrs, evalJson, nixPath } from './nix-helpers.js';
import { parseDockerfile } from '../src/addon/dockerfile.js';
import { runtimeContract, type ImageConfig } from '../src/addon/runtime.js';
import { addonContext } from '../src/addon/context.js';

const BASE = path.join(REPO, 'test', 'fixtures', 'base-image');
const BASE_NAME = 'localhost/addonix-test-base:1';

/** What a tree holds: type, permission bits, and content or link target, by path. */
function tree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      const stat = lstatSync(file);
      const key = '/' + path.relative(root, file);
      if (stat.isSymbolicLink()) out.set(key, `link ${readlinkSync(file)}`);
      else if (stat.isDirectory()) {
        out.set(key, `dir ${(stat.mode & 0o7777).toString(8)}`);
        walk(file);
      } else out.set(key, `file ${(stat.mode & 0o7777).toString(8)} ${createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16)}`);
    }
  };
  walk(root);
  return out;
}

/** A root folder from an image in Podman's store (podman export of a container of it). */
function exportRoot(image: string, dir: string, env: Record<string, string>): string {
  const root = path.join(dir, `root-${image.replace(/[^a-z0-9]/g, '-')}`);
  mkdirSync(root);
  const created = execFileSync('podman', ['create', image, '/bin/true'], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
  try {
    execFileSync('sh', ['-c', `podman export "$0" | tar -x -C "$1" --no-same-owner`, created, root], { env: { ...process.env, ...env } });
  } finally {
    execFileSync('podman', ['rm', '-f', created], { env: { ...process.env, ...env }, stdio: 'ignore' });
  }
  return root;
}

const CASES: { name: string; files: Record<string, string>; dockerfile: string; setup?: (context: string) => void }[] = [
  {
    name: 'config',
    files: { 'a.txt': 'a\n' },
    dockerfile: [
      `FROM ${BASE_NAME}`,
      'ARG V=1',
      'ARG EMPTY',
      'ENV A=x B="y z" C=${A}_$V',
      'ENV D=$A E=${EMPTY:-dflt}',
      'ENV LEGACY two  words',
      'WORKDIR app',
      'WORKDIR sub/../data',
      'LABEL l1=$A "l 2"=v io.hass.type=addon',
      'EXPOSE 80 8099/tcp 1900/udp $V',
      'USER 1000:1000',
      'VOLUME ["/data", "/share"]',
      'STOPSIGNAL SIGINT',
      'HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --retries=3 CMD curl -f http://127.0.0.1:8099/ || exit 1',
      'CMD ["ignored"]',
      'ENTRYPOINT exec node "$A"',
      'CMD ["--flag", "${A}"]',
    ].join('\n'),
  },
  {
    name: 'files',
    files: {
      '.dockerignore': '*.md\n!README.md\n**/*.log\nsecret*\n',
      'README.md': '# r\n',
      'NOTES.md': 'n\n',
      'app.js': 'a\n',
      'lib/x.js': 'x\n',
      'lib/deep/y.js': 'y\n',
      'lib/debug.log': 'l\n',
      'secret.txt': 's\n',
      'package.json': '{}\n',
      'package-lock.json': '{}\n',
      'rootfs/etc/services.d/app/run': '#!/bin/sh\nexec true\n',
      'rootfs/usr/bin/helper.sh': '#!/bin/sh\n',
      'rootfs/opt/app/server.js': 's\n',
      'single.conf': 'c\n',
    },
    dockerfile: [
      `FROM ${BASE_NAME} AS base`,
      'WORKDIR /usr/src/app',
      'COPY package*.json ./',
      'COPY . .',
      'COPY lib/ ./lib2/',
      'COPY single.conf /etc/app.conf',
      'COPY single.conf /usr/bin',
      'COPY --chmod=0750 rootfs/usr/bin/helper.sh /usr/local/bin/',
      'COPY rootfs /',
      'FROM base',
      'RUN chmod a+x /etc/services.d/app/run && chmod -R go-rx /opt/app && mkdir -p /var/lib/app/cache \\',
      '  && ln -s /data/options.json /usr/src/app/options.json && rm -rf /usr/src/app/lib/deep && cd /opt && mkdir logs',
      'COPY app.js relative.js',
    ].join('\n'),
  },
  {
    name: 'archive',
    files: { 'payload/bin/tool': '#!/bin/sh\necho tool\n', 'payload/share/doc.txt': 'doc\n' },
    // ADD unpacks a local tar archive into the destination (a remote one it would only download).
    setup: (context) => execFileSync('tar', ['-czf', path.join(context, 'bundle.tar.gz'), '-C', path.join(context, 'payload'), '--owner=0', '--group=0', '.']),
    dockerfile: [`FROM ${BASE_NAME}`, 'ADD bundle.tar.gz /opt/bundle/', 'ADD payload/share/doc.txt /opt/doc.txt', 'WORKDIR /opt/bundle', 'CMD ["./bin/tool"]'].join('\n'),
  },
];

/**
 * This process's own limits for RUN, as `podman build --ulimit` takes them: Podman 5 (Debian 13), as
 * root, raises RUN's open-file and process limits (to 1048576 and more), which runc cannot do without
 * CAP_SYS_RESOURCE (as on this project's machines: "error setting rlimit type 7", then 6). Podman 4
 * (Debian 12) keeps the process limit as it is, and refuses it given explicitly (type 6 again): the
 * process limit is given to Podman 5 only.
 */
function runLimits(): string[] {
  const limits = (flag: string) => execFileSync('bash', ['-c', `echo "$(ulimit -S${flag}):$(ulimit -H${flag})"`], { encoding: 'utf8' }).trim().replaceAll('unlimited', '-1');
  const major = Number(execFileSync('podman', ['version', '--format', '{{.Client.Version}}'], { encoding: 'utf8' }).split('.')[0]);
  return ['--ulimit', `nofile=${limits('n')}`, ...(major >= 5 ? ['--ulimit', `nproc=${limits('u')}`] : [])];
}

async function oracleCase(t: TestContext, kase: (typeof CASES)[number], env: Record<string, string>, baseConfig: ImageConfig, base: Map<string, string>, work: string) {
  const context = tempTree(t, { ...kase.files, Dockerfile: kase.dockerfile });
  chmodTree(context);
  kase.setup?.(context);
  // The builder's image, and the base it was built on, as root folders.
  const tag = `localhost/oracle-${kase.name}:1`;
  const built = spawnSync('podman', ['build', '--format', 'docker', ...runLimits(), '-q', '-t', tag, context], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(built.status, 0, `${kase.name}: podman build: ${built.stderr}`);
  const inspected = JSON.parse(execFileSync('podman', ['image', 'inspect', tag], { env: { ...process.env, ...env }, encoding: 'utf8' }))[0] as { Config: ImageConfig & { Labels: Record<string, string> }; Healthcheck?: ImageConfig['Healthcheck'] };
  // Podman shows a docker-format image's healthcheck beside the OCI config.
  const theirs = { ...inspected.Config, Healthcheck: inspected.Healthcheck };
  delete theirs.Labels['io.buildah.version'];

  // addonix's: the contract, the Nix library's config over the base's, the files replayed.
  const contract = runtimeContract(parseDockerfile(kase.dockerfile), 'Dockerfile', {}, baseConfig, addonContext(context));
  const json = (name: string, value: unknown) => {
    const file = path.join(work, `${kase.name}-${name}.json`);
    writeFileSync(file, JSON.stringify(value));
    return `builtins.fromJSON (builtins.readFile ${nixPath(file)})`;
  };
  const ours = evalJson<ImageConfig>(
    `(import ${nixPath(path.join(REPO, 'nix', 'runtime.nix'))} { util = import ${nixPath(path.join(REPO, 'nix', 'util.nix'))}; }).configFor { base = ${json('base', baseConfig)}; changes = ${json('changes', contract.config)}; labels = { }; }`,
  );
  for (const key of ['Entrypoint', 'Cmd', 'Env', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'StopSignal', 'Healthcheck'] as const) {
    assert.deepEqual(ours[key] ?? null, (theirs as unknown as Record<string, unknown>)[key] ?? null, `${kase.name}: ${key}`);
  }
  const replayed = path.join(work, `ours-${kase.name}`);
  mkdirSync(replayed);
  const steps = path.join(work, `steps-${kase.name}.json`);
  writeFileSync(steps, JSON.stringify(contract.steps.map((step) => ({ ...step, file: 'Dockerfile' }))));
  // The context as the Nix library hands it over: .dockerignore's leftovers are not there.
  const filtered = path.join(work, `context-${kase.name}`);
  execFileSync('cp', ['-a', context, filtered]);
  for (const [file] of Object.entries(kase.files)) if (addonContext(context).ignored(file)) execFileSync('rm', ['-f', path.join(filtered, file)]);
  execFileSync('python3', [path.join(REPO, 'nix', 'docker-copy.py'), steps, filtered, '', ''], { cwd: replayed });
  const builder = tree(exportRoot(tag, work, env));
  const mine = tree(replayed);
  // What the builder added or changed against the base is what addonix's layer holds, and the same.
  // What a container of any image has (the runtime's mounts and files) is no part of either.
  const runtimeFile = (file: string) => /^\/(dev|proc|sys|run)(\/|$)|^\/etc\/(hosts|hostname|resolv\.conf)$/.test(file);
  const added = [...builder].filter(([file, what]) => base.get(file) !== what && !runtimeFile(file));
  for (const [file, what] of added) {
    if (what.startsWith('dir ') && base.has(file)) continue; // A folder the base has: addonix's layer does not touch its mode.
    assert.equal(mine.get(file), what, `${kase.name}: ${file}`);
  }
  for (const [file, what] of mine) {
    if (what.startsWith('dir ') && base.has(file)) continue;
    assert.equal(builder.get(file), what, `${kase.name}: ${file} (addonix has it, the builder ${builder.has(file) ? 'differs' : 'does not'})`);
  }
}

/** Modes as a git checkout gives them: files 0644, scripts 0755. */
function chmodTree(dir: string): void {
  execFileSync('sh', ['-c', 'find "$0" -type f -exec chmod 0644 {} + && find "$0" -type d -exec chmod 0755 {} + && find "$0" -name "*.sh" -exec chmod 0755 {} +', dir]);
}

test('Dockerfile oracle: the config and files addonix gives an image are those podman build (buildah) gives it', async (t) => {
  if (!needTools(t, 'podman', 'runc', 'nix-build', 'nix-instantiate', 'python3')) return;
  const work = tempTree(t, {});
  const env = podmanEnv(work);
  const [archive] = buildAttrs(`{ base = (import ${nixPath(BASE)}).image; }`, ['base']);
  execFileSync('podman', ['load', '-q', '-i', archive!], { env: { ...process.env, ...env } });
  const baseConfig = evalJson<ImageConfig>(`(import ${nixPath(BASE)}).config`);
  const base = tree(exportRoot(BASE_NAME, work, env));
  for (const kase of CASES) await oracleCase(t, kase, env, baseConfig, base, work);
});
