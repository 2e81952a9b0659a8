/** addonix doctor: the real Nix here, fake ones (missing, 2.3, flakes off), credentials never printed, and its pure checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { needTools, tempTree } from './helpers.js';
// The CLI in this process (a process each cost a third of a second of CPU to start, generate's more).
import { runCliInProcess } from './in-process-cli.js';
import { fakeNix } from './build-cli-helpers.js';
import { binfmtEmulators, nativeBuildsCheck, readBuilders, substituterCheck, substituterReach, type Check } from '../src/doctor/checks.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compareVersions, parseNixVersion } from '../src/nix/install.js';

async function doctor(env: Record<string, string>, ...args: string[]): Promise<{ status: number | null; checks: Check[]; text: string }> {
  const json = await runCliInProcess(['doctor', '--json', ...args], { env });
  const text = await runCliInProcess(['doctor', ...args], { env });
  assert.equal(text.status, json.status);
  return { status: json.status, checks: JSON.parse(json.stdout) as Check[], text: text.stdout };
}

const find = (checks: Check[], name: string) => checks.filter((c) => c.check === name);

test('doctor: the Nix of this machine, judged by its version and settings', async (t) => {
  if (!needTools(t, 'nix')) return;
  const version = parseNixVersion(execFileSync('nix', ['--version'], { encoding: 'utf8' }))!;
  const { status, checks, text } = await doctor({ NIX_CONFIG: 'sandbox = true\nsubstituters =' });
  const [nixVersion] = find(checks, 'nix-version');
  assert.equal(nixVersion!.status, compareVersions(version, '2.18') < 0 ? 'fail' : 'ok');
  assert.equal(status, checks.some((c) => c.status === 'fail') ? 1 : 0);
  assert.equal(find(checks, 'sandbox')[0]!.status, 'ok', 'NIX_CONFIG sandbox = true is read');
  assert.match(find(checks, 'substituters')[0]!.message, /no binary cache: every package, Node\.js included, is built from source/);
  assert.match(find(checks, 'native-builds')[0]!.message, /native: amd64 \(this machine\)/);
  for (const check of checks) assert.ok(['ok', 'warn', 'fail'].includes(check.status) && (check.status === 'ok' || check.fix), `${check.check} has a fix when not ok`);
  assert.match(text, /^(ok|warn|fail) +nix-version +Nix \d/m);
  // Which deflate makes the layers' bytes here: Node's zlib where it writes the pinned bytes, else pako.
  assert.match(find(checks, 'node')[0]!.message, /^Node\.js v\d+\.\d+\.\d+; gzip layers deflated by (its zlib \S+, which writes the pinned bytes|pako \d+\.\d+\.\d+: its zlib \S+ writes other bytes)/);
  assert.match(text, /\d+ fail, \d+ warn\n$/);
});

test('doctor: a missing Nix, a Nix 2.3 and a Nix with flakes off each get their line and fix', async (t) => {
  const missing = await doctor({ PATH: tempTree(t, {}) });
  assert.equal(missing.status, 1);
  assert.deepEqual(find(missing.checks, 'nix').map((c) => [c.status, c.message]), [['fail', "Nix is not installed (no 'nix' on PATH)"]]);
  assert.match(find(missing.checks, 'nix')[0]!.fix!, /^install Nix >= 2\.18/);

  const old = await doctor({ PATH: fakeNix(t, 'echo "nix (Nix) 2.3.16"') });
  assert.equal(old.status, 1);
  assert.match(find(old.checks, 'nix')[0]!.message, /^Nix 2\.3\.16 \(.*\) has no flakes, which addonix builds with$/);

  const config = JSON.stringify({ system: { value: 'x86_64-linux' }, sandbox: { value: true }, substituters: { value: ['https://cache.nixos.org/'] }, 'trusted-public-keys': { value: ['cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY='] }, builders: { value: '' }, 'extra-platforms': { value: [] } });
  const flakesOff = await doctor({
    PATH: fakeNix(
      t,
      ['case "$*" in', '  --version) echo "nix (Nix) 2.24.6" ;;', "  show-config*) echo \"error: experimental Nix feature 'nix-command' is disabled\" >&2; exit 1 ;;", `  *show-config*) echo '${config}' ;;`, 'esac'].join('\n'),
    ),
  });
  assert.deepEqual(
    ['nix-version', 'flakes', 'sandbox', 'substituters'].map((name) => find(flakesOff.checks, name)[0]!.status),
    ['ok', 'warn', 'ok', 'ok'],
  );
  assert.match(find(flakesOff.checks, 'flakes')[0]!.message, /^nix-command and flakes not enabled in Nix's configuration: addonix passes --extra-experimental-features itself/);
  assert.match(find(flakesOff.checks, 'flakes')[0]!.fix!, /experimental-features = nix-command flakes/);
});

test('doctor: registries with credentials are named, secrets never printed', async (t) => {
  const dir = tempTree(t, {});
  const secret = 'hunter2-very-secret';
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ auths: { 'registry.example:5000': { auth: Buffer.from(`me:${secret}`).toString('base64') }, 'https://index.docker.io/v1/': { username: 'me', password: secret } } }),
  );
  const result = await doctor({ DOCKER_CONFIG: dir, PATH: tempTree(t, {}) }, '--registry', 'registry.example:5000', '--registry', 'ghcr.io');
  const all = JSON.stringify(result.checks) + result.text;
  assert.ok(!all.includes(secret) && !all.includes(Buffer.from(`me:${secret}`).toString('base64')), 'no secret in the output');
  const credentials = find(result.checks, 'credentials');
  assert.match(credentials[0]!.message, /config\.json: registry\.example:5000 \(auths\), https:\/\/index\.docker\.io\/v1\/ \(auths\)/);
  assert.deepEqual(credentials.slice(1).map((c) => [c.status, c.message]), [
    ['ok', `registry.example:5000: credentials found (${path.join(dir, 'config.json')} (auths))`],
    ['warn', 'ghcr.io: no credentials'],
  ]);
});

test('doctor checks: binfmt emulators Nix does not use, remote builders, substituters without keys', async (t) => {
  const binfmt = tempTree(t, {
    'qemu-aarch64': 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\n',
    'qemu-arm': 'disabled\ninterpreter /usr/bin/qemu-arm-static\n',
    status: 'enabled\n',
  });
  const emulators = await binfmtEmulators(binfmt);
  assert.deepEqual(emulators, [{ name: 'qemu-aarch64', system: 'aarch64-linux', interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P' }]);
  const machines = path.join(binfmt, 'machines');
  writeFileSync(machines, '# remote builders\nssh://arm-box armv7l-linux,armv6l-linux /key 4\n');
  const builders = await readBuilders(`@${machines}; ssh-ng://big x86_64-linux`);
  assert.deepEqual(builders, [
    { uri: 'ssh://arm-box', systems: ['armv7l-linux', 'armv6l-linux'] },
    { uri: 'ssh-ng://big', systems: ['x86_64-linux'] },
  ]);
  const checks = nativeBuildsCheck('x86_64-linux', ['i686-linux'], builders, emulators);
  assert.match(checks[0]!.message, /^native: amd64 \(this machine\), armhf \(ssh:\/\/arm-box\), armv7 \(ssh:\/\/arm-box\), i386 \(extra-platforms\); cross-compiled only: aarch64\./);
  assert.deepEqual(checks.filter((c) => c.check === 'binfmt').map((c) => [c.status, c.fix]), [['warn', "add 'extra-platforms = aarch64-linux' to nix.conf and, with the sandbox on, 'extra-sandbox-paths = /usr/libexec/qemu-binfmt/aarch64-binfmt-P'"]]);
  assert.equal(nativeBuildsCheck('x86_64-linux', ['aarch64-linux'], [], emulators).filter((c) => c.check === 'binfmt').length, 0, 'no warning once Nix uses it');

  const keys = ['cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY='];
  assert.equal(substituterCheck(['https://cache.nixos.org/'], keys, true).status, 'ok');
  assert.match(substituterCheck(['https://cache.nixos.org/', 'https://me.cachix.org'], keys, true).message, /no trusted key seems to belong to https:\/\/me\.cachix\.org/);
  assert.equal(substituterCheck(['https://cache.nixos.org/', 'https://me.cachix.org'], [...keys, 'me.cachix.org-1:AAAA'], true).status, 'ok');
  assert.match(substituterCheck(['https://cache.nixos.org/'], keys, false).message, /require-sigs = false/);
});

test('doctor: each binary cache is asked for its nix-cache-info with a short timeout; those that do not answer are named', async (t) => {
  const answering = createServer((request, response) => {
    if (request.url === '/nix-cache-info') response.end('StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n');
    else response.writeHead(404).end();
  });
  const silent = createServer(() => {}); // accepts, never answers
  await Promise.all([new Promise<void>((resolve) => answering.listen(0, '127.0.0.1', resolve)), new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))]);
  t.after(() => {
    answering.close();
    silent.closeAllConnections();
    silent.close();
  });
  const port = (server: Server) => (server.address() as AddressInfo).port;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = port(closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const cacheDir = tempTree(t, { 'nix-cache-info': 'StoreDir: /nix/store\n' });
  const emptyDir = tempTree(t, {});

  // Caches that answer, given time to: on a loaded machine (load 9 on 2 cores seen) this process may not
  // get to read the answer within doctor's 0.5 s; the short timeout is what the unanswered case shows.
  const good = await substituterReach([`http://127.0.0.1:${port(answering)}/`, `file://${cacheDir}?compression=none`, 's3://bucket?region=x'], 10_000);
  assert.equal(good.status, 'ok', good.message);
  assert.match(good.message, /answered \(not checked: s3:\/\/bucket\?region=x\)$/);

  // 2 s, not doctor's 0.5 s: the answering cache is among them and must not be named, and at a load of
  // 10 (a Debian root's suite beside this one) this process once took over 0.5 s to read its answer.
  const started = Date.now();
  const bad = await substituterReach([`http://127.0.0.1:${port(silent)}`, `http://127.0.0.1:${closedPort}`, `file://${emptyDir}`, `http://127.0.0.1:${port(answering)}`], 2000);
  assert.ok(Date.now() - started < 2000 + 3000, 'the timeout bounds the wait');
  assert.equal(bad.status, 'warn');
  assert.match(bad.message, new RegExp(`^unreachable: http://127\\.0\\.0\\.1:${port(silent)} \\(no answer in 2 s\\), http://127\\.0\\.0\\.1:${closedPort} \\(ECONNREFUSED\\), file://.* \\(no nix-cache-info there\\): builds wait for it`));
  assert.doesNotMatch(bad.message, new RegExp(`:${port(answering)}`), 'the cache that answered is not named');
  assert.ok(bad.fix);
});
