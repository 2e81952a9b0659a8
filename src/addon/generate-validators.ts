/**
 * `npm run build` runs this after tsc: it writes the add-on file schemas, compiled to code by ajv, next
 * to it as validators.generated.js, which addonix imports at run time (schema-compiler.ts).
 */
import { writeFileSync } from 'node:fs';
import { GENERATED_FILE, validatorsModule } from './schema-compiler.js';

writeFileSync(new URL(GENERATED_FILE, import.meta.url), validatorsModule());
