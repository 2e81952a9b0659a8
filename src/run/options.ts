/**
 * The options an add-on starts with, as the Supervisor writes them to /data/options.json and serves
 * them on /addons/self/options/config (supervisor/apps/app.py write_options, apps/options.py
 * AppOptions.__call__): config.yaml's defaults with the user's options merged over them (mappings
 * merge, anything else is replaced), then validated against the schema: keys the schema does not name
 * are dropped, values are coerced to their type (int, float, bool, port), a null value or a missing
 * required one refuses the start, a missing optional one is left out. With `schema: false` every
 * option is dropped. The file is pretty-printed with two spaces and no final newline (orjson).
 */
import type { AddonModel } from '../addon/model.js';
import { elementProblem, parseOptionsSchema, type OptionsSchemaNode } from '../addon/options-schema.js';
import { pyBoolean, pyFloat, pyInt } from '../addon/python-values.js';
import { isPlainObject } from '../addon/validate.js';

export interface StartOptions {
  /** What the add-on gets, or null when the Supervisor would refuse to start it. */
  options: Record<string, unknown> | null;
  /** Why it would refuse, one line each. */
  problems: string[];
  /** Keys dropped because the schema does not name them. */
  dropped: string[];
}

/** Deep merge as the Supervisor's _OPTIONS_MERGER: dicts merge, everything else overrides. */
export function mergeOptions(defaults: Record<string, unknown>, user: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(user)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeOptions(current, value) : value;
  }
  return out;
}

function coerce(value: unknown, node: OptionsSchemaNode, path: string, problems: string[], dropped: string[]): unknown {
  switch (node.type) {
    case 'invalid':
      return value;
    case 'list':
      if (!Array.isArray(value)) {
        problems.push(`${path}: expected a list, not ${JSON.stringify(value)}`);
        return value;
      }
      return node.item ? value.map((item, i) => coerce(item, node.item!, `${path}[${i}]`, problems, dropped)) : value;
    case 'map':
      if (!isPlainObject(value)) {
        problems.push(`${path}: expected a mapping, not ${JSON.stringify(value)}`);
        return value;
      }
      return validateMap(value, node.fields, path, problems, dropped);
    case 'element': {
      const { element } = node;
      if (value === null || value === undefined) {
        problems.push(`Missing required option '${path}'`);
        return value;
      }
      const problem = elementProblem(value, element);
      if (problem) {
        problems.push(`option '${path}' ${problem}`);
        return value;
      }
      if (element.kind === 'int' || element.kind === 'port') {
        const n = pyInt(value);
        return n.ok ? n.value : value;
      }
      if (element.kind === 'float') {
        const n = pyFloat(value);
        return n.ok ? n.value : value;
      }
      if (element.kind === 'bool') {
        const b = pyBoolean(value);
        return b.ok ? b.value : value;
      }
      return value;
    }
  }
}

function optionalNode(node: OptionsSchemaNode): boolean {
  if (node.type === 'element') return node.element.optional;
  if (node.type === 'list') return node.item === null || optionalNode(node.item);
  return false;
}

function validateMap(values: Record<string, unknown>, fields: Map<string, OptionsSchemaNode>, path: string, problems: string[], dropped: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    const node = fields.get(key);
    const at = path === '' ? key : `${path}/${key}`;
    if (!node) {
      dropped.push(at);
      continue;
    }
    out[key] = coerce(value, node, at, problems, dropped);
  }
  for (const [key, node] of fields) {
    if (!(key in values) && node.type !== 'map' && !optionalNode(node)) problems.push(`Missing option '${path === '' ? key : `${path}/${key}`}' in ${path === '' ? 'root' : path}`);
  }
  return out;
}

/** The options the add-on starts with: its defaults, the user's over them, validated as the Supervisor does. */
export function startOptions(model: AddonModel, user: Record<string, unknown>): StartOptions {
  const merged = mergeOptions(model.options, user);
  const problems: string[] = [];
  const dropped: string[] = [];
  if (model.schema === false) return { options: {}, problems, dropped: Object.keys(merged) };
  const { root } = parseOptionsSchema(model.schema, { era: model.supervisor, keyIsString: () => true });
  const options = validateMap(merged, root, '', problems, dropped);
  return { options: problems.length > 0 ? null : options, problems, dropped };
}

/** /data/options.json as the Supervisor writes it: two-space indent, no final newline. */
export function optionsFileText(options: Record<string, unknown>): string {
  return JSON.stringify(options, null, 2);
}
