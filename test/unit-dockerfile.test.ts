import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argDefault, finalBaseImage, parseDockerfile, substitute } from '../src/addon/dockerfile.js';

test('global ARG defaults and FROM lines, with continuations, comments and quotes', () => {
  const parsed = parseDockerfile(
    [
      '# syntax=docker/dockerfile:1',
      'ARG BUILD_FROM="ghcr.io/home-assistant/base:3.24" \\',
      '    # a comment inside the continuation',
      '    OTHER=x',
      'arg NAKED',
      'FROM --platform=$BUILDPLATFORM node:22 AS build',
      'ARG LATE=1',
      'FROM ${BUILD_FROM}',
    ].join('\n'),
  );
  // As written (quotes kept): Docker removes them when it expands the value.
  assert.deepEqual(parsed.globalArgs.map((a) => [a.name, a.value]), [['BUILD_FROM', '"ghcr.io/home-assistant/base:3.24"'], ['OTHER', 'x'], ['NAKED', undefined]]);
  assert.deepEqual(parsed.stages.map((s) => [s.from, s.name, s.line]), [['node:22', 'build', 6], ['${BUILD_FROM}', undefined, 8]]);
  assert.equal(argDefault(parsed, 'BUILD_FROM'), 'ghcr.io/home-assistant/base:3.24');
  assert.equal(finalBaseImage(parsed, {}), 'ghcr.io/home-assistant/base:3.24');
  assert.equal(finalBaseImage(parsed, { BUILD_FROM: 'other/base:1' }), 'other/base:1');
});

test('the escape directive, stage references and substitution forms', () => {
  const parsed = parseDockerfile('# escape=`\nARG BASE=alpine:3.20\nFROM $BASE AS base\nFROM base `\n  AS final\n');
  assert.equal(parsed.stages[1]!.name, 'final');
  assert.equal(finalBaseImage(parsed, {}), 'alpine:3.20', 'FROM an earlier stage resolves to its image');
  const vars = new Map([['A', 'x'], ['E', '']]);
  assert.equal(substitute('$A-${A}-${B:-d}-${A:+alt}-${E:-empty}-${B:+no}', vars), 'x-x-d-alt-empty-');
  assert.equal(finalBaseImage(parseDockerfile('RUN echo no FROM\n'), {}), null);
});
