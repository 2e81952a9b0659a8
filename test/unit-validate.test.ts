/**
 * `addonix validate` in process, on hand-made invalid add-ons: each must fail (or warn) with the right
 * message at the right place, in JSON and in text, and never throw. The CLI around it (a process, usage
 * errors, exit statuses as a shell sees them) is validate-cli.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MINIMAL_CONFIG, tempTree } from './helpers.js';
import { assertCase, cases } from './validate-cases.js';
import { validateInProcess } from './validate-run.js';

for (const c of cases) {
  test(`validate: ${c.name}`, async (t) => {
    const dir = tempTree(t, c.files);
    const json = await validateInProcess(['--json', ...(c.args ?? []), '.'], { cwd: dir });
    const text = await validateInProcess([...(c.args ?? []), '.'], { cwd: dir });
    assertCase(c, json, text);
  });
}

test('validate: a path that does not exist, and a file that is not an add-on file', async (t) => {
  const dir = tempTree(t, { 'notes.txt': 'hello' });
  const missing = await validateInProcess(['nope', 'notes.txt'], { cwd: dir });
  assert.equal(missing.status, 1);
  assert.match(missing.stdout, /^nope: error: no such file or folder \[not-found\]$/m);
  assert.match(missing.stdout, /^notes\.txt: error: not an add-on file/m);
});

test('validate: a file nested thousands deep among 100 add-ons loses no other finding', async (t) => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 100; i++) {
    files[`a${String(i).padStart(3, '0')}/config.yaml`] = MINIMAL_CONFIG.replace('slug: test_addon', `slug: addon_${i}`) + (i % 10 === 0 ? 'timeout: 5\n' : '');
  }
  const depth = 3000;
  files['deep/config.json'] = `{"name": "Deep", "version": "1", "slug": "deep", "description": "d", "arch": ["amd64"], "x": ${'['.repeat(depth)}${']'.repeat(depth)}}`;
  files['deep-yaml/config.yaml'] = MINIMAL_CONFIG.replace('slug: test_addon', 'slug: deep_yaml') + `x: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
  const dir = tempTree(t, files);
  const result = await validateInProcess(['--json', '.'], { cwd: dir });
  assert.equal(result.status, 1);
  assert.equal(result.stderr, '');
  const diagnostics = JSON.parse(result.stdout) as { file: string; code: string; severity: string }[];
  // Every tenth add-on has its own error, each reported.
  const ranges = diagnostics.filter((d) => d.code === 'out-of-range').map((d) => d.file).sort();
  assert.deepEqual(ranges, Array.from({ length: 10 }, (_, i) => `a${String(i * 10).padStart(3, '0')}/config.yaml`));
  // The Supervisor's orjson refuses JSON nested deeper than 1024 levels; its YAML reader reads 3000.
  assert.ok(diagnostics.some((d) => d.file === 'deep/config.json' && d.code === 'too-deep' && d.severity === 'error'));
  assert.ok(!diagnostics.some((d) => d.file === 'deep-yaml/config.yaml' && d.severity === 'error'));
  const text = await validateInProcess(['.'], { cwd: dir });
  assert.equal(text.stderr, '');
  assert.match(text.stdout.trimEnd().split('\n').pop()!, /^102 add-ons \(102 files\) checked: 11 errors/);
});
