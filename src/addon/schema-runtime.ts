/**
 * What the compiled validators call beyond plain JSON Schema: the Supervisor's patterns run as Python's
 * `re.match` runs them, and its URL, email and image-name checks. The validators are generated once, at
 * build time (schema-compiler.ts), as code that refers to these functions by name; so they live here,
 * apart from ajv, and are imported by the generated module.
 */
import { ERA_RULES, type Era } from './eras.js';
import { isPyEmail, isPyUrl, pythonRegExpEngine } from './python-values.js';

export const SCHEMA_RUNTIME = {
  /** ajv's regular expression engine: every `pattern` of the schemas is a Supervisor (Python) pattern. */
  pythonRegExpEngine,
  isPyUrl,
  isPyEmail,
  /** Why `image` is refused by the era's Supervisor, or null. */
  dockerImageProblem: (era: Era, image: string): string | null => ERA_RULES[era].dockerImageProblem(image),
};

export type SchemaRuntimeName = keyof typeof SCHEMA_RUNTIME;
