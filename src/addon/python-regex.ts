/**
 * Python's `re` for str patterns, as the Supervisor uses it: `re.compile(pattern)` (vol.Match, and the
 * Supervisor's own patterns) and `.match(text)`, anchored at the start. JavaScript's RegExp differs from
 * Python's in too many places (scoped flags, `(?x)`, conditionals, `\Z`, `$` before a final newline,
 * case-insensitive classes, captures kept across repetitions, `\B` on empty text, lookbehind widths), so
 * this is an engine of its own: a parser that refuses exactly what CPython 3.11+'s `re._parser` and
 * `re._compiler` refuse (with their messages), and a backtracking matcher with `_sre`'s semantics
 * (Unicode `\w`, `\d`, `\s`, `\b`; IGNORECASE by simple lower/upper case mappings with `_sre`'s extra
 * case equivalences). Proved against Python on generated patterns in test/unit-python-regex.test.ts.
 */

/** Python's flag values (re.I, re.L, re.M, re.S, re.U, re.X, re.A). */
const FLAG = { i: 2, L: 4, m: 8, s: 16, u: 32, x: 64, a: 256 } as const;
const TYPE_FLAGS = FLAG.a | FLAG.L | FLAG.u;
/** _sre.MAXREPEAT on 64-bit builds. */
const MAXREPEAT = 4294967295;
const MAXWIDTH = 2 ** 64;

type Category = 'd' | 'D' | 's' | 'S' | 'w' | 'W';
type SetItem = { t: 'lit'; cp: number } | { t: 'range'; lo: number; hi: number } | { t: 'cat'; cat: Category };
type AtKind = 'begin' | 'beginString' | 'end' | 'endString' | 'boundary' | 'nonBoundary';

type Node =
  | { t: 'lit'; cp: number; not: boolean }
  | { t: 'in'; items: SetItem[]; not: boolean }
  | { t: 'any' }
  | { t: 'at'; at: AtKind }
  | { t: 'branch'; alts: Node[][] }
  | { t: 'group'; gid: number | null; add: number; del: number; body: Node[] }
  | { t: 'atomic'; body: Node[] }
  | { t: 'repeat'; min: number; max: number; mode: 'greedy' | 'lazy' | 'possessive'; body: Node[] }
  | { t: 'ref'; gid: number }
  | { t: 'assert'; behind: boolean; not: boolean; body: Node[]; back?: number }
  | { t: 'cond'; gid: number; yes: Node[]; no: Node[] | null };

/** What `re.compile` raises for a pattern it refuses: re.error, OverflowError or ValueError. */
export class PythonRegexError extends Error {
  constructor(
    message: string,
    readonly exception: 're.error' | 'OverflowError' | 'ValueError',
    readonly position?: number,
  ) {
    super(message);
  }
}

// --- parsing (re._parser) ----------------------------------------------------------------------------

const DIGITS = '0123456789';
const OCTDIGITS = '01234567';
const HEXDIGITS = '0123456789abcdefABCDEF';
const ASCIILETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const WHITESPACE = ' \t\n\r\v\f';
const SPECIAL_CHARS = '.\\[{()*+?^$|';
const ESCAPES: Record<string, number> = { '\\a': 7, '\\b': 8, '\\f': 12, '\\n': 10, '\\r': 13, '\\t': 9, '\\v': 11, '\\\\': 92 };
const CATEGORY_ESCAPES: Record<string, Node> = {
  '\\A': { t: 'at', at: 'beginString' },
  '\\b': { t: 'at', at: 'boundary' },
  '\\B': { t: 'at', at: 'nonBoundary' },
  '\\Z': { t: 'at', at: 'endString' },
};

/** Python's tokenizer: one character, or a backslash and the character after it. */
class Source {
  readonly chars: string[];
  index = 0;
  next: string | null = null;
  constructor(readonly pattern: string) {
    this.chars = [...pattern];
    this.advance();
  }
  private advance(): void {
    let index = this.index;
    let char = this.chars[index];
    if (char === undefined) {
      this.next = null;
      return;
    }
    if (char === '\\') {
      index++;
      const after = this.chars[index];
      if (after === undefined) throw new PythonRegexError('bad escape (end of pattern)', 're.error', this.chars.length - 1);
      char += after;
    }
    this.index = index + 1;
    this.next = char;
  }
  match(char: string): boolean {
    if (char === this.next) {
      this.advance();
      return true;
    }
    return false;
  }
  get(): string | null {
    const now = this.next;
    this.advance();
    return now;
  }
  getWhile(n: number, allowed: string): string {
    let result = '';
    for (let i = 0; i < n; i++) {
      const c = this.next;
      if (c === null || c.length !== 1 || !allowed.includes(c)) break;
      result += c;
      this.advance();
    }
    return result;
  }
  getUntil(terminator: string, name: string): string {
    let result = '';
    for (;;) {
      const c = this.next;
      this.advance();
      if (c === null) {
        if (!result) throw this.error(`missing ${name}`);
        throw this.error(`missing ${terminator}, unterminated name`, result.length);
      }
      if (c === terminator) {
        if (!result) throw this.error(`missing ${name}`, 1);
        break;
      }
      result += c;
    }
    return result;
  }
  tell(): number {
    return this.index - (this.next === null ? 0 : [...this.next].length);
  }
  seek(index: number): void {
    this.index = index;
    this.advance();
  }
  error(message: string, offset = 0): PythonRegexError {
    return new PythonRegexError(message, 're.error', this.tell() - offset);
  }
}

class State {
  flags = 0;
  groupNames = new Map<string, number>();
  /** Widths of closed groups; null while a group is open. Index 0 is the whole match. */
  groupWidths: ([number, number] | null)[] = [null];
  lookbehindGroups: number | null = null;
  groupRefPositions = new Map<number, number>();
  get groups(): number {
    return this.groupWidths.length;
  }
  openGroup(name: string | null, source: Source): number {
    const gid = this.groups;
    this.groupWidths.push(null);
    if (name !== null) {
      const other = this.groupNames.get(name);
      if (other !== undefined) throw source.error(`redefinition of group name ${pyRepr(name)} as group ${gid}; was group ${other}`, [...name].length + 1);
      this.groupNames.set(name, gid);
    }
    return gid;
  }
  checkGroup(gid: number): boolean {
    return gid < this.groups && this.groupWidths[gid] !== null;
  }
  checkLookbehindGroup(gid: number, source: Source): void {
    if (this.lookbehindGroups === null) return;
    if (!this.checkGroup(gid)) throw source.error('cannot refer to an open group');
    if (gid >= this.lookbehindGroups) throw source.error('cannot refer to group defined in the same lookbehind subpattern');
  }
}

function pyRepr(text: string): string {
  return text.includes("'") && !text.includes('"') ? `"${text}"` : `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Python's str.isidentifier(), near enough: XID_Start or '_' first, XID_Continue after. */
function isIdentifier(name: string): boolean {
  return /^[\p{XID_Start}_]\p{XID_Continue}*$/u.test(name);
}

function checkGroupName(source: Source, name: string, offset: number): void {
  if (!isIdentifier(name)) throw source.error(`bad character in group name ${pyRepr(name)}`, [...name].length + offset);
}

function classEscape(source: Source, escape: string): SetItem {
  const code = ESCAPES[escape];
  if (code !== undefined) return { t: 'lit', cp: code };
  const c = escape[1]!;
  if ('dDsSwW'.includes(c)) return { t: 'cat', cat: c as Category };
  return { t: 'lit', cp: numericEscape(source, escape, true) };
}

/** \x, \u, \U, \N{...} and octal escapes; else a literal punctuation character or "bad escape". */
function numericEscape(source: Source, escape: string, inClass: boolean): number {
  const c = escape[1]!;
  if (c === 'x' || c === 'u' || c === 'U') {
    const width = c === 'x' ? 2 : c === 'u' ? 4 : 8;
    escape += source.getWhile(width, HEXDIGITS);
    if (escape.length !== width + 2) throw source.error(`incomplete escape ${escape}`, escape.length);
    const value = parseInt(escape.slice(2), 16);
    if (value > 0x10ffff) throw source.error(`bad escape ${escape}`, escape.length);
    return value;
  }
  if (c === 'N') {
    if (!source.match('{')) throw source.error('missing {');
    const name = source.getUntil('}', 'character name');
    const value = lookupCharacterName(name);
    if (value === null) throw source.error(`undefined character name ${pyRepr(name)}`, [...name].length + 4);
    return value;
  }
  if (inClass && OCTDIGITS.includes(c)) {
    escape += source.getWhile(2, OCTDIGITS);
    const value = parseInt(escape.slice(1), 8);
    if (value > 0o377) throw source.error(`octal escape value ${escape} outside of range 0-0o377`, escape.length);
    return value;
  }
  if (escape.length === 2 && !DIGITS.includes(c)) {
    if (ASCIILETTERS.includes(c)) throw source.error(`bad escape ${escape}`, escape.length);
    return escape.codePointAt(1)!;
  }
  throw source.error(`bad escape ${escape}`, escape.length);
}

function escapeOutside(source: Source, escape: string, state: State): Node {
  const at = CATEGORY_ESCAPES[escape];
  if (at) return { ...at };
  const c = escape[1]!;
  if ('dDsSwW'.includes(c)) return { t: 'in', items: [{ t: 'cat', cat: c as Category }], not: false };
  const code = ESCAPES[escape];
  if (code !== undefined) return { t: 'lit', cp: code, not: false };
  if (c === '0') {
    escape += source.getWhile(2, OCTDIGITS);
    return { t: 'lit', cp: parseInt(escape.slice(1), 8), not: false };
  }
  if (DIGITS.includes(c)) {
    // An octal escape or a group reference.
    if (source.next !== null && DIGITS.includes(source.next)) {
      escape += source.get();
      if (OCTDIGITS.includes(escape[1]!) && OCTDIGITS.includes(escape[2]!) && source.next !== null && OCTDIGITS.includes(source.next)) {
        escape += source.get();
        const value = parseInt(escape.slice(1), 8);
        if (value > 0o377) throw source.error(`octal escape value ${escape} outside of range 0-0o377`, escape.length);
        return { t: 'lit', cp: value, not: false };
      }
    }
    const group = parseInt(escape.slice(1), 10);
    if (group < state.groups) {
      if (!state.checkGroup(group)) throw source.error('cannot refer to an open group', escape.length);
      state.checkLookbehindGroup(group, source);
      return { t: 'ref', gid: group };
    }
    throw source.error(`invalid group reference ${group}`, escape.length - 1);
  }
  return { t: 'lit', cp: numericEscape(source, escape, false), not: false };
}

function parseSub(source: Source, state: State, verbose: boolean, nested: number): Node[] {
  const items: Node[][] = [];
  for (;;) {
    items.push(parseSequence(source, state, verbose, nested + 1, nested === 0 && items.length === 0));
    if (!source.match('|')) break;
    if (nested === 0) verbose = (state.flags & FLAG.x) !== 0;
  }
  return items.length === 1 ? items[0]! : [{ t: 'branch', alts: items }];
}

function parseSequence(source: Source, state: State, verbose: boolean, nested: number, first: boolean): Node[] {
  const out: Node[] = [];
  for (;;) {
    const here0 = source.next;
    if (here0 === null || here0 === '|' || here0 === ')') break;
    const self = source.get()!;
    if (verbose) {
      if (WHITESPACE.includes(self)) continue;
      if (self === '#') {
        for (;;) {
          const c = source.get();
          if (c === null || c === '\n') break;
        }
        continue;
      }
    }
    if (self[0] === '\\') {
      out.push(escapeOutside(source, self, state));
    } else if (!SPECIAL_CHARS.includes(self)) {
      out.push({ t: 'lit', cp: self.codePointAt(0)!, not: false });
    } else if (self === '[') {
      out.push(parseSet(source));
    } else if ('*+?{'.includes(self)) {
      const here = source.tell();
      let min: number;
      let max: number;
      if (self === '?') [min, max] = [0, 1];
      else if (self === '*') [min, max] = [0, MAXREPEAT];
      else if (self === '+') [min, max] = [1, MAXREPEAT];
      else {
        if (source.next === '}') {
          out.push({ t: 'lit', cp: 123, not: false });
          continue;
        }
        [min, max] = [0, MAXREPEAT];
        let lo = '';
        let hi = '';
        while (source.next !== null && DIGITS.includes(source.next)) lo += source.get();
        if (source.match(',')) {
          while (source.next !== null && DIGITS.includes(source.next)) hi += source.get();
        } else hi = lo;
        if (!source.match('}')) {
          out.push({ t: 'lit', cp: 123, not: false });
          source.seek(here);
          continue;
        }
        if (lo) {
          min = Number(lo);
          if (min >= MAXREPEAT) throw new PythonRegexError('the repetition number is too large', 'OverflowError');
        }
        if (hi) {
          max = Number(hi);
          if (max >= MAXREPEAT) throw new PythonRegexError('the repetition number is too large', 'OverflowError');
          if (max < min) throw source.error('min repeat greater than max repeat', source.tell() - here);
        }
      }
      const item = out[out.length - 1];
      if (!item || item.t === 'at') throw source.error('nothing to repeat', source.tell() - here + self.length);
      if (item.t === 'repeat') throw source.error('multiple repeat', source.tell() - here + self.length);
      const body = item.t === 'group' && item.gid === null && !item.add && !item.del ? item.body : [item];
      const mode = source.match('?') ? 'lazy' : source.match('+') ? 'possessive' : 'greedy';
      out[out.length - 1] = { t: 'repeat', min, max, mode, body };
    } else if (self === '.') {
      out.push({ t: 'any' });
    } else if (self === '(') {
      const start = source.tell() - 1;
      let capture = true;
      let atomic = false;
      let name: string | null = null;
      let add = 0;
      let del = 0;
      if (source.match('?')) {
        const char = source.get();
        if (char === null) throw source.error('unexpected end of pattern');
        if (char === 'P') {
          if (source.match('<')) {
            name = source.getUntil('>', 'group name');
            checkGroupName(source, name, 1);
          } else if (source.match('=')) {
            const ref = source.getUntil(')', 'group name');
            checkGroupName(source, ref, 1);
            const gid = state.groupNames.get(ref);
            if (gid === undefined) throw source.error(`unknown group name ${pyRepr(ref)}`, [...ref].length + 1);
            if (!state.checkGroup(gid)) throw source.error('cannot refer to an open group', [...ref].length + 1);
            state.checkLookbehindGroup(gid, source);
            out.push({ t: 'ref', gid });
            continue;
          } else {
            const next = source.get();
            if (next === null) throw source.error('unexpected end of pattern');
            throw source.error(`unknown extension ?P${next}`, next.length + 2);
          }
        } else if (char === ':') {
          capture = false;
        } else if (char === '#') {
          for (;;) {
            if (source.next === null) throw source.error('missing ), unterminated comment', source.tell() - start);
            if (source.get() === ')') break;
          }
          continue;
        } else if ('=!<'.includes(char)) {
          let behind = false;
          let kind = char;
          let outerLookbehind: number | null = null;
          if (char === '<') {
            const next = source.get();
            if (next === null) throw source.error('unexpected end of pattern');
            if (!'=!'.includes(next)) throw source.error(`unknown extension ?<${next}`, next.length + 2);
            kind = next;
            behind = true;
            outerLookbehind = state.lookbehindGroups;
            if (outerLookbehind === null) state.lookbehindGroups = state.groups;
          }
          const body = parseSub(source, state, verbose, nested + 1);
          if (behind && outerLookbehind === null) state.lookbehindGroups = null;
          if (!source.match(')')) throw source.error('missing ), unterminated subpattern', source.tell() - start);
          out.push({ t: 'assert', behind, not: kind === '!', body });
          continue;
        } else if (char === '(') {
          const condName = source.getUntil(')', 'group name');
          let gid: number;
          if (isIdentifier(condName)) {
            const known = state.groupNames.get(condName);
            if (known === undefined) throw source.error(`unknown group name ${pyRepr(condName)}`, [...condName].length + 1);
            gid = known;
          } else {
            // int(): Unicode digits, surrounding spaces, underscores between digits.
            const text = condName.trim();
            if (!/^[-+]?\p{Nd}+(?:_\p{Nd}+)*$/u.test(text)) throw source.error(`bad character in group name ${pyRepr(condName)}`, [...condName].length + 1);
            gid = Number(text.replace(/_/g, '').replace(/\p{Nd}/gu, (d) => String(digitValue(d))));
            if (gid < 0) throw source.error(`bad character in group name ${pyRepr(condName)}`, [...condName].length + 1);
            if (gid === 0) throw source.error('bad group number', [...condName].length + 1);
            if (gid >= 2 ** 31 - 1) throw source.error(`invalid group reference ${gid}`, [...condName].length + 1);
            if (!state.groupRefPositions.has(gid)) state.groupRefPositions.set(gid, source.tell() - [...condName].length - 1);
          }
          state.checkLookbehindGroup(gid, source);
          const yes = parseSequence(source, state, verbose, nested + 1, false);
          let no: Node[] | null = null;
          if (source.match('|')) {
            no = parseSequence(source, state, verbose, nested + 1, false);
            if (source.next === '|') throw source.error('conditional backref with more than two branches');
          }
          if (!source.match(')')) throw source.error('missing ), unterminated subpattern', source.tell() - start);
          out.push({ t: 'cond', gid, yes, no });
          continue;
        } else if (char === '>') {
          capture = false;
          atomic = true;
        } else if ('aiLmsux'.includes(char) || char === '-') {
          const flags = parseFlags(source, state, char);
          if (flags === null) {
            if (!first || out.length > 0) throw source.error('global flags not at the start of the expression', source.tell() - start);
            verbose = (state.flags & FLAG.x) !== 0;
            continue;
          }
          [add, del] = flags;
          capture = false;
        } else {
          throw source.error(`unknown extension ?${char}`, char.length + 1);
        }
      }
      const gid = capture ? state.openGroup(name, source) : null;
      const subVerbose = (verbose || (add & FLAG.x) !== 0) && (del & FLAG.x) === 0;
      const body = parseSub(source, state, subVerbose, nested + 1);
      if (!source.match(')')) throw source.error('missing ), unterminated subpattern', source.tell() - start);
      if (gid !== null) state.groupWidths[gid] = width(body, state);
      out.push(atomic ? { t: 'atomic', body } : { t: 'group', gid, add, del, body });
    } else if (self === '^') {
      out.push({ t: 'at', at: 'begin' });
    } else if (self === '$') {
      out.push({ t: 'at', at: 'end' });
    }
  }
  return out;
}

function parseSet(source: Source): Node {
  const here = source.tell() - 1;
  const items: SetItem[] = [];
  const not = source.match('^');
  for (;;) {
    const self = source.get();
    if (self === null) throw source.error('unterminated character set', source.tell() - here);
    if (self === ']' && items.length > 0) break;
    const code1 = self[0] === '\\' ? classEscape(source, self) : ({ t: 'lit', cp: self.codePointAt(0)! } as SetItem);
    if (source.match('-')) {
      const that = source.get();
      if (that === null) throw source.error('unterminated character set', source.tell() - here);
      if (that === ']') {
        items.push(code1, { t: 'lit', cp: 45 });
        break;
      }
      const code2 = that[0] === '\\' ? classEscape(source, that) : ({ t: 'lit', cp: that.codePointAt(0)! } as SetItem);
      if (code1.t !== 'lit' || code2.t !== 'lit' || code2.cp < code1.cp) {
        throw source.error(`bad character range ${self}-${that}`, [...self].length + 1 + [...that].length);
      }
      items.push({ t: 'range', lo: code1.cp, hi: code2.cp });
    } else {
      items.push(code1);
    }
  }
  if (items.length === 1 && items[0]!.t === 'lit') return { t: 'lit', cp: items[0]!.cp, not };
  return { t: 'in', items, not };
}

function parseFlags(source: Source, state: State, first: string): [number, number] | null {
  let add = 0;
  let del = 0;
  let char: string | null = first;
  if (char !== '-') {
    for (;;) {
      if (char === 'L') throw source.error("bad inline flags: cannot use 'L' flag with a str pattern");
      const flag = FLAG[char as keyof typeof FLAG];
      add |= flag;
      if (flag & TYPE_FLAGS && (add & TYPE_FLAGS) !== flag) throw source.error("bad inline flags: flags 'a', 'u' and 'L' are incompatible");
      char = source.get();
      if (char === null) throw source.error('missing -, : or )');
      if (')-:'.includes(char)) break;
      if (!'aiLmsux'.includes(char)) throw source.error(/^\p{L}$/u.test(char) ? 'unknown flag' : 'missing -, : or )', char.length);
    }
  }
  if (char === ')') {
    state.flags |= add;
    return null;
  }
  if (char === '-') {
    char = source.get();
    if (char === null) throw source.error('missing flag');
    if (!'aiLmsux'.includes(char)) throw source.error(/^\p{L}$/u.test(char) ? 'unknown flag' : 'missing flag', char.length);
    for (;;) {
      const flag = FLAG[char as keyof typeof FLAG];
      if (flag & TYPE_FLAGS) throw source.error("bad inline flags: cannot turn off flags 'a', 'u' and 'L'");
      del |= flag;
      char = source.get();
      if (char === null) throw source.error('missing :');
      if (char === ':') break;
      if (!'aiLmsux'.includes(char)) throw source.error(/^\p{L}$/u.test(char) ? 'unknown flag' : 'missing :', char.length);
    }
  }
  if (add & del) throw source.error('bad inline flags: flag turned on and off', 1);
  return [add, del];
}

/** SubPattern.getwidth(): the least and most characters a sequence can match. */
function width(nodes: Node[], state: State): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const node of nodes) {
    switch (node.t) {
      case 'branch': {
        let i = MAXWIDTH;
        let j = 0;
        for (const alt of node.alts) {
          const [l, h] = width(alt, state);
          i = Math.min(i, l);
          j = Math.max(j, h);
        }
        lo += i;
        hi += j;
        break;
      }
      case 'atomic':
      case 'group': {
        const [l, h] = width(node.body, state);
        lo += l;
        hi += h;
        break;
      }
      case 'repeat': {
        const [l, h] = width(node.body, state);
        lo += l * node.min;
        if (node.max === MAXREPEAT && h) hi = MAXWIDTH;
        else hi += h * node.max;
        break;
      }
      case 'lit':
      case 'in':
      case 'any':
        lo += 1;
        hi += 1;
        break;
      case 'ref': {
        const [l, h] = state.groupWidths[node.gid] ?? [0, 0];
        lo += l;
        hi += h;
        break;
      }
      case 'cond': {
        let [l, h] = width(node.yes, state);
        if (node.no) {
          const [l2, h2] = width(node.no, state);
          l = Math.min(l, l2);
          h = Math.max(h, h2);
        } else l = 0;
        lo += l;
        hi += h;
        break;
      }
      default:
        break;
    }
  }
  return [Math.min(lo, MAXWIDTH), Math.min(hi, MAXWIDTH)];
}

/** re._compiler's checks: lookbehinds need a fixed width. */
function checkLookbehinds(nodes: Node[], state: State): void {
  for (const node of nodes) {
    switch (node.t) {
      case 'assert':
        if (node.behind) {
          const [lo, hi] = width(node.body, state);
          if (lo > MAXREPEAT) throw new PythonRegexError('looks too much behind', 're.error');
          if (lo !== hi) throw new PythonRegexError('look-behind requires fixed-width pattern', 're.error');
          node.back = lo;
        }
        checkLookbehinds(node.body, state);
        break;
      case 'branch':
        node.alts.forEach((alt) => checkLookbehinds(alt, state));
        break;
      case 'group':
      case 'atomic':
      case 'repeat':
        checkLookbehinds(node.body, state);
        break;
      case 'cond':
        checkLookbehinds(node.yes, state);
        if (node.no) checkLookbehinds(node.no, state);
        break;
      default:
        break;
    }
  }
}

// --- characters (_sre) -------------------------------------------------------------------------------

/** The value of a Unicode decimal digit: decimal digits come in runs of ten, from zero to nine. */
function digitValue(d: string): number {
  const code = d.codePointAt(0)!;
  let start = code;
  while (start > 0 && /\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
  return (code - start) % 10;
}

/**
 * _sre's case mappings: CPython keeps the first character of the full mapping as the simple one
 * (lower('İ') is 'i', upper('ß') is 'S'), which is what JavaScript's full mappings start with.
 */
function lower(cp: number): number {
  if (cp < 128) return cp >= 65 && cp <= 90 ? cp + 32 : cp;
  return String.fromCodePoint(cp).toLowerCase().codePointAt(0)!;
}
function upper(cp: number): number {
  if (cp < 128) return cp >= 97 && cp <= 122 ? cp - 32 : cp;
  return String.fromCodePoint(cp).toUpperCase().codePointAt(0)!;
}
function isCased(cp: number): boolean {
  return cp !== lower(cp) || cp !== upper(cp);
}

let extraCases: Map<number, number[]> | null = null;
/**
 * re._casefix._EXTRA_CASES: lowercase characters that share their (full) uppercase with other lowercase
 * characters ('i' and 'ı', 's' and 'ſ', 'μ' and 'µ', ...), computed once when a pattern ignores case.
 */
function extraCasesOf(cp: number): number[] | undefined {
  if (!extraCases) {
    const groups = new Map<string, number[]>();
    for (let c = 0; c < 0x20000; c++) {
      if ((c >= 0xd800 && c <= 0xdfff) || lower(c) !== c) continue;
      const text = String.fromCodePoint(c);
      const up = text.toUpperCase();
      if (up === text) continue;
      const group = groups.get(up);
      if (group) group.push(c);
      else groups.set(up, [c]);
    }
    extraCases = new Map();
    for (const group of groups.values()) {
      if (group.length > 1) for (const c of group) extraCases.set(c, group.filter((other) => other !== c));
    }
  }
  return extraCases.get(cp);
}

const UNICODE_WORD = /^[\p{L}\p{N}_]$/u;
const UNICODE_DIGIT = /^\p{Nd}$/u;
/** str.isspace(): bidirectional classes WS, B and S, and category Zs. */
function isUnicodeSpace(cp: number): boolean {
  return (cp >= 9 && cp <= 13) || (cp >= 0x1c && cp <= 0x20) || cp === 0x85 || cp === 0xa0 || cp === 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp === 0x2028 || cp === 0x2029 || cp === 0x202f || cp === 0x205f || cp === 0x3000;
}
function isWord(cp: number, ascii: boolean): boolean {
  if (cp < 128) return (cp >= 48 && cp <= 57) || (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122) || cp === 95;
  return !ascii && UNICODE_WORD.test(String.fromCodePoint(cp));
}
function inCategory(cat: Category, cp: number, ascii: boolean): boolean {
  switch (cat) {
    case 'd':
      return cp < 128 ? cp >= 48 && cp <= 57 : !ascii && UNICODE_DIGIT.test(String.fromCodePoint(cp));
    case 'D':
      return !inCategory('d', cp, ascii);
    case 's':
      return ascii ? cp === 32 || (cp >= 9 && cp <= 13) : isUnicodeSpace(cp);
    case 'S':
      return !inCategory('s', cp, ascii);
    case 'w':
      return isWord(cp, ascii);
    case 'W':
      return !isWord(cp, ascii);
  }
}

/** A test of one character, as _sre compiles LITERAL, NOT_LITERAL, IN and ANY under the flags in force. */
function characterTest(node: Node & { t: 'lit' | 'in' | 'any' }, flags: number): (cp: number) => boolean {
  const ascii = (flags & FLAG.a) !== 0;
  const ignoreCase = (flags & FLAG.i) !== 0;
  if (node.t === 'any') return flags & FLAG.s ? () => true : (cp) => cp !== 10;
  if (node.t === 'lit') {
    const { cp: want, not } = node;
    if (!ignoreCase || !isCased(want)) return not ? (cp) => cp !== want : (cp) => cp === want;
    if (ascii) {
      // ascii_iscased/ascii_tolower: only A-Z and a-z fold.
      if (!((want >= 65 && want <= 90) || (want >= 97 && want <= 122))) return not ? (cp) => cp !== want : (cp) => cp === want;
      const lo = want | 32;
      return (cp) => ((cp >= 65 && cp <= 90 ? cp | 32 : cp) === lo) !== not;
    }
    const lo = lower(want);
    const others = extraCasesOf(lo);
    if (!others) return (cp) => (lower(cp) === lo) !== not;
    const accepted = new Set([lo, ...others]);
    return (cp) => accepted.has(lower(cp)) !== not;
  }
  const { items, not } = node;
  const hasCased = ignoreCase && items.some((item) => (item.t === 'lit' ? isCased(item.cp) : item.t === 'range' && rangeHasCased(item.lo, item.hi)));
  if (!hasCased) {
    return (cp) => {
      for (const item of items) {
        if (item.t === 'cat' ? inCategory(item.cat, cp, ascii) : item.t === 'lit' ? cp === item.cp : cp >= item.lo && cp <= item.hi) return !not;
      }
      return not;
    };
  }
  // _optimize_charset under IGNORECASE: BMP members go into a map through lower() (with _EXTRA_CASES);
  // a literal whose lower case is past the BMP stays as written, and a range reaching past the BMP becomes
  // RANGE_UNI_IGNORE, which also tries the character's upper case. The character is lowered first.
  const fold = ascii ? (c: number) => (c >= 65 && c <= 90 ? c | 32 : c) : lower;
  const folded = new Set<number>();
  const add = (c: number) => {
    const lo = fold(c);
    if (lo > 0xffff) return false;
    folded.add(lo);
    if (!ascii) for (const other of extraCasesOf(lo) ?? []) folded.add(other);
    return true;
  };
  const tailLiterals: number[] = [];
  const tailRanges: [number, number][] = [];
  const categories: Category[] = [];
  for (const item of items) {
    if (item.t === 'cat') categories.push(item.cat);
    else if (item.t === 'lit') {
      if (!add(item.cp)) tailLiterals.push(item.cp);
    } else {
      let c = item.lo;
      while (c <= item.hi && add(c)) c++;
      if (c <= item.hi) tailRanges.push([item.lo, item.hi]);
    }
  }
  return (cp) => {
    const lo = fold(cp);
    if (folded.has(lo) || tailLiterals.includes(lo)) return !not;
    for (const [from, to] of tailRanges) {
      const up = upper(lo);
      if ((lo >= from && lo <= to) || (up >= from && up <= to)) return !not;
    }
    for (const cat of categories) if (inCategory(cat, lo, ascii)) return !not;
    return not;
  };
}

function rangeHasCased(lo: number, hi: number): boolean {
  if (hi > 0xffff) return true;
  for (let c = lo; c <= hi; c++) if (isCased(c)) return true;
  return false;
}

// --- \N{...} -----------------------------------------------------------------------------------------

type UnicodeNames = typeof import('unicode-name');
let unicodeNames: UnicodeNames | null = null;
/** Loaded by loadCharacterNames() before a pattern with \N{...} is compiled. */
export async function loadCharacterNames(): Promise<void> {
  unicodeNames ??= await import('unicode-name');
}
const namesByText = new Map<string, number>();
let namesScannedTo = 0;
/** Names computed from the code point ("CJK UNIFIED IDEOGRAPH-4E00"): Python matches these case-sensitively. */
const ALGORITHMIC_NAME = /^(?:CJK UNIFIED IDEOGRAPH|CJK COMPATIBILITY IDEOGRAPH|TANGUT IDEOGRAPH|KHITAN SMALL SCRIPT CHARACTER|NUSHU CHARACTER|EGYPTIAN HIEROGLYPH)-([0-9A-F]{4,5})$/;

/** unicodedata.lookup(): a character's name or alias, any case; null when unknown (or names not loaded). */
function lookupCharacterName(name: string): number | null {
  if (!unicodeNames) throw new NamesNotLoaded();
  const algorithmic = ALGORITHMIC_NAME.exec(name);
  if (algorithmic) {
    const cp = parseInt(algorithmic[1]!, 16);
    return unicodeNames.unicodeBaseName(String.fromCodePoint(cp)) === name ? cp : null;
  }
  const wanted = name.toUpperCase();
  const known = namesByText.get(wanted);
  if (known !== undefined) return known;
  // Scan the code points once, as far as needed: about 0.2 s for the Basic Multilingual Plane, 0.6 s for all.
  while (namesScannedTo < 0x110000) {
    const cp = namesScannedTo++;
    const text = String.fromCodePoint(cp);
    // Unassigned, private and surrogate code points have no name; unified ideographs have computed ones.
    if (UNNAMED.test(text)) continue;
    const base = unicodeNames.unicodeBaseName(text);
    if (base && !ALGORITHMIC_NAME.test(base) && !namesByText.has(base)) namesByText.set(base, cp);
    const aliases = unicodeNames.unicodeAliases(text);
    if (aliases) for (const list of Object.values(aliases)) for (const alias of list as string[]) if (!namesByText.has(alias)) namesByText.set(alias, cp);
    if (namesByText.get(wanted) === cp) return cp;
  }
  return namesByText.get(wanted) ?? null;
}

const UNNAMED = /^[\p{Cn}\p{Co}\p{Cs}\p{Unified_Ideograph}]$/u;

class NamesNotLoaded extends Error {}

// --- matching (_sre) ---------------------------------------------------------------------------------

type Continuation = (pos: number) => boolean;
type Matcher = (pos: number, k: Continuation) => boolean;

/** More backtracking steps than this and the match is given up (a pattern exponential on this text). */
const STEP_LIMIT = 1_000_000;
class StepLimit extends Error {}

interface MatchState {
  text: number[];
  caps: number[];
  steps: number;
}

/** Captures are restored in place: matchers further out hold the same array. */
function restore(m: MatchState, saved: number[]): void {
  for (let i = 0; i < saved.length; i++) m.caps[i] = saved[i]!;
}

function combineFlags(flags: number, add: number, del: number): number {
  if (add & TYPE_FLAGS) flags &= ~TYPE_FLAGS;
  return (flags | add) & ~del;
}

class Compiler {
  constructor(readonly m: MatchState) {}

  sequence(nodes: Node[], flags: number): Matcher {
    const matchers = nodes.map((node) => this.node(node, flags));
    if (matchers.length === 0) return (pos, k) => k(pos);
    if (matchers.length === 1) return matchers[0]!;
    return matchers.reduceRight((next, m) => (pos, k) => m(pos, (q) => next(q, k)));
  }

  private tick(): void {
    if (++this.m.steps > STEP_LIMIT) throw new StepLimit();
  }

  node(node: Node, flags: number): Matcher {
    const m = this.m;
    switch (node.t) {
      case 'lit':
      case 'in':
      case 'any': {
        const test = characterTest(node, flags);
        return (pos, k) => pos < m.text.length && test(m.text[pos]!) && k(pos + 1);
      }
      case 'at':
        return this.at(node.at, flags);
      case 'branch': {
        const alts = node.alts.map((alt) => this.sequence(alt, flags));
        return (pos, k) => {
          for (const alt of alts) {
            this.tick();
            if (alt(pos, k)) return true;
          }
          return false;
        };
      }
      case 'group': {
        const body = this.sequence(node.body, combineFlags(flags, node.add, node.del));
        const gid = node.gid;
        if (gid === null) return body;
        return (pos, k) =>
          body(pos, (end) => {
            const caps = m.caps;
            const oldStart = caps[2 * gid]!;
            const oldEnd = caps[2 * gid + 1]!;
            caps[2 * gid] = pos;
            caps[2 * gid + 1] = end;
            if (k(end)) return true;
            caps[2 * gid] = oldStart;
            caps[2 * gid + 1] = oldEnd;
            return false;
          });
      }
      case 'atomic':
        return this.atomic(this.sequence(node.body, flags));
      case 'repeat':
        return this.repeat(node, flags);
      case 'ref': {
        const gid = node.gid;
        const fold = flags & FLAG.i ? (flags & FLAG.a ? (c: number) => (c >= 65 && c <= 90 ? c | 32 : c) : lower) : (c: number) => c;
        return (pos, k) => {
          const start = m.caps[2 * gid]!;
          const end = m.caps[2 * gid + 1]!;
          if (start < 0 || end < 0) return false;
          const length = end - start;
          if (pos + length > m.text.length) return false;
          for (let i = 0; i < length; i++) if (fold(m.text[start + i]!) !== fold(m.text[pos + i]!)) return false;
          return k(pos + length);
        };
      }
      case 'assert': {
        const body = this.sequence(node.body, flags);
        const back = node.back ?? 0;
        return (pos, k) => {
          const saved = m.caps.slice();
          const from = pos - back;
          const found = from >= 0 && body(from, (end) => !node.behind || end === pos);
          if (found !== node.not && k(pos)) return true;
          restore(m, saved);
          return false;
        };
      }
      case 'cond': {
        const yes = this.sequence(node.yes, flags);
        const no = node.no ? this.sequence(node.no, flags) : (pos: number, k: Continuation) => k(pos);
        const gid = node.gid;
        return (pos, k) => (m.caps[2 * gid + 1]! >= 0 ? yes(pos, k) : no(pos, k));
      }
    }
  }

  private atomic(body: Matcher): Matcher {
    const m = this.m;
    return (pos, k) => {
      const saved = m.caps.slice();
      let end = -1;
      if (body(pos, (q) => ((end = q), true)) && k(end)) return true;
      restore(m, saved);
      return false;
    };
  }

  private at(kind: AtKind, flags: number): Matcher {
    const m = this.m;
    const multiline = (flags & FLAG.m) !== 0;
    const ascii = (flags & FLAG.a) !== 0;
    const wordAt = (pos: number) => pos >= 0 && pos < m.text.length && isWord(m.text[pos]!, ascii);
    let test: (pos: number) => boolean;
    switch (kind) {
      case 'begin':
        test = multiline ? (pos) => pos === 0 || m.text[pos - 1] === 10 : (pos) => pos === 0;
        break;
      case 'beginString':
        test = (pos) => pos === 0;
        break;
      case 'end':
        test = multiline
          ? (pos) => pos === m.text.length || m.text[pos] === 10
          : (pos) => pos === m.text.length || (pos === m.text.length - 1 && m.text[pos] === 10);
        break;
      case 'endString':
        test = (pos) => pos === m.text.length;
        break;
      case 'boundary':
        test = (pos) => m.text.length > 0 && wordAt(pos - 1) !== wordAt(pos);
        break;
      case 'nonBoundary':
        // _sre: \B never matches in empty text.
        test = (pos) => m.text.length > 0 && wordAt(pos - 1) === wordAt(pos);
        break;
    }
    return (pos, k) => test(pos) && k(pos);
  }

  private repeat(node: Node & { t: 'repeat' }, flags: number): Matcher {
    const m = this.m;
    const { min, max, mode } = node;
    const single = node.body.length === 1 && ['lit', 'in', 'any'].includes(node.body[0]!.t) ? (node.body[0] as Node & { t: 'lit' | 'in' | 'any' }) : null;
    if (single) {
      // REPEAT_ONE: count the run, then give characters back one by one.
      const test = characterTest(single, flags);
      return (pos, k) => {
        const limit = Math.min(m.text.length, pos + Math.min(max, m.text.length));
        let end = pos;
        if (mode === 'lazy') {
          while (end < pos + min) {
            if (end >= limit || !test(m.text[end]!)) return false;
            end++;
          }
          for (;;) {
            this.tick();
            if (k(end)) return true;
            if (end >= limit || end - pos >= max || !test(m.text[end]!)) return false;
            end++;
          }
        }
        while (end < limit && test(m.text[end]!)) end++;
        if (end - pos < min) return false;
        if (mode === 'possessive') return k(end);
        for (; end >= pos + min; end--) {
          this.tick();
          if (k(end)) return true;
        }
        return false;
      };
    }
    const body = this.sequence(node.body, flags);
    const loop = (pos: number, count: number, k: Continuation): boolean => {
      this.tick();
      const more = (q: number) => {
        // An iteration that matched nothing ends the loop (as _sre's MAX_UNTIL does).
        if (q === pos) return count + 1 >= min ? k(q) : loop(q, min, k);
        return loop(q, count + 1, k);
      };
      if (mode === 'lazy') {
        if (count >= min && k(pos)) return true;
        return count < max && body(pos, more);
      }
      if (count < max && body(pos, more)) return true;
      return count >= min && k(pos);
    };
    const matcher: Matcher = (pos, k) => loop(pos, 0, k);
    return mode === 'possessive' ? this.atomic(matcher) : matcher;
  }
}

// --- the compiled pattern ----------------------------------------------------------------------------

export class PythonRegex {
  private readonly state: MatchState = { text: [], caps: [], steps: 0 };
  private readonly matcher: Matcher;

  constructor(
    readonly source: string,
    nodes: Node[],
    flags: number,
    private readonly groups: number,
  ) {
    this.matcher = new Compiler(this.state).sequence(nodes, flags);
  }

  /** `re.match(pattern, text)` is not None; null when the match was given up (too much backtracking). */
  match(text: string): boolean | null {
    this.run(text);
    return this.found;
  }

  private found: boolean | null = false;

  /** The match's end, or null; `found` says whether it was given up. */
  private run(text: string): number | null {
    const state = this.state;
    state.text = [];
    for (const char of text) state.text.push(char.codePointAt(0)!);
    state.caps = new Array<number>(2 * this.groups).fill(-1);
    state.steps = 0;
    let end: number | null = null;
    try {
      this.found = this.matcher(0, (pos) => ((end = pos), true));
    } catch (error) {
      if (!(error instanceof StepLimit || error instanceof RangeError)) throw error;
      this.found = null;
    }
    return end;
  }

  /** The match and its groups (undefined where a group did not take part), as RegExp.exec gives them. */
  exec(text: string): (string | undefined)[] | null {
    const end = this.run(text);
    if (end === null || this.found !== true) return null;
    const caps = this.state.caps;
    const slice = (from: number, to: number) => String.fromCodePoint(...this.state.text.slice(from, to));
    const out: (string | undefined)[] = [slice(0, end)];
    for (let g = 1; g < this.groups; g++) out.push(caps[2 * g]! >= 0 ? slice(caps[2 * g]!, caps[2 * g + 1]!) : undefined);
    return out;
  }

  /** RegExp's interface, for ajv: whether the text matches at its start. */
  test(text: string): boolean {
    return this.match(text) === true;
  }

  /** ajv tells patterns apart by this text, as it would a RegExp's. */
  toString(): string {
    return `re.compile(${JSON.stringify(this.source)})`;
  }
}

export type CompiledPythonRegex = { ok: true; regex: PythonRegex } | { ok: false; error: PythonRegexError } | { ok: false; error: null; reason: string };

const compiled = new Map<string, CompiledPythonRegex>();

/** `re.compile(pattern)` for a str pattern, cached per pattern. */
export function compilePythonRegex(pattern: string): CompiledPythonRegex {
  let result = compiled.get(pattern);
  if (!result) {
    result = compile(pattern);
    // Patterns with \N{...} are compiled again once the names are loaded.
    if (result.ok || result.error !== null) compiled.set(pattern, result);
  }
  return result;
}

function compile(pattern: string): CompiledPythonRegex {
  const state = new State();
  try {
    const source = new Source(pattern);
    const nodes = parseSub(source, state, false, 0);
    // fix_flags: a str pattern is Unicode unless ASCII; LOCALE is refused (the parser already did).
    if (state.flags & FLAG.a && state.flags & FLAG.u) throw new PythonRegexError('ASCII and UNICODE flags are incompatible', 'ValueError');
    if (!(state.flags & FLAG.a)) state.flags |= FLAG.u;
    if (source.next !== null) throw source.error('unbalanced parenthesis');
    for (const [gid, position] of state.groupRefPositions) {
      if (gid >= state.groups) throw new PythonRegexError(`invalid group reference ${gid}`, 're.error', position);
    }
    checkLookbehinds(nodes, state);
    return { ok: true, regex: new PythonRegex(pattern, nodes, state.flags, state.groups) };
  } catch (error) {
    if (error instanceof PythonRegexError) return { ok: false, error };
    if (error instanceof NamesNotLoaded) return { ok: false, error: null, reason: 'the Unicode character names are not loaded' };
    if (error instanceof RangeError) return { ok: false, error: null, reason: 'the pattern is nested too deeply' };
    throw error;
  }
}
