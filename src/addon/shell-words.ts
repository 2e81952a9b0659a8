/**
 * Docker's word processing: quote removal and variable expansion in the instruction arguments that
 * Docker expands itself (ENV, ARG, LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, COPY/ADD, FROM), as
 * BuildKit's shell lexer does it (frontend/dockerfile/shell/lex.go): 'single quotes' literal, "double
 * quotes" expanding `$` and taking the escape character before `"`, `$` and itself, the escape character
 * outside quotes taking the next character literally, and `$NAME`, `${NAME}`, `${NAME:-word}`,
 * `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`, `${NAME:?message}`, `${NAME?message}`,
 * `${NAME#pattern}`, `${NAME##pattern}`, `${NAME%pattern}`, `${NAME%%pattern}`, `${NAME/pattern/word}`,
 * `${NAME//pattern/word}`. An unset variable expands to nothing. RUN, CMD, ENTRYPOINT and HEALTHCHECK
 * are not processed here: their shell does that when the container runs.
 */

export class ShellWordError extends Error {}

export interface WordResult {
  /** The word with quotes removed and variables expanded. */
  value: string;
  /** Variables the word used that are not set (Docker expands them to nothing). */
  unset: string[];
}

const SPECIAL_PARAMETERS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

class Scanner {
  pos = 0;
  constructor(readonly chars: string[]) {}
  peek(): string | undefined {
    return this.chars[this.pos];
  }
  next(): string | undefined {
    return this.chars[this.pos++];
  }
}

/** A shell pattern (`*`, `?`, `\` escapes; no brackets) as a RegExp, as BuildKit converts it. */
function patternRegex(pattern: string, greedy: boolean, anchor: 'start' | 'end' | 'none'): RegExp {
  let out = '';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') out += greedy ? '.*' : '.*?';
    else if (ch === '?') out += '.';
    else if (ch === '\\') {
      const next = chars[i + 1];
      if (next === '}' || next === '/') continue;
      if (next !== '*' && next !== '?' && next !== '\\') throw new ShellWordError(`invalid escape '\\${next ?? ''}' in pattern ${pattern}`);
      out += '\\' + next;
      i++;
    } else out += ch.replace(/[[\]{}.+()|^$]/g, '\\$&');
  }
  if (anchor === 'start') return new RegExp('^(?:' + out + ')', 's');
  if (anchor === 'end') return new RegExp('(?:' + out + ')$', 's');
  return new RegExp(out, 's');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const match = patternRegex(pattern, greedy, 'start').exec(value);
  return match ? value.slice(match[0].length) : value;
}

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  // BuildKit reverses the value and the pattern to match the suffix from the end.
  const reverse = (s: string) => [...s].reverse().join('');
  const match = patternRegex(reverse(pattern), greedy, 'start').exec(reverse(value));
  return match ? value.slice(0, value.length - match[0].length) : value;
}

class Lexer {
  readonly unset = new Set<string>();
  constructor(
    readonly env: ReadonlyMap<string, string>,
    readonly escape: string,
  ) {}

  /** Processes until `stop` (consumed) or the end; `raw` keeps escape characters (patterns). */
  processUntil(scan: Scanner, stop: string | null, raw: boolean): string {
    let result = '';
    while (scan.peek() !== undefined) {
      const ch = scan.peek()!;
      if (stop !== null && ch === stop) {
        scan.next();
        return result;
      }
      if (ch === '$') result += this.dollar(scan);
      else if (ch === "'") result += this.singleQuoted(scan);
      else if (ch === '"') result += this.doubleQuoted(scan);
      else {
        scan.next();
        if (ch === this.escape) {
          if (raw) result += ch;
          const escaped = scan.next();
          if (escaped === undefined) break;
          result += escaped;
        } else result += ch;
      }
    }
    if (stop !== null) throw new ShellWordError(`unexpected end of statement while looking for matching ${stop}`);
    return result;
  }

  singleQuoted(scan: Scanner): string {
    scan.next();
    let result = '';
    for (;;) {
      const ch = scan.next();
      if (ch === undefined) throw new ShellWordError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return result;
      result += ch;
    }
  }

  doubleQuoted(scan: Scanner): string {
    scan.next();
    let result = '';
    for (;;) {
      const peek = scan.peek();
      if (peek === undefined) throw new ShellWordError('unexpected end of statement while looking for matching double-quote');
      if (peek === '"') {
        scan.next();
        return result;
      }
      if (peek === '$') {
        result += this.dollar(scan);
        continue;
      }
      let ch = scan.next()!;
      if (ch === this.escape) {
        const after = scan.peek();
        if (after === undefined) continue;
        if (after === '"' || after === '$' || after === this.escape) ch = scan.next()!;
      }
      result += ch;
    }
  }

  name(scan: Scanner): string {
    let name = '';
    for (;;) {
      const ch = scan.peek();
      if (ch === undefined) break;
      if (name === '' && /\p{Nd}/u.test(ch)) {
        while (scan.peek() !== undefined && /\p{Nd}/u.test(scan.peek()!)) name += scan.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMETERS.has(ch)) return scan.next()!;
      if (!/[\p{L}\p{Nd}_]/u.test(ch)) break;
      name += scan.next();
    }
    return name;
  }

  lookup(name: string): string | undefined {
    const value = this.env.get(name);
    if (value === undefined) this.unset.add(name);
    return value;
  }

  dollar(scan: Scanner): string {
    scan.next();
    if (scan.peek() !== '{') {
      const name = this.name(scan);
      if (name === '') return '$';
      return this.lookup(name) ?? '';
    }
    scan.next();
    const first = scan.peek();
    if (first === undefined) throw new ShellWordError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ShellWordError('syntax error: bad substitution');
    const name = this.name(scan);
    let ch = scan.next();
    if (ch === undefined) throw new ShellWordError("syntax error: missing '}'");
    if (ch === '}') return this.lookup(name) ?? '';
    let modifier = ch;
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = scan.next();
      if (ch === undefined) throw new ShellWordError("syntax error: missing '}'");
      modifier += ch;
    }
    if ('+-?#%'.includes(ch)) {
      const patternLike = ch === '#' || ch === '%';
      if (nullIsUnset && patternLike) throw new ShellWordError(`unsupported modifier (${modifier}) in substitution`);
      let word: string;
      try {
        word = this.processUntil(scan, '}', patternLike);
      } catch (error) {
        if (scan.peek() === undefined) throw new ShellWordError("syntax error: missing '}'");
        throw error;
      }
      const value = this.lookup(name);
      const set = value !== undefined;
      const empty = !set || (nullIsUnset && value === '');
      switch (ch) {
        case '-':
          return empty ? word : value!;
        case '+':
          return empty ? '' : word;
        case '?':
          if (!set) throw new ShellWordError(`${name}: ${word || 'is not allowed to be unset'}`);
          if (nullIsUnset && value === '') throw new ShellWordError(`${name}: ${word || 'is not allowed to be empty'}`);
          return value!;
        default: {
          const greedy = word.startsWith(ch);
          const pattern = greedy ? word.slice(1) : word;
          return ch === '%' ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy);
        }
      }
    }
    if (ch === '/' && !nullIsUnset) {
      const all = scan.peek() === '/';
      if (all) scan.next();
      let pattern: string;
      let replacement: string;
      try {
        pattern = this.processUntil(scan, '/', true);
      } catch (error) {
        if (scan.peek() === undefined) throw new ShellWordError("syntax error: missing '/' in ${}");
        throw error;
      }
      try {
        replacement = this.processUntil(scan, '}', true);
      } catch (error) {
        if (scan.peek() === undefined) throw new ShellWordError("syntax error: missing '}'");
        throw error;
      }
      const value = this.lookup(name) ?? '';
      const regex = patternRegex(pattern, true, 'none');
      if (all) return value.replace(new RegExp(regex.source, 'gs'), () => replacement);
      return value.replace(regex, () => replacement);
    }
    throw new ShellWordError(`unsupported modifier (${modifier}) in substitution`);
  }
}

/** One word as Docker processes it (ProcessWord): quotes removed, variables expanded, spaces kept. */
export function expandWord(word: string, env: ReadonlyMap<string, string>, escape = '\\'): WordResult {
  const lexer = new Lexer(env, escape);
  const value = lexer.processUntil(new Scanner([...word]), null, false);
  return { value, unset: [...lexer.unset] };
}
