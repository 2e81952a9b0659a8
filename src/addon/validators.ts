/**
 * The compiled validators of add-on files, generated at build time (schema-compiler.ts) so that no
 * schema is compiled, and ajv is not even loaded, when addonix runs.
 */
import type { ValidateFunction } from 'ajv';
import { schemaSources, validators } from './validators.generated.js';
import { schemaDocument, validatorName, type FileKind } from './schemas.js';
import type { Era } from './eras.js';

const checked = new Set<string>();

/** The validator of a file kind for an era; refused when schemas.ts changed since it was generated. */
export function validatorFor(kind: FileKind, era: Era): ValidateFunction {
  const name = validatorName(kind, era);
  const validate = validators[name];
  if (!checked.has(name)) {
    if (validate === undefined || schemaSources[name] !== JSON.stringify(schemaDocument(kind, era))) {
      throw new Error(`the compiled validators (validators.generated.js) do not match src/addon/schemas.ts: run npm run build`);
    }
    checked.add(name);
  }
  return validate!;
}
