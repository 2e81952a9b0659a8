/**
 * The reference in docs/ is generated from the code (scripts/generate-docs.mjs): every command's help from
 * its yargs definition, the code tables, the Nix library's documentation comments. These tests fail when
 * the committed files are not what the script writes now, when the script's output depends on the
 * terminal or locale it runs in, when a command's JSON output has no section in the hand-written
 * docs/json.md, and when a link between the documents leads nowhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './helpers.js';

const REGENERATE = 'npm run generate:docs';

/** What scripts/generate-docs.mjs writes now: { 'docs/commands.md': text, ... }. */
async function generated(): Promise<Record<string, string>> {
  const script = (await import(pathToFileURL(path.join(REPO, 'scripts', 'generate-docs.mjs')).href)) as { docsFiles: () => Promise<Record<string, string>> };
  return script.docsFiles();
}

test('docs: the committed reference in docs/ is what scripts/generate-docs.mjs writes from the code', async () => {
  const files = await generated();
  assert.deepEqual(Object.keys(files).sort(), ['docs/codes.md', 'docs/commands.md', 'docs/nix.md']);
  const stale = Object.entries(files)
    .filter(([file, content]) => !existsSync(path.join(REPO, file)) || readFileSync(path.join(REPO, file), 'utf8') !== content)
    .map(([file]) => file);
  assert.deepEqual(stale, [], `${stale.join(', ')} differ from what the code says: run ${REGENERATE} and commit the result (never edit them by hand)`);
});

test('docs: the generated reference does not depend on the terminal, colours or locale of whoever runs the script', async () => {
  const saved = { LC_ALL: process.env['LC_ALL'], LANG: process.env['LANG'], COLUMNS: process.env['COLUMNS'], FORCE_COLOR: process.env['FORCE_COLOR'] };
  Object.assign(process.env, { LC_ALL: 'de_DE.UTF-8', LANG: 'de_DE.UTF-8', COLUMNS: '40', FORCE_COLOR: '3' });
  let hostile: Record<string, string>;
  try {
    hostile = await generated();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
  const commands = hostile['docs/commands.md']!;
  assert.equal(commands, readFileSync(path.join(REPO, 'docs', 'commands.md'), 'utf8'), 'commands.md depends on the environment it was generated in');
  assert.doesNotMatch(commands, /\x1b\[/, 'no colour codes');
  assert.match(commands, /^Options:$/m, "yargs' own words stay English");
  const helpLines = commands.split(/^```text$/m).slice(1).flatMap((block) => block.slice(0, block.indexOf('```')).split('\n'));
  const widest = Math.max(...helpLines.map((line) => line.length));
  assert.ok(helpLines.length > 100 && widest <= 100, `help is fitted to 100 columns, found a line of ${widest}`);
});

test('docs: every command that takes --json has its format in docs/json.md', () => {
  const commands = readFileSync(path.join(REPO, 'docs', 'commands.md'), 'utf8');
  const json = readFileSync(path.join(REPO, 'docs', 'json.md'), 'utf8');
  const withJson = commands
    .split(/^## addonix /m)
    .slice(1)
    .filter((section) => /^\s+--json\s/m.test(section))
    .map((section) => section.slice(0, section.indexOf('\n')));
  assert.ok(withJson.length >= 8, `the commands with --json were found (${withJson.join(', ')})`);
  const missing = withJson.filter((name) => !new RegExp(`^## .*\`addonix ${name}\\b`, 'm').test(json));
  assert.deepEqual(missing, [], `docs/json.md has no section for the --json output of: ${missing.join(', ')}`);
  assert.match(json, /"error": \{/, 'docs/json.md shows the error object');
});

/** GitHub's anchor for a heading: lower case, punctuation other than '-' and '_' dropped, spaces as '-'. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6} (.*)$/.exec(line);
    if (!heading) continue;
    const base = anchor(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

test('docs: every relative link of README.md, CONTRIBUTING.md and docs/ leads to a file, and to a heading in it', () => {
  const documents = ['README.md', 'CONTRIBUTING.md', ...readdirSync(path.join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const broken: string[] = [];
  let checked = 0;
  for (const document of documents) {
    const text = readFileSync(path.join(REPO, document), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
    for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      const [file, hash] = target.split('#') as [string, string | undefined];
      const resolved = file === '' ? path.join(REPO, document) : path.join(REPO, path.dirname(document), file);
      checked++;
      if (!existsSync(resolved)) {
        broken.push(`${document}: ${target} (no such file)`);
      } else if (hash !== undefined && resolved.endsWith('.md') && !anchorsOf(readFileSync(resolved, 'utf8')).has(hash)) {
        broken.push(`${document}: ${target} (no such heading)`);
      }
    }
  }
  assert.ok(checked >= 10, `links were found (${checked})`);
  assert.deepEqual(broken, []);
});
