/**
 * `addonix validate` reads its usual arguments without yargs (quickValidateArgs): whatever it accepts
 * must mean exactly what yargs makes of it, and everything else must be left to yargs.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandModule } from 'yargs';
import { quickValidateArgs, validateCommand, type ValidateArgs } from '../src/cli/commands/validate.js';
import { runYargs } from '../src/cli/yargs-cli.js';
import { commandHeads, COMMAND_NAMES } from '../src/cli/commands.js';
import { englishLocale, topLevelHelp } from '../src/cli/top-help.js';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { MINIMAL_CONFIG, REPO, tempTree } from './helpers.js';

/** What yargs, configured as the CLI configures it, hands the validate command. */
async function yargsArgs(argv: string[]): Promise<ValidateArgs> {
  let seen: ValidateArgs | undefined;
  const command: CommandModule<object, ValidateArgs> = { ...validateCommand, handler: (args) => void (seen = args) };
  await runYargs(['validate', ...argv], [command as CommandModule], ['validate'], 'validate');
  assert.ok(seen, `yargs ran the command for ${JSON.stringify(argv)}`);
  return { paths: seen.paths, strict: seen.strict, json: seen.json, supervisor: seen.supervisor };
}

const QUICK: string[][] = [
  [],
  ['.'],
  ['my-addon', 'other/config.yaml'],
  ['--json'],
  ['--strict', 'x'],
  ['--supervisor', '2025', 'p'],
  ['--supervisor=2025'],
  ['--supervisor', '2026'],
  ['x', '--json', 'y', '--strict', '--supervisor', '2025', 'z'],
  ['0', '1e3', '0x10', '010', 'a-b', 'x--json'],
  ['a=b', 'with space', '.hidden', 'café', 'NaN', 'null', 'undefined', 'True'],
];

const LEFT_TO_YARGS: string[][] = [
  ['--help'],
  ['-h'],
  ['--version'],
  ['--no-strict'],
  ['--strict=false'],
  ['--strict', 'false'],
  ['--json', 'true', '.'],
  ['true'],
  [''],
  ['--json', '--json'],
  ['--supervisor', '2025', '--supervisor', '2026'],
  ['--supervisor', '2024'],
  ['--supervisor'],
  ['--supervisor='],
  ['--'],
  ['-', 'x'],
  ['--', '--json'],
  ['-j'],
  ['--bogus'],
  ['--Strict'],
  ['--paths', 'x'],
  ['-1'],
];

test('validate: the arguments read without yargs mean what yargs makes of them', async () => {
  for (const argv of QUICK) {
    const quick = quickValidateArgs(argv);
    assert.ok(quick, `read without yargs: ${JSON.stringify(argv)}`);
    assert.deepEqual(quick, await yargsArgs(argv), JSON.stringify(argv));
  }
  assert.deepEqual(quickValidateArgs(['x', '--json', 'y', '--supervisor=2025']), { paths: ['x', 'y'], strict: false, json: true, supervisor: '2025' });
});

test('validate: help, negations, repeated or unknown options and odd values are left to yargs', () => {
  for (const argv of LEFT_TO_YARGS) assert.equal(quickValidateArgs(argv), null, JSON.stringify(argv));
});

/** The CommonJS modules a run of the CLI loaded (ajv is CommonJS; yargs loads get-caller-file). */
function cjsModulesLoaded(t: TestContext, args: string[]): string[] {
  const dir = tempTree(t, { 'a/config.yaml': MINIMAL_CONFIG });
  const probe = path.join(dir, 'probe.mjs');
  writeFileSync(
    probe,
    `import { createRequire } from 'node:module';\nconst cache = createRequire(import.meta.url).cache;\nprocess.on('exit', () => process.stderr.write(JSON.stringify(Object.keys(cache))));\n`,
  );
  const result = spawnSync(process.execPath, ['--import', probe, path.join(REPO, 'bin', 'addonix.js'), ...args, 'a'], { cwd: dir, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  // Named from their package on, wherever node_modules is.
  const packages = `node_modules${path.sep}`;
  return (JSON.parse(result.stderr) as string[]).map((file) => (file.includes(packages) ? file.slice(file.lastIndexOf(packages) + packages.length) : file));
}

test('validate loads neither yargs nor ajv itself: only the compiled validators and their small helper', (t) => {
  assert.deepEqual(cjsModulesLoaded(t, ['validate', '--json']), [path.join('ajv', 'dist', 'runtime', 'ucs2length.js')]);
  // The probe sees yargs when it is loaded.
  assert.ok(cjsModulesLoaded(t, ['validate', '--no-strict']).includes(path.join('get-caller-file', 'index.js')));
});

/** What yargs prints for `addonix --help` at a width (process.stdout.columns), as the CLI configures it. */
async function yargsHelp(columns: number): Promise<string> {
  const printed: string[] = [];
  const { log } = console;
  const { exit } = process;
  const before = Object.getOwnPropertyDescriptor(process.stdout, 'columns');
  Object.defineProperty(process.stdout, 'columns', { value: columns, configurable: true, writable: true });
  // yargs prints help with console.log and then exits the process: both caught for the comparison.
  console.log = (...args: unknown[]) => void printed.push(args.join(' '));
  process.exit = (() => undefined) as typeof process.exit;
  try {
    await runYargs(['--help'], commandHeads(), COMMAND_NAMES, undefined);
  } finally {
    console.log = log;
    process.exit = exit;
    if (before) Object.defineProperty(process.stdout, 'columns', before);
    else delete (process.stdout as { columns?: number }).columns;
  }
  return printed.join('\n');
}

test('--help without yargs prints the very text yargs prints, at every width yargs wraps to', async () => {
  // 100 is what a pipe gets; a terminal's width up to 110; narrow ones wrap words and cut long ones.
  for (const width of [100, 110, 80, 72, 60, 45, 30, 20, 12]) {
    const own = topLevelHelp(width);
    assert.ok(own !== null, 'the command heads are plain ASCII');
    assert.equal(own, await yargsHelp(width), `width ${width}`);
  }
  // Text yargs would measure otherwise is left to it.
  assert.equal(topLevelHelp(100)?.includes('addonix inspect-image <image>'), true);
});

test('--help without yargs: only for English messages; yargs is not loaded for it', (t) => {
  for (const [env, english] of [
    [{}, true],
    [{ LANG: 'C.UTF-8' }, true],
    [{ LANG: 'en_US.UTF-8' }, true],
    [{ LANG: 'de_DE.UTF-8' }, false],
    [{ LC_ALL: 'fr_FR', LANG: 'en_US.UTF-8' }, false],
    [{ LC_MESSAGES: 'POSIX', LANG: 'de_DE' }, true],
  ] as const) {
    assert.equal(englishLocale(env), english, JSON.stringify(env));
  }
  const dir = tempTree(t, {});
  const probe = path.join(dir, 'probe.mjs');
  writeFileSync(probe, `import { createRequire } from 'node:module';\nconst cache = createRequire(import.meta.url).cache;\nprocess.on('exit', () => process.stderr.write(JSON.stringify(Object.keys(cache))));\n`);
  const env = { ...process.env, LC_ALL: 'en_US.UTF-8' };
  const quick = spawnSync(process.execPath, ['--import', probe, path.join(REPO, 'bin', 'addonix.js'), '--help'], { cwd: dir, encoding: 'utf8', env });
  assert.equal(quick.status, 0);
  assert.equal(quick.stdout, `${topLevelHelp(100)}\n`, 'a pipe gets the text at width 100');
  assert.ok(!quick.stderr.includes('get-caller-file'), 'yargs was not loaded');
  // Another language: yargs prints its own translation.
  const german = spawnSync(process.execPath, ['--import', probe, path.join(REPO, 'bin', 'addonix.js'), '-h'], { cwd: dir, encoding: 'utf8', env: { ...env, LC_ALL: 'de_DE.UTF-8' } });
  assert.equal(german.status, 0);
  assert.match(german.stdout, /^Optionen:$/m);
  assert.ok(german.stderr.includes('get-caller-file'), 'yargs printed it');
});
