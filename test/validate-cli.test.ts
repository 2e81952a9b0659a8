/**
 * `addonix validate` as a user runs it: exit statuses (0, 1, 2), usage errors, help, and the output of a
 * few cases in JSON and text. What it finds in each kind of broken add-on is checked in process by
 * unit-validate.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MINIMAL_CONFIG, hasStackTrace, runCli, tempTree } from './helpers.js';
import { assertCase, validateCase } from './validate-cases.js';

/**
 * A few of the cases unit-validate.test.ts checks in process, through the CLI: an error (exit 1), a
 * warning only (exit 0), and a warning under --strict (exit 1), each in JSON and in text.
 */
const THROUGH_THE_CLI = ['wrong types', 'values the Supervisor coerces are warnings', 'options that violate their schema fail with --strict'];

for (const c of THROUGH_THE_CLI.map(validateCase)) {
  test(`validate (CLI): ${c.name}`, (t) => {
    const dir = tempTree(t, c.files);
    const json = runCli(['validate', '--json', ...(c.args ?? []), '.'], { cwd: dir });
    const text = runCli(['validate', ...(c.args ?? []), '.'], { cwd: dir });
    assertCase(c, json, text);
  });
}

test('validate: exit status 2 and a hint for wrong usage', () => {
  const result = runCli(['validate', '--bogus']);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /Unknown argument: bogus/);
  assert.match(result.stderr, /Run 'addonix validate --help' for usage\./, 'the hint names the command');
  assert.equal(result.stdout, '', 'the command does not run after a usage error');
  assert.ok(!hasStackTrace(result.stderr));
  const noCommand = runCli([]);
  assert.equal(noCommand.status, 2);
  assert.match(noCommand.stderr, /Run 'addonix --help' for usage\./);
  assert.match(noCommand.stderr, /Name a command: init, validate, inspect, deps, generate, pin-base, build, assemble, push, login, load, run, inspect-image, diff, verify, sbom, provenance, doctor\./);
  const typo = runCli(['valdate']);
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /Unknown command: valdate\. Did you mean validate\?/);
  assert.equal(typo.stdout, '', 'no command runs after a usage error');
  const badChoice = runCli(['validate', '--supervisor', '2024']);
  assert.equal(badChoice.status, 2);
});

test('validate: a valid add-on passes, in text and JSON', (t) => {
  const dir = tempTree(t, { 'my-addon/config.yaml': MINIMAL_CONFIG });
  const text = runCli(['validate'], { cwd: dir });
  assert.equal(text.status, 0);
  assert.equal(text.stdout, '1 add-on (1 file) checked: no problems\n');
  const json = runCli(['validate', '--json', 'my-addon/config.yaml'], { cwd: dir });
  assert.equal(json.status, 0);
  assert.deepEqual(JSON.parse(json.stdout), []);
});

test('validate --help teaches: options, examples and the output format', () => {
  const help = runCli(['validate', '--help']);
  assert.equal(help.status, 0);
  for (const needle of ['--strict', '--json', '--supervisor', 'Examples:', 'FILE:LINE:COL', 'Exit status']) {
    assert.ok(help.stdout.includes(needle), `help mentions ${needle}`);
  }
});
