/** Finding add-on files as the Supervisor does, and the checks across files of a repository (in process). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { discover } from '../src/addon/files.js';
import { MINIMAL_CONFIG, tempTree } from './helpers.js';
import { validateInProcess } from './validate-run.js';

test('discovery follows the Supervisor: skips dot-folders and rootfs, finds build and repository files', async (t) => {
  const root = tempTree(t, {
    'repository.yaml': 'name: Mine\n',
    'one/config.yaml': MINIMAL_CONFIG,
    'one/build.yaml': 'squash: false\n',
    'one/Dockerfile': 'FROM x/y\n',
    'one/Dockerfile.aarch64': 'FROM x/z\n',
    'one/rootfs/etc/config.json': '{}',
    'two/config.json': '{}',
    'two/sub/build.yml': 'args: {}\n',
    '.github/config.yml': 'x: 1\n',
    'node_modules/pkg/config.json': '{}',
    'common/build.yaml': 'build_from: a/b\n',
  });
  const found = await discover(root);
  const rel = (file: string) => path.relative(root, file);
  assert.deepEqual(found.addons.map((a) => rel(a.dir)), ['one', 'two']);
  const [one, two] = found.addons;
  assert.deepEqual(one!.buildFiles.map(rel), ['one/build.yaml']);
  assert.deepEqual(Object.entries(one!.dockerfiles).map(([k, f]) => [k, rel(f!)]), [['default', 'one/Dockerfile'], ['aarch64', 'one/Dockerfile.aarch64']]);
  assert.equal(rel(two!.nestedBuildFile!), 'two/sub/build.yml');
  assert.deepEqual(found.repositoryFiles.map(rel), ['repository.yaml']);
  assert.deepEqual(found.orphanBuildFiles.map(rel), ['common/build.yaml']);
});

test('a nested build file is reported, since the Supervisor would read it', async (t) => {
  const root = tempTree(t, { 'config.yaml': MINIMAL_CONFIG, 'app/build.json': '{"args": {"A": 1}}' });
  const result = await validateInProcess(['--json', '.'], { cwd: root });
  const diagnostics = JSON.parse(result.stdout) as { file: string; code: string }[];
  assert.ok(diagnostics.some((d) => d.code === 'nested-build-file' && d.file === 'app/build.json'));
  assert.ok(diagnostics.some((d) => d.code === 'build-file-ignored' && d.file === 'app/build.json'));
});

test('two add-ons of one repository with one slug', async (t) => {
  const root = tempTree(t, { 'a/config.yaml': MINIMAL_CONFIG, 'b/config.yaml': MINIMAL_CONFIG });
  const result = await validateInProcess(['.'], { cwd: root });
  assert.equal(result.status, 1);
  assert.match(result.stdout, /^b\/config\.yaml: error: slug 'test_addon' is also used by a\/config\.yaml/m);
});

test('a repository file the Supervisor cannot use', async (t) => {
  const root = tempTree(t, { 'repository.json': '{"url": "not a url", "maintainer": "me"}', 'a/config.yaml': MINIMAL_CONFIG });
  const result = await validateInProcess(['--json', '.'], { cwd: root });
  const diagnostics = JSON.parse(result.stdout) as { file: string; code: string; message: string; line: number }[];
  assert.equal(result.status, 1);
  assert.ok(diagnostics.some((d) => d.file === 'repository.json' && d.code === 'missing-key' && /skips this whole repository/.test(d.message)));
  assert.ok(diagnostics.some((d) => d.file === 'repository.json' && d.line === 1 && /expected a URL with a scheme and host/.test(d.message)));
});
