/** The container engines addonix loads images into (its own module: the command line's options read it). */
export const ENGINES = ['docker', 'podman'] as const;
export type Engine = (typeof ENGINES)[number];
