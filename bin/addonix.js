#!/usr/bin/env node
// The CLI is compiled from TypeScript (src/cli/main.ts) by `npm run build`.
import '../dist/src/cli/main.js';
