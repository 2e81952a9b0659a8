/**
 * The engines as oracles of how a layer reads: archives made block by block with the meta headers,
 * whiteouts, links and names that readers settle differently, each loaded by the real Podman (its own
 * storage in a temporary folder) and, when Podman takes it, exported from a container and compared file
 * by file with what addonix's scanner reads; the images Podman takes are also unpacked by umoci from an
 * OCI layout and compared the same way. Every layer Podman refuses, addonix refuses; every layer both
 * take reads as the same files; the few that addonix refuses and Podman takes are listed with why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { needTools, tempTree } from './helpers.js';
import { dockerToolsEntries, imageConfig, layer, sha, writeTarFile, type TestImage } from './images.js';
import * as forge from './tar-forge.js';
import { openLocalImages, type ScannedLayer } from '../src/oci/scan.js';
import { DEFAULT_LAYER_RULES } from '../src/oci/layer-rules.js';
import { readTar } from '../src/oci/tar.js';
import { UserError } from '../src/util/errors.js';

const run = promisify(execFile);
const { archive, entry, file, gnuLong, pax } = forge;

/** What a path of an extracted root is: its kind, and a file's content hash or a link's target. */
type View = Map<string, string>;

function podmanEnv(dir: string): Record<string, string> {
  writeFileSync(path.join(dir, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`);
  writeFileSync(path.join(dir, 'containers.conf'), '[engine]\nevents_logger = "none"\ncgroup_manager = "cgroupfs"\n');
  return { ...(process.env as Record<string, string>), CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf'), CONTAINERS_CONF: path.join(dir, 'containers.conf') };
}

const hex = (data: Buffer) => createHash('sha256').update(data).digest('hex').slice(0, 16);

/** The root addonix's reading of the layers makes: whiteouts applied, hard links as the files they share. */
function addonixView(layers: ScannedLayer[]): View {
  const view: View = new Map();
  const removeTree = (key: string) => {
    view.delete(key);
    for (const other of [...view.keys()]) if (other.startsWith(`${key}/`)) view.delete(other);
  };
  for (const scanned of layers) {
    const before = new Set(view.keys());
    const files = scanned.files!;
    for (let index = 0; index < files.count; index++) {
      const facts = files.get(index);
      const key = facts.path.slice(1);
      if (key === '') continue;
      const base = path.posix.basename(key);
      const dir = path.posix.dirname(key);
      // The folders an entry is in are made, whatever the entry does (a whiteout too).
      const parts = key.split('/');
      for (let end = 1; end < parts.length; end++) if (!view.has(parts.slice(0, end).join('/'))) view.set(parts.slice(0, end).join('/'), 'directory');
      if (base === '.wh..wh..opq') {
        for (const other of before) if (dir === '.' || other.startsWith(`${dir}/`)) view.delete(other);
      } else if (base.startsWith('.wh.')) {
        removeTree(dir === '.' ? base.slice(4) : `${dir}/${base.slice(4)}`);
      } else if (facts.kind === 'hardlink') {
        view.set(key, view.get(facts.linkTarget!)!);
      } else {
        if (facts.kind !== 'directory') removeTree(key);
        view.set(key, facts.kind === 'file' ? `file ${facts.sha256!.slice(7, 23)}` : facts.kind === 'symlink' ? `symlink ${facts.linkTarget}` : facts.kind);
      }
    }
  }
  return view;
}

/** The root a container of the image has, from `podman export`. */
async function podmanView(env: Record<string, string>, image: string, out: string): Promise<View> {
  const container = (await run('podman', ['create', image, '/none'], { env })).stdout.trim();
  try {
    await run('podman', ['export', '-o', out, container], { env });
    const exported = readFileSync(out);
    const view: View = new Map();
    const linked = new Map<string, string>();
    for await (const item of readTar((async function* () { yield exported; })(), 'export')) {
      const key = item.name.replace(/\/$/, '');
      const body: Buffer[] = [];
      for await (const chunk of item.body()) body.push(Buffer.from(chunk));
      if (item.type === 'hardlink') linked.set(key, item.linkpath!.replace(/\/$/, ''));
      else view.set(key, item.type === 'file' ? `file ${hex(Buffer.concat(body))}` : item.type === 'symlink' ? `symlink ${item.linkpath}` : item.type);
    }
    for (const [key, target] of linked) view.set(key, view.get(target)!);
    return view;
  } finally {
    await run('podman', ['rm', container], { env });
  }
}

/** The root umoci unpacks from an OCI layout of the same layers. */
async function umociView(dir: string, image: TestImage): Promise<View> {
  const layout = path.join(dir, 'layout');
  const blobs = path.join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer) => {
    writeFileSync(path.join(blobs, sha(data).slice(7)), data);
    return { digest: sha(data), size: data.length };
  };
  const config = imageConfig(image);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) },
    layers: image.layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...put(l) })),
  }));
  writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...put(manifest), annotations: { 'org.opencontainers.image.ref.name': 'oracle' } }] }));
  const bundle = path.join(dir, 'bundle');
  await run('umoci', ['unpack', '--rootless', '--image', `${layout}:oracle`, bundle]);
  const root = path.join(bundle, 'rootfs');
  const view: View = new Map();
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const full = path.join(at, name);
      const key = path.relative(root, full);
      const info = lstatSync(full);
      if (info.isDirectory()) {
        view.set(key, 'directory');
        walk(full);
      } else if (info.isSymbolicLink()) view.set(key, `symlink ${readlinkSync(full)}`);
      else if (info.isFile()) view.set(key, `file ${hex(readFileSync(full))}`);
      else view.set(key, info.isFIFO() ? 'fifo' : 'other');
    }
  };
  walk(root);
  return view;
}

interface Case {
  name: string;
  /** The top layer (over a base holding etc/os-release, opt/a and opt/b). */
  top: Buffer;
  /** Podman takes it and addonix refuses it, deliberately: why. */
  stricter?: string;
}

const BASE = { 'etc/os-release': 'NAME=base\n', 'opt/a': 'a\n', 'opt/b': 'b\n' };

const CASES: Case[] = [
  // Read alike, the same files in every reader.
  { name: 'gnu-long-name-over-pax-path', top: archive(gnuLong('L', 'app/gnu-name'), pax([['path', 'app/pax-name']]), file('app/short', '1')) },
  { name: 'second-pax-header-replaces-the-first', top: archive(pax([['path', '../../escape']]), pax([['path', 'app/safe']]), file('app/header-name', '2')) },
  { name: 'gnu-long-link-over-pax-linkpath', top: archive(file('app/t1', 't'), gnuLong('K', 't1'), pax([['linkpath', 'elsewhere']]), entry({ name: 'app/link', type: '2', linkpath: 'header-target' })) },
  { name: 'hard-link-by-gnu-long-link', top: archive(file('app/a', 'A'), file('app/b', 'B'), gnuLong('K', 'app/a'), pax([['linkpath', 'app/b']]), entry({ name: 'app/h', type: '1', linkpath: 'app/b' })) },
  { name: 'empty-long-name-and-pax-path', top: archive(gnuLong('L', ''), file('app/kept', 'x'), pax([['path', '']]), file('app/kept2', 'y')) },
  { name: 'old-type-flags', top: archive(entry({ name: 'olddir/', type: '\0' }), file('oldfile', 'x', { type: '\0' }), file('app/notdir/', 'n', { type: '0' })) },
  { name: 'prefixes', top: archive(file('n', 'u', { prefix: 'app/pre', raw: [[263, '  ']] }), file('n', 'g', { format: 'gnu', raw: [[345, 'app/gpre']] })) },
  { name: 'whiteouts-and-opaque', top: archive(file('etc/.wh.os-release', ''), entry({ name: 'opt/', type: '5' }), file('opt/.wh..wh..opq', ''), file('opt/c', 'c')) },
  { name: 'hard-links-to-earlier-entries', top: archive(file('app/x', 'x'), entry({ name: 'app/h', type: '1', linkpath: 'app/x' }), entry({ name: 'app/s', type: '2', linkpath: 'x' }), entry({ name: 'app/hs', type: '1', linkpath: 'app/s' })) },
  { name: 'one-zero-block-then-the-end', top: Buffer.concat([file('app/z', 'z'), Buffer.alloc(512)]) },
  { name: 'end-in-the-padding', top: Buffer.concat([forge.header({ name: 'app/p', size: 1 }), Buffer.from('p')]) },
  { name: 'long-name', top: archive(pax([['path', `${`${'d'.repeat(200)}/`.repeat(18)}f`]]), file('x', 'x')) },
  // Refused by the engines, and by addonix.
  { name: 'duplicate-path', top: archive(file('app/d', '1'), file('./app/d', '2')) },
  { name: 'duplicate-folder', top: archive(entry({ name: 'app/', type: '5' }), entry({ name: 'app', type: '5' })) },
  { name: 'hard-link-to-itself', top: archive(entry({ name: 'app/self', type: '1', linkpath: 'app/self' })) },
  { name: 'hard-link-to-a-later-entry', top: archive(entry({ name: 'app/early', type: '1', linkpath: 'app/late' }), file('app/late', 'l')) },
  { name: 'hard-link-to-a-folder', top: archive(entry({ name: 'app/', type: '5' }), entry({ name: 'hl', type: '1', linkpath: 'app' })) },
  { name: 'hard-link-to-nothing', top: archive(entry({ name: 'hl', type: '1', linkpath: 'nowhere' })) },
  { name: 'hard-link-by-long-link-to-nothing', top: archive(file('app/a', 'A'), gnuLong('K', 'app/missing'), pax([['linkpath', 'app/a']]), entry({ name: 'app/h', type: '1', linkpath: 'app/a' })) },
  { name: 'whiteout-of-dot-dot-dot', top: archive(file('etc/.wh...', '')) },
  { name: 'component-of-4096-bytes', top: archive(pax([['path', `app/${'n'.repeat(4096)}`]]), file('x', 'x')) },
  { name: 'zero-block-inside', top: Buffer.concat([file('app/a', 'a'), Buffer.alloc(512), file('app/b', 'b'), forge.end()]) },
  { name: 'nul-in-pax-path', top: archive(pax(forge.paxRecord('path', 'app/a\0b')), file('app/f', 'x')) },
  { name: 'contiguous-file', top: archive(file('app/c', 'c', { type: '7' })) },
  { name: 'file-inside-a-file', top: archive(file('app/f', 'x'), file('app/f/g', 'y')) },
  // Taken by Podman, refused by addonix.
  { name: 'global-header', top: archive(pax([], 'g', 'pax_global_header'), file('app/f', 'x')), stricter: 'a global header named like a path removes it (vfs)' },
  { name: 'global-header-named-etc', top: archive(pax([], 'g', 'etc'), file('app/f', 'x')), stricter: 'Podman removes /etc for it' },
  { name: 'whiteout-of-dot', top: archive(file('etc/.wh.', '')), stricter: 'Podman removes /etc for it' },
  { name: 'whiteout-of-dot-dot', top: archive(file('etc/.wh..', '')), stricter: 'Podman removes /etc for it' },
  { name: 'symlink-over-a-folder-of-the-layer', top: archive(file('a/b', '1'), entry({ name: 'a', type: '2', linkpath: '/tmp' })), stricter: 'Podman drops a/b for it' },
  { name: 'hard-link-to-a-lower-layer', top: archive(entry({ name: 'app/h', type: '1', linkpath: 'etc/os-release' })), stricter: 'only storage that copies lower layers (vfs) has the target' },
  { name: 'absolute-name', top: archive(file('/app/abs', 'x')), stricter: 'absolute names are refused' },
  // The engine's name is the long name (`escape` lands at the root: Podman extracts in a chroot, where
  // `..` stops at the root); addonix reads the same name, and refuses `..` wherever it leads.
  { name: 'long-name-escaping-over-pax-path', top: archive(gnuLong('L', '../../escape'), pax([['path', 'app/harmless']]), file('app/x', 'x')), stricter: "'..' is refused (Podman's chrooted extraction stops it at the root)" },
  { name: 'global-header-escaping', top: archive(pax([['path', '../../../var/tmp/addonix-oracle']], 'g'), file('app/f', 'x')), stricter: 'global headers and .. are refused' },
];

test('engines: Podman and umoci extract every layer addonix takes as the files addonix reads, and Podman refuses what addonix refuses', { timeout: 300_000 }, async (t) => {
  if (!needTools(t, 'podman', 'umoci')) return;
  const dir = tempTree(t, {});
  const env = podmanEnv(dir);
  const base = await layer(BASE);
  const outcomes: string[] = [];
  const check = async (item: Case, index: number) => {
    const image: TestImage = { goarch: 'amd64', layers: [base, item.top], repoTag: `localhost/oracle-${index}:1` };
    const archiveFile = await writeTarFile(path.join(dir, `${item.name}.tar`), dockerToolsEntries(image));
    let ours: View | string;
    try {
      const [candidate] = await openLocalImages(archiveFile, DEFAULT_LAYER_RULES);
      ours = addonixView((await candidate!.scan()).layers);
    } catch (error) {
      assert.ok(error instanceof UserError, `${item.name}: ${(error as Error).stack}`);
      ours = error.message;
    }
    const loaded = await run('podman', ['load', '-q', '-i', archiveFile], { env }).then(() => true, () => false);
    if (!loaded) {
      assert.equal(typeof ours, 'string', `${item.name}: Podman refuses it, so must addonix`);
      outcomes.push(`${item.name}: refused by both (${(ours as string).replace(/^.*(refusing|tar archive:) /, '').slice(0, 160)})`);
      return;
    }
    if (typeof ours === 'string') {
      assert.ok(item.stricter, `${item.name}: Podman takes it, addonix refuses it: ${ours}`);
      outcomes.push(`${item.name}: refused by addonix only, ${item.stricter}`);
      return;
    }
    assert.equal(item.stricter, undefined, `${item.name}: addonix takes it`);
    const theirs = await podmanView(env, image.repoTag!, path.join(dir, `export-${index}.tar`));
    assert.deepEqual(Object.fromEntries([...theirs].sort()), Object.fromEntries([...ours].sort()), `${item.name}: Podman extracts what addonix reads`);
    const caseDir = path.join(dir, `umoci-${index}`);
    mkdirSync(caseDir);
    const unpacked = await umociView(caseDir, image);
    assert.deepEqual(Object.fromEntries([...unpacked].sort()), Object.fromEntries([...ours].sort()), `${item.name}: umoci unpacks what addonix reads`);
    outcomes.push(`${item.name}: the same files`);
  };
  // A few at a time: each case is a load, a container and an export.
  const queue = CASES.map((item, index) => () => check(item, index));
  await Promise.all(Array.from({ length: 3 }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await next();
  }));
  t.diagnostic(outcomes.sort().join('\n'));
});
