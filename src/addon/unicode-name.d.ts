// The functions of the npm package unicode-name that python-regex.ts calls (it ships no types).
declare module 'unicode-name' {
  /** The character's name, or undefined for one without a name. */
  export function unicodeBaseName(char: string): string | undefined;
  /** The character's name aliases by kind (correction, control, alternate, figment, abbreviation). */
  export function unicodeAliases(char: string): Record<string, string[]> | undefined;
}
