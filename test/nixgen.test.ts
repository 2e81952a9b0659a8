import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { NixPath, nixAttrName, nixString, toNix, NixValueError } from '../src/nixgen/nix.js';
import { needTools, seededRandom, tempTree } from './helpers.js';

/** Pieces that are hard to escape, glued at random. */
const PIECES = ['"', '\\', '${', '$', '$$', '${x}', "''", "''${", '\n', '\r\n', '\t', '{', '}', '\\n', '\\${', 'ä', '🏠', '\u2028', 'x', ' ', '#', '/*', ';', '=', "'", '`'];

function randomString(random: () => number, maxPieces: number): string {
  let s = '';
  const n = Math.floor(random() * maxPieces);
  for (let i = 0; i < n; i++) s += random() < 0.8 ? PIECES[Math.floor(random() * PIECES.length)] : String.fromCodePoint(32 + Math.floor(random() * 0x2fff));
  return s;
}

function nixEval(t: import('node:test').TestContext, text: string): unknown {
  const dir = tempTree(t, { 'value.nix': text });
  const file = path.join(dir, 'value.nix');
  execFileSync('nix-instantiate', ['--parse', file], { stdio: 'pipe' });
  return JSON.parse(execFileSync('nix-instantiate', ['--eval', '--strict', '--json', file], { encoding: 'utf8', maxBuffer: 1 << 26 }));
}

test('property: random strings written as Nix read back identical with real nix-instantiate', (t) => {
  if (!needTools(t, 'nix-instantiate')) return;
  const random = seededRandom(20261121);
  const strings: string[] = [];
  for (let i = 0; i < 400; i++) strings.push(randomString(random, 40));
  strings.push('', '$', '${', '\\', "''", '${"${"}', 'a'.repeat(10_000), PIECES.join('').repeat(200).slice(0, 10_240));
  assert.deepEqual(nixEval(t, toNix(strings)), strings);
});

test('property: attribute names that are not identifiers are quoted and read back', (t) => {
  if (!needTools(t, 'nix-instantiate')) return;
  const random = seededRandom(7);
  const value: Record<string, number> = { plain: 1, 'with-dash': 2, "it's": 3, if: 4, or: 5, '': 6, '1abc': 7, 'node_modules/@img/sharp': 8, '__proto__': 9 };
  for (let i = 0; i < 200; i++) value[randomString(random, 6) || `k${i}`] = i;
  const text = toNix(value);
  assert.match(text, /^ {2}plain = 1;$/m);
  assert.match(text, /^ {2}"if" = 4;$/m);
  assert.match(text, /^ {2}"node_modules\/@img\/sharp" = 8;$/m);
  assert.deepEqual(nixEval(t, text), Object.fromEntries(Object.entries(value)));
});

test('numbers, booleans, null, nested values and paths', (t) => {
  if (!needTools(t, 'nix-instantiate')) return;
  const value = { n: [0, 1, -1, 42, -(2 ** 40), 0.5, -0.25, 1.5e-7, 123.456], b: [true, false], z: null, nested: { a: [[], {}], b: [{ c: 'd' }] } };
  assert.deepEqual(nixEval(t, toNix(value)), value);
  assert.equal(toNix(new NixPath('./src')), './src');
  assert.equal(toNix(new NixPath('./has space')), '(./. + "/./has space")');
  const dir = tempTree(t, { 'src/x': '' });
  writeFileSync(path.join(dir, 'p.nix'), toNix({ p: new NixPath('./src') }));
  execFileSync('nix-instantiate', ['--parse', path.join(dir, 'p.nix')], { stdio: 'pipe' });
});

test('values Nix cannot hold are refused with a reason', () => {
  assert.throws(() => nixString('a\0b'), (e: Error) => e instanceof NixValueError && /NUL/.test(e.message));
  assert.throws(() => nixString('\uD800'), /unpaired UTF-16 surrogate/);
  assert.throws(() => toNix(NaN), /NaN/);
  assert.throws(() => toNix(Infinity), /infinities/);
  assert.throws(() => toNix(2 ** 60), /too large/);
  assert.throws(() => new NixPath('/abs'), /relative/);
  assert.equal(nixAttrName('a.b'), '"a.b"');
  assert.equal(nixAttrName("x'"), "x'");
});

test('layout is deterministic: keys sorted, undefined dropped, same text every time', () => {
  const a = toNix({ b: 1, a: { y: [1], x: undefined }, c: 'z' });
  const b = toNix({ c: 'z', a: { y: [1] }, b: 1 });
  assert.equal(a, b);
  assert.equal(a, '{\n  a = {\n    y = [\n      1\n    ];\n  };\n  b = 1;\n  c = "z";\n}');
});
