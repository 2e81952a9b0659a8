/**
 * The exit statuses of docs/codes.md, per command, as a program running addonix with --json sees them:
 * a usage mistake exits 2 and a failure exits 1, each with one JSON error object on stdout whose code
 * is in the table and whose `exit` is the status. (0 is every other test; 130 is build's and push's
 * Ctrl-C tests.) Every command's cases run in this process (main(), whose status bin/addonix.js exits
 * with; a process each cost a third of a second of CPU); one case of each way to an exit status runs
 * as a process too, which must exit with that status and print the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { COMMANDS, FAILURE_EXIT } from '../src/cli/commands.js';
import { ERROR_CODES, EXIT_STATUSES } from '../src/util/codes.js';
import { jsonError, runCliAsync, tempTree } from './helpers.js';
import { runCliInProcess } from './in-process-cli.js';

interface ErrorJson {
  code: keyof typeof ERROR_CODES;
  message: string;
  exit: number;
}

/** A --json failure in this process, or as a process where it reads stdin (`input`). */
async function jsonFailure(args: string[], env: Record<string, string>, input?: string): Promise<{ status: number | null; error: ErrorJson; stderr: string }> {
  const result = input !== undefined ? await runCliAsync([...args, '--json'], { env, input }) : await runCliInProcess([...args, '--json'], { env });
  const error = jsonError(result.stdout, `${args.join(' ')} (stderr: ${result.stderr})`) as ErrorJson;
  return { status: result.status, error, stderr: result.stderr };
}

test('exit statuses: the table has 0, 1, 2 and 130, and every error code maps to one of them', () => {
  assert.deepEqual(Object.keys(EXIT_STATUSES).map(Number).sort((a, b) => a - b), [0, 1, 2, 130]);
  for (const [code, { exit }] of Object.entries(ERROR_CODES)) assert.ok(Object.hasOwn(EXIT_STATUSES, exit), `${code} exits ${exit}`);
});

test('exit statuses: every command exits 2 on a usage mistake and 1 on a failure, with a JSON error whose code and exit agree with the table', async (t) => {
  const dir = tempTree(t, {});
  const missing = path.join(dir, 'missing');
  const env = { ADDONIX_CACHE_DIR: path.join(dir, 'cache'), HOME: dir };
  // A failure of each command's own: what it reads does not exist.
  const failures: Record<string, string[]> = {
    init: ['init', missing],
    validate: ['validate', missing],
    inspect: ['inspect', missing],
    deps: ['deps', missing],
    generate: ['generate', missing],
    'pin-base': ['pin-base', missing],
    build: ['build', missing],
    assemble: ['assemble', '--out', path.join(dir, 'layout'), missing],
    push: ['push', '--to', '127.0.0.1:1/x', '--tag', '1', missing],
    load: ['load', '--engine', 'podman', missing],
    run: ['run', missing],
    'inspect-image': ['inspect-image', missing],
    diff: ['diff', missing, missing],
    verify: ['verify', missing],
    sbom: ['sbom', missing],
    provenance: ['provenance', missing],
    // Docker's config folder is a file: its config.json cannot be read.
    login: ['login', '127.0.0.1:1', '--username', 'u', '--password-stdin'],
  };
  writeFileSync(path.join(dir, 'missing-folder'), '');
  const envFor: Record<string, Record<string, string>> = { login: { ...env, DOCKER_CONFIG: path.join(dir, 'missing-folder') } };
  for (const name of Object.keys(COMMANDS)) {
    const usage = await jsonFailure([name, '--bogus-option'], env);
    assert.equal(usage.status, 2, `${name}: ${usage.stderr}`);
    assert.equal(usage.error.code, 'usage', name);
    assert.equal(usage.error.exit, 2, name);
    assert.match(usage.error.message, /^(Unknown argument: bogus-option|Not enough non-option arguments: got 0, need at least [12])\n/, name);

    // doctor reports on the machine (its failures are checks in its JSON, not an error); validate's
    // failures are findings (the JSON array of them, exit 1).
    if (name === 'doctor') continue;
    if (name === 'validate') {
      const result = await runCliInProcess(['validate', missing, '--json'], { env });
      assert.equal(result.status, 1);
      assert.deepEqual((JSON.parse(result.stdout) as { code: string }[]).map((d) => d.code), ['not-found']);
      continue;
    }
    const args = failures[name];
    assert.ok(args, `a failure case for ${name}`);
    const failure = await jsonFailure(args, envFor[name] ?? env, name === 'login' ? 'a-password\n' : undefined);
    // diff fails as diff(1) does, with 2; the others with their code's status.
    const exit = FAILURE_EXIT[name] ?? ERROR_CODES[failure.error.code].exit;
    assert.equal(failure.status, exit, `${name}: ${JSON.stringify(failure.error)}`);
    assert.notEqual(failure.error.code, 'internal', `${name}: ${failure.error.message}`);
    assert.ok(Object.hasOwn(ERROR_CODES, failure.error.code), `${name}: code ${failure.error.code} is in the table`);
    assert.equal(failure.error.exit, exit, name);
    assert.match(failure.error.message, /missing/, `${name} names what is missing: ${failure.error.message}`);
  }
});

test('exit statuses: a process exits with the status main() returns and prints what it prints, for each way to a status (a usage mistake, a failure, findings, diff\'s trouble)', async (t) => {
  const dir = tempTree(t, {});
  const missing = path.join(dir, 'missing');
  const env = { ADDONIX_CACHE_DIR: path.join(dir, 'cache'), HOME: dir };
  const cases: [string[], number][] = [
    [['build', '--bogus-option', '--json'], 2],
    [['inspect', missing, '--json'], 1],
    [['validate', missing, '--json'], 1],
    [['diff', missing, missing, '--json'], 2],
  ];
  const processes = await Promise.all(cases.map(([args]) => runCliAsync(args, { env })));
  for (const [i, [args, status]] of cases.entries()) {
    const inProcess = await runCliInProcess(args, { env });
    assert.equal(processes[i]!.status, status, `${args.join(' ')}: ${processes[i]!.stderr}`);
    assert.equal(inProcess.status, status, args.join(' '));
    assert.equal(processes[i]!.stdout, inProcess.stdout, args.join(' '));
    assert.equal(processes[i]!.stderr, inProcess.stderr, args.join(' '));
  }
});
