/**
 * A push against a registry that fails as real ones do: killed and restarted in the middle, silent, gone,
 * refusing one tag; and a push the user interrupts. Each with a real registry
 * (Debian's docker-registry on 127.0.0.1) and, where the fault must be precise, the tests' fault proxy.
 * (Each chunk with retries of its own is the registry client's, checked in unit-registry-client.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { CLI, hasStackTrace, needTools, tempTree } from './helpers.js';
// The CLI in this process where the test is not about the process (a process each cost a third of a second of CPU to start).
import { runCliHere } from './in-process-cli.js';
import { archLayers, dockerToolsEntries, layer, writeTarFile } from './images.js';
import { freePort, startFaultProxy, startRegistry, startSilentServer, tagDigests } from './registry-helpers.js';

interface PushJson {
  index: string | null;
  blobs: { uploaded: number; skipped: number; mounted: number; bytesUploaded: number };
}

async function twoArches(t: TestContext, extra = '') {
  const dir = tempTree(t, {});
  const files = [
    await writeTarFile(path.join(dir, 'arm.tar'), dockerToolsEntries({ goarch: 'arm64', layers: await archLayers('aarch64', extra) })),
    await writeTarFile(path.join(dir, 'amd.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64', extra) })),
  ];
  return { dir, files, env: { ADDONIX_CACHE_DIR: path.join(dir, 'cache'), DOCKER_CONFIG: path.join(dir, 'docker') } };
}

/** Bytes stored in a folder tree (a registry's storage; what it removes meanwhile counts for nothing). */
function treeBytes(dir: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const at = path.join(dir, entry.name);
    if (entry.isDirectory()) total += treeBytes(at);
    else if (entry.isFile()) total += statSync(at, { throwIfNoEntry: false })?.size ?? 0;
  }
  return total;
}

/** The CLI, started; resolves with its exit, output and wall time. */
function startCli(args: string[], env: Record<string, string>) {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const done = new Promise<{ status: number | null; stdout: string; stderr: string; ms: number }>((resolve) =>
    child.on('close', (status) => resolve({ status, stdout, stderr, ms: Date.now() - started })),
  );
  return { child, done };
}

test('push: a registry killed and restarted in the middle of a 450 MB push; the push goes on and gives the same index', { timeout: 300_000 }, async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const dir = tempTree(t, {});
  const env = { ADDONIX_CACHE_DIR: path.join(dir, 'cache') };
  // 450 MB that does not compress: stored as it is, so the time goes into the upload the restart cuts.
  const mb = 1e6;
  const files = [];
  for (const [arch, goarch] of [['aarch64', 'arm64'], ['amd64', 'amd64']] as const) {
    const layers = [];
    for (let i = 0; i < 3; i++) layers.push(await layer({ [`blob-${i}`]: randomBytes(75 * mb) }));
    files.push(await writeTarFile(path.join(dir, `${arch}.tar`), dockerToolsEntries({ goarch, layers, labels: { 'io.hass.arch': arch } })));
  }
  // What the index will be: assembled from the same images, offline.
  const assembled = await runCliHere(['assemble', '--json', '--out', path.join(dir, 'layout'), ...files], { env });
  assert.equal(assembled.status, 0, assembled.stderr);
  const expected = (JSON.parse(assembled.stdout) as { index: string }).index;

  const push = startCli(['push', '--json', '--to', `${registry.host}/me/big`, '--tag', '1', ...files], env);
  const before = treeBytes(registry.data);
  while (treeBytes(registry.data) - before < 150 * mb) {
    assert.equal(push.child.exitCode, null, 'the push is still running when a third is stored');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const killedAt = Date.now();
  await registry.kill();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await registry.restart();
  const down = Date.now() - killedAt;
  const result = await push.done;
  // Under --json the failure itself is on stdout.
  assert.equal(result.status, 0, `registry down ${down} ms\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  assert.ok(!hasStackTrace(result.stderr), result.stderr);
  assert.match(result.stderr, /connection (refused|lost)[^\n]*, retrying/, 'the retries are told');
  const pushed = JSON.parse(result.stdout) as PushJson;
  assert.equal(pushed.index, expected, 'the same index digest as without the restart');
  assert.deepEqual(await tagDigests(registry.url, 'me/big', ['1']), { '1': expected });
  t.diagnostic(`registry down ${down} ms; push took ${result.ms} ms in all`);
});

test('push: a registry that accepts connections and never answers fails within --timeout, saying so', { timeout: 60_000 }, async (t) => {
  const host = await startSilentServer(t);
  const { files, env } = await twoArches(t);
  // The same push to an address nothing listens on fails at once: its time is what starting the CLI
  // and reading the inputs take on this machine now, however loaded.
  const baselineStarted = Date.now();
  const refused = await runCliHere(['push', '--timeout', '2', '--to', `127.0.0.1:${await freePort()}/me/addon`, '--tag', '1', ...files], { env });
  const baseline = Date.now() - baselineStarted;
  assert.equal(refused.status, 1);
  const started = Date.now();
  const result = await runCliHere(['push', '--timeout', '2', '--to', `${host}/me/addon`, '--tag', '1', ...files], { env });
  const elapsed = Date.now() - started;
  assert.equal(result.status, 1);
  assert.match(result.stderr, new RegExp(`${host.replace(/\./g, '\\.')} did not answer within 2 s .*--timeout SECONDS sets how long addonix waits`));
  assert.ok(!hasStackTrace(result.stderr), result.stderr);
  // The registry's silence costs no more than the timeout, with a margin for a loaded machine.
  assert.ok(elapsed < baseline + 2000 + 5000, `failed after ${elapsed} ms, where a refused connection took ${baseline} ms`);
  const inspect = await runCliHere(['inspect-image', '--timeout', '1', `${host}/me/addon:1`], { env });
  assert.equal(inspect.status, 1);
  assert.match(inspect.stderr, /did not answer within 1 s/);
});

test('push: a registry that is not there fails at once; one that goes away mid-push is tried for --retry-for', { timeout: 60_000 }, async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const port = await freePort();
  const { files, env } = await twoArches(t);
  const absent = await runCliHere(['push', '--to', `127.0.0.1:${port}/me/addon`, '--tag', '1', ...files], { env });
  assert.equal(absent.status, 1);
  assert.match(absent.stderr, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port} \\(http://127\\.0\\.0\\.1:${port}\\): connection refused`));
  assert.doesNotMatch(absent.stderr, /retrying/, 'an address nothing listens on is not retried');

  const registry = await startRegistry(t);
  // Uploads answered slowly, so the push is in the middle of them when the registry goes for good.
  const proxy = await startFaultProxy(t, registry.host, [{ method: 'PUT', path: /\/blobs\/uploads\//, fault: 'delay', delayMs: 1000, times: 1000 }]);
  const push = startCli(['push', '--retry-for', '3', '--to', `${proxy.host}/me/addon`, '--tag', '1', ...files], env);
  while (!proxy.injected.some((fault) => fault.startsWith('delay PUT'))) await new Promise((resolve) => setTimeout(resolve, 20));
  const killedAt = Date.now();
  await registry.kill();
  const result = await push.done;
  const after = Date.now() - killedAt;
  assert.equal(result.status, 1);
  assert.match(result.stderr, /cannot reach 127\.0\.0\.1:\d+ \(.+\), tried for 3 s; is the registry running\?/);
  assert.match(result.stderr, /retrying/);
  assert.ok(!hasStackTrace(result.stderr), result.stderr);
  assert.ok(after >= 3000 && after < 3000 + 8000, `gave up ${after} ms after the registry went`);
});

test('push: a tag the registry refuses puts back the tags already moved; all tags or none', { timeout: 120_000 }, async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { dir, files, env } = await twoArches(t);
  const first = await runCliHere(['push', '--json', '--to', `${registry.host}/me/addon`, '--tag', '1.0.0', '--tag', 'latest', ...files], { env });
  assert.equal(first.status, 0, first.stderr);
  const old = (JSON.parse(first.stdout) as PushJson).index;
  const changed = await twoArches(t, ' v2');
  const proxy = await startFaultProxy(t, registry.host, [{ method: 'PUT', path: /\/manifests\/latest$/, fault: '500', times: 1000 }]);
  const failed = await runCliHere(['push', '--force', '--to', `${proxy.host}/me/addon`, '--tag', '1.0.0', '--tag', 'new', '--tag', 'latest', ...changed.files], { env: { ...changed.env, ADDONIX_CACHE_DIR: path.join(dir, 'cache') } });
  assert.equal(failed.status, 1);
  assert.ok(!hasStackTrace(failed.stderr), failed.stderr);
  assert.match(failed.stderr, /putting manifest latest in me\/addon: .* answered 500/);
  assert.match(failed.stderr, new RegExp(`me/addon:1\\.0\\.0 was put back to ${old}`));
  assert.match(failed.stderr, /me\/addon:new did not exist before and now points at the new image/);
  const tags = await tagDigests(registry.url, 'me/addon', ['1.0.0', 'latest', 'new']);
  assert.equal(tags['1.0.0'], old, '1.0.0 is back where it was');
  assert.equal(tags['latest'], old, 'latest never moved');
  assert.notEqual(tags['new'], null);
});

test('push: Ctrl-C stops the push, says what was uploaded and that no tag moved; the next push finishes it', { timeout: 120_000 }, async (t) => {
  if (!needTools(t, 'docker-registry')) return;
  const registry = await startRegistry(t);
  const { dir, files, env } = await twoArches(t);
  const first = await runCliHere(['push', '--json', '--to', `${registry.host}/me/addon`, '--tag', '1', ...files], { env });
  const old = (JSON.parse(first.stdout) as PushJson).index;
  const changed = await twoArches(t, ' v2');
  // Every upload waits 5 s for its answer: the push is in the middle of its uploads when it is interrupted.
  const proxy = await startFaultProxy(t, registry.host, [{ method: 'PUT', path: /\/blobs\/uploads\//, fault: 'delay', delayMs: 5000, times: 1000 }]);
  const cacheEnv = { ...changed.env, ADDONIX_CACHE_DIR: path.join(dir, 'cache') };
  const push = startCli(['push', '--force', '--to', `${proxy.host}/me/addon`, '--tag', '1', ...changed.files], cacheEnv);
  while (!proxy.injected.some((fault) => fault.startsWith('delay PUT'))) await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, 500));
  const interruptedAt = Date.now();
  push.child.kill('SIGINT');
  const result = await push.done;
  const stopping = Date.now() - interruptedAt;
  assert.equal(result.status, 130, result.stderr);
  assert.match(result.stderr, /^addonix: interrupted: \d+ blobs? uploaded \([\d.]+ [kMG]?B sent\), \d+ already there, 0 mounted; no tag was moved/m);
  assert.ok(!hasStackTrace(result.stderr), result.stderr);
  assert.ok(stopping < 3000, `stopped ${stopping} ms after Ctrl-C, not after the uploads' answers`);
  assert.deepEqual(await tagDigests(registry.url, 'me/addon', ['1']), { '1': old });
  const again = await runCliHere(['push', '--json', '--force', '--to', `${registry.host}/me/addon`, '--tag', '1', ...changed.files], { env: cacheEnv });
  assert.equal(again.status, 0, again.stderr);
  const index = (JSON.parse(again.stdout) as PushJson).index;
  assert.notEqual(index, old);
  assert.deepEqual(await tagDigests(registry.url, 'me/addon', ['1']), { '1': index }, 'the next push finishes it');
});
