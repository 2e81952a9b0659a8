/**
 * Generated Python regular expressions and texts, for comparing the engine of src/addon/python-regex.ts
 * with Python's own `re` (test/unit-python-regex.test.ts). Seeded: the same seed gives the same cases.
 */
import { seededRandom } from './helpers.js';

/** Characters where Python's semantics are easy to get wrong: case, Unicode digits and letters, newlines. */
export const TEXT_CHARS = ['a', 'b', 'A', 'B', 'k', 'K', '\u212a', 's', 'S', '\u017f', 'i', 'I', '\u0131', '\u0130', '\u00df', '\u1e9e', '\u00e9', '\u00c9', '\u00b2', '\u0663', '1', '0', '_', '-', ' ', '\n', '\t', '\u00a0', '\u0301', '\u03c3', '\u03a3', '\u03c2', '\u{10400}', '\u{10428}', '.', '$'];

const LITERALS = ['a', 'b', 'A', 'K', 'k', 's', 'ſ', 'é', 'ß', 'ı', 'İ', '²', '٣', '_', ' ', '-', 'σ', 'Σ', '𐐀', '𐐨', '1', '\\.', '\\-', '\\$', '\\n', '\\t', '\\x41', '\\u00e9', '\\U0001F600', '\\0', '\\07', '\\101', '\\N{LATIN SMALL LETTER A}', '\\N{latin capital letter k}', '\\N{EM DASH}', '\\N{BOM}', '\\_', '\\1', '}', ']', '{', '{}', '{x}', '{,}'];
const CLASSES_AND_ESCAPES = ['\\d', '\\w', '\\s', '\\D', '\\W', '\\S', '\\b', '\\B', '\\A', '\\Z', '.', '^', '$', '[a-z]', '[^a]', '[\\d_]', '[]a]', '[^]a]', '[\\w-]', '[K]', '[ſ]', '[A-Z]', '[^A-Z]', '[k-s]', '[\\x00-\\x7f]', '[\\u0100-\\uffff]', '[𐐀-𐐁]', '[𐐀x]', '[𐐨x]', '[ -~]', '[\\b]', '[\\7]', '[a-]', '[-a]', '[\\s\\S]', '[\\N{LATIN SMALL LETTER A}-c]', '[ΣσΣ]', '[ß]', '[ẞ]', '[İ]', '[ı]', '[i]'];
const QUANTIFIERS = ['', '', '', '', '*', '+', '?', '{2}', '{1,2}', '{,3}', '{3,}', '*?', '+?', '??', '*+', '++', '?+', '{1,2}?', '{1,2}+', '{0}'];
const GROUP_OPENERS = ['(', '(?:', '(?P<n>', '(?i:', '(?-i:', '(?s:', '(?m:', '(?x:', '(?a:', '(?u:', '(?>', '(?=', '(?!', '(?<=', '(?<!', '(?#c', '(?(1)'];
const FLAGS = ['', '', '', '', '', '', '(?i)', '(?a)', '(?s)', '(?m)', '(?x)', '(?im)', '(?u)', '(?ai)'];
/** Pieces Python refuses (most of the time): one in every other pattern. */
const BAD = ['\\N{NO SUCH NAME}', '\\N', '\\x4', '\\u12', '\\q', '\\400', '\\8', '\\2', '\\11', '[a-\\d]', '[z-a]', '[\\A]', '[\\Z]', '[\\8]', '[\\777]', '[a', '[', '[^', '{2,1}', '**', '{99999999999}', '{1}{2}', '(?P<1>a)', '(?P<n>a)(?P<n>b)', '(?P=x)', '(?L:a)', '(?i-i:a)', '(?-a:a)', '(?P', '(?Q', '(?<x', '(?(n)a)', '(?(0)a)', '(?(9)a)', '(?<=a+)', '(?<=a|bc)', '(a', 'a)', '(?au)', '(?L)', '(?a)(?u)', 'a(?i)', '^(?x) a', '(?#', '(?(1)a|b|c)', '+', '^*', '(?i', '(?-)', '(?-x', '\\b+'];

export interface RegexCase {
  pattern: string;
  texts: string[];
}

/** One random pattern: flags, then atoms with quantifiers, groups and alternatives. */
export function randomPattern(random: () => number, depth = 0): string {
  const pick = <T,>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const atom = (): string => {
    const roll = random();
    if (roll < 0.35) return pick(LITERALS);
    if (roll < 0.7 || depth > 2) return pick(CLASSES_AND_ESCAPES);
    const opener = pick(GROUP_OPENERS);
    const body = randomPattern(random, depth + 1);
    return `${opener}${body}${opener.startsWith('(?(') && random() < 0.5 ? `|${randomPattern(random, depth + 1)}` : ''})`;
  };
  const parts: string[] = [];
  const count = 1 + Math.floor(random() * (depth > 0 ? 3 : 5));
  for (let i = 0; i < count; i++) {
    parts.push(atom() + pick(QUANTIFIERS));
    if (random() < 0.1) parts.push('|');
  }
  if (depth === 0 && random() < 0.5) parts.splice(Math.floor(random() * (parts.length + 1)), 0, pick(BAD));
  const body = parts.join('');
  if (depth > 0) return body;
  const head = pick(FLAGS);
  const verbose = head.includes('x') && random() < 0.5 ? ' # note\n' : '';
  return `${head}${random() < 0.3 ? '^' : ''}${body}${verbose}${random() < 0.3 ? '$' : ''}`;
}

export function randomText(random: () => number): string {
  const length = Math.floor(random() * 6);
  let text = '';
  for (let i = 0; i < length; i++) text += TEXT_CHARS[Math.floor(random() * TEXT_CHARS.length)];
  return text;
}

/** `count` patterns, each with texts built from its own pieces (so that some match) and random ones. */
export function regexCases(seed: number, count: number): RegexCase[] {
  const random = seededRandom(seed);
  const cases: RegexCase[] = [];
  for (let i = 0; i < count; i++) {
    const pattern = randomPattern(random);
    const literal = pattern.replace(/\\[a-zA-Z]|[()[\]{}?*+|^$\\]/g, '');
    const texts = ['', literal, literal + '\n', literal.toUpperCase(), literal.toLowerCase()];
    for (let j = 0; j < 5; j++) texts.push(randomText(random));
    cases.push({ pattern, texts });
  }
  return cases;
}

/** The Python side: compile each pattern and match each text, printing one JSON line per pattern. */
export const PYTHON_ORACLE = `
import json, re, sys, warnings
warnings.simplefilter('ignore')
for line in sys.stdin:
    case = json.loads(line)
    try:
        p = re.compile(case['pattern'])
    except re.error as e:
        print(json.dumps({'error': 're.error', 'message': e.msg})); continue
    except (OverflowError, ValueError, TypeError) as e:
        print(json.dumps({'error': type(e).__name__, 'message': str(e)})); continue
    except RecursionError:
        print(json.dumps({'error': 'RecursionError', 'message': ''})); continue
    print(json.dumps({'error': None, 'matches': [p.match(t) is not None for t in case['texts']]}))
`;
