/** Hand-made npm projects: a good lockfile entry, and broken projects with the error each must give. */

export function lockfile(packages: Record<string, Record<string, unknown>>, dependencies: Record<string, string>, version = 3) {
  return JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: version, requires: true, packages: { '': { name: 'app', version: '1.0.0', dependencies }, ...packages } }, null, 2);
}

export const GOOD_ENTRY = {
  version: '4.4.0',
  resolved: 'https://registry.npmjs.org/debug/-/debug-4.4.0.tgz',
  integrity: 'sha512-6WTZ/IxCY/T6BALoZHaE4ctp9xm+Z5kY/pzYaCHRFeyVhojxlrm+46y68HA6hr0TcwEssoxNiDEUJQjfPZ/RYA==',
};

export const packageJson = (dependencies: Record<string, string>) => JSON.stringify({ name: 'app', version: '1.0.0', dependencies });

export const badInputs: { name: string; files: Record<string, string>; message: RegExp }[] = [
  { name: 'no lockfile', files: { 'package.json': packageJson({ debug: '^4' }) }, message: /no package-lock\.json in .*; run `npm install --package-lock-only`/ },
  {
    name: 'lockfile v1',
    files: { 'package.json': packageJson({ debug: '^4' }), 'package-lock.json': JSON.stringify({ name: 'app', lockfileVersion: 1, dependencies: { debug: { version: '4.4.0' } } }) },
    message: /lockfile version 1 \(written by npm 6 or older\).*regenerate with npm >= 7/,
  },
  {
    name: 'lockfile out of sync with package.json',
    files: { 'package.json': packageJson({ debug: '^4', 'left-pad': '^1.3.0' }), 'package-lock.json': lockfile({ 'node_modules/debug': GOOD_ENTRY }, { debug: '^4' }) },
    message: /out of sync with package\.json:\n {2}package\.json depends on left-pad@\^1\.3\.0, which the lockfile does not have\nRun `npm install`/,
  },
  {
    name: 'truncated JSON',
    files: { 'package.json': packageJson({ debug: '^4' }), 'package-lock.json': lockfile({ 'node_modules/debug': GOOD_ENTRY }, { debug: '^4' }).slice(0, 180) },
    message: /package-lock\.json:\d+:\d+: JSON syntax error: .* \(the file looks truncated\)/,
  },
  {
    name: 'git dependency',
    files: {
      'package.json': packageJson({ debug: 'github:debug-js/debug#4.4.0' }),
      'package-lock.json': lockfile({ 'node_modules/debug': { version: '4.4.0', resolved: 'git+ssh://git@github.com/debug-js/debug.git#7e3814cc603bf64fdd69e714e0cf5611ec31f43b', license: 'MIT' } }, { debug: 'github:debug-js/debug#4.4.0' }),
    },
    message: /package-lock\.json:\d+:\d+: debug comes from git \(git\+ssh:.*\); Nix needs a content hash/,
  },
  {
    name: 'missing integrity',
    files: { 'package.json': packageJson({ debug: '^4' }), 'package-lock.json': lockfile({ 'node_modules/debug': { ...GOOD_ENTRY, integrity: undefined } }, { debug: '^4' }) },
    message: /package-lock\.json:\d+:\d+: debug@4\.4\.0 has no integrity hash in the lockfile/,
  },
  {
    name: 'a name with characters that would break Nix',
    files: {
      'package.json': packageJson({ 'x${builtins.currentTime}': '1.0.0' }),
      'package-lock.json': lockfile({ 'node_modules/x${builtins.currentTime}': { ...GOOD_ENTRY, version: '1.0.0' } }, { 'x${builtins.currentTime}': '1.0.0' }),
    },
    message: /has an invalid package name "x\$\{builtins\.currentTime\}" \(name can only contain URL-friendly characters\)/,
  },
  {
    name: 'a lockfile location that climbs out of node_modules',
    files: {
      'package.json': packageJson({ debug: '^4' }),
      'package-lock.json': lockfile({ 'node_modules/debug': GOOD_ENTRY, 'node_modules/debug/node_modules/../../../evil': { ...GOOD_ENTRY, name: 'evil' } }, { debug: '^4' }),
    },
    message: /package-lock\.json:\d+:\d+: the location "node_modules\/debug\/node_modules\/\.\.\/\.\.\/\.\.\/evil" has an invalid folder name '\.\.\/\.\.\/\.\.\/evil'/,
  },
];
