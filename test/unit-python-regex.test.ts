/**
 * The Python regular expression engine (src/addon/python-regex.ts) against Python's own `re`, on generated
 * patterns: the same compile errors (type and message) and the same matches. python3 runs once for all
 * 2500 of them (about 1.5 s in all). Under CI=true a missing python3 is a failure; elsewhere the comparison is skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { compilePythonRegex, loadCharacterNames } from '../src/addon/python-regex.js';
import { PYTHON_ORACLE, regexCases } from './python-regex-cases.js';

const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const havePython = python.status === 0;
if (!havePython && process.env['CI'] === 'true') throw new Error('python3 is needed for the regular expression oracle (scripts/test-all installs it)');

test('Python regular expressions: compile errors and matches agree with Python on generated patterns', { skip: havePython ? false : 'python3 is not installed' }, async () => {
  await loadCharacterNames();
  const cases = regexCases(22, 2500);
  const run = spawnSync('python3', ['-c', PYTHON_ORACLE], { input: cases.map((c) => JSON.stringify(c)).join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(run.status, 0, run.stderr);
  const answers = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { error: string | null; message?: string; matches?: boolean[] });
  assert.equal(answers.length, cases.length);
  const problems: string[] = [];
  let compiledCount = 0;
  let matchCount = 0;
  cases.forEach((c, i) => {
    const want = answers[i]!;
    const got = compilePythonRegex(c.pattern);
    if (want.error !== null) {
      if (got.ok || got.error === null) problems.push(`${JSON.stringify(c.pattern)}: Python raises ${want.error}: ${want.message}; addonix ${got.ok ? 'compiles it' : got.reason}`);
      else if (got.error.exception !== want.error || got.error.message !== want.message) problems.push(`${JSON.stringify(c.pattern)}: Python ${want.error}: ${want.message}; addonix ${got.error.exception}: ${got.error.message}`);
      return;
    }
    if (!got.ok) return void problems.push(`${JSON.stringify(c.pattern)}: Python compiles it; addonix ${got.error ? got.error.message : got.reason}`);
    compiledCount++;
    c.texts.forEach((text, j) => {
      const match = got.regex.match(text);
      if (match) matchCount++;
      if (match !== want.matches![j]) problems.push(`${JSON.stringify(c.pattern)} on ${JSON.stringify(text)}: Python ${want.matches![j]}, addonix ${match}`);
    });
  });
  assert.deepEqual(problems.slice(0, 30), [], `${problems.length} differences`);
  // The generator must reach both sides: patterns Python refuses, patterns it compiles, texts that match.
  assert.ok(compiledCount > 600 && cases.length - compiledCount > 1200, `${compiledCount} of ${cases.length} compiled`);
  assert.ok(matchCount > 2000, `${matchCount} matches`);
});
