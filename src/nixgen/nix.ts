/**
 * The one place that writes Nix: plain values (strings, numbers, booleans, null, lists, attribute sets,
 * paths) turned into Nix expression text. Attribute sets are written with sorted keys, one entry a line,
 * so regenerated files are byte-identical and diffs are readable. Nothing else in addonix writes Nix
 * strings; the generated files hold data only (no functions, imports or interpolation).
 */

/** A Nix path literal, e.g. ./src. Written relative to the file that contains it. */
export class NixPath {
  constructor(readonly path: string) {
    if (!/^\.{1,2}(\/|$)/.test(path)) throw new NixValueError(`Nix paths written by addonix are relative (./x), got ${JSON.stringify(path)}`);
  }
}

export type NixValue = string | number | boolean | null | NixPath | readonly NixValue[] | { readonly [key: string]: NixValue | undefined };

export class NixValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NixValueError';
  }
}

const KEYWORDS = new Set(['if', 'then', 'else', 'assert', 'with', 'let', 'in', 'rec', 'inherit', 'or']);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_'-]*$/;

/** Characters a Nix string literal must escape or refuse, or that need a closer look (`$`, surrogates). */
const NEEDS_CARE = /[\0\\"\n\r\t$\uD800-\uDFFF]/;

/** A Nix double-quoted string with the same characters as `value`. */
export function nixString(value: string): string {
  // Most strings (names, versions, hashes, URLs) hold none of them: quoted as they are.
  if (!NEEDS_CARE.test(value)) return `"${value}"`;
  if (value.includes('\0')) throw new NixValueError('a string with a NUL character cannot be written to Nix (Nix strings cannot hold NUL)');
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value)) {
    throw new NixValueError('a string with an unpaired UTF-16 surrogate cannot be written as UTF-8');
  }
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\') out += '\\\\';
    else if (c === '"') out += '\\"';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    // `${` would start an interpolation; `\$` keeps the dollar literal.
    else if (c === '$' && value[i + 1] === '{') out += '\\$';
    else out += c;
  }
  return out + '"';
}

/** An attribute name: bare when it is a Nix identifier (and not a keyword), quoted otherwise. */
export function nixAttrName(name: string): string {
  return IDENTIFIER.test(name) && !KEYWORDS.has(name) ? name : nixString(name);
}

function nixNumber(value: number): string {
  if (!Number.isFinite(value)) throw new NixValueError(`${value} cannot be written to Nix (no infinities or NaN)`);
  if (Number.isInteger(value)) {
    if (!Number.isSafeInteger(value)) throw new NixValueError(`${value} is too large to be written exactly`);
    return value < 0 ? `(${value})` : String(value);
  }
  // JavaScript's shortest round-trip form (0.5, 1.5e-7) is also valid Nix float syntax.
  const literal = String(Math.abs(value));
  return value < 0 ? `(-${literal})` : literal;
}

const PATH_LITERAL = /^\.{1,2}(\/[A-Za-z0-9._+-]+)*$/;

function write(value: NixValue | undefined, indent: string, out: string[]): void {
  if (value === null || value === undefined) {
    out.push('null');
  } else if (typeof value === 'string') {
    out.push(nixString(value));
  } else if (typeof value === 'number') {
    out.push(nixNumber(value));
  } else if (typeof value === 'boolean') {
    out.push(value ? 'true' : 'false');
  } else if (value instanceof NixPath) {
    const trimmed = value.path.replace(/\/+$/, '') || '.';
    out.push(PATH_LITERAL.test(trimmed) && trimmed !== '.' && trimmed !== '..' ? trimmed : `(./. + ${nixString('/' + trimmed)})`);
  } else if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push('[ ]');
      return;
    }
    const inner = indent + '  ';
    out.push('[\n');
    for (const item of value as readonly NixValue[]) {
      out.push(inner);
      write(item, inner, out);
      out.push('\n');
    }
    out.push(indent + ']');
  } else if (typeof value === 'object') {
    const keys = Object.keys(value)
      .filter((key) => (value as Record<string, NixValue | undefined>)[key] !== undefined)
      .sort();
    if (keys.length === 0) {
      out.push('{ }');
      return;
    }
    const inner = indent + '  ';
    out.push('{\n');
    for (const key of keys) {
      out.push(`${inner}${nixAttrName(key)} = `);
      write((value as Record<string, NixValue>)[key], inner, out);
      out.push(';\n');
    }
    out.push(indent + '}');
  } else {
    throw new NixValueError(`a ${typeof value} cannot be written to Nix`);
  }
}

/** The Nix expression for a value, pretty-printed with two-space indentation. */
export function toNix(value: NixValue): string {
  const out: string[] = [];
  write(value, '', out);
  return out.join('');
}

/** A whole generated file: a header saying what made it, then the value. */
export function generatedNixFile(value: NixValue, description: string, command: string): string {
  return `# ${description}\n# Generated by \`${command}\`: do not edit; regenerate instead. Data only.\n${toNix(value)}\n`;
}

/**
 * Reads back what `toNix` writes (strings, numbers, booleans, null, lists, attribute sets; comments
 * and whitespace anywhere), so a command can compare a generated file it finds with what it would write.
 * Anything else (paths, functions, interpolation, `let`, `import`) is refused: generated files hold data
 * only, and this is not a Nix evaluator.
 */
export function parseNixData(text: string): NixValue {
  let at = 0;
  const fail = (why: string): never => {
    const line = text.slice(0, at).split('\n').length;
    throw new NixValueError(`line ${line}: ${why}`);
  };
  const skip = () => {
    for (;;) {
      while (at < text.length && /\s/.test(text[at]!)) at++;
      if (text[at] !== '#') return;
      while (at < text.length && text[at] !== '\n') at++;
    }
  };
  const expect = (token: string) => {
    skip();
    if (!text.startsWith(token, at)) fail(`expected '${token}'`);
    at += token.length;
  };
  const string = (): string => {
    at++; // the opening quote
    let out = '';
    for (;;) {
      const c = text[at++];
      if (c === undefined) return fail('unterminated string');
      if (c === '"') return out;
      if (c === '$' && text[at] === '{') return fail('interpolation is not data');
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = text[at++];
      if (e === undefined) return fail('unterminated string');
      out += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e;
    }
  };
  const value = (): NixValue => {
    skip();
    const c = text[at];
    if (c === '"') return string();
    if (c === '{') {
      at++;
      const out: Record<string, NixValue> = {};
      for (;;) {
        skip();
        if (text[at] === '}') {
          at++;
          return out;
        }
        let key: string;
        if (text[at] === '"') key = string();
        else {
          const match = /^[A-Za-z_][A-Za-z0-9_'-]*/.exec(text.slice(at, at + 256));
          if (!match || KEYWORDS.has(match[0])) return fail('expected an attribute name');
          key = match[0];
          at += key.length;
        }
        if (Object.hasOwn(out, key)) fail(`attribute '${key}' defined twice`);
        expect('=');
        out[key] = value();
        expect(';');
      }
    }
    if (c === '[') {
      at++;
      const out: NixValue[] = [];
      for (;;) {
        skip();
        if (text[at] === ']') {
          at++;
          return out;
        }
        out.push(value());
      }
    }
    const rest = text.slice(at, at + 64);
    const number = /^\(\s*-\s*(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*\)|^(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![A-Za-z0-9_'.-])/.exec(rest);
    if (number) {
      at += number[0].length;
      return number[1] !== undefined ? -Number(number[1]) : Number(number[2]);
    }
    const word = /^[A-Za-z_][A-Za-z0-9_'-]*/.exec(rest)?.[0];
    if (word === 'null' || word === 'true' || word === 'false') {
      at += word.length;
      return word === 'null' ? null : word === 'true';
    }
    return fail(word ? `'${word}' is not data` : c === undefined ? 'unexpected end of file' : `unexpected '${c}'`);
  };
  const result = value();
  skip();
  if (at < text.length) fail('text after the value');
  return result;
}
