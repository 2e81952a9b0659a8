import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkOptions, elementProblem, parseOptionsSchema, parseSchemaElement, type SchemaElement } from '../src/addon/options-schema.js';
import { ERA_RULES, type Era } from '../src/addon/eras.js';

function element(text: string, era: Era = '2026'): SchemaElement {
  const parsed = parseSchemaElement(text, era);
  assert.ok(parsed.ok, `${text}: ${parsed.ok ? '' : parsed.message}`);
  return parsed.element;
}

test('every element form parses into its typed meaning', () => {
  assert.deepEqual(element('bool'), { kind: 'bool', optional: false });
  assert.deepEqual(element('email?'), { kind: 'email', optional: true });
  assert.deepEqual(element('url'), { kind: 'url', optional: false });
  assert.deepEqual(element('port'), { kind: 'port', optional: false });
  assert.deepEqual(element('password'), { kind: 'password', optional: false });
  assert.deepEqual(element('str(2,10)'), { kind: 'str', optional: false, min: 2, max: 10 });
  assert.deepEqual(element('password(8,)?'), { kind: 'password', optional: true, min: 8 });
  assert.deepEqual(element('int(,10)'), { kind: 'int', optional: false, max: 10 });
  assert.deepEqual(element('int(-5,5)'), { kind: 'int', optional: false, min: -5, max: 5 });
  assert.deepEqual(element('float(.5,2.25)'), { kind: 'float', optional: false, min: 0.5, max: 2.25 });
  assert.deepEqual(element('str(,)'), { kind: 'str', optional: false });
  assert.deepEqual(element('match(^[a-z]+(\\d)?$)?'), { kind: 'match', optional: true, pattern: '^[a-z]+(\\d)?$' });
  assert.deepEqual(element('match()'), { kind: 'match', optional: false, pattern: '' });
  assert.deepEqual(element('list(a|b c|d)'), { kind: 'list', optional: false, choices: ['a', 'b c', 'd'] });
  assert.deepEqual(element('device'), { kind: 'device', optional: false });
  assert.deepEqual(element('device(subsystem=tty)?'), { kind: 'device', optional: true, subsystem: 'tty' });
  assert.deepEqual(element(''), { kind: 'none', optional: false });
  assert.deepEqual(element('?'), { kind: 'none', optional: true });
  assert.deepEqual(element('list(x)\n'), { kind: 'list', optional: false, choices: ['x'] }, 'a YAML block scalar ends in a newline');
});

test('malformed elements are refused with a message that says what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['int(a,b)', /bounds of int\(min,max\) must be whole numbers, got 'a'/],
    ['int(5)', /takes two bounds separated by one comma/],
    ['int(1,2,3)', /takes two bounds/],
    ['str(1, 2)', /no spaces are allowed/],
    ['str (1,2)', /unexpected ' \(1,2\)' after 'str' \(no spaces allowed\)/],
    ['list()', /list\(\) needs at least one choice/],
    ['list', /list needs its choices/],
    ['match(', /missing '\)'/],
    ['match', /match needs a pattern/],
    ['bool(1)', /'bool' takes no arguments/],
    ['Str', /unknown type 'Str' \(did you mean 'str'\?\)/],
    ['strng', /unknown type 'strng' \(did you mean 'str'\?\)/],
    ['integer', /did you mean 'int'/],
    ['str??', /unknown type|unexpected/],
    ['device(tty)', /device\(subsystem=NAME\)/],
    ['device(subsystem=TTY)', /lowercase NAME/],
    ['float(1.,2)', /bounds of float\(min,max\) must be numbers, got '1\.'/],
    ['str(1,2)x', /missing '\)'|unexpected/],
  ];
  for (const [text, message] of cases) {
    const parsed = parseSchemaElement(text, '2026');
    assert.equal(parsed.ok, false, text);
    assert.match(parsed.ok ? '' : parsed.message, message, text);
  }
  // 2025.06 knew no negative bounds and took any run of digits and dots for floats.
  assert.equal(parseSchemaElement('int(-5,5)', '2025').ok, false);
  assert.match((parseSchemaElement('int(-5,5)', '2025') as { message: string }).message, /need Supervisor 2026/);
  assert.equal(parseSchemaElement('float(1.,2)', '2025').ok, true);
  assert.equal(parseSchemaElement('float(1.2.3,)', '2025').ok, false);
});

/** Strings near the grammar: every prefix/suffix combination of its pieces, plus noise. */
function* candidates(): Generator<string> {
  const heads = ['', 'bool', 'email', 'url', 'port', 'device', 'str', 'password', 'int', 'float', 'match', 'list', 'Str', 'strx', 'x'];
  const args = ['', '()', '(,)', '(1,)', '(,2)', '(1,2)', '(-1,2)', '(1,-2)', '(a,b)', '(1.5,)', '(.5,1)', '(1.,2)', '(1.2.3,)', '(-.5,)', '(1,2,3)', '(5)', '( 1,2)',
    '(subsystem=tty)', '(subsystem=TTY)', '(subsystem=)', '(^a$)', '(a|b)', '(|)', '(a)b)', '(', ')', '(()', '(a)?'];
  const tails = ['', '?', '??', ' ', '\n', '\n\n', 'x', ')'];
  for (const h of heads) for (const a of args) for (const t of tails) yield h + a + t;
}

test('the parser accepts exactly what RE_SCHEMA_ELEMENT accepts, in both eras', () => {
  let count = 0;
  for (const era of ['2026', '2025'] as const) {
    // Python's `$` also matches before a final newline; JavaScript's does not.
    const spec = (s: string) => ERA_RULES[era].schemaElementPattern.test(s.endsWith('\n') ? s.slice(0, -1) : s);
    for (const text of candidates()) {
      const parsed = parseSchemaElement(text, era);
      // A bound the pattern accepts but Python's float() cannot read is refused by the parser: it fails at start.
      if (!parsed.ok && /is not a number/.test(parsed.message)) continue;
      assert.equal(parsed.ok, spec(text), `${era} ${JSON.stringify(text)}: parser ${parsed.ok ? 'accepts' : 'refuses: ' + parsed.message}`);
      count++;
    }
  }
  assert.ok(count > 5000);
});

test('schema nesting: 2026 nests freely (no list directly in a list), 2025 two levels', () => {
  const keyIsString = () => true;
  const deep = { a: { b: { c: 'str' } }, l: [{ x: ['int'] }], bad: [['str']] };
  const r2026 = parseOptionsSchema(deep, { era: '2026', keyIsString });
  assert.deepEqual(r2026.problems.map((p) => [p.path.join('.'), p.code]), [['schema.bad.0', 'schema-nesting']]);
  const r2025 = parseOptionsSchema(deep, { era: '2025', keyIsString });
  assert.deepEqual(
    r2025.problems.map((p) => [p.path.join('.'), p.code]),
    [['schema.a.b', 'schema-nesting'], ['schema.bad.0', 'schema-nesting']],
  );
  const lists = parseOptionsSchema({ e: [], two: ['str', 'int'] }, { era: '2026', keyIsString });
  assert.deepEqual(lists.problems.map((p) => [p.code, p.severity]), [['schema-empty-list', 'error'], ['schema-list-extra', 'warning']]);
  const numericKey = parseOptionsSchema({ 8080: 'str' }, { era: '2026', keyIsString: () => false });
  assert.equal(numericKey.problems[0]!.code, 'schema-key-type');
});

test('option values are checked with the Supervisor semantics of each type', () => {
  const ok = (text: string, value: unknown) => assert.equal(elementProblem(value, element(text)), null, `${text} accepts ${JSON.stringify(value)}`);
  const bad = (text: string, value: unknown) => assert.notEqual(elementProblem(value, element(text)), null, `${text} refuses ${JSON.stringify(value)}`);
  ok('str', 'x'); bad('str', 5); bad('str', true); ok('str(2,3)', 'ab'); bad('str(2,3)', 'abcd'); ok('str(,2)', '🏠🏠');
  ok('int', 5); ok('int', '7'); ok('int', ' 7 '); ok('int', 2.9); ok('int', true); bad('int', '2.5'); bad('int', 'x'); bad('int(1,5)', 9);
  ok('int(-5,5)', -5); bad('int(-5,5)', -6);
  ok('float', '1e3'); ok('float', 'inf'); ok('float(0,1)', 0.5); bad('float(0,1)', 'nan'); bad('float', 'one');
  ok('bool', true); ok('bool', 'on'); ok('bool', 'Enable'); ok('bool', 0); bad('bool', 'maybe');
  ok('email', 'me@example.com'); bad('email', 'me@'); bad('email', 'me@localhost'); ok('email', 'me@[10.0.0.1]');
  ok('url', 'https://example.com/x'); ok('url', 'mqtt://broker:1883'); bad('url', 'example.com'); bad('url', 'http://[HOST]:8080');
  ok('port', 1); ok('port', '65535'); bad('port', 0); bad('port', 65536);
  ok('match(^[a-z]+$)', 'abc'); bad('match(^[a-z]+$)', 'ab1'); ok('match(a)', 'abc'); ok('match(\\d+)', 12);
  ok('match(^ab$)', 'ab\n'); bad('match(^ab\\Z)', 'ab\n'); ok('match((?P<x>a)(?P=x))', 'aa');
  ok('list(a|b)', 'b'); bad('list(a|b)', 'c'); ok('list(True|False)', true); ok('list(1|2)', 1); bad('list(str)', []);
  ok('device', '/dev/ttyUSB0'); bad('device', 5);
  bad('', 'anything');
});

test('option defaults: nested lists and maps, unknown options, values left for the user', () => {
  const { root } = parseOptionsSchema(
    { servers: [{ host: 'str', port: 'port' }], mqtt: { user: 'str?' }, token: 'str', level: 'list(a|b)?', gone: 'str?' },
    { era: '2026', keyIsString: () => true },
  );
  const problems = checkOptions(
    { servers: [{ host: 'a', port: 99999 }, { host: 1 }], mqtt: { user: 'u', typo: 1 }, token: null, level: null, extra: 2, '!': 1 },
    root,
    { era: '2026', isFloat: () => false },
  );
  const seen = problems.map((p) => [p.path.join('.'), p.code]);
  assert.deepEqual(seen, [
    ['options.servers.0.port', 'option-invalid'],
    ['options.servers.1.host', 'option-invalid'],
    ['options.mqtt.typo', 'unknown-option'],
    ['options.level', 'option-null'],
    ['options.extra', 'unknown-option'],
    ['options.!', 'unknown-option'],
  ]);
  assert.ok(problems.every((p) => p.severity === 'warning'));
  // Secrets are resolved by the Supervisor at start; nothing to check here.
  assert.deepEqual(checkOptions({ token: '!secret my_token' }, parseOptionsSchema({ token: 'int' }, { era: '2026', keyIsString: () => true }).root, { era: '2026', isFloat: () => false }), []);
});
