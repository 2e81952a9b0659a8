import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPyEmail, isPyUrl, pyBoolean, pyFloat, pyInt, pyStr, translatePythonRegex } from '../src/addon/python-values.js';

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

test('Python regular expressions translated for re.match', () => {
  const match = (pattern: string, text: string) => {
    const t = translatePythonRegex(pattern);
    assert.ok(t.ok, pattern);
    return t.regex.test(text);
  };
  assert.ok(match('abc', 'abcdef'), 're.match anchors only at the start');
  assert.ok(!match('abc', 'xabc'));
  assert.ok(match('^a$', 'a\n'), "Python's $ matches before a final newline");
  assert.ok(!match('^a\\Z', 'a\n'));
  assert.ok(match('\\Aa', 'a'));
  assert.ok(match('(?P<n>x)(?P=n)', 'xx'));
  assert.ok(match('(?i)abc', 'ABC'));
  assert.ok(match('[]a]+', ']a]'), 'a ] first in a class is a literal');
  assert.ok(match('a\\-b\\#', 'a-b#'), 'escaped punctuation is a literal');
  assert.ok(match('[$]', '$'));
  const broken = translatePythonRegex('(ab');
  assert.ok(!broken.ok && broken.broken);
  const unclosed = translatePythonRegex('[ab');
  assert.ok(!unclosed.ok && unclosed.broken);
  const verbose = translatePythonRegex('(?x) a b');
  assert.ok(!verbose.ok && !verbose.broken, 'uncheckable, not wrong');
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
