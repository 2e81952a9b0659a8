/**
 * Every document addonix writes validates against the official OCI JSON Schemas (image-spec v1.1.1, in
 * ../shared/oci-schemas). They are draft-04 with nested `id`s; Ajv 8 speaks draft-07, so the loader here
 * drops the nested ids (they only rename subschemas) and gives each file its own name as `$id`, which is
 * how the spec's own validator resolves the relative `$ref`s between the files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import type { TestContext } from 'node:test';
import { shared, tempTree } from './helpers.js';
import { archLayers, dockerToolsEntries, writeTarFile } from './images.js';
import { readInputs } from '../src/oci/inputs.js';
import { DEFAULT_LAYER_RULES } from '../src/oci/layer-rules.js';
import { assembleIndex, writeLayout } from '../src/oci/assemble.js';
import { dockerArchive } from '../src/oci/docker-archive.js';
import { readTar } from '../src/oci/tar.js';

function schemas(t: TestContext): Record<string, ValidateFunction> | undefined {
  const SCHEMAS = shared(t, 'oci-schemas');
  if (!SCHEMAS) return undefined;
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);
  ajv.addFormat('uri', (value: string) => URL.canParse(value));
  const stripIds = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(stripIds);
    if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).filter(([key]) => key !== 'id' && key !== '$schema').map(([key, value]) => [key, stripIds(value)]));
    return node;
  };
  for (const file of readdirSync(SCHEMAS).filter((f) => f.endsWith('.json'))) {
    const schema = stripIds(JSON.parse(readFileSync(path.join(SCHEMAS, file), 'utf8'))) as Record<string, unknown>;
    ajv.addSchema({ ...schema, $id: `https://opencontainers.org/schema/${file}` });
  }
  const get = (file: string) => ajv.getSchema(`https://opencontainers.org/schema/${file}`)!;
  return { manifest: get('image-manifest-schema.json'), index: get('image-index-schema.json'), layout: get('image-layout-schema.json'), config: get('config-schema.json'), descriptor: get('content-descriptor.json') };
}

function valid(validate: ValidateFunction, document: unknown, what: string): void {
  assert.ok(validate(document), `${what} fails the OCI schema: ${JSON.stringify(validate.errors, null, 1)}\n${JSON.stringify(document)}`);
}

test('schemas: the validator itself rejects documents that break the spec', (t) => {
  const v = schemas(t);
  if (!v) return;
  assert.equal(v['manifest']!({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'x/y', digest: 'nope', size: 1 }, layers: [] }), false);
  assert.equal(v['index']!({ schemaVersion: 3, manifests: [] }), false);
  assert.equal(v['layout']!({ imageLayoutVersion: 1 }), false);
});

test('schemas: manifests, index, layout files and the load stream addonix writes are valid OCI documents', async (t) => {
  const v = schemas(t);
  if (!v) return;
  const dir = tempTree(t, {});
  process.env['ADDONIX_CACHE_DIR'] = path.join(dir, 'cache');
  const arm = await writeTarFile(path.join(dir, 'arm.tar'), dockerToolsEntries({ goarch: 'arm64', layers: await archLayers('aarch64') }));
  const amd = await writeTarFile(path.join(dir, 'amd.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') }));
  const { images } = await readInputs([arm, amd], { policy: { compression: 'gzip', keepCompressed: true }, rules: DEFAULT_LAYER_RULES });
  for (const image of images) {
    valid(v['manifest']!, JSON.parse(image.manifestBytes.toString()), `manifest of ${image.arch}`);
    for (const layer of image.manifest.layers) valid(v['descriptor']!, layer, 'layer descriptor');
  }
  const assembled = assembleIndex(images, { 'org.opencontainers.image.version': '1.0.0', 'org.opencontainers.image.created': '1970-01-01T00:00:01Z' });
  valid(v['index']!, JSON.parse(assembled.bytes.toString()), 'index');
  const layout = path.join(dir, 'result-multiarch');
  await writeLayout(layout, assembled, '1.0.0');
  valid(v['layout']!, JSON.parse(readFileSync(path.join(layout, 'oci-layout'), 'utf8')), 'oci-layout');
  valid(v['index']!, JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')), 'index.json');

  const seen: string[] = [];
  for await (const entry of readTar(dockerArchive(images[0]!, 'test/image:1'), 'load stream')) {
    if (entry.name === 'index.json' || entry.name === 'oci-layout') {
      const chunks: Buffer[] = [];
      for await (const chunk of entry.body()) chunks.push(chunk);
      valid(v[entry.name === 'index.json' ? 'index' : 'layout']!, JSON.parse(Buffer.concat(chunks).toString()), `load stream ${entry.name}`);
      seen.push(entry.name);
    }
  }
  assert.deepEqual(seen.sort(), ['index.json', 'oci-layout']);
});
