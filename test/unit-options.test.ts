/**
 * The command line's options, in process: defined once (src/cli/options.ts) with one meaning per name,
 * every command takes --json, arches and targets are read the same way everywhere and another tool's
 * arch names get a "did you mean".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import yargs from 'yargs';
import { COMMANDS } from '../src/cli/commands.js';
import { OPTION_DEFINITIONS, asList, parseArchList } from '../src/cli/options.js';
import { archForOtherName, HA_ARCHES } from '../src/addon/arch.js';
import { parseTarget } from '../src/npm/target.js';
import { UsageError } from '../src/util/errors.js';
import { REPO as repoRoot } from './helpers.js';

/** The options a command's yargs builder declares, as yargs records them. */
async function declaredOptions(name: string): Promise<string[]> {
  const command = await COMMANDS[name]!();
  const parser = yargs([]);
  (command.builder as (y: typeof parser) => unknown)(parser);
  // getOptions() is yargs' own record of what a builder declared (not in its type definitions).
  const options = (parser as unknown as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> } }).getOptions();
  const aliases = new Set(Object.values(options.alias).flat());
  return Object.keys(options.key).filter((key) => !aliases.has(key) && key !== 'help' && key !== 'version');
}

test('options: every option a command declares is defined once in options.ts, and every command takes --json', async () => {
  const positionals = new Set(['dir', 'paths', 'images', 'image', 'a', 'b']);
  for (const name of Object.keys(COMMANDS)) {
    const declared = (await declaredOptions(name)).filter((option) => !positionals.has(option));
    for (const option of declared) assert.ok(Object.hasOwn(OPTION_DEFINITIONS, option), `${name} --${option} is not in OPTION_DEFINITIONS`);
    assert.ok(declared.includes('json'), `${name} has no --json`);
  }
});

test('options: no command defines an option of its own (no .option() outside options.ts)', () => {
  const cli = path.join(repoRoot, 'src', 'cli');
  const files = [...readdirSync(cli).map((f) => path.join(cli, f)), ...readdirSync(path.join(cli, 'commands')).map((f) => path.join(cli, 'commands', f))];
  for (const file of files.filter((f) => f.endsWith('.ts') && !f.endsWith('options.ts'))) {
    const source = readFileSync(file, 'utf8');
    assert.doesNotMatch(source, /\.option\(\s*['"]/, `${path.relative(repoRoot, file)} defines an option itself`);
  }
});

test('options: the npm registry and a container registry have different names', () => {
  assert.match(OPTION_DEFINITIONS['npm-registry'].describe, /npm registry/);
  assert.match(OPTION_DEFINITIONS.registry.describe, /container registry/);
});

test('options: --arch is a list everywhere: comma-separated or repeated, duplicates once, riscv64 known', () => {
  assert.deepEqual(parseArchList('amd64,aarch64'), ['amd64', 'aarch64']);
  assert.deepEqual(parseArchList(['amd64', 'aarch64,amd64']), ['amd64', 'aarch64']);
  assert.deepEqual(parseArchList('riscv64'), ['riscv64']);
  assert.throws(() => parseArchList(''), UsageError);
  assert.throws(() => parseArchList('sparc'), (error: Error) => error instanceof UsageError && /--arch sparc: not a Home Assistant arch/.test(error.message) && !/Did you mean/.test(error.message));
  assert.throws(() => parseArchList('amd64,arm64'), /--arch arm64: .*Did you mean aarch64\?/);
  assert.deepEqual(asList(['a,b', 'c']), ['a', 'b', 'c']);
});

test('arch names of other tools: Docker, Go, Nix, uname and npm names map to the Home Assistant arch', () => {
  const expected: Record<string, string | null> = {
    arm64: 'aarch64',
    'arm64/v8': 'aarch64',
    'linux/arm64': 'aarch64',
    x86_64: 'amd64',
    'x86-64': 'amd64',
    x64: 'amd64',
    'arm/v7': 'armv7',
    armv7l: 'armv7',
    arm: 'armv7',
    'arm/v6': 'armhf',
    armv6l: 'armhf',
    '386': 'i386',
    i686: 'i386',
    ia32: 'i386',
    x86: 'i386',
    sparc: null,
  };
  for (const [name, arch] of Object.entries(expected)) assert.equal(archForOtherName(name), arch, name);
  for (const arch of HA_ARCHES) assert.equal(archForOtherName(arch), null, `${arch} is already the Home Assistant name`);
});

test('targets: an arch alone takes its default libc; another naming gets a "did you mean"', () => {
  assert.deepEqual(parseTarget('aarch64'), { arch: 'aarch64', libc: 'glibc' });
  assert.deepEqual(parseTarget('amd64'), { arch: 'amd64', libc: 'glibc' });
  assert.deepEqual(parseTarget('armv7'), { arch: 'armv7', libc: 'musl' });
  assert.deepEqual(parseTarget('aarch64-musl'), { arch: 'aarch64', libc: 'musl' });
  assert.deepEqual(parseTarget('riscv64-glibc'), { arch: 'riscv64', libc: 'glibc' });
  assert.throws(() => parseTarget('arm64-musl'), /--target arm64-musl: not a target\..* Did you mean aarch64-musl\?/);
  assert.throws(() => parseTarget('x86_64'), /Did you mean amd64\?/);
  assert.throws(() => parseTarget('aarch64-uclibc'), (error: Error) => error instanceof UsageError && !/Did you mean/.test(error.message));
});
