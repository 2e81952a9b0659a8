/** addonix's version, from its package.json (its own module: `--version` loads nothing else). */
import { createRequire } from 'node:module';

export const VERSION = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
