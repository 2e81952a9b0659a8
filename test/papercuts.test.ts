/**
 * A newcomer's path through the README (issue 19): the small mistakes addonix made in saying what is
 * wrong. Each runs the CLI as a user does, on small folders; none builds anything (a few seconds in all).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { runCli, tempTree } from './helpers.js';

interface JsonFailure {
  error: { code: string; message: string; file: string | null; line: number | null };
}

test('papercuts: a word where a command belongs is an unknown command, whatever options follow it', () => {
  const json = runCli(['frobnicate', '--json']);
  assert.equal(json.status, 2);
  const { error } = JSON.parse(json.stdout) as JsonFailure;
  assert.equal(error.code, 'usage');
  assert.match(error.message, /^Unknown command: frobnicate\.\n/);
  assert.doesNotMatch(error.message, /json/, 'the options of a command that does not exist are not its mistake');
  const typo = runCli(['valdate', 'x']);
  assert.match(typo.stderr, /^addonix: Unknown command: valdate\. Did you mean validate\?\n/);
});

test('papercuts: --version prints the version alone; --help lists every command', () => {
  const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
  const result = runCli(['--version']);
  assert.equal(result.status, 0);
  assert.equal(result.stdout, `${version}\n`);
  const help = runCli(['--help']);
  assert.equal(help.status, 0);
  for (const name of ['init', 'validate', 'generate', 'build', 'push', 'load', 'verify', 'doctor']) assert.match(help.stdout, new RegExp(`addonix ${name}\\b`));
});

test('papercuts: --jobs takes a whole number and names the value given, not NaN', (t) => {
  const dir = tempTree(t, {});
  for (const value of ['abc', '0', '1.5', '-2']) {
    const result = runCli(['build', dir, '--dry-run', '--jobs', value]);
    assert.equal(result.status, 2, value);
    assert.doesNotMatch(result.stderr, /NaN/, value);
    assert.match(result.stderr, new RegExp(`--jobs ${value.replace('.', '\\.')}: give a whole number >= 1`), value);
  }
});
