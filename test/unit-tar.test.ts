/**
 * The two tar readers: readTarFile (a plain file, read in place) must see every archive as readTar (npm
 * tar's Parser over a stream) sees it: the same entries, metadata and bytes, and a UserError for the same
 * broken or hostile archives. Archives come from GNU tar (gnu, pax and ustar formats), npm tar's writer,
 * and hand-made damage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { needTools, tempTree } from './helpers.js';
import { noise, tarBuffer } from './images.js';
import { readTar, readTarFile, type TarEntry } from '../src/oci/tar.js';
import { UserError } from '../src/util/errors.js';

interface Seen {
  name: string;
  type: string;
  typeFlag: string;
  size: number;
  linkpath?: string;
  meta: Pick<TarEntry, 'mode' | 'uid' | 'gid' | 'uname' | 'gname' | 'mtime' | 'devmajor' | 'devminor'>;
  sha256: string;
}

async function collect(entries: AsyncIterable<TarEntry>, transient = false): Promise<Seen[]> {
  const seen: Seen[] = [];
  for await (const entry of entries) {
    const hash = createHash('sha256');
    const kept: Buffer[] = [];
    let previous: Buffer | undefined;
    for await (const chunk of entry.body()) {
      if (transient) {
        // Valid until the next chunk only: used at once, then scribbled over (the reader must not mind).
        hash.update(chunk);
        previous?.fill(0xee);
        previous = chunk;
      } else {
        // Chunks of a plain body stay valid: hashed only once all are read.
        kept.push(chunk);
      }
    }
    for (const chunk of kept) hash.update(chunk);
    const { mode, uid, gid, uname, gname, mtime, devmajor, devminor } = entry;
    seen.push({ name: entry.name, type: entry.type, typeFlag: entry.typeFlag, size: entry.size, ...(entry.linkpath ? { linkpath: entry.linkpath } : {}), meta: { mode, uid, gid, uname, gname, mtime, devmajor, devminor }, sha256: hash.digest('hex') });
  }
  return seen;
}

type Outcome = { entries: Seen[] } | { refused: string };

async function outcome(read: () => AsyncIterable<TarEntry>, transient = false): Promise<Outcome> {
  try {
    return { entries: await collect(read(), transient) };
  } catch (error) {
    assert.ok(error instanceof UserError, `a UserError, not ${(error as Error).stack}`);
    return { refused: error.message };
  }
}

/** Reads `file` with both readers (the file reader with and without its reused buffer) and checks they agree. */
async function bothReaders(file: string): Promise<Outcome> {
  const streamed = await outcome(() => readTar(createReadStream(file), 'archive'));
  const inPlace = await outcome(() => readTarFile(file, 'archive'));
  const reused = await outcome(() => readTarFile(file, 'archive', { transient: true }), true);
  if ('entries' in streamed) {
    assert.deepEqual(inPlace, streamed, `${path.basename(file)}: the file reader sees what the stream reader sees`);
    assert.deepEqual(reused, streamed, `${path.basename(file)}: the same through one reused buffer`);
  } else {
    assert.ok('refused' in inPlace, `${path.basename(file)}: the stream reader refuses it (${streamed.refused}), so must the file reader`);
    assert.ok('refused' in reused);
  }
  return streamed;
}

/** A name as GNU tar writes it under `-C DIR .`, without `./` and a folder's trailing `/`. */
const plain = (name: string) => name.replace(/^\.\//, '').replace(/\/$/, '');

function gnuTar(dir: string, format: string, name: string): string {
  const file = path.join(dir, name);
  execFileSync('tar', [`--format=${format}`, '--sort=name', '-C', path.join(dir, 'tree'), '-cf', file, '.']);
  return file;
}

test('tar readers: GNU, pax and ustar archives from GNU tar read the same in place as streamed', async (t) => {
  if (!needTools(t, 'tar')) return;
  const dir = tempTree(t, {});
  const tree = path.join(dir, 'tree');
  const deep = path.join(tree, 'a'.repeat(60), 'b'.repeat(60));
  mkdirSync(deep, { recursive: true });
  writeFileSync(path.join(deep, `${'long-name-'.repeat(12)}.txt`), 'a name longer than 100 bytes needs GNU or pax headers\n');
  writeFileSync(path.join(tree, 'empty'), '');
  writeFileSync(path.join(tree, 'one-block'), Buffer.alloc(512, 7));
  // Larger than one read of the file reader (1 MiB), and not a multiple of 512.
  writeFileSync(path.join(tree, 'big.bin'), noise('big', (1 << 20) * 2 + 333));
  symlinkSync(`${'../'.repeat(1)}${'c'.repeat(120)}`, path.join(tree, 'long-link'));
  linkSync(path.join(tree, 'one-block'), path.join(tree, 'hard-link'));
  execFileSync('mkfifo', [path.join(tree, 'fifo')]);
  // A volume label: an entry type npm tar skips, and so must the file reader.
  execFileSync('tar', ['--format=gnu', '--label=BACKUP-1', '-C', tree, '-cf', path.join(dir, 'labelled.tar'), 'empty', 'one-block']);
  const labelled = await bothReaders(path.join(dir, 'labelled.tar'));
  assert.deepEqual('entries' in labelled && labelled.entries.map((entry) => entry.name), ['empty', 'one-block']);
  for (const format of ['gnu', 'pax', 'ustar', 'oldgnu']) {
    let file: string;
    try {
      file = gnuTar(dir, format, `${format}.tar`);
    } catch {
      // ustar cannot hold the long link target: GNU tar says so and writes no archive worth reading.
      assert.equal(format, 'ustar');
      continue;
    }
    const result = await bothReaders(file);
    assert.ok('entries' in result, `${format}: read`);
    const paths = result.entries.map((entry) => plain(entry.name));
    assert.ok(paths.some((p) => p.endsWith('long-name-long-name-long-name-long-name-long-name-long-name-long-name-long-name-long-name-long-name-long-name-long-name-.txt')), `${format}: the long name whole`);
    assert.equal(result.entries.find((entry) => plain(entry.name) === 'big.bin')?.size, (1 << 20) * 2 + 333);
    assert.equal(result.entries.find((entry) => plain(entry.name) === 'long-link')?.linkpath, `../${'c'.repeat(120)}`);
    assert.ok(result.entries.some((entry) => entry.type === 'hardlink' && ['hard-link', 'one-block'].includes((entry.linkpath ?? '').replace(/^\.\//, ''))), `${format}: the hard link`);
    assert.equal(result.entries.find((entry) => plain(entry.name) === 'fifo')?.type, 'fifo');
  }
});

test('tar readers: npm tar pax headers, global headers, trailing data after the end, one zero block inside', async (t) => {
  const dir = tempTree(t, {});
  const long = `${'deep/'.repeat(30)}file.txt`;
  const written = await tarBuffer([
    { path: long, body: Buffer.from('pax path\n') },
    { path: 'x', type: 'symlink', linkpath: `${'y'.repeat(150)}` },
    { path: 'dir', type: 'directory' },
  ]);
  const files: Record<string, Buffer> = { 'npm.tar': written };
  // A global pax header ('g') before the entries, as git archive writes one.
  const globalRecord = Buffer.from('54 comment=a global pax header, as git archive writes\n');
  const globalHeader = Buffer.alloc(512);
  globalHeader.write('pax_global_header', 0);
  globalHeader.write('0000644\0', 100);
  globalHeader.write('0000000\0', 108);
  globalHeader.write('0000000\0', 116);
  globalHeader.write(`${globalRecord.length.toString(8).padStart(11, '0')}\0`, 124);
  globalHeader.write('00000000000\0', 136);
  globalHeader.write('g', 156);
  globalHeader.write('ustar\0', 257);
  globalHeader.write('00', 263);
  globalHeader.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of globalHeader) sum += byte;
  globalHeader.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const padded = Buffer.concat([globalRecord, Buffer.alloc(512 - globalRecord.length)]);
  files['global.tar'] = Buffer.concat([globalHeader, padded, written]);
  // Whatever follows the two zero blocks is not read (npm tar stops there too).
  files['trailing.tar'] = Buffer.concat([written, Buffer.from('garbage after the end of the archive'.repeat(20))]);
  // One zero block between entries does not end the archive.
  const firstEntryEnd = 512 * 3 + 512; // pax header + its data, the entry's header, its data
  files['one-zero.tar'] = Buffer.concat([written.subarray(0, firstEntryEnd), Buffer.alloc(512), written.subarray(firstEntryEnd)]);
  for (const [name, bytes] of Object.entries(files)) {
    writeFileSync(path.join(dir, name), bytes);
    const result = await bothReaders(path.join(dir, name));
    assert.ok('entries' in result, `${name}: read (${'refused' in result ? result.refused : ''})`);
    assert.ok(result.entries.some((entry) => entry.name === long), `${name}: the pax path`);
  }
});

test('tar readers: broken and hostile archives are refused by both', async (t) => {
  const dir = tempTree(t, {});
  const good = await tarBuffer([
    { path: 'a.txt', body: Buffer.from('first\n') },
    { path: 'b.bin', body: noise('b', 5000) },
  ]);
  const badChecksum = Buffer.from(good);
  badChecksum[0] = badChecksum[0]! ^ 0x01; // a letter of the first entry's name: its header's checksum no longer matches
  const hugeSize = Buffer.from(good);
  // The second entry's header claims 8 GiB (base-256 size field) in a 7 KB file.
  const second = 1024;
  hugeSize.fill(0, second + 124, second + 136);
  hugeSize[second + 124] = 0x80;
  hugeSize.writeUIntBE(8 * 2 ** 30, second + 130, 6);
  hugeSize.fill(' ', second + 148, second + 156);
  let sum = 0;
  for (const byte of hugeSize.subarray(second, second + 512)) sum += byte;
  hugeSize.write(`${sum.toString(8).padStart(6, '0')}\0 `, second + 148);
  const cases: Record<string, Buffer> = {
    'cut-in-body.tar': good.subarray(0, second + 512 + 1000),
    'cut-in-header.tar': good.subarray(0, second + 200),
    'bad-checksum.tar': badChecksum,
    'huge-size.tar': hugeSize,
    'text.tar': Buffer.from('hello, this is not a tarball\n'.repeat(40)),
    'empty.tar': Buffer.alloc(0),
    'one-byte.tar': Buffer.alloc(1),
    // A pax header (a name too long for ustar) whose records are cut off.
    'pax-cut.tar': (await tarBuffer([{ path: `${'d'.repeat(120)}.txt`, body: Buffer.from('x') }])).subarray(0, 512 + 50),
    // All of an entry's bytes, but not the padding to its 512-byte block (npm tar refuses that too).
    'padding-cut.tar': (await tarBuffer([{ path: 'short.txt', body: Buffer.from('x') }])).subarray(0, 512 + 100),
  };
  for (const [name, bytes] of Object.entries(cases)) {
    writeFileSync(path.join(dir, name), bytes);
    const result = await bothReaders(path.join(dir, name));
    assert.ok('refused' in result, `${name} is refused`);
  }
  // Two zero blocks are an empty archive (an empty layer is one), as GNU tar and Go's archive/tar read it.
  writeFileSync(path.join(dir, 'zeros.tar'), Buffer.alloc(1024));
  assert.deepEqual(await bothReaders(path.join(dir, 'zeros.tar')), { entries: [] });
  // The readers judge the structure, not the names: what a name may be is the rules' business.
  writeFileSync(path.join(dir, 'unsafe.tar'), await tarBuffer([{ path: '../escape.txt', body: Buffer.from('out\n') }]));
  const unsafe = await bothReaders(path.join(dir, 'unsafe.tar'));
  assert.deepEqual('entries' in unsafe && unsafe.entries.map((entry) => entry.name), ['../escape.txt']);
  // An entry larger than the whole file says so before any of it is read.
  await assert.rejects(collect(readTarFile(path.join(dir, 'huge-size.tar'), 'huge')), /declares 8589934592 bytes but the whole archive has only/);
  assert.equal(readFileSync(path.join(dir, 'huge-size.tar')).length, good.length);
});

test('tar readers: names are byte strings; backslashes and non-UTF-8 bytes stay distinct, short and long, in both readers', async (t) => {
  const dir = tempTree(t, {});
  const names = [
    'etc/systemd/system/system-systemd\\x2dcryptsetup.slice',
    'data/caf\xe9',
    'data/caf\xc3\xa9',
    'data/caf\xff\xfe',
    `deep/${'\xe9'.repeat(120)}/file`,
  ];
  const entries = names.map((name, i) => ({ path: name, bytes: true, body: Buffer.from(`file ${i}\n`) }));
  entries.push({ path: 'links/to-latin1', bytes: true, type: 'symlink', linkpath: '../data/caf\xe9' } as never);
  writeFileSync(path.join(dir, 'names.tar'), await tarBuffer(entries));
  const read = await bothReaders(path.join(dir, 'names.tar'));
  assert.ok('entries' in read);
  assert.deepEqual(read.entries.map((entry) => entry.name), [...names, 'links/to-latin1']);
  assert.equal(new Set(read.entries.map((entry) => entry.name)).size, names.length + 1, 'every name distinct');
  assert.equal(read.entries.at(-1)!.linkpath, '../data/caf\xe9');
  // GNU tar, which knows nothing of UTF-8, sees the same bytes.
  if (!needTools(t, 'tar')) return;
  const listed = execFileSync('tar', ['--quoting-style=literal', '-tf', path.join(dir, 'names.tar')]);
  assert.deepEqual(listed.toString('latin1').trim().split('\n'), [...names, 'links/to-latin1']);
});
