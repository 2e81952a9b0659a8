/** The validators generated at build time are those the schemas compile to now. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GENERATED_FILE, validatorsModule } from '../src/addon/schema-compiler.js';
import { schemaSources, validators } from '../src/addon/validators.generated.js';
import { FILE_KINDS, schemaDocument, validatorName } from '../src/addon/schemas.js';
import { ERAS } from '../src/addon/eras.js';
import { REPO } from './helpers.js';

test('the generated validators are current: byte for byte what schema-compiler.ts makes of the schemas', () => {
  const generated = readFileSync(path.join(REPO, 'dist', 'src', 'addon', GENERATED_FILE), 'utf8');
  assert.ok(generated === validatorsModule(), `${GENERATED_FILE} is out of date: run npm run build`);
});

test('one validator per file kind and era, compiled from that schema', () => {
  assert.equal(Object.keys(validators).length, FILE_KINDS.length * ERAS.length);
  for (const kind of FILE_KINDS) {
    for (const era of ERAS) {
      const name = validatorName(kind, era);
      assert.equal(typeof validators[name], 'function', name);
      assert.equal(schemaSources[name], JSON.stringify(schemaDocument(kind, era)), name);
    }
  }
});
