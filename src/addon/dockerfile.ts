/**
 * The Dockerfile as BuildKit's parser reads it (frontend/dockerfile/parser/parser.go and
 * line_parsers.go, split_command.go, instructions/parse.go): parser directives (`# escape=`), line
 * continuations with the escape character (comment lines inside a continuation dropped, continuation
 * lines keeping their leading spaces), builder flags (`--from=x`), the JSON form of CMD, ENTRYPOINT,
 * RUN, SHELL, COPY, ADD and VOLUME (a JSON array of strings; anything else is the shell form), here-
 * documents of RUN, COPY and ADD, and stages (`FROM image [AS name]`). What the instructions mean for the
 * image is src/addon/runtime.ts; here only their text, split as BuildKit splits it, with line numbers.
 */
import { expandWord } from './shell-words.js';

export interface DockerfileArg {
  name: string;
  /** Default value as written (quotes kept, expanded when used), or undefined for `ARG NAME`. */
  value?: string;
  line: number;
}

export interface Heredoc {
  name: string;
  content: string;
  /** Whether variables in it expand (the delimiter was not quoted). */
  expand: boolean;
}

export interface Instruction {
  /** Upper case: RUN, COPY, ... */
  keyword: string;
  /** First and last line (1-based). */
  line: number;
  endLine: number;
  /** Builder flags as written (`--from=build` → name from, value build; `--link` → value null). */
  flags: { name: string; value: string | null }[];
  /** The arguments after the flags: the logical line, continuations joined, comments dropped. */
  text: string;
  /** The strings of a JSON-form array (CMD ["a", "b"]), or null for the shell form. */
  json: string[] | null;
  heredocs: Heredoc[];
}

export interface DockerfileStage {
  /** The image reference as written, before substitution. */
  from: string;
  name?: string;
  line: number;
  /** The stage's instructions after its FROM. */
  instructions: Instruction[];
}

export interface DockerfileProblem {
  line: number;
  message: string;
}

export interface Dockerfile {
  escape: string;
  /** ARGs before the first FROM: the ones FROM lines can use. */
  globalArgs: DockerfileArg[];
  stages: DockerfileStage[];
  /** What BuildKit would refuse to parse (the instruction is left out). */
  problems: DockerfileProblem[];
}

const KNOWN = new Set(['ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);
const HEREDOC_INSTRUCTIONS = new Set(['ADD', 'COPY', 'RUN']);
const JSON_FORM = new Set(['ADD', 'CMD', 'COPY', 'ENTRYPOINT', 'RUN', 'SHELL', 'VOLUME']);

const isSpace = (ch: string) => /\s/u.test(ch);

/** JSON form: an array of strings at the start of `text` (Go's decoder stops after the first value). */
export function jsonArray(text: string): string[] | null | 'not-strings' {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith('[')) return null;
  // The shortest prefix that is a whole JSON value, as Go's json.Decoder reads one value from a stream.
  let depth = 0;
  let inString = false;
  for (let i = 0; i < trimmed.length; i++) {
    const ch = trimmed[i]!;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') {
      depth--;
      if (depth === 0) {
        let value: unknown;
        try {
          value = JSON.parse(trimmed.slice(0, i + 1));
        } catch {
          return null;
        }
        if (!Array.isArray(value)) return null;
        return value.every((item) => typeof item === 'string') ? (value as string[]) : 'not-strings';
      }
    }
  }
  return null;
}

/** Builder flags before the arguments (`--chown=1000 --link src dest`), as BuildKit extracts them. */
function builderFlags(line: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && isSpace(line[pos]!)) pos++;
    if (pos >= line.length) return { flags, rest: '' };
    if (!line.startsWith('--', pos)) return { flags, rest: line.slice(pos) };
    let word = '';
    let quote: string | null = null;
    while (pos < line.length) {
      const ch = line[pos]!;
      if (quote) {
        if (ch === quote) quote = null;
        else if (ch === '\\' && pos + 1 < line.length) word += line[++pos];
        else word += ch;
      } else if (isSpace(ch)) break;
      else if (ch === '"' || ch === "'") quote = ch;
      else if (ch === '\\' && pos + 1 < line.length) word += line[++pos];
      else word += ch;
      pos++;
    }
    if (word === '--') return { flags, rest: line.slice(pos) };
    flags.push(word);
  }
}

/**
 * BuildKit's parseWords: words split on whitespace outside quotes, quotes and escapes kept (they are
 * removed later, when the word is expanded).
 */
export function quotedWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | null = null;
  let blankOk = false;
  const chars = [...rest];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (!inWord && !quote) {
      if (isSpace(ch)) continue;
      inWord = true;
    }
    // The escape character and the one after it stay in the word (they are removed when it expands);
    // at the end of the line it is dropped. Single quotes escape nothing.
    const escaped = ch === escape && quote !== "'";
    if (escaped) {
      if (i + 1 < chars.length) word += ch + chars[++i];
      continue;
    }
    if (quote) {
      if (ch === quote) quote = null;
      word += ch;
      continue;
    }
    if (isSpace(ch)) {
      if (blankOk || word !== '') words.push(word);
      word = '';
      blankOk = false;
      inWord = false;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      blankOk = true;
    }
    word += ch;
  }
  if (inWord || quote) if (blankOk || word !== '') words.push(word);
  return words;
}

function parseDirectives(source: string): string {
  let escape = '\\';
  for (const line of source.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n').split('\n')) {
    const directive = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/.exec(line);
    if (!directive) break;
    const key = directive[1]!.toLowerCase();
    if (key !== 'escape' && key !== 'syntax' && key !== 'check') break;
    if (key === 'escape' && (directive[2] === '`' || directive[2] === '\\')) escape = directive[2];
  }
  return escape;
}

/** The here-documents a logical line opens (`<<EOF`, `<<-EOF`, `<<"EOF"`), in order. */
function heredocNames(text: string): { name: string; expand: boolean; chomp: boolean }[] {
  const out: { name: string; expand: boolean; chomp: boolean }[] = [];
  for (const match of text.matchAll(/(?:^|\s)\d*<<(-?)([^\s<]+)/g)) {
    const word = match[2]!;
    let name: string;
    try {
      name = expandWord(word, new Map()).value;
    } catch {
      continue;
    }
    if (name === '') continue;
    out.push({ name, expand: !/['"]/.test(word), chomp: match[1] === '-' });
  }
  return out;
}

export function parseDockerfile(source: string): Dockerfile {
  const escape = parseDirectives(source);
  const result: Dockerfile = { escape, globalArgs: [], stages: [], problems: [] };
  const physical = source.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n').split('\n');
  const continuation = new RegExp(`([^\\${escape}])\\${escape}[ \\t]*$|^\\${escape}[ \\t]*$`);
  const isComment = (line: string) => /^\s*#/.test(line);
  for (let i = 0; i < physical.length; i++) {
    // The logical line: the first line without its leading spaces, continuation lines as they are
    // (comment and blank lines among them dropped), each without its escape character.
    const first = physical[i]!.replace(/^\s+/, '');
    if (first.startsWith('#')) continue;
    const start = i + 1;
    let ended = !continuation.test(first);
    let text = ended ? first : first.replace(continuation, '$1');
    if (ended && text === '') continue;
    while (!ended && i + 1 < physical.length) {
      i++;
      const next = physical[i]!;
      if (isComment(next) || next.trim() === '') continue;
      ended = !continuation.test(next);
      text += ended ? next : next.replace(continuation, '$1');
    }
    const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(text.trim());
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    const { flags, rest } = builderFlags(m[2] ?? '');
    const args = rest.trim();
    let json: string[] | null = null;
    let refused: string | null = null;
    if (JSON_FORM.has(keyword) || keyword === 'HEALTHCHECK') {
      const parsed = jsonArray(keyword === 'HEALTHCHECK' ? args.replace(/^\S+\s*/, '') : args);
      if (parsed === 'not-strings') refused = `${keyword}: when using JSON array syntax, arrays must be comprised of strings only`;
      else json = parsed;
    }
    const instruction: Instruction = {
      keyword,
      line: start,
      endLine: i + 1,
      flags: flags.map((flag) => {
        const eq = flag.indexOf('=');
        return eq < 0 ? { name: flag.slice(2), value: null } : { name: flag.slice(2, eq), value: flag.slice(eq + 1) };
      }),
      text: args,
      json,
      heredocs: [],
    };
    // Here-document bodies follow the instruction's last line, each up to its delimiter.
    if (HEREDOC_INSTRUCTIONS.has(keyword) && json === null) {
      for (const doc of heredocNames(args)) {
        let content = '';
        let terminated = false;
        while (i + 1 < physical.length) {
          i++;
          const body = doc.chomp ? physical[i]!.replace(/^\t+/, '') : physical[i]!;
          if (body === doc.name) {
            terminated = true;
            break;
          }
          content += body + '\n';
        }
        if (!terminated) refused = `${keyword}: unterminated heredoc ${doc.name}`;
        instruction.heredocs.push({ name: doc.name, content, expand: doc.expand });
      }
      instruction.endLine = i + 1;
    }
    if (refused === null && !KNOWN.has(keyword)) refused = `unknown instruction: ${m[1]}`;
    if (refused !== null) {
      result.problems.push({ line: start, message: refused });
      continue;
    }
    if (keyword === 'FROM') {
      const parts = args.split(/[\t\v\f\r ]+/).filter(Boolean);
      const stage: DockerfileStage = { from: parts[0] ?? '', line: start, instructions: [] };
      if (parts.length === 3 && parts[1]!.toUpperCase() === 'AS') stage.name = parts[2]!;
      else if (parts.length !== 1) result.problems.push({ line: start, message: 'FROM requires either one or three arguments' });
      result.stages.push(stage);
      continue;
    }
    if (result.stages.length === 0) {
      if (keyword === 'ARG') {
        for (const word of quotedWords(args, escape)) {
          const eq = word.indexOf('=');
          if (eq < 0) result.globalArgs.push({ name: word, line: start });
          else result.globalArgs.push({ name: word.slice(0, eq), value: word.slice(eq + 1), line: start });
        }
      } else {
        result.problems.push({ line: start, message: `${keyword} before the first FROM (only ARG may come first)` });
      }
      continue;
    }
    result.stages.at(-1)!.instructions.push(instruction);
  }
  return result;
}

/** Docker's `$VAR`, `${VAR}`, `${VAR:-default}` and the other forms of src/addon/shell-words.ts. */
export function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  try {
    return expandWord(text, vars).value;
  } catch {
    return text;
  }
}

/** The default of a global ARG (e.g. BUILD_FROM), expanded as Docker expands it. */
export function argDefault(dockerfile: Dockerfile, name: string): string | undefined {
  return globalArgValues(dockerfile, {}).get(name);
}

/** The global ARG values: defaults expanded in order, overridden by `buildArgs` (--build-arg). */
export function globalArgValues(dockerfile: Dockerfile, buildArgs: Readonly<Record<string, string>>): Map<string, string> {
  const vars = new Map<string, string>();
  for (const arg of dockerfile.globalArgs) {
    const given = buildArgs[arg.name];
    if (given !== undefined) vars.set(arg.name, given);
    else if (arg.value !== undefined) vars.set(arg.name, substitute(arg.value, vars));
  }
  return vars;
}

/** The chain of stages the final stage is built from, root first (FROM <earlier stage> followed). */
export function finalStageChain(dockerfile: Dockerfile, buildArgs: Readonly<Record<string, string>>): { chain: DockerfileStage[]; image: string } | null {
  if (dockerfile.stages.length === 0) return null;
  const vars = globalArgValues(dockerfile, buildArgs);
  const byName = new Map<string, DockerfileStage>();
  const chain: DockerfileStage[] = [];
  let stage = dockerfile.stages[dockerfile.stages.length - 1]!;
  for (const candidate of dockerfile.stages) {
    if (candidate === stage) break;
    if (candidate.name) byName.set(candidate.name.toLowerCase(), candidate);
  }
  for (;;) {
    chain.unshift(stage);
    const image = substitute(stage.from, vars);
    const index = dockerfile.stages.indexOf(stage);
    // Only stages defined before this one can be its base.
    const earlier = dockerfile.stages.slice(0, index).reverse().find((s) => s.name?.toLowerCase() === image.toLowerCase());
    if (!earlier) return { chain, image };
    stage = earlier;
  }
}

/**
 * The image the final stage is built on, following `FROM <earlier stage>` references, with global ARG
 * defaults overridden by `buildArgs` (what the builder passes with --build-arg).
 */
export function finalBaseImage(dockerfile: Dockerfile, buildArgs: Readonly<Record<string, string>>): string | null {
  return finalStageChain(dockerfile, buildArgs)?.image ?? null;
}
