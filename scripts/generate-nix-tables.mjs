#!/usr/bin/env node
// Writes nix/arches.nix and nix/strategies.nix from the TypeScript tables (src/nixgen/tables.ts).
// Run through `npm run generate:nix-tables`, which compiles first.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nixTableFiles } from '../dist/src/nixgen/tables.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
for (const [file, content] of Object.entries(nixTableFiles())) {
  writeFileSync(path.join(root, file), content);
  console.log(`wrote ${file}`);
}
