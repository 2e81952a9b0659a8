/** Names as byte strings: shown so that no name can pass for another, end a line or drive a terminal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonName, jsonNameBytes, showName, textToBytes, utf8Text } from '../src/util/names.js';

test('names: plain UTF-8 is shown as it is, everything else quoted with escapes, and the two forms never meet', () => {
  const cases: [string, string][] = [
    ['/app/main.js', '/app/main.js'],
    [textToBytes('/data/café'), '/data/café'],
    ['/etc/system-systemd\\x2dcryptsetup.slice', '/etc/system-systemd\\x2dcryptsetup.slice'],
    ['/data/caf\xe9', '"/data/caf\\xe9"'],
    [textToBytes('/data/two\nlines'), '"/data/two\\nlines"'],
    ['/data/\x1b[31mred', '"/data/\\x1b[31mred"'],
    // A name that starts with a quote is quoted too, so no plain name looks like a quoted one.
    ['"quoted"', '"\\"quoted\\""'],
    // Text that reorders itself on screen (Trojan Source) is escaped.
    [textToBytes('/x/\u202egnp.exe'), '"/x/\\u{202e}gnp.exe"'],
    // A valid sequence beside invalid bytes stays text; a cut sequence is bytes.
    [textToBytes('/é') + '\xff' + '\xc3', '"/é\\xff\\xc3"'],
    ['/back\\slash "inside"', '/back\\slash "inside"'],
  ];
  for (const [name, shown] of cases) assert.equal(showName(name), shown, JSON.stringify(name));
  const shownForms = cases.map(([name]) => showName(name));
  assert.equal(new Set(shownForms).size, cases.length, 'different names are shown differently');
});

test('names: JSON gets text for UTF-8 names and the bytes beside the escaped form for the others', () => {
  assert.equal(utf8Text(textToBytes('/data/café')), '/data/café');
  assert.equal(utf8Text('/data/caf\xe9'), undefined);
  assert.equal(jsonName(textToBytes('/a\nb')), '/a\nb');
  assert.equal(jsonNameBytes(textToBytes('/a\nb')), undefined);
  assert.equal(jsonName('/caf\xe9'), '"/caf\\xe9"');
  assert.equal(Buffer.from(jsonNameBytes('/caf\xe9')!, 'base64').toString('latin1'), '/caf\xe9');
});
