/**
 * Just enough of the Dockerfile to know an add-on's base image: the global `ARG` defaults (since
 * Supervisor 2026.04 `ARG BUILD_FROM=...` is where the base image lives) and the `FROM` of each stage,
 * with Docker's variable substitution. Follows the Dockerfile reference: parser directives, line
 * continuations with the escape character, comments, `ARG a=1 b=2`, `FROM [--platform=..] image [AS name]`.
 */

export interface DockerfileArg {
  name: string;
  /** Default value, or undefined for `ARG NAME` without one. */
  value?: string;
  line: number;
}

export interface DockerfileStage {
  /** The image reference as written, before substitution. */
  from: string;
  name?: string;
  line: number;
}

export interface Dockerfile {
  /** ARGs before the first FROM: the ones FROM lines can use. */
  globalArgs: DockerfileArg[];
  stages: DockerfileStage[];
}

interface LogicalLine {
  text: string;
  line: number;
}

function logicalLines(source: string): LogicalLine[] {
  const physical = source.replace(/\r\n?/g, '\n').split('\n');
  let escape = '\\';
  // Parser directives: leading `# key=value` comments, before anything else.
  for (const line of physical) {
    const directive = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(line);
    if (!directive) break;
    if (directive[1]!.toLowerCase() === 'escape' && (directive[2] === '`' || directive[2] === '\\')) escape = directive[2];
  }
  const out: LogicalLine[] = [];
  let current: LogicalLine | null = null;
  physical.forEach((raw, index) => {
    const trimmed = raw.trim();
    if (current === null && (trimmed === '' || trimmed.startsWith('#'))) return;
    if (current !== null && trimmed.startsWith('#')) return; // Comments inside a continuation are dropped.
    const continued = trimmed.endsWith(escape);
    const piece = continued ? trimmed.slice(0, -1) : trimmed;
    if (current === null) current = { text: piece, line: index + 1 };
    else current.text += ' ' + piece;
    if (!continued) {
      out.push(current);
      current = null;
    }
  });
  if (current !== null) out.push(current);
  return out;
}

function unquote(value: string): string {
  if (value.length >= 2 && ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))) {
    return value.slice(1, -1);
  }
  return value;
}

/** Split ARG arguments on whitespace outside quotes. */
function words(text: string): string[] {
  const out: string[] = [];
  const pattern = /(?:[^\s"']+|"(?:[^"\\]|\\.)*"|'[^']*')+/g;
  for (const m of text.matchAll(pattern)) out.push(m[0]);
  return out;
}

export function parseDockerfile(source: string): Dockerfile {
  const result: Dockerfile = { globalArgs: [], stages: [] };
  for (const { text, line } of logicalLines(source)) {
    const m = /^(\S+)\s*(.*)$/.exec(text);
    if (!m) continue;
    const instruction = m[1]!.toUpperCase();
    const args = m[2]!;
    if (instruction === 'ARG' && result.stages.length === 0) {
      for (const word of words(args)) {
        const eq = word.indexOf('=');
        if (eq < 0) result.globalArgs.push({ name: word, line });
        else result.globalArgs.push({ name: word.slice(0, eq), value: unquote(word.slice(eq + 1)), line });
      }
    } else if (instruction === 'FROM') {
      const parts = args.split(/\s+/).filter((part) => !part.startsWith('--'));
      const stage: DockerfileStage = { from: parts[0] ?? '', line };
      if (parts.length >= 3 && parts[1]!.toUpperCase() === 'AS') stage.name = parts[2]!;
      result.stages.push(stage);
    }
  }
  return result;
}

/** Docker's `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alternative}` substitution. */
export function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_all, braced, op, word, bare) => {
    const name = (braced ?? bare) as string;
    const value = vars.get(name);
    if (op === '-') return value ? value : (word as string);
    if (op === '+') return value ? (word as string) : '';
    return value ?? '';
  });
}

/** The default of a global ARG, e.g. BUILD_FROM. */
export function argDefault(dockerfile: Dockerfile, name: string): string | undefined {
  let value: string | undefined;
  for (const arg of dockerfile.globalArgs) if (arg.name === name && arg.value !== undefined) value = arg.value;
  return value;
}

/**
 * The image the final stage is built on, following `FROM <earlier stage>` references, with global ARG
 * defaults overridden by `buildArgs` (what the builder passes with --build-arg).
 */
export function finalBaseImage(dockerfile: Dockerfile, buildArgs: Readonly<Record<string, string>>): string | null {
  if (dockerfile.stages.length === 0) return null;
  const vars = new Map<string, string>();
  for (const arg of dockerfile.globalArgs) {
    const given = buildArgs[arg.name];
    if (given !== undefined) vars.set(arg.name, given);
    else if (arg.value !== undefined) vars.set(arg.name, substitute(arg.value, vars));
  }
  const byName = new Map<string, DockerfileStage>();
  for (const stage of dockerfile.stages) if (stage.name) byName.set(stage.name.toLowerCase(), stage);
  let stage = dockerfile.stages[dockerfile.stages.length - 1]!;
  for (let hops = 0; hops < dockerfile.stages.length; hops++) {
    const image = substitute(stage.from, vars);
    const earlier = byName.get(image.toLowerCase());
    if (!earlier || earlier === stage) return image;
    stage = earlier;
  }
  return substitute(stage.from, vars);
}
