import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPyEmail, isPyUrl, pyBoolean, pyFloat, pyInt, pyStr } from '../src/addon/python-values.js';
import { compilePythonRegex } from '../src/addon/python-regex.js';

test('vol.Boolean: fixed words in any case, Python truthiness for other types', () => {
  assert.deepEqual(pyBoolean('YES'), { ok: true, value: true, changed: true });
  assert.deepEqual(pyBoolean('disable'), { ok: true, value: false, changed: true });
  assert.deepEqual(pyBoolean('nope'), { ok: false });
  assert.deepEqual(pyBoolean([]), { ok: true, value: false, changed: true });
  assert.deepEqual(pyBoolean({ a: 1 }), { ok: true, value: true, changed: true });
  assert.deepEqual(pyBoolean(null), { ok: true, value: false, changed: true });
  assert.deepEqual(pyBoolean(false), { ok: true, value: false, changed: false });
});

test("Python int() and float() on what YAML gives", () => {
  assert.deepEqual(pyInt(' -1_000 '), { ok: true, value: -1000, changed: true });
  assert.deepEqual(pyInt(9.99), { ok: true, value: 9, changed: true });
  assert.deepEqual(pyInt('1__0'), { ok: false });
  assert.deepEqual(pyInt('0x10'), { ok: false });
  assert.deepEqual(pyInt(Infinity), { ok: false });
  assert.deepEqual(pyInt(null), { ok: false });
  assert.equal((pyFloat('1.5e3') as { value: number }).value, 1500);
  assert.equal((pyFloat('-Infinity') as { value: number }).value, -Infinity);
  assert.ok(Number.isNaN((pyFloat('NaN') as { value: number }).value));
  assert.deepEqual(pyFloat('1.2.3'), { ok: false });
  assert.deepEqual(pyFloat('.'), { ok: false });
  assert.equal((pyFloat('5.') as { value: number }).value, 5);
});

test("Python str() of values", () => {
  assert.equal(pyStr(true), 'True');
  assert.equal(pyStr(null), 'None');
  assert.equal(pyStr(-Infinity), '-inf');
  assert.equal(pyStr('x'), 'x');
});

test('vol.Url() and vol.Email()', () => {
  for (const good of ['http://a', 'https://example.com:8443/p?q#f', 'mqtt://user:pw@host', 'x-y+z.w://h', 'http://[::1]:80/', '  http://a']) {
    assert.ok(isPyUrl(good), good);
  }
  for (const bad of ['example.com', 'http://', '//host', 'http://[HOST]:80', 'http://[1.2.3.4]/', 'http://[::1', 'http://a[::1]', 42, null]) {
    assert.ok(!isPyUrl(bad), String(bad));
  }
  for (const good of ['a@b.co', 'first.last+tag@sub.example.org', '"quoted"@x.io', 'a@[192.168.0.1]', 'x@host-name.example']) {
    assert.ok(isPyEmail(good), good);
  }
  for (const bad of ['"quoted space"@x.io', 'a@b', '@b.co', 'a b@c.de', 'a@-b.co', 'a@b..co', 'a@[300.1.1.1]', 5]) assert.ok(!isPyEmail(bad), String(bad));
});

test('Python regular expressions for re.match: the cases the Supervisor meets', () => {
  const match = (pattern: string, text: string) => {
    const t = compilePythonRegex(pattern);
    assert.ok(t.ok, pattern);
    return t.regex.match(text);
  };
  assert.equal(match('abc', 'abcdef'), true, 're.match anchors only at the start');
  assert.equal(match('abc', 'xabc'), false);
  assert.equal(match('^a$', 'a\n'), true, "Python's $ matches before a final newline");
  assert.equal(match('^a\\Z', 'a\n'), false);
  assert.equal(match('(?P<n>x)(?P=n)', 'xx'), true);
  assert.equal(match('(?i)abc', 'ABC'), true);
  assert.equal(match('(?i)a(?-i:b)', 'Ab'), true, 'scoped flags');
  assert.equal(match('(?i)a(?-i:b)', 'AB'), false);
  assert.equal(match('(?x)^ a b $', 'ab'), true, 'verbose: spaces are not part of the pattern');
  assert.equal(match('^\\d+$', '\u00b2'), false, "'²' is a digit but not a decimal one");
  assert.equal(match('^\\w$', '\u0301'), false, 'a combining accent is not a word character');
  const refused = (pattern: string, message: string) => {
    const t = compilePythonRegex(pattern);
    assert.ok(!t.ok && t.error, pattern);
    assert.equal(t.error.message, message, pattern);
  };
  refused('(ab', 'missing ), unterminated subpattern');
  refused('a(?i)b', 'global flags not at the start of the expression');
  refused('a{2,1}', 'min repeat greater than max repeat');
  refused('a**', 'multiple repeat');
  refused('[a-\\d]', 'bad character range a-\\d');
  refused('(?P<1>a)', "bad character in group name '1'");
  refused('(?<=a+)b', 'look-behind requires fixed-width pattern');
});

test("Python's re.match, int() and float() on Unicode and newlines", async () => {
  const { pyMatch, pythonIntText, pythonFloatText } = await import('../src/addon/python-values.js');
  assert.ok(pyMatch('^[-_.A-Za-z0-9]+$', 'abc\n'), '$ matches before one final newline');
  assert.ok(!pyMatch('^[-_.A-Za-z0-9]+$', 'abc\n\n'));
  assert.ok(pyMatch('^\\d+(?:/tcp|/udp)?$', '٨٠/tcp'), 'Python\'s \\d is any decimal digit');
  assert.ok(pyMatch('^[\\-\\w{}]+$', 'é{arch}'), "Python's \\w takes letters of any script");
  assert.ok(pyMatch('^a.*$', 'a\r\n'), "Python's . matches \\r");
  assert.ok(pyMatch('x{', 'x{'), 'a { that starts no quantifier is a literal');
  assert.equal(pythonIntText('٦٠'), 60);
  assert.equal(pythonIntText(' ８０８０ '), 8080);
  assert.equal(pythonIntText('1_0'), 10);
  assert.equal(pythonIntText('1__0'), null);
  assert.equal(pythonFloatText('١.٥'), 1.5);
  assert.equal(pythonFloatText('1e5'), 100000);
});
