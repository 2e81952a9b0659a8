/**
 * Type declarations for the parts of npm's own libraries addonix uses. They ship no types; these
 * describe @npmcli/arborist 9.9, npm-install-checks 8 and validate-npm-package-name 7 as used here.
 */
declare module '@npmcli/arborist' {
  namespace Arborist {
  interface Edge {
    type: 'prod' | 'dev' | 'optional' | 'peer' | 'peerOptional' | 'workspace';
    name: string;
    spec: string;
    from: ArboristNode;
    to: ArboristNode | null;
    optional: boolean;
    peer: boolean;
    valid: boolean;
    missing: boolean;
    invalid: boolean;
  }
  interface ArboristNode {
    name: string;
    packageName: string;
    version: string;
    location: string;
    path: string;
    realpath: string;
    resolved: string | null;
    integrity: string | null;
    dev: boolean;
    optional: boolean;
    devOptional: boolean;
    peer: boolean;
    inBundle: boolean;
    extraneous: boolean;
    /** Set by npm on optional nodes it will not install (and on what only they need). */
    inert: boolean;
    isLink: boolean;
    isRoot: boolean;
    isProjectRoot: boolean;
    isWorkspace: boolean;
    hasInstallScript: boolean;
    target: ArboristNode;
    parent: ArboristNode | null;
    package: Record<string, unknown> & {
      name?: string;
      version?: string;
      os?: string[];
      cpu?: string[];
      libc?: string[];
      engines?: Record<string, string>;
      bin?: Record<string, string> | string;
    };
    edgesIn: Set<Edge>;
    edgesOut: Map<string, Edge>;
    linksIn: Set<ArboristNode>;
    inventory: Map<string, ArboristNode>;
    meta?: { lockfileVersion?: number; loadedFromDisk?: boolean };
    /** npm's query language (`npm query`). */
    querySelectorAll(query: string): Promise<ArboristNode[]>;
  }
  interface ArboristOptions {
    path: string;
  }
  }
  class Arborist {
    constructor(options: Arborist.ArboristOptions);
    loadVirtual(options?: Record<string, unknown>): Promise<Arborist.ArboristNode>;
  }
  export = Arborist;
}

declare module 'npm-install-checks' {
  export function checkPlatform(
    target: { os?: string[]; cpu?: string[]; libc?: string[]; _id?: string },
    force: boolean,
    environment: { os: string; cpu: string; libc: string },
  ): void;
  export function checkEngine(target: { engines?: Record<string, string>; _id?: string }, npmVersion: string | null, nodeVersion: string | null, force: boolean): void;
}

declare module 'validate-npm-package-name' {
  function validate(name: string): {
    validForNewPackages: boolean;
    validForOldPackages: boolean;
    errors?: string[];
    warnings?: string[];
  };
  export = validate;
}
