// The types of validators.generated.js, which `npm run build` generates into dist/src/addon (see
// schema-compiler.ts). Keys are validatorName(kind, era).
import type { ValidateFunction } from 'ajv';

export declare const validators: Readonly<Record<string, ValidateFunction | undefined>>;
/** The JSON text of the schema each validator was compiled from. */
export declare const schemaSources: Readonly<Record<string, string | undefined>>;
