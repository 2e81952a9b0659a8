import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readDocument, readDocumentBytes } from '../src/addon/document.js';

function yaml(text: string) {
  const { doc, problems } = readDocument('config.yaml', text);
  assert.ok(doc, JSON.stringify(problems));
  return doc;
}

test('YAML is read with PyYAML SafeLoader scalar rules (YAML 1.1)', () => {
  const doc = yaml(
    [
      'a: on', 'b: Off', 'c: yes', 'd: y', 'e: n', 'f: 0755', 'g: 1:30', 'h: 1.10', 'i: 1e3', 'j: 1.0e+3', 'k: 0x1F',
      'l: 0b101', 'm: 1_000', 'n: ~', 'o:', 'p: .inf', 'q: 2024-01-31', 'r: 09', 's: +12', 't: "on"', 'u: 1.', 'v: .5',
    ].join('\n') + '\n',
  );
  const v = doc.value as Record<string, unknown>;
  assert.equal(v['a'], true);
  assert.equal(v['b'], false);
  assert.equal(v['c'], true);
  assert.equal(v['d'], 'y', 'PyYAML does not read y/n as booleans');
  assert.equal(v['e'], 'n');
  assert.equal(v['f'], 0o755);
  assert.equal(v['g'], 90);
  assert.equal(v['h'], 1.1);
  assert.equal(v['i'], '1e3', 'PyYAML needs a dot for floats');
  assert.equal(v['j'], 1000);
  assert.equal(v['k'], 31);
  assert.equal(v['l'], 5);
  assert.equal(v['m'], 1000);
  assert.equal(v['n'], null);
  assert.equal(v['o'], null);
  assert.equal(v['p'], Infinity);
  assert.ok(v['q'] instanceof Date);
  assert.equal((v['q'] as Date).toISOString(), '2024-01-31T00:00:00.000Z');
  assert.equal(v['r'], '09');
  assert.equal(v['s'], 12);
  assert.equal(v['t'], 'on');
  assert.equal(v['u'], 1);
  assert.equal(v['v'], 0.5);
});

test('positions of keys and values, including inside lists and flow collections', () => {
  const doc = yaml('name: x\narch:\n  - amd64\n  - aarch64\nports: {"80/tcp": 8080}\n');
  assert.deepEqual(doc.keyAt(['arch']), { line: 2, col: 1 });
  assert.deepEqual(doc.valueAt(['arch', 1]), { line: 4, col: 5 });
  assert.deepEqual(doc.keyAt(['ports', '80/tcp']), { line: 5, col: 9 });
  assert.deepEqual(doc.valueAt(['ports', '80/tcp']), { line: 5, col: 19 });
  // Unknown paths fall back to the nearest located ancestor.
  assert.deepEqual(doc.valueAt(['arch', 7, 'x']), doc.valueAt(['arch']));
});

test('non-string keys are remembered with their source text', () => {
  const doc = yaml('ports:\n  8080: 80\n  "53/udp": 53\non: 1\n');
  assert.deepEqual(doc.keyKind(['ports', '8080']), { type: 'number', source: '8080' });
  assert.equal(doc.keyKind(['ports', '53/udp']), undefined);
  assert.deepEqual(doc.keyKind(['true']), { type: 'boolean', source: 'on' });
});

test('anchors, aliases and merge keys work; aliases share one value, so alias bombs cost nothing', () => {
  const doc = yaml('base: &b {x: 1}\nmerged:\n  <<: *b\n  y: 2\n');
  assert.deepEqual((doc.value as Record<string, unknown>)['merged'], { x: 1, y: 2 });
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 0; i < 8; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill('*' + String.fromCharCode(97 + i)).join(', ')}]`);
  const bombDoc = yaml(bomb.join('\n') + '\n');
  const v = bombDoc.value as Record<string, unknown[]>;
  // PyYAML shares an anchored value between its aliases instead of copying it: 10^9 leaves are 90 lists.
  assert.equal(v['i']![0], v['h']);
  assert.equal(v['b']![9], v['a']);
});

test('duplicate keys are reported at the second one, and reading goes on', () => {
  const { doc, problems } = readDocument('config.yaml', 'a: 1\nb: 2\na: 3\n');
  assert.ok(doc);
  assert.deepEqual(doc.value, { a: 3, b: 2 });
  assert.equal(problems.length, 1);
  assert.deepEqual(problems[0]!.at, { line: 3, col: 1 });
  assert.match(problems[0]!.message, /duplicate key 'a' \(first at line 1\)/);
});

test('custom tags are refused as PyYAML SafeLoader refuses them', () => {
  const { doc, problems } = readDocument('config.yaml', 'a: !include other.yaml\n');
  assert.equal(doc, null);
  assert.equal(problems[0]!.code, 'yaml-tag');
});

test('JSON: strict syntax with positions, a BOM refused as orjson does, __proto__ kept as a plain key', () => {
  const bad = readDocument('config.json', '{\n  "a": 1,\n  // comment\n  "b": 2\n}');
  assert.equal(bad.doc, null);
  assert.deepEqual(bad.problems[0]!.at, { line: 3, col: 3 });
  assert.match(bad.problems[0]!.message, /comments are not allowed in JSON/);
  const trailing = readDocument('config.json', '{"a": [1, 2,]}');
  assert.equal(trailing.doc, null);
  const bom = readDocument('config.json', '\ufeff{"a": {"b": true}}');
  assert.equal(bom.doc, null);
  assert.match(bom.problems[0]!.message, /byte order mark/);
  const located = readDocument('config.json', '{"a": {"b": true}}');
  assert.deepEqual(located.doc!.valueAt(['a', 'b']), { line: 1, col: 13 });
  const proto = readDocument('config.json', '{"__proto__": {"polluted": 1}}');
  assert.ok(proto.doc);
  assert.deepEqual(Object.keys(proto.doc.value as object), ['__proto__']);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

test('bytes: invalid UTF-8 is located, control characters are refused', () => {
  const invalid = readDocumentBytes('config.yaml', Buffer.from([0x61, 0x3a, 0x20, 0x31, 0x0a, 0x62, 0x3a, 0x20, 0xc3, 0x28]));
  assert.equal(invalid.doc, null);
  assert.equal(invalid.problems[0]!.code, 'not-utf8');
  assert.deepEqual(invalid.problems[0]!.at, { line: 2, col: 4 });
  const control = readDocumentBytes('config.yaml', Buffer.from('a: 1\nb: x\u0007y\n'));
  assert.equal(control.problems[0]!.code, 'bad-character');
  assert.deepEqual(control.problems[0]!.at, { line: 2, col: 5 });
  assert.ok(readDocumentBytes('config.yaml', Buffer.from('name: Zoë 🏠\n')).doc);
});

/** Verdicts of PyYAML's CSafeLoader (libyaml 0.2.5), as the Supervisor reads config.yaml. */
test('YAML: what the C loader accepts and refuses (tabs, line ends, tags, keys, directives, escapes)', () => {
  const ok = (text: string) => readDocument('config.yaml', text);
  const accepted = ['slug:\ttest\n', 'a: 1\r\nb: 2\r\n', 'a: 1\rb: 2\r', 'a: 1\u0085b: 2\n', 'a: 1\u2028b: 2\n', '%YAML 1.1\n---\na: 1\n', '%YAML 1.2\n---\na: 1\n', 'a: b\t# c\n', '? x\n: 1\n', '\ufeffa: 1\n'];
  for (const text of accepted) assert.ok(ok(text).doc, `${JSON.stringify(text)}: ${JSON.stringify(ok(text).problems)}`);
  const refused = ['a:\n  -\tb\n', 'a: 1\n\t# c\n', 'a: 1\n\t\nb: 2\n', '? [a]\n: 1\n', '%YAML 1.3\n---\na: 1\n', '%YAML 2.0\n---\na: 1\n', 'a: "\\ud800"\n', 'a: 1\n---\nb: 2\n', 'a: &x 1\nb: &x 2\n', 'a: =\n', 'a: 2024-02-30\n', 'a: !!str [x]\n', 'a: !!omap [{a: 1, b: 2}]\n'];
  for (const text of refused) assert.equal(ok(text).doc, null, JSON.stringify(text));
  const v = (text: string) => (ok(text).doc!.value as Record<string, unknown>)['a'];
  assert.equal(v('a: !!float 60\n'), 60);
  assert.equal(v('a: !!int " ٦٠"\n'), 60, "Python's int() reads Unicode digits");
  assert.deepEqual(v('a: !!omap [{x: 1}, {y: 2}]\n'), [['x', 1], ['y', 2]]);
  assert.equal(v('a: ! 12\n'), 12, "'!' leaves a plain scalar to the implicit resolvers");
  assert.equal(v('a: "x\\ny"\n'), 'x\ny');
  const lines = ok('a: 1\u2028b: [x,\n  y]\n').doc!;
  assert.deepEqual(lines.valueAt(['b', 1]), { line: 3, col: 3 }, 'LS is a line break for libyaml');
  const empty = ok('# nothing\n').doc!;
  assert.ok(empty.empty);
  assert.deepEqual(empty.value, {}, 'read_yaml_file returns `load() or {}`');
});

test('YAML and JSON nested thousands deep are read without recursion', () => {
  const deepYaml = readDocument('config.yaml', `a: ${'['.repeat(20000)}${']'.repeat(20000)}\n`);
  assert.ok(deepYaml.doc);
  let node = (deepYaml.doc.value as Record<string, unknown>)['a'];
  let depth = 0;
  while (Array.isArray(node) && node.length > 0) {
    node = node[0];
    depth++;
  }
  assert.equal(depth, 19999);
  assert.deepEqual(deepYaml.doc.valueAt(['a', 0, 0, 0]), { line: 1, col: 7 });
  // orjson >= 3.9.15 (the Supervisor pins 3.10.18 and 3.12.0) stops at 1024 levels.
  const json = (depth: number) => readDocument('config.json', `{"a": ${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`);
  assert.ok(json(1024).doc);
  const tooDeep = json(1025);
  assert.equal(tooDeep.doc, null);
  assert.equal(tooDeep.problems[0]!.code, 'too-deep');
});

test('JSON as orjson reads it', () => {
  const read = (text: string) => readDocument('config.json', text);
  for (const text of ['{"a": NaN}', '{"a": 1e400}', '{"a": "\\ud800"}', '{"a": "\\udc00x"}', '{"a": 01}', '{"a": 1.}', '\ufeff{}', '{"a": 1,}', '', '{} x', '{"a": "\u0001"}']) {
    assert.equal(read(text).doc, null, JSON.stringify(text));
  }
  assert.equal((read('{"a": 123456789012345678901234567890}').doc!.value as Record<string, number>)['a'], 1.2345678901234568e29);
  assert.equal((read('{"a": "\\ud83d\\ude00"}').doc!.value as Record<string, string>)['a'], '😀');
  assert.equal(read('null').doc!.value, null);
});
