/**
 * Nix's error output read the same from Nix 2.8 to current: the message is the last `error:` block, the
 * evaluation trace newer Nix prints before it is kept apart and never taken for a JavaScript stack. The
 * events below are what Debian 12's Nix 2.8.0 and Debian 13's Nix 2.26.3 printed for the same file
 * (a `throw` of addonix's kind under `builtins.seq`), with `--log-format internal-json` as addonix runs Nix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuildMonitor, readNixError } from '../src/nix/log.js';
import { nixFailure } from '../src/nix/build.js';
import { renderError } from '../src/cli/render-error.js';
import { hasStackTrace } from './helpers.js';

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
