/** Small text helpers shared by all stages. */

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j]!;
      prev[j] = Math.min(above + 1, prev[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate within a small edit distance, or undefined. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(1, Math.floor(word.length / 3));
  if (bestDistance <= allowed) return best;
  // A longer or shorter spelling of a name ("string" for "str") is a likely meaning too.
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    if (Math.min(c.length, lower.length) >= 3 && (lower.startsWith(c) || c.startsWith(lower))) return candidate;
  }
  return undefined;
}

/** ` (did you mean 'x'?)` or the empty string. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const suggestion = closest(word, candidates);
  return suggestion === undefined ? '' : ` (did you mean '${suggestion}'?)`;
}

/** Quote a value for a message the way a user would write it in YAML. */
export function show(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 80 ? value.slice(0, 77) + '...' : value}'`;
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  if (value === null || value === undefined) return 'null';
  const json = boundedJson(value, 0, new Set());
  return json.length > 80 ? json.slice(0, 77) + '...' : json;
}

/** JSON-like text of a value that may be deep, huge or cyclic (YAML aliases can make cycles). */
function boundedJson(value: unknown, depth: number, seen: Set<unknown>): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : String(value).replace('Infinity', '.inf').replace('NaN', '.nan');
  if (typeof value !== 'object') return JSON.stringify(value) ?? String(value);
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  if (depth > 8 || seen.has(value)) return '...';
  seen.add(value);
  try {
    if (Array.isArray(value)) return `[${value.slice(0, 10).map((v) => boundedJson(v, depth + 1, seen)).join(',')}${value.length > 10 ? ',...' : ''}]`;
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return `<${typeName(value)}>`;
    const entries = Object.entries(value as object);
    return `{${entries.slice(0, 10).map(([k, v]) => `${JSON.stringify(k)}:${boundedJson(v, depth + 1, seen)}`).join(',')}${entries.length > 10 ? ',...' : ''}}`;
  } finally {
    seen.delete(value);
  }
}

/** A readable name for a value's type, as a user of YAML would say it. */
export function typeName(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a date';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'boolean':
      return 'a boolean';
    case 'number':
      return Number.isInteger(value) ? 'a number' : 'a decimal number';
    case 'object': {
      const name = (value as object).constructor?.name;
      return name === 'PySet' ? 'a set' : name === 'PyBytes' ? 'binary data' : 'a mapping';
    }
    default:
      return typeof value;
  }
}

export function plural(count: number, word: string, pluralWord = word + 's'): string {
  return `${count} ${count === 1 ? word : pluralWord}`;
}
