/**
 * The names of the Supervisor rule generations (eras.ts has the rules themselves): apart so that the
 * command line's options can name them without loading the rules' regular-expression engine.
 */
export type Era = '2025' | '2026';
export const ERAS: readonly Era[] = ['2026', '2025'];
export const DEFAULT_ERA: Era = '2026';
