/**
 * The Dockerfile as the image runs it, in-process: BuildKit's word rules (src/addon/shell-words.ts), the
 * parser's logical lines, flags, JSON form and here-documents (src/addon/dockerfile.ts), the runtime
 * contract (src/addon/runtime.ts: Docker's config rules, the file steps, packages, what is not carried
 * over, the flavor), .dockerignore (src/addon/context.ts), the options an add-on starts with
 * (src/run/options.ts) and the Supervisor API double (src/run/supervisor-double.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync } from 'node:fs';
import path from 'node:path';
import { expandWord } from '../src/addon/shell-words.js';
import { parseDockerfile, finalBaseImage, jsonArray } from '../src/addon/dockerfile.js';
import { chooseFlavor, destination, imagePathOf, contextFileOf, parseDuration, runtimeContract, simpleCommands, type ImageConfig } from '../src/addon/runtime.js';
import { addonContext, compileDockerignore, ignoredBy } from '../src/addon/context.js';
import { mergeOptions, optionsFileText } from '../src/run/options.js';
import { supervisorHandler, type SupervisorState } from '../src/run/supervisor-double.js';
import { tempTree } from './helpers.js';

const env = (entries: Record<string, string>) => new Map(Object.entries(entries));

test('shell words: quotes, escapes and every ${} form, as BuildKit expands them', () => {
  const vars = env({ A: 'x', E: '', P: 'a/b/c.tar.gz', S: 'one two' });
  const cases: [string, string][] = [
    ['$A', 'x'],
    ['${A}y', 'xy'],
    ['$Ay', ''],
    ["'$A'", '$A'],
    ['"$A"', 'x'],
    ['"a\\"b"', 'a"b'],
    ['"a\\b"', 'a\\b'],
    ['a\\ b', 'a b'],
    ['\\$A', '$A'],
    ['${B:-d}', 'd'],
    ['${E:-d}', 'd'],
    ['${E-d}', ''],
    ['${A:+alt}', 'alt'],
    ['${E:+alt}', ''],
    ['${E+alt}', 'alt'],
    ['${P#*/}', 'b/c.tar.gz'],
    ['${P##*/}', 'c.tar.gz'],
    ['${P%.*}', 'a/b/c.tar'],
    ['${P%%.*}', 'a/b/c'],
    ['${P/b/B}', 'a/B/c.tar.gz'],
    ['${S// /_}', 'one_two'],
    ['$', '$'],
    ['a$', 'a$'],
    ['$1x', 'x'],
  ];
  for (const [word, expected] of cases) assert.equal(expandWord(word, vars).value, expected, word);
  assert.deepEqual(expandWord('${B}-$C', vars).unset.sort(), ['B', 'C']);
  assert.throws(() => expandWord('${A:?must be set}x', env({ A: '' })), /A: must be set/);
  assert.throws(() => expandWord('${B?}', vars), /B: is not allowed to be unset/);
  assert.throws(() => expandWord('"open', vars), /matching double-quote/);
  assert.throws(() => expandWord('${A', vars), /missing '}'/);
  assert.throws(() => expandWord('${:A}', vars), /bad substitution/);
  assert.equal(expandWord('`a`b', env({}), '`').value, 'ab', 'the escape directive\'s backtick');
});

test('Dockerfile: logical lines, comments in continuations, flags, JSON form, here-documents, stages', () => {
  const parsed = parseDockerfile(
    [
      '# syntax=docker/dockerfile:1',
      'ARG BASE=alpine',
      'FROM ${BASE} AS build',
      'RUN echo one \\',
      '  # a comment inside the continuation',
      '',
      '  two',
      'FROM build',
      'COPY --chown=1000 --chmod=0755 --link a b /dest/',
      'CMD ["node", "app.js"] trailing',
      'ENTRYPOINT [ not json',
      'RUN <<EOF',
      'echo from a here-document',
      'EOF',
      'HEALTHCHECK --interval=5s CMD ["curl", "-f", "x"]',
      'BOGUS instruction',
      'CMD ["a", 1]',
    ].join('\n'),
  );
  assert.deepEqual(parsed.stages.map((s) => [s.from, s.name ?? null, s.line]), [['${BASE}', 'build', 3], ['build', null, 8]]);
  const run = parsed.stages[0]!.instructions[0]!;
  assert.equal(run.text, 'echo one   two', 'the comment and blank line dropped, the continuation kept as written');
  assert.deepEqual([run.line, run.endLine], [4, 7]);
  const [copy, cmd, entrypoint, heredoc, health] = parsed.stages[1]!.instructions;
  assert.deepEqual(copy!.flags, [{ name: 'chown', value: '1000' }, { name: 'chmod', value: '0755' }, { name: 'link', value: null }]);
  assert.equal(copy!.text, 'a b /dest/');
  assert.deepEqual(cmd!.json, ['node', 'app.js'], 'Go\'s decoder reads the first JSON value');
  assert.equal(entrypoint!.json, null, 'not JSON: the shell form');
  assert.deepEqual(heredoc!.heredocs, [{ name: 'EOF', content: 'echo from a here-document\n', expand: true }]);
  assert.deepEqual(health!.json, ['curl', '-f', 'x']);
  assert.deepEqual(parsed.problems, [
    { line: 16, message: 'unknown instruction: BOGUS' },
    { line: 17, message: 'CMD: when using JSON array syntax, arrays must be comprised of strings only' },
  ]);
  assert.equal(finalBaseImage(parsed, {}), 'alpine', 'FROM an earlier stage resolves to its image');
  assert.deepEqual(jsonArray('  ["a"] rest'), ['a']);
  assert.equal(jsonArray('["a", 1]'), 'not-strings');
});

/** A context of files for the contract: a temporary folder. */
function context(files: Record<string, string>) {
  return (t: Parameters<typeof tempTree>[0]) => {
    const dir = tempTree(t, files);
    return { dir, files: addonContext(dir) };
  };
}

test('runtime contract: Docker\'s rules for the config an image gets', (t) => {
  const { files } = context({ 'a.txt': 'a', 'sub/b.txt': 'b' })(t);
  const base: ImageConfig = { Env: ['PATH=/bin', 'HOME=/root'], WorkingDir: '/srv', Entrypoint: ['/init'], Cmd: ['base-cmd'] };
  const contract = runtimeContract(
    parseDockerfile(
      [
        'ARG BUILD_FROM',
        'FROM $BUILD_FROM',
        'ARG V=1',
        'ENV A=x B="y z" C=${A}_$V',
        'ENV D=$A E=${UNSET:-dflt} HOME=/home/app',
        'ENV LEGACY two words',
        'WORKDIR app',
        'WORKDIR ../data',
        'LABEL l1=$A "l 2"=v',
        'EXPOSE 80 $V 90-91/udp',
        'USER 1000:1000',
        'HEALTHCHECK --interval=30s --start-period=1m30s --retries=3 CMD curl -f http://x || exit 1',
        'STOPSIGNAL SIGINT',
        'VOLUME ["/data"]',
        'SHELL ["/bin/bash", "-c"]',
        'ENTRYPOINT exec node $A',
      ].join('\n'),
    ),
    'Dockerfile',
    { BUILD_FROM: 'ghcr.io/home-assistant/base:3.24' },
    base,
    files,
  );
  const c = contract.config;
  assert.deepEqual(c.Env, ['A=x', 'B=y z', 'C=_1', 'D=x', 'E=dflt', 'HOME=/home/app', 'LEGACY=two words'], 'one ENV sees the variables as they were before it; only what the Dockerfile sets');
  assert.equal(c.WorkingDir, '/srv/data', 'relative to the base image\'s /srv, then to /srv/app');
  assert.deepEqual(c.Labels, { l1: 'x', 'l 2': 'v' });
  assert.deepEqual(Object.keys(c.ExposedPorts!), ['80/tcp', '1/tcp', '90/udp', '91/udp']);
  assert.equal(c.User, '1000:1000');
  assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'curl -f http://x || exit 1'], Interval: 30e9, StartPeriod: 90e9, Retries: 3 });
  assert.equal(c.StopSignal, 'SIGINT');
  assert.deepEqual(c.Volumes, { '/data': {} });
  assert.deepEqual(c.Entrypoint, ['/bin/bash', '-c', 'exec node $A'], 'the shell form through SHELL, not expanded');
  assert.equal(c.Cmd, null, 'an ENTRYPOINT clears the Cmd the base image gives');
  assert.equal(contract.configSources['Entrypoint'], 'Dockerfile:16');
  assert.deepEqual(contract.unsetVariables.map((u) => u.name), ['A', 'UNSET'], 'A as the ENV that sets it sees it: not yet set');

  const cmdFirst = runtimeContract(parseDockerfile('FROM x\nCMD ["a"]\nENTRYPOINT ["b"]\n'), 'Dockerfile', {}, base, files);
  assert.deepEqual([cmdFirst.config.Entrypoint, cmdFirst.config.Cmd], [['b'], ['a']], 'a CMD of the same stage stays');
  const chain = runtimeContract(parseDockerfile('FROM x AS one\nENV A=1\nCMD ["a"]\nFROM one\nENTRYPOINT ["b"]\n'), 'Dockerfile', {}, null, files);
  assert.deepEqual([chain.config.Env, chain.config.Cmd], [['A=1'], null], 'a stage built FROM another inherits its config, but its CMD was set in the other stage');
  assert.throws(() => runtimeContract(parseDockerfile('FROM x\nENV\n'), 'Dockerfile', {}, null, files), /Dockerfile:2: ENV: ENV requires at least one argument/);
  assert.equal(parseDuration('1h2m3.5s'), 3723.5e9);
  assert.equal(parseDuration('10'), null);
});

test('runtime contract: COPY and ADD as Docker places files, with .dockerignore, and the RUN steps it replays', (t) => {
  const { dir, files } = context({
    'package.json': '{}',
    'package-lock.json': '{}',
    'app.js': '',
    'README.md': '',
    'NOTES.md': '',
    'rootfs/etc/services.d/app/run': '#!/usr/bin/with-contenv bashio\nexec node /app/app.js\n',
    'rootfs/usr/bin/start.sh': '#!/usr/bin/with-contenv bashio\n',
    'node_modules/x/index.js': '',
    'nix/addon.generated.nix': '{ }',
    '.dockerignore': '*.md\n!README.md\n**/secret*\n',
    'secret.txt': '',
    'sub/secret.key': '',
  })(t);
  assert.equal(files.ignored('NOTES.md'), true);
  assert.equal(files.ignored('README.md'), false, '!README.md takes it back');
  assert.equal(files.ignored('sub/secret.key'), true);
  assert.equal(files.ignored('node_modules/x/index.js'), true, 'addonix installs node_modules itself');
  assert.equal(files.ignored('nix/addon.generated.nix'), true, 'addonix\'s own files stay out');
  const contract = runtimeContract(
    parseDockerfile(
      [
        'FROM ghcr.io/home-assistant/base:3.24',
        'WORKDIR /app',
        'COPY package*.json ./',
        'RUN apk add --no-cache nodejs npm g++ make python3 ffmpeg tzdata unknown-pkg \\',
        ' && npm ci --omit=dev \\',
        ' && npm run build',
        'COPY app.js .',
        'COPY rootfs /',
        'RUN chmod a+x /etc/services.d/app/run && cd /opt && mkdir -p cache && ln -s /data/cache /opt/cache/data && rm -rf /app/app.js.map',
        'RUN curl -o /tmp/x https://example.com/x | sh',
        'COPY --from=build /out /out',
        'ADD https://example.com/archive.tar.gz /opt/',
      ].join('\n'),
    ),
    'Dockerfile',
    {},
    null,
    files,
  );
  assert.deepEqual(contract.steps, [
    { op: 'copy', line: 3, sources: ['package*.json'], dest: '/app/', chmod: null, extract: false },
    { op: 'copy', line: 7, sources: ['app.js'], dest: '/app/', chmod: null, extract: false },
    { op: 'copy', line: 8, sources: ['rootfs'], dest: '/', chmod: null, extract: false },
    { op: 'chmod', line: 9, mode: 'a+x', paths: ['/etc/services.d/app/run'], recursive: false },
    { op: 'mkdir', line: 9, paths: ['/opt/cache'] },
    { op: 'symlink', line: 9, target: '/data/cache', path: '/opt/cache/data' },
    { op: 'remove', line: 9, paths: ['/app/app.js.map'] },
  ]);
  assert.equal(contract.npmDir, '/app');
  assert.deepEqual(contract.packages.map((p) => `${p.name}:${p.kind}:${p.attr}:${p.inHaBase}`), [
    'nodejs:node:null:false', 'npm:build:null:false', 'g++:build:null:false', 'make:build:null:false', 'python3:build:null:false', 'ffmpeg:runtime:ffmpeg:false', 'tzdata:runtime:tzdata:true',
  ]);
  assert.deepEqual(contract.notCarried.map((n) => [n.line, n.instruction.split(' ').slice(0, 3).join(' ')]), [
    [4, 'apk add unknown-pkg'],
    [4, 'npm run build'],
    [10, 'RUN curl -o'],
    [11, 'COPY --from=build /out'],
    [12, 'ADD https://example.com/archive.tar.gz /opt/'],
  ]);
  assert.equal(imagePathOf(contract, 'package.json', files), '/app/package.json');
  assert.equal(imagePathOf(contract, 'rootfs/usr/bin/start.sh', files), '/usr/bin/start.sh');
  assert.equal(contextFileOf(contract, '/etc/services.d/app/run', files), 'rootfs/etc/services.d/app/run');
  assert.deepEqual(
    chooseFlavor(contract, { init: false, baseImage: 'ghcr.io/home-assistant/base:3.24', baseConfig: null, context: files, configFile: 'config.yaml' }),
    { flavor: 'base', reason: 'rootfs/etc/services.d/app: an s6-overlay service (/etc/services.d/app, copied by Dockerfile:8), which the base image\'s /init runs' },
  );
  assert.throws(() => runtimeContract(parseDockerfile('FROM x\nCOPY missing /x\n'), 'Dockerfile', {}, null, files), /Dockerfile:2: COPY: missing: no such file or folder in the add-on folder/);
  assert.throws(() => runtimeContract(parseDockerfile('FROM x\nCOPY app.js package.json /x\n'), 'Dockerfile', {}, null, files), /the destination must be a directory and end with a \//);
  assert.throws(() => runtimeContract(parseDockerfile('FROM x\nCOPY NOTES.md /x\n'), 'Dockerfile', {}, null, files), /NOTES\.md: no such file/, '.dockerignore leaves it out of the context');
  // A launcher CMD decides the flavor by its shebang, naming the line.
  chmodSync(path.join(dir, 'rootfs/usr/bin/start.sh'), 0o644);
  const launcher = runtimeContract(parseDockerfile('FROM alpine\nCOPY rootfs /\nCMD ["/usr/bin/start.sh"]\n'), 'Dockerfile', {}, null, files);
  assert.match(chooseFlavor(launcher, { init: true, baseImage: 'alpine', baseConfig: null, context: files, configFile: 'config.yaml' }).reason, /^Dockerfile:3: CMD runs \/usr\/bin\/start\.sh, a launcher that needs the base image \(rootfs\/usr\/bin\/start\.sh:1: #!\/usr\/bin\/with-contenv bashio\)$/);
  const plain = runtimeContract(parseDockerfile('FROM node:22-alpine\nCOPY app.js /app/\nCMD ["node", "/app/app.js"]\n'), 'Dockerfile', {}, null, files);
  assert.equal(chooseFlavor(plain, { init: true, baseImage: 'node:22-alpine', baseConfig: null, context: files, configFile: 'config.yaml' }).flavor, 'nix');
});

test('runtime contract: destinations, RUN command lines and .dockerignore patterns', () => {
  assert.equal(destination('/app', '.'), '/app/');
  assert.equal(destination('/app', 'lib/'), '/app/lib/');
  assert.equal(destination('/app', '/usr/bin'), '/usr/bin');
  assert.equal(destination('/', './x'), '/x');
  assert.deepEqual(simpleCommands(`apk add a && cd "/my dir" ; echo 'x && y'`), [['apk', 'add', 'a'], ['cd', '/my dir'], ['echo', 'x && y']]);
  assert.equal(simpleCommands('a | b'), null);
  assert.equal(simpleCommands('echo $HOME'), null);
  const rules = compileDockerignore('# comment\n/build\n**/*.log\n!keep.log\ndocs/**\n');
  assert.equal(ignoredBy(rules, 'build/out.js'), true, 'a folder the pattern names leaves out what is below it');
  assert.equal(ignoredBy(rules, 'a/b/c.log'), true);
  assert.equal(ignoredBy(rules, 'keep.log'), false);
  assert.equal(ignoredBy(rules, 'docs/x/y.md'), true);
  assert.equal(ignoredBy(rules, 'src/build'), false, 'a leading slash anchors at the context root');
});

test('options: defaults merged as the Supervisor merges them, written as its options.json', () => {
  assert.deepEqual(mergeOptions({ a: 1, nested: { x: 1, y: 2 }, list: [1] }, { nested: { y: 3 }, list: [2], b: true }), { a: 1, nested: { x: 1, y: 3 }, list: [2], b: true });
  assert.equal(optionsFileText({ a: 1, b: { c: 'd' } }), '{\n  "a": 1,\n  "b": {\n    "c": "d"\n  }\n}', 'two spaces, no final newline');
});

function state(overrides: Partial<SupervisorState['addon']> = {}): SupervisorState {
  return {
    token: 't'.repeat(112),
    addon: { slug: 'local_x', hassio_api: false, hassio_role: 'default', services: [], discovery: [], ...overrides },
    options: { level: 'info' },
    info: { arch: 'amd64' },
    supervisor: { version: '2026.08.0' },
    core: { version: '2026.11.0' },
    host: {},
    os: {},
    network: {},
    mqtt: null,
  };
}

async function double(current: SupervisorState) {
  const lines: string[] = [];
  const server = createServer(supervisorHandler(() => current, (line) => lines.push(line)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const ask = async (pathname: string, init: RequestInit & { token?: string | null } = {}) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (init.token !== null) headers['authorization'] = `Bearer ${init.token ?? current.token}`;
    const response = await fetch(`http://127.0.0.1:${port}${pathname}`, { method: init.method ?? 'GET', headers, body: init.body ?? (init.method === 'POST' ? '{}' : undefined) });
    return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
  };
  return { ask, lines, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

test('Supervisor API double: the token, the add-on\'s rights, routing and envelopes as the Supervisor answers', async () => {
  const api = await double(state({ services: ['mqtt:want'], discovery: ['mqtt'] }));
  try {
    const config = await api.ask('/addons/self/options/config');
    assert.deepEqual([config.status, JSON.parse(config.body)], [200, { result: 'ok', data: { level: 'info' } }]);
    assert.match(config.type, /^application\/json/);
    assert.deepEqual(await api.ask('/info', { token: null }), { status: 401, type: 'text/plain; charset=utf-8', body: '401: Unauthorized' }, 'no token');
    assert.equal((await api.ask('/info', { token: '' })).status, 403, 'a bare "Bearer": the last word is the token, a wrong one');
    assert.equal((await api.ask('/info', { token: 'nope' })).status, 403);
    assert.equal((await api.ask('/core/info')).status, 403, 'without hassio_api, only the bypass paths');
    assert.equal((await api.ask('/nothing/here')).status, 403, 'the security check comes before routing');
    assert.equal((await api.ask('/supervisor/ping', { token: null })).status, 200, 'ping needs no token');
    assert.equal((await api.ask('/addons/self/options')).status, 405, 'only POST exists there');
    assert.deepEqual(JSON.parse((await api.ask('/services/mqtt')).body), { result: 'error', message: 'Service not enabled' });
    assert.equal((await api.ask('/services/mqtt')).status, 400);
    assert.equal((await api.ask('/services/nothing')).status, 404);
    assert.match((await api.ask('/discovery', { method: 'POST', body: JSON.stringify({ service: 'mqtt', config: {} }) })).body, /"uuid":"[0-9a-f]{32}"/);
    assert.equal((await api.ask('/discovery', { method: 'POST', body: JSON.stringify({ service: 'zwave', config: {} }) })).status, 403);
    assert.equal((await api.ask('/discovery')).status, 401, 'GET /discovery is Home Assistant\'s');
    assert.deepEqual(JSON.parse((await api.ask('/addons/self/options', { method: 'POST', body: '{"options": null}' })).body), { result: 'ok', data: {} });
    assert.equal((await api.ask('/addons/self/options', { method: 'POST', body: 'not json' })).status, 400);
    assert.ok(api.lines.includes('supervisor: GET /addons/self/options/config 200'));
  } finally {
    await api.close();
  }
  const manager = await double(state({ hassio_api: true, hassio_role: 'default' }));
  try {
    assert.equal((await manager.ask('/core/info')).status, 200, 'hassio_api with the default role: paths ending in /info');
    assert.equal((await manager.ask('/core/restart', { method: 'POST' })).status, 403);
    assert.equal((await manager.ask('/addons/other/nothing/info')).status, 404, 'allowed by the role, then not found');
    assert.equal((await manager.ask('/services/mqtt')).status, 403, 'no mqtt in services: no access');
  } finally {
    await manager.close();
  }
});
