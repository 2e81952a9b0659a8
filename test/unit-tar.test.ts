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
import * as forge from './tar-forge.js';
import { archive } from './tar-forge.js';
import { readTar, readTarFile, type TarEntry } from '../src/oci/tar.js';
import { UserError } from '../src/util/errors.js';

interface Seen {
  name: string;
  type: string;
  typeFlag: string;
  size: number;
  linkpath?: string;
  meta: Pick<TarEntry, 'mode' | 'uid' | 'gid' | 'uname' | 'gname' | 'mtime' | 'devmajor' | 'devminor'>;
  xattrs: [string, string][];
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
    seen.push({ name: entry.name, type: entry.type, typeFlag: entry.typeFlag, size: entry.size, ...(entry.linkpath ? { linkpath: entry.linkpath } : {}), meta: { mode, uid, gid, uname, gname, mtime, devmajor, devminor }, xattrs: entry.xattrs, sha256: hash.digest('hex') });
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
  // A volume label is an entry of its own, as Go's reader gives it (the engines refuse it in a layer; an image archive skips it).
  execFileSync('tar', ['--format=gnu', '--label=BACKUP-1', '-C', tree, '-cf', path.join(dir, 'labelled.tar'), 'empty', 'one-block']);
  const labelled = await bothReaders(path.join(dir, 'labelled.tar'));
  assert.deepEqual('entries' in labelled && labelled.entries.map((entry) => [entry.name, entry.type, entry.typeFlag]), [['BACKUP-1', 'other', 'V'], ['empty', 'file', '0'], ['one-block', 'file', '0']]);
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

test('tar readers: npm tar pax headers, global headers, trailing data after the end', async (t) => {
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
  for (const [name, bytes] of Object.entries(files)) {
    writeFileSync(path.join(dir, name), bytes);
    const result = await bothReaders(path.join(dir, name));
    assert.ok('entries' in result, `${name}: read (${'refused' in result ? result.refused : ''})`);
    assert.ok(result.entries.some((entry) => entry.name === long), `${name}: the pax path`);
  }
  // The global header is an entry of its own (Go's reader returns it), and applies to no other entry.
  const global = await bothReaders(path.join(dir, 'global.tar'));
  assert.deepEqual('entries' in global && global.entries.map((entry) => [entry.name, entry.type, entry.size]).slice(0, 2), [['pax_global_header', 'global', 0], [long, 'file', 9]]);
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
    'one-byte.tar': Buffer.alloc(1),
    // One zero block between entries: Go's reader calls it an invalid header, so do the engines.
    'one-zero-inside.tar': Buffer.concat([good.subarray(0, 1024), Buffer.alloc(512), good.subarray(1024)]),
    // A pax header (a name too long for ustar) whose records are cut off.
    'pax-cut.tar': (await tarBuffer([{ path: `${'d'.repeat(120)}.txt`, body: Buffer.from('x') }])).subarray(0, 512 + 50),
  };
  for (const [name, bytes] of Object.entries(cases)) {
    writeFileSync(path.join(dir, name), bytes);
    const result = await bothReaders(path.join(dir, name));
    assert.ok('refused' in result, `${name} is refused`);
  }
  // Two zero blocks are an empty archive (an empty layer is one), as GNU tar and Go's archive/tar read it;
  // so are no bytes at all, and one zero block before the end, for Go.
  for (const [name, bytes] of [['zeros.tar', Buffer.alloc(1024)], ['nothing.tar', Buffer.alloc(0)], ['one-zero.tar', Buffer.alloc(512)]] as const) {
    writeFileSync(path.join(dir, name), bytes);
    assert.deepEqual(await bothReaders(path.join(dir, name)), { entries: [] }, name);
  }
  // All of an entry's bytes, but not the padding to its 512-byte block: the end of the input in the
  // padding ends the archive for Go's reader, so the entry is read whole.
  writeFileSync(path.join(dir, 'padding-cut.tar'), (await tarBuffer([{ path: 'short.txt', body: Buffer.from('x') }])).subarray(0, 512 + 100));
  const paddingCut = await bothReaders(path.join(dir, 'padding-cut.tar'));
  assert.deepEqual('entries' in paddingCut && paddingCut.entries.map((entry) => [entry.name, entry.size]), [['short.txt', 1]]);
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

test("tar readers: meta headers and header formats settled as Go's archive/tar settles them", async (t) => {
  const dir = tempTree(t, {});
  const cases: [string, Buffer, [string, string, Record<string, unknown>?][]][] = [
    // A GNU long name wins over a pax path (Go applies the pax records first, then the long name).
    ['gnu-long-name-then-pax-path', archive(forge.gnuLong('L', 'gnu-long-name'), forge.pax([['path', 'pax-name']]), forge.file('short', '1')), [['gnu-long-name', 'file']]],
    // A second pax header replaces the first whole: its path is gone, the header's name and owner stay.
    ['two-pax-headers', archive(forge.pax([['path', 'first'], ['uname', 'first-owner']]), forge.pax([['mtime', '7']]), forge.file('header-name', '2', { uname: 'hdr' })), [['header-name', 'file', { uname: 'hdr', mtime: 7 }]]],
    // A global header is an entry named by its own path, and changes no later entry.
    ['global-with-path', archive(forge.pax([['path', 'global-path'], ['uid', '9']], 'g', 'pax_global_header'), forge.file('after', '3')), [['global-path', 'global'], ['after', 'file', { uid: 0 }]]],
    // A GNU long link wins over a pax linkpath.
    ['gnu-long-link-then-pax-linkpath', archive(forge.gnuLong('K', 'gnu-target'), forge.pax([['linkpath', 'pax-target']]), forge.entry({ name: 'link', type: '2', linkpath: 'header-target' })), [['link', 'symlink', { linkpath: 'gnu-target' }]]],
    // An empty long name and an empty pax value change nothing.
    ['empty-long-name', archive(forge.gnuLong('L', ''), forge.file('kept', 'x')), [['kept', 'file']]],
    ['empty-pax-path', archive(forge.pax([['path', '']]), forge.file('kept', 'x')), [['kept', 'file']]],
    // What comes before a global header applies to nothing.
    ['pax-then-global', archive(forge.pax([['path', 'lost']]), forge.pax([], 'g', 'g-name'), forge.file('after', 'x')), [['g-name', 'global'], ['after', 'file']]],
    ['long-name-then-global', archive(forge.gnuLong('L', 'lost-name'), forge.pax([], 'g', 'g-name'), forge.file('after', 'x')), [['g-name', 'global'], ['after', 'file']]],
    // Type NUL (old archives) is a folder when the name ends with a slash; type 0 stays a file.
    ['old-types', archive(forge.entry({ name: 'olddir/', type: '\0' }), forge.file('oldfile', 'x', { type: '\0' }), forge.file('notdir/', '', { type: '0' })), [['olddir/', 'directory'], ['oldfile', 'file'], ['notdir/', 'file']]],
    // USTAR's prefix whatever the version field says; star's shorter one; a GNU header's prefix only
    // when its time fields do not parse (archives of Go before 1.8).
    ['prefixes', archive(forge.file('n', 'x', { prefix: 'pre', raw: [[263, '  ']] }), forge.file('n', 'x', { format: 'star', prefix: 'spre' }), forge.file('n', 'x', { format: 'gnu', raw: [[345, 'gpre']] }), forge.file('m', 'x', { format: 'gnu', raw: [[345, '00000000000\0']] })), [['pre/n', 'file'], ['spre/n', 'file'], ['gpre/n', 'file'], ['m', 'file']]],
    // V7 headers (no magic, or GNU's magic with another version) have no owner names.
    ['v7', archive(forge.file('v7', 'x', { format: 'v7', raw: [[265, 'someone']] }), forge.file('v7b', 'x', { raw: [[257, 'ustar 00'], [265, 'someone']] })), [['v7', 'file', { uname: '' }], ['v7b', 'file', { uname: '' }]]],
    // Extended attributes, sorted; times with fractions; a pax size over the header's.
    ['xattrs-times-size', archive(forge.pax([['SCHILY.xattr.user.b', '2'], ['SCHILY.xattr.user.a', '1'], ['mtime', '-1.5']]), forge.file('xa', 'x'), forge.pax([['size', '3']]), forge.header({ name: 'sized', size: 0 }), forge.padded('abc')), [['xa', 'file', { xattrs: [['user.a', '1'], ['user.b', '2']], mtime: -1.5 }], ['sized', 'file', { size: 3 }]]],
    // A negative size on a link is no matter: links have no body.
    ['negative-size-link', archive(forge.entry({ name: 'l', type: '2', linkpath: 't', raw: [[124, '\xff'.repeat(12)]] })), [['l', 'symlink', { size: 0 }]]],
  ];
  for (const [name, bytes, expected] of cases) {
    writeFileSync(path.join(dir, `${name}.tar`), bytes);
    const read = await bothReaders(path.join(dir, `${name}.tar`));
    assert.ok('entries' in read, `${name}: read (${'refused' in read ? read.refused : ''})`);
    assert.deepEqual(read.entries.map((entry) => [entry.name, entry.type]), expected.map(([n, type]) => [n, type]), name);
    expected.forEach(([, , fields], i) => {
      const seen = read.entries[i]!;
      for (const [key, value] of Object.entries(fields ?? {})) {
        const actual = key === 'size' || key === 'linkpath' ? seen[key] : key === 'xattrs' ? seen.xattrs : seen.meta[key as keyof Seen['meta']];
        assert.deepEqual(actual, value, `${name}: ${key}`);
      }
    });
  }
  // What Go's reader answers with ErrHeader.
  const refused: [string, Buffer][] = [
    ['nul-in-pax-path', archive(forge.pax(forge.paxRecord('path', 'a\0b')), forge.file('f', 'x'))],
    ['pax-length-too-long', archive(forge.pax('99 path=x\n'), forge.file('f', 'x'))],
    ['pax-uid-not-a-number', archive(forge.pax([['uid', 'abc']]), forge.file('f', 'x'))],
    ['pax-time-not-a-number', archive(forge.pax([['mtime', '1.x']]), forge.file('f', 'x'))],
    ['pax-trailing-nuls', archive(forge.pax(`${forge.paxRecord('path', 'x')}\0\0`), forge.file('f', 'x'))],
    ['pax-negative-size', archive(forge.pax([['size', '-1']]), forge.file('f', 'x'))],
    ['mode-not-octal', archive(forge.file('f', 'x', { raw: [[100, '12x4567\0']] }))],
    ['negative-size-file', archive(forge.file('f', '', { raw: [[124, '\xff'.repeat(12)]] }))],
    ['mtime-not-octal', archive(forge.file('f', 'x', { raw: [[136, 'later\0']] }))],
  ];
  for (const [name, bytes] of refused) {
    // After a good entry, so that the refusal is about this header, not about the input being no tar at all.
    writeFileSync(path.join(dir, `${name}.tar`), Buffer.concat([forge.file('first', '1'), bytes]));
    const read = await bothReaders(path.join(dir, `${name}.tar`));
    assert.ok('refused' in read && /not a valid tar archive/.test(read.refused), `${name} is refused as an invalid header: ${JSON.stringify(read)}`);
  }
});
