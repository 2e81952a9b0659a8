/**
 * Every real add-on in ../shared/corpus/addons (six public repositories, current and a 2024 snapshot)
 * validates with zero errors, and warns only where the Supervisor warns, repairs or ignores (validate run
 * in process).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { corpus } from './helpers.js';
import { validateInProcess } from './validate-run.js';

interface Diagnostic {
  file: string;
  line: number | null;
  severity: string;
  code: string;
  message: string;
}

/** Warning codes for what the Supervisor itself logs, repairs, skips or ignores. */
const SUPERVISOR_WARNINGS = new Set([
  'deprecated-build-file', 'deprecated-arch', 'legacy-key', 'legacy-map-type', 'deprecated-key', 'deprecated-map',
  'deprecated-value', 'invalid-map-entry', 'unknown-key', 'build-file-ignored', 'option-invalid', 'option-null',
  'compat-2025', 'compat-2026', 'coerced-value', 'unknown-option',
]);

function countFiles(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) n += countFiles(file);
    else if (/^(config|build|repository)\.(ya?ml|json)$/.test(name)) n++;
  }
  return n;
}

async function validate(args: string[]): Promise<Diagnostic[]> {
  const result = await validateInProcess(['--json', ...args]);
  assert.equal(result.stderr, '');
  return JSON.parse(result.stdout) as Diagnostic[];
}

test('corpus: every real add-on validates with zero errors (2026 rules)', async (t) => {
  const dir = corpus(t, 'addons');
  if (!dir) return;
  const diagnostics = await validate([dir]);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors, []);
  for (const d of diagnostics) assert.ok(SUPERVISOR_WARNINGS.has(d.code), `unexpected warning kind: ${JSON.stringify(d)}`);

  // The one build file the Supervisor's schema refuses: an unquoted number in args.
  const ignored = diagnostics.filter((d) => d.code === 'build-file-ignored');
  assert.ok(ignored.length >= 1);
  for (const d of ignored) assert.match(d.file, /home-assistant-addons-2024\/letsencrypt\/build\.yaml$/);
  assert.ok(ignored.some((d) => d.line === 19 && d.message.includes('CERTBOT_DNS_DUCKDNS_VERSION')));

  // Each deprecated arch of each config is named where it is written.
  const ssh2024 = diagnostics.filter((d) => d.file.endsWith('home-assistant-addons-2024/ssh/config.yaml') && d.code === 'deprecated-arch');
  assert.deepEqual(ssh2024.map((d) => d.message.match(/'(\w+)'/)![1]).sort(), ['armhf', 'armv7', 'i386']);
  assert.ok(ssh2024.every((d) => d.line !== null && d.line > 1));
});

test('corpus: the summary counts every config, build and repository file', async (t) => {
  const dir = corpus(t, 'addons');
  if (!dir) return;
  const result = await validateInProcess([dir]);
  assert.equal(result.status, 0);
  const files = countFiles(dir);
  assert.ok(files >= 176, `${files} files`);
  assert.match(result.stdout.trimEnd().split('\n').pop()!, new RegExp(`^\\d+ add-ons \\(${files} files\\) checked: 0 errors, \\d+ warnings$`));
});

test('corpus: the 2024 snapshot validates with zero errors under the 2025 rules too', async (t) => {
  const dir = corpus(t, 'addons/home-assistant-addons-2024');
  if (!dir) return;
  const diagnostics = await validate(['--supervisor', '2025', dir]);
  assert.deepEqual(diagnostics.filter((d) => d.severity === 'error'), []);
  // No 2026 deprecations under the 2025 rules.
  assert.ok(!diagnostics.some((d) => d.code === 'deprecated-build-file' || d.code === 'deprecated-arch'));
});

test('corpus: current add-ons that need the 2026 Supervisor say so', async (t) => {
  const dir = corpus(t, 'addons/home-assistant-addons/matter_server');
  if (!dir) return;
  const compat = (await validate([dir])).filter((d) => d.code === 'compat-2025');
  assert.equal(compat.length, 1);
  assert.match(compat[0]!.message, /Supervisor 2025\.06 refuses this add-on: map\[0\]\.type is 'app_config'/);
  const as2025 = await validate(['--supervisor', '2025', dir]);
  assert.ok(as2025.some((d) => d.severity === 'error' && d.code === 'invalid-value'));
});
