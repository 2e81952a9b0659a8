/**
 * Nix's error output read the same from Nix 2.8 to current: the message is the last `error:` block, the
 * evaluation trace newer Nix prints before it is kept apart and never taken for a JavaScript stack. The
 * events below are what Debian 12's Nix 2.8.0 and Debian 13's Nix 2.26.3 printed for the same file
 * (a `throw` of addonix's kind under `builtins.seq`), with `--log-format internal-json` as addonix runs Nix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuildMonitor, readNixError } from '../src/nix/log.js';
import { nixFailure, readDryRun, runNix } from '../src/nix/build.js';
import { extraNixFlags, type NixInstall } from '../src/nix/install.js';
import { buildableSystems, derivationSystem, fetchSizes, foreignBuildAdvice, foreignBuilds } from '../src/nix/cost.js';
import { renderError } from '../src/cli/render-error.js';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hasStackTrace, tempTree } from './helpers.js';

const MESSAGE = 'addonix: the add-on folder has no nix/addon.generated.nix: run `addonix generate`';

const NIX_2_8 = [
  `@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\\u001b[31;1merror:\\u001b[0m ${MESSAGE}","raw_msg":"${MESSAGE}"}`,
  `@nix {"action":"msg","level":0,"msg":"(use '--show-trace' to show detailed location information)"}`,
];

const NIX_2_26 = [
  `@nix {"action":"msg","level":0,"msg":"warning: the group 'nixbld' specified in 'build-users-group' does not exist"}`,
  '@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\\u001b[31;1merror:\\u001b[0m\\n       … while evaluating the file \'\\u001b[35;1m/root/t.nix\\u001b[0m\':\\n\\n       … while calling the \'\\u001b[35;1mseq\\u001b[0m\' builtin\\n         \\u001b[34;1mat \\u001b[35;1m/root/t.nix:4:1\\u001b[0m:\\n            3| in\\n            4| builtins.seq (check 2) { a = 1; }\\n             | \\u001b[31;1m^\\u001b[0m\\n            5|\\n\\n       … while calling the \'\\u001b[35;1mthrow\\u001b[0m\' builtin\\n         \\u001b[34;1mat \\u001b[35;1m/root/t.nix:2:28\\u001b[0m:\\n            1| let\\n            2|   check = x: if x > 1 then throw \\"addonix: the add-on folder has no nix/addon.generated.nix: run `addonix generate`\\" else x;\\n             |                            \\u001b[31;1m^\\u001b[0m\\n            3| in\\n\\n       \\u001b[31;1merror:\\u001b[0m addonix: the add-on folder has no nix/addon.generated.nix: run `addonix generate`","raw_msg":"addonix: the add-on folder has no nix/addon.generated.nix: run `addonix generate`"}',
];

function monitorOf(lines: string[]): BuildMonitor {
  const monitor = new BuildMonitor();
  for (const line of lines) monitor.line(line);
  return monitor;
}

test('nix errors: 2.8 and 2.26 give the same message; the trace of 2.26 is kept apart', () => {
  const old = monitorOf(NIX_2_8);
  const current = monitorOf(NIX_2_26);
  assert.deepEqual(old.errors, [MESSAGE]);
  assert.deepEqual(current.errors, [MESSAGE]);
  assert.deepEqual(old.trace(), []);
  const trace = current.trace();
  assert.equal(trace[0], "… while evaluating the file '/root/t.nix':");
  assert.ok(trace.includes('  at /root/t.nix:2:28:'), trace.join('\n'));
  assert.ok(!trace.some((line) => /error:/.test(line)), 'the message is not in the trace');
  assert.equal(current.notices.length, 1, 'a warning is no error');
});

test('nix errors: plain text and a builder failure (one error block, its log tail kept in the message)', () => {
  const plain = readNixError("error:\n       … while calling the 'seq' builtin\n         at «string»:1:18:\n            1| builtins.seq (throw \"x\") 1\n             |                  ^\n\n       error: x\n(use '--show-trace' to show detailed location information)");
  assert.equal(plain.message, 'x');
  assert.deepEqual(plain.trace, ["… while calling the 'seq' builtin", '  at «string»:1:18:', '     1| builtins.seq (throw "x") 1', '      |                  ^']);
  const builder = readNixError("error: builder for '/nix/store/aaaa-x.drv' failed with exit code 127;\n       last 2 log lines:\n       > mkdir: command not found\n       > error: nothing\n       For full logs, run 'nix log /nix/store/aaaa-x.drv'.");
  assert.match(builder.message, /^builder for '\/nix\/store\/aaaa-x\.drv' failed with exit code 127;\n {7}last 2 log lines:\n {7}> mkdir: command not found\n {7}> error: nothing\n/);
  assert.deepEqual(builder.trace, []);
  assert.deepEqual(readNixError('nothing Nix calls an error'), { message: 'nothing Nix calls an error', trace: [] });
});

test('nix errors: the CLI shows the message, and the trace only with --verbose, never as a stack trace', () => {
  const install = { nix: 'nix', nixStore: 'nix-store', nixInstantiate: 'nix-instantiate', version: '2.26.3', system: 'x86_64-linux', flakes: 'enabled' } as unknown as Parameters<typeof nixFailure>[2];
  const failure = nixFailure('cannot evaluate the flake .', { code: 1, stdout: '', monitor: monitorOf(NIX_2_26) }, install);
  assert.match(failure.message, /^cannot evaluate the flake \.:\n {2}addonix: the add-on folder has no nix\/addon\.generated\.nix/);
  assert.equal(failure.toJSON().trace?.length, failure.trace.length);
  const shown = (verbose: boolean) => {
    const write = process.stderr.write;
    let text = '';
    process.stderr.write = ((chunk: string) => ((text += chunk), true)) as typeof process.stderr.write;
    try {
      renderError(failure, false, {}, { verbose });
    } finally {
      process.stderr.write = write;
    }
    return text;
  };
  const quiet = shown(false);
  assert.match(quiet, /\n\(Nix printed a trace of \d+ lines; --verbose shows it\)\n$/);
  assert.doesNotMatch(quiet, /while calling/);
  const verbose = shown(true);
  assert.match(verbose, /\ntrace \(as Nix printed it, outermost first\):\n {2}… while evaluating the file '\/root\/t\.nix':\n/);
  assert.match(verbose, /\n {4}at \/root\/t\.nix:4:1:\n/);
  assert.ok(!hasStackTrace(verbose), 'a Nix frame is not a JavaScript stack frame');
  assert.ok(hasStackTrace('Error: x\n    at main (file:///app/dist/main.js:12:5)\n'), 'a JavaScript one is');
});

/**
 * A dry run of a derivation that needs one of another system (aarch64-linux) and two fetched from a
 * binary cache, as Debian 12's Nix 2.8.0 and Debian 13's Nix 2.26.3 printed it
 * (`nix build --dry-run --json --log-format internal-json`, as addonix runs it). The text is the same in
 * both; it is Nix's log, not an interface, so both are kept here to catch a change.
 */
const DRY_RUN = {
  '2.8.0': [
    '@nix {"action":"start","id":132589935394816,"level":6,"text":"querying info about missing paths","type":0}',
    '@nix {"action":"stop","id":132589935394816}',
    '@nix {"action":"msg","level":0,"msg":"these 2 derivations will be built:"}',
    '@nix {"action":"msg","level":0,"msg":"  /nix/store/9kr6kzj83r6hs4jr2j0n9ya3bdv1sxjw-dep-aarch64-1.0.drv"}',
    '@nix {"action":"msg","level":0,"msg":"  /nix/store/3q6dbnccs443a6xdkkinkvh2srhsk1vk-top-25b.drv"}',
    '@nix {"action":"msg","level":0,"msg":"these 2 paths will be fetched (0.00 MiB download, 0.00 MiB unpacked):"}',
    '@nix {"action":"msg","level":0,"msg":"  /nix/store/3mwv76l7vgsjx50yrbdaxsfi58r77137-sub-25b"}',
    '@nix {"action":"msg","level":0,"msg":"  /nix/store/p2g1sh7m2h3c7fj93yvx895jhhirap2p-sub2-25b"}',
  ],
  '2.26.3': [
    '@nix {"action":"start","id":132989367353344,"level":6,"parent":0,"text":"querying info about missing paths","type":0}',
    '@nix {"action":"stop","id":132989367353344}',
    '@nix {"action":"msg","level":0,"msg":"these 2 derivations will be built:"}',
    '@nix {"action":"msg","level":0,"msg":"  /nix/store/9kr6kzj83r6hs4jr2j0n9ya3bdv1sxjw-dep-aarch64-1.0.drv"}',
    '@nix {"action":"msg","level":0,"msg":"  /nix/store/3q6dbnccs443a6xdkkinkvh2srhsk1vk-top-25b.drv"}',
    '@nix {"action":"msg","level":0,"msg":"these 2 paths will be fetched (0.00 MiB download, 0.00 MiB unpacked):"}',
    '@nix {"action":"msg","level":0,"msg":"  /nix/store/3mwv76l7vgsjx50yrbdaxsfi58r77137-sub-25b"}',
    '@nix {"action":"msg","level":0,"msg":"  /nix/store/p2g1sh7m2h3c7fj93yvx895jhhirap2p-sub2-25b"}',
  ],
};

/** The aarch64-linux derivation above, as both Nix versions wrote it (byte for byte the same file). */
const DEP_DRV =
  'Derive([("out","/nix/store/m63mpbzfyki85df76fi54glifxvhgr70-dep-aarch64-1.0","","")],[],[],"aarch64-linux","/bin/sh",["-c","echo > $out"],[("builder","/bin/sh"),("name","dep-aarch64-1.0"),("out","/nix/store/m63mpbzfyki85df76fi54glifxvhgr70-dep-aarch64-1.0"),("system","aarch64-linux")])';

test('nix dry run: "will be built" and "will be fetched" read the same from Nix 2.8 and 2.26; a derivation\'s system from its .drv', () => {
  for (const [version, lines] of Object.entries(DRY_RUN)) {
    const built = new Set<string>();
    const fetched = new Set<string>();
    const monitor = monitorOf(lines);
    readDryRun(monitor, built, fetched);
    assert.deepEqual([...built], ['/nix/store/9kr6kzj83r6hs4jr2j0n9ya3bdv1sxjw-dep-aarch64-1.0.drv', '/nix/store/3q6dbnccs443a6xdkkinkvh2srhsk1vk-top-25b.drv'], version);
    assert.deepEqual([...fetched], ['/nix/store/3mwv76l7vgsjx50yrbdaxsfi58r77137-sub-25b', '/nix/store/p2g1sh7m2h3c7fj93yvx895jhhirap2p-sub2-25b'], version);
    assert.deepEqual(fetchSizes(monitor.notices.find((n) => /will be fetched/.test(n))!), { downloadBytes: 0, unpackedBytes: 0 }, version);
  }
  assert.equal(derivationSystem(DEP_DRV), 'aarch64-linux');
  // Escaped quotes and brackets inside strings do not end a field early.
  assert.equal(derivationSystem('Derive([("out","/nix/store/x-a","","")],[("/nix/store/y-b.drv",["out"])],["/nix/store/z-\\"[(s"],"x86_64-linux","/bin/sh",[],[])'), 'x86_64-linux');
  assert.throws(() => derivationSystem('{"not":"aterm"}'), /not a derivation/);
  assert.deepEqual(fetchSizes('these 3 paths will be fetched (65.32 MiB download, 310.20 MiB unpacked):'), { downloadBytes: Math.round(65.32 * 1024 ** 2), unpackedBytes: Math.round(310.2 * 1024 ** 2) });
});

test('nix dry run: an aarch64 derivation to build on an x86_64 machine without a builder for it is named, with what to do', () => {
  const dep = '/nix/store/9kr6kzj83r6hs4jr2j0n9ya3bdv1sxjw-dep-aarch64-1.0.drv';
  const top = '/nix/store/3q6dbnccs443a6xdkkinkvh2srhsk1vk-top-25b.drv';
  const systems = new Map([[dep, 'aarch64-linux'], [top, 'x86_64-linux']]);
  // Nix 2.8's default extra-platforms on x86_64, and a machines file without an aarch64 builder.
  const plain = buildableSystems('x86_64-linux', ['i686-linux', 'x86_64-v1-linux'], 'ssh://riscv-box riscv64-linux 4\nssh://local-twin - 2');
  assert.deepEqual([...plain].sort(), ['i686-linux', 'riscv64-linux', 'x86_64-linux', 'x86_64-v1-linux']);
  const foreign = foreignBuilds([dep, top], systems, plain);
  assert.deepEqual(foreign, [{ name: 'dep-aarch64-1.0', drv: dep, system: 'aarch64-linux' }]);
  const plan = { arch: 'aarch64', strategy: 'cached', libc: 'glibc', target: 'aarch64-glibc', nixSystem: 'aarch64-linux', fromCache: true, firstBuild: 'minutes', compiles: [] };
  const advice = foreignBuildAdvice('aarch64', foreign, 'x86_64-linux', plan);
  assert.match(advice, /^aarch64: a derivation for aarch64-linux would have to be built, and this x86_64-linux machine cannot build for aarch64-linux \(no builder, no extra-platforms\): dep-aarch64-1\.0\./);
  assert.match(advice, /Hydra built them at the pinned nixpkgs revision/);
  assert.match(advice, /strategy "native"/);
  assert.match(advice, /pin another nixpkgs revision/);
  // With strategy native the cache is not the cause: a machine of the target system is the answer.
  const native = foreignBuildAdvice('aarch64', foreign, 'x86_64-linux', { ...plan, strategy: 'native', fromCache: true });
  assert.match(native, /Strategy native builds them on a machine of the target system: build aarch64 on aarch64-linux \(addonix build on a runner of that system/);
  assert.doesNotMatch(native, /Hydra|another nixpkgs revision/);
  // An aarch64 builder (given with --builders, one machine per `;`), or binfmt's extra-platforms, can build it.
  assert.deepEqual(foreignBuilds([dep, top], systems, buildableSystems('x86_64-linux', [], 'ssh://a x86_64-linux; ssh://b aarch64-linux,armv7l-linux 8')), []);
  assert.deepEqual(foreignBuilds([dep, top], systems, buildableSystems('x86_64-linux', 'i686-linux aarch64-linux', '')), []);
});

test('ADDONIX_NIX_FLAGS: its words go to every flake call of addonix, after Nix\'s command and before the overrides; empty, nothing', async (t) => {
  assert.deepEqual(extraNixFlags({ ADDONIX_NIX_FLAGS: '  --override-input addonix/nixpkgs path:/srv/nixpkgs\n--option substituters https://cache.example ' }), ['--override-input', 'addonix/nixpkgs', 'path:/srv/nixpkgs', '--option', 'substituters', 'https://cache.example']);
  assert.deepEqual(extraNixFlags({}), []);
  assert.deepEqual(extraNixFlags({ ADDONIX_NIX_FLAGS: '' }), []);
  // A nix that prints the arguments it was given.
  const dir = tempTree(t, {});
  const nix = path.join(dir, 'nix');
  writeFileSync(nix, '#!/bin/sh\nprintf "%s\\n" "$@"\n');
  chmodSync(nix, 0o755);
  const install: NixInstall = { nix, nixStore: nix, version: '2.26.3', versionText: 'nix (Nix) 2.26.3', features: { nixCommand: true, flakes: true }, settings: {}, system: 'x86_64-linux' };
  const run = await runNix(install, ['build', '.#x'], { env: { ...process.env, ADDONIX_NIX_FLAGS: '--option sandbox false' }, overrides: [['nixpkgs', 'path:/n']] });
  assert.deepEqual(run.stdout.trim().split('\n'), ['build', '.#x', '--option', 'sandbox', 'false', '--override-input', 'nixpkgs', 'path:/n', '--log-format', 'internal-json']);
});
