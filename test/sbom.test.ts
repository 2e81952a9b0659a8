/**
 * `addonix sbom` on the example's amd64 image, built through the nixpkgs stand-in (the Nix store keeps it
 * from the other Nix tests: a warm build is an evaluation, a second or two): the document validates
 * against CycloneDX 1.6's official JSON schema (the copy @cyclonedx/cyclonedx-library ships, pinned as a
 * devDependency), and what it lists is checked against the image's own files, unpacked by tar: every
 * store path, every npm package (name and version from its package.json in the image), the native
 * addon's .node files, and the NAR hashes against `nix-store --dump` of the paths; the nixpkgs attributes
 * and licenses the library gives (evaluated from this repository's flake with the stand-in, whose
 * packages carry meta.license as nixpkgs' do: one license, a list, one without an SPDX id, none) against
 * the stand-in evaluated apart; and the same as SPDX 2.3. About 16 s warm on an idle machine, 25 s at a
 * load of 15 (the stream run and unpacked once, the archive read whole by addonix twice, CycloneDX and
 * SPDX, each with one evaluation of the flake).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, lstatSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Ajv from 'ajv';
import { needTools, REPO, runCli, tempTree } from './helpers.js';
import { buildAttrs, evalJson, nixPath, OVERRIDE_NIXPKGS, STAND_IN, withLibrary } from './nix-helpers.js';
import { nixLicense } from '../src/verify/sbom.js';
import { readPackageData } from '../src/nix/package-facts.js';
import { storePaths, unpackImage } from './image-audit.js';

const require = createRequire(import.meta.url);
const EXAMPLE = path.join(REPO, 'examples', 'sqlite-notes');

interface Bom {
  specVersion: string;
  components: { type: string; name: string; group?: string; version?: string; purl?: string; hashes?: { alg: string; content: string }[]; licenses?: unknown[]; properties?: { name: string; value: string }[]; components?: { name: string; hashes: { content: string }[] }[] }[];
}

/** CycloneDX 1.6's JSON schema with the schemas it refers to, compiled by ajv with the formats it uses. */
function cycloneDxValidator() {
  const dir = path.join(path.dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')), 'res', 'schema');
  const ajv = new Ajv.default({ strict: false, allErrors: true });
  (require('ajv-formats') as (a: unknown) => void)(ajv);
  (require('ajv-formats-draft2019') as (a: unknown) => void)(ajv);
  for (const file of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json', 'cryptography-defs.SNAPSHOT.schema.json']) {
    ajv.addSchema(JSON.parse(readFileSync(path.join(dir, file), 'utf8')), `http://cyclonedx.org/schema/${file}`);
  }
  return ajv.compile(JSON.parse(readFileSync(path.join(dir, 'bom-1.6.SNAPSHOT.schema.json'), 'utf8')));
}

/** Every package.json of the npm packages under a node_modules folder (scoped and nested ones too): name@version. */
function npmPackagesIn(modules: string): string[] {
  const found: string[] = [];
  const visit = (dir: string) => {
    for (const name of existsSync(dir) ? readdirSync(dir) : []) {
      if (name.startsWith('.')) continue;
      if (name.startsWith('@')) {
        visit(path.join(dir, name));
        continue;
      }
      const folder = path.join(dir, name);
      const manifest = path.join(folder, 'package.json');
      if (!existsSync(manifest)) continue;
      const { name: pkg, version } = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string; version: string };
      found.push(`${pkg}@${version}`);
      visit(path.join(folder, 'node_modules'));
    }
  };
  visit(modules);
  return found.sort();
}

interface SpdxPackage {
  SPDXID: string;
  name: string;
  downloadLocation: string;
  licenseDeclared?: string;
  checksums?: { algorithm: string; checksumValue: string }[];
  comment?: string;
  [key: string]: unknown;
}
interface SpdxDocument {
  [key: string]: unknown;
  creationInfo: { created: string; creators: string[] };
  documentNamespace: string;
  packages: SpdxPackage[];
  relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
  hasExtractedLicensingInfos?: { licenseId: string; extractedText: string; name?: string }[];
}

/** What SPDX 2.3 (its spec and JSON schema, spdx/spdx-spec schemas/spdx-schema-2-3.json) requires of what addonix writes, and the facts of the CycloneDX document. */
function checkSpdx(doc: SpdxDocument, bom: Bom) {
  const parse = require('spdx-expression-parse') as (text: string) => unknown;
  for (const key of ['SPDXID', 'creationInfo', 'dataLicense', 'name', 'spdxVersion']) assert.ok(key in doc, `document ${key}`);
  const documentKeys = ['SPDXID', 'annotations', 'comment', 'creationInfo', 'dataLicense', 'externalDocumentRefs', 'hasExtractedLicensingInfos', 'name', 'revieweds', 'spdxVersion', 'documentNamespace', 'documentDescribes', 'packages', 'files', 'snippets', 'relationships'];
  assert.deepEqual(Object.keys(doc).filter((k) => !documentKeys.includes(k)), [], 'no property the schema does not have');
  assert.equal(doc['spdxVersion'], 'SPDX-2.3');
  assert.equal(doc['dataLicense'], 'CC0-1.0');
  assert.equal(doc['SPDXID'], 'SPDXRef-DOCUMENT');
  assert.match(doc.creationInfo.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(doc.creationInfo.creators.every((c) => /^(Tool|Organization|Person): \S/.test(c)));
  assert.ok(URL.canParse(doc.documentNamespace) && !doc.documentNamespace.includes('#'));
  const packageKeys = ['SPDXID', 'name', 'versionInfo', 'downloadLocation', 'filesAnalyzed', 'checksums', 'licenseConcluded', 'licenseDeclared', 'copyrightText', 'externalRefs', 'primaryPackagePurpose', 'comment'];
  const ids = new Set<string>();
  const refs = new Set(doc.hasExtractedLicensingInfos?.map((info) => info.licenseId) ?? []);
  for (const pkg of doc.packages) {
    assert.match(pkg.SPDXID, /^SPDXRef-[A-Za-z0-9.-]+$/);
    assert.ok(!ids.has(pkg.SPDXID), `${pkg.SPDXID} twice`);
    ids.add(pkg.SPDXID);
    assert.deepEqual(Object.keys(pkg).filter((k) => !packageKeys.includes(k)), [], pkg.SPDXID);
    assert.ok(pkg.name && pkg.downloadLocation, pkg.SPDXID);
    for (const sum of pkg.checksums ?? []) assert.ok(['SHA1', 'SHA256', 'SHA384', 'SHA512'].includes(sum.algorithm) && /^[0-9a-f]+$/.test(sum.checksumValue), pkg.SPDXID);
    const declared = pkg.licenseDeclared!;
    if (declared !== 'NOASSERTION' && declared !== 'NONE') {
      assert.doesNotThrow(() => parse(declared), `${pkg.SPDXID}: ${declared}`);
      for (const ref of declared.match(/LicenseRef-[A-Za-z0-9.-]+/g) ?? []) assert.ok(refs.has(ref), `${ref} is defined`);
    }
  }
  for (const info of doc.hasExtractedLicensingInfos ?? []) assert.ok(/^LicenseRef-[A-Za-z0-9.-]+$/.test(info.licenseId) && info.extractedText, info.licenseId);
  for (const r of doc.relationships) {
    assert.ok(r.spdxElementId === 'SPDXRef-DOCUMENT' || ids.has(r.spdxElementId), r.spdxElementId);
    assert.ok(ids.has(r.relatedSpdxElement), r.relatedSpdxElement);
  }
  assert.equal(doc.relationships.filter((r) => r.relationshipType === 'DESCRIBES').length, 1);
  // The same facts: every component (and native addon file) a package, the licenses as expressions.
  const files = bom.components.reduce((n, c) => n + (c.components?.length ?? 0), 0);
  assert.equal(doc.packages.length, 1 + bom.components.length + files);
  const storePackage = (name: string) => doc.packages.find((p) => p.name === name && p.comment?.includes('nix:output: out'));
  assert.equal(storePackage('nodejs-slim')?.licenseDeclared, 'MIT');
  assert.match(storePackage('nodejs-slim')?.comment ?? '', /^nix:attribute: nodejs-slim$/m);
  assert.equal(storePackage('tzdata')?.licenseDeclared, 'BSD-3-Clause AND LicenseRef-Public-Domain');
}

const property = (component: Bom['components'][number], name: string) => component.properties?.find((p) => p.name === name)?.value;

test("sbom: the example's amd64 image as CycloneDX 1.6, valid against the official schema, listing every store path and npm package of the image's own files", (t) => {
  if (!needTools(t, 'nix-build', 'nix-store', 'g++', 'patchelf', 'npm')) return;
  const [stream] = buildAttrs(
    withLibrary(`let
  packageSets = addonix.packageSets { inherit pkgs; };
  example = addonix.mkAddonImages { inherit pkgs packageSets; src = ${nixPath(EXAMPLE)}; addon = dataOf ${nixPath(EXAMPLE)} "addon"; npmDeps = dataOf ${nixPath(EXAMPLE)} "npm-deps"; };
in { stream = example.streams.amd64; }`),
    ['stream'],
    ['--max-jobs', '2', '--cores', '1'],
  );
  const dir = tempTree(t, {});
  // The stream runs once: addonix reads the docker-archive the unpacking kept.
  const image = unpackImage(stream!, dir);
  const archive = path.join(path.dirname(image.archiveDir), 'image.tar');
  // The flake (this repository's, whose packages are the example's images) gives the nixpkgs facts.
  const result = runCli(['sbom', EXAMPLE, '--arch', 'amd64', '--image', archive, '--flake', REPO, ...OVERRIDE_NIXPKGS], { env: { ADDONIX_CACHE_DIR: path.join(dir, 'cache') } });
  assert.equal(result.status, 0, result.stderr);
  const bom = JSON.parse(result.stdout) as Bom;

  const validate = cycloneDxValidator();
  assert.ok(validate(bom), JSON.stringify(validate.errors, null, 2));
  assert.equal(bom.specVersion, '1.6');
  // The schema is no pushover: a license id outside SPDX's list is refused.
  assert.equal(validate({ ...bom, components: [{ type: 'library', name: 'x', licenses: [{ license: { id: 'Not-SPDX' } }] }] }), false);

  const listedPaths = bom.components.map((c) => property(c, 'nix:store-path')).filter((p): p is string => p !== undefined).sort();
  assert.deepEqual(listedPaths, storePaths(image.root), 'every store path in the image, and only those');
  for (const component of bom.components.filter((c) => property(c, 'nix:store-path'))) {
    const base = path.basename(property(component, 'nix:store-path')!).slice(33);
    assert.equal(`${component.name}${component.version ? `-${component.version}` : ''}`, base, 'name and version as Nix splits them');
  }
  // The NAR hashes, against Nix's own serialisation of the two smallest paths.
  const sized = listedPaths.map((p) => ({ p, size: Number(execFileSync('du', ['-sb', p], { encoding: 'utf8' }).split('\t')[0]) })).sort((a, b) => a.size - b.size);
  for (const { p } of sized.slice(0, 2)) {
    const nar = createHash('sha256').update(execFileSync('nix-store', ['--dump', p], { maxBuffer: 512 * 1024 * 1024 })).digest('hex');
    const component = bom.components.find((c) => property(c, 'nix:store-path') === p)!;
    assert.deepEqual(component.hashes, [{ alg: 'SHA-256', content: nar }], p);
  }

  // nixpkgs' facts: each attribute named is, in the stand-in evaluated apart, that very store path; the
  // licenses are its meta.license's (SPDX ids as ids, the one without an id by name).
  const withAttribute = bom.components.filter((c) => property(c, 'nix:attribute'));
  const byName = (name: string) => withAttribute.find((c) => c.name === name && property(c, 'nix:output') === 'out');
  assert.ok(byName('nodejs-slim') && byName('busybox') && byName('nss-cacert') && byName('tzdata') && byName('glibc'), withAttribute.map((c) => c.name).join(', '));
  const expected = evalJson<string[]>(`let pkgs = import ${nixPath(STAND_IN)} { }; in [ ${withAttribute.map((c) => `pkgs.${property(c, 'nix:attribute')}.${property(c, 'nix:output')}.outPath`).join(' ')} ]`);
  assert.deepEqual(withAttribute.map((c) => property(c, 'nix:store-path')), expected);
  assert.deepEqual(byName('nodejs-slim')!.licenses, [{ license: { id: 'MIT' } }]);
  assert.equal(property(byName('nodejs-slim')!, 'nix:package-set'), 'x86_64-unknown-linux-gnu');
  assert.deepEqual(byName('tzdata')!.licenses, [{ license: { id: 'BSD-3-Clause' } }, { license: { name: 'Public Domain' } }]);
  assert.deepEqual(byName('glibc')!.licenses, [{ license: { id: 'LGPL-2.0-or-later' } }]);
  const modulesPath = bom.components.find((c) => /-node-modules-/.test(property(c, 'nix:store-path') ?? ''));
  assert.ok(modulesPath && !property(modulesPath, 'nix:attribute') && modulesPath.licenses === undefined, 'addonix\'s own derivations are not nixpkgs packages');

  // npm packages: those in the image's node_modules (a link into the store, followed in the unpacked root).
  const link = path.join(image.root, 'app', 'node_modules');
  const modules = lstatSync(link).isSymbolicLink() ? path.join(image.root, readlinkSync(link)) : link;
  const inImage = npmPackagesIn(modules);
  assert.ok(inImage.length >= 2, inImage.join(', '));
  const npmComponents = bom.components.filter((c) => property(c, 'npm:location'));
  assert.deepEqual(npmComponents.map((c) => `${c.group ? `${c.group}/` : ''}${c.name}@${c.version}`).sort(), inImage);
  const lock = JSON.parse(readFileSync(path.join(EXAMPLE, 'package-lock.json'), 'utf8')) as { packages: Record<string, { integrity?: string; license?: string }> };
  for (const component of npmComponents) {
    const entry = lock.packages[property(component, 'npm:location')!]!;
    assert.equal(property(component, 'npm:integrity'), entry.integrity);
    assert.equal(component.purl, `pkg:npm/${component.name}@${component.version}`);
    if (entry.license) assert.deepEqual(component.licenses, [{ expression: entry.license }]);
  }

  // SPDX 2.3, the same facts: checked by the spec's rules (SPDX's JSON schema ships in no npm package;
  // Debian has no SPDX reader), license expressions by spdx-expression-parse.
  const spdxRun = runCli(['sbom', EXAMPLE, '--arch', 'amd64', '--image', archive, '--format', 'spdx', '--flake', REPO, ...OVERRIDE_NIXPKGS], { env: { ADDONIX_CACHE_DIR: path.join(dir, 'cache') } });
  assert.equal(spdxRun.status, 0, spdxRun.stderr);
  checkSpdx(JSON.parse(spdxRun.stdout) as SpdxDocument, bom);

  // The native addon: its plan and target, and the .node files the image holds, by content.
  const native = bom.components.find((c) => property(c, 'addonix:native-plan'));
  assert.ok(native, 'better-sqlite3 as a native addon');
  assert.equal(property(native, 'addonix:native-triple'), 'x86_64-unknown-linux-gnu');
  const binary = path.join(modules, 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  const listed = native.components!.find((f) => f.name.endsWith('/better-sqlite3/build/Release/better_sqlite3.node'));
  assert.equal(listed?.hashes[0]!.content, createHash('sha256').update(readFileSync(binary)).digest('hex'));
});

test('sbom: nixpkgs meta.license as CycloneDX licenses, and the library data read strictly', () => {
  assert.deepEqual(nixLicense({ spdxId: 'MIT', shortName: 'mit', fullName: 'MIT License' }), { id: 'MIT' });
  // publicDomain (no spdxId), an id SPDX's list does not have, a legacy string license (shortName only), nothing.
  assert.deepEqual(nixLicense({ shortName: 'publicDomain', fullName: 'Public Domain' }), { name: 'Public Domain' });
  assert.deepEqual(nixLicense({ spdxId: 'LicenseRef-Not-Listed', shortName: 'x' }), { name: 'x' });
  assert.deepEqual(nixLicense({ shortName: 'unfree' }), { name: 'unfree' });
  assert.equal(nixLicense({}), null);
  assert.equal(readPackageData(null, 'flake'), null, 'an older library has no data');
  assert.throws(() => readPackageData({ dataVersion: 2, paths: {} }, 'flake, amd64'), /flake, amd64: addonixPackages has dataVersion 2; this addonix reads version 1/);
  const data = readPackageData({ dataVersion: 1, packageSet: 'x', paths: { '/nix/store/a-b': { attribute: null, output: 'out', override: null, licenses: [{ spdxId: 'MIT' }, 'junk'] } } }, 'f');
  assert.deepEqual(data?.paths.get('/nix/store/a-b'), { attribute: null, output: 'out', override: null, licenses: [{ spdxId: 'MIT' }] });
});

test("sbom: the library's data of nixpkgs packages, evaluated: extraContents by attribute where the set has it, a caller's own derivation without attribute or license, a cross set's Node.js", (t) => {
  if (!needTools(t, 'nix-instantiate')) return;
  type Facts = { attribute: string | null; output: string; override: string | null; licenses: unknown[] };
  const data = evalJson<{ amd64: Record<string, Facts>; armv7: { packageSet: string; paths: Record<string, Facts> }; jq: string[]; mine: string }>(
    withLibrary(`let
  mine = pkgs.runCommand "my-tool" { } "mkdir $out";
  example = addonix.mkAddonImages { inherit pkgs; src = ${nixPath(EXAMPLE)}; addon = dataOf ${nixPath(EXAMPLE)} "addon"; npmDeps = dataOf ${nixPath(EXAMPLE)} "npm-deps";
    extraContents = p: [ p.jq mine ]; };
in { amd64 = example.nixPackages.amd64.paths; armv7 = example.nixPackages.armv7; jq = [ pkgs.jq.bin.outPath pkgs.jq.out.outPath ]; mine = mine.outPath; }`),
  );
  const mit = { spdxId: 'MIT', shortName: 'mit', fullName: 'MIT License' };
  // jq has two outputs (bin first, as nixpkgs'): both are the set's `jq`, with its license.
  assert.deepEqual(data.amd64[data.jq[0]!], { attribute: 'jq', output: 'bin', override: null, licenses: [mit] });
  assert.deepEqual(data.amd64[data.jq[1]!], { attribute: 'jq', output: 'out', override: null, licenses: [mit] });
  assert.deepEqual(data.amd64[data.mine], { attribute: null, output: 'out', override: null, licenses: [] }, 'no meta.license, no attribute of the set');
  assert.equal(data.armv7.packageSet, 'armv7l-unknown-linux-musleabihf');
  const node = Object.entries(data.armv7.paths).find(([p]) => /-nodejs-slim-[0-9.]+$/.test(p));
  assert.equal(node?.[1].attribute, 'nodejs-slim');
});
