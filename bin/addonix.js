#!/usr/bin/env node
// The CLI is compiled from TypeScript (src/cli/entry.ts, which runs src/cli/main.ts) by `npm run build`.
import '../dist/src/cli/entry.js';
