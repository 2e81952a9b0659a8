/** The CI systems and binary caches `init` writes for (its own module: the command line's options read it). */
export type CiKind = 'gitlab' | 'github';
export const CI_KINDS: readonly CiKind[] = ['gitlab', 'github'];
export type CacheKind = 'none' | 'cachix' | 'attic' | 's3';
export const CACHE_KINDS: readonly CacheKind[] = ['none', 'cachix', 'attic', 's3'];
