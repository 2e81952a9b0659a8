/** Images for the diff tests: layers with full control over each tar header. */
import { Header } from 'tar';
import type { TestImage } from './images.js';

export interface Entry {
  path: string;
  body?: string;
  type?: 'File' | 'Directory' | 'SymbolicLink';
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkpath?: string;
}

/** A layer tar with full control over each header (owner, mtime, mode), as other tools write them. */
export function customLayer(entries: Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? '');
    const type = entry.type ?? 'File';
    const header = Buffer.alloc(512);
    new Header({
      path: entry.path,
      type,
      size: type === 'File' ? body.length : 0,
      mode: entry.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      mtime: new Date((entry.mtime ?? 1) * 1000),
      ...(entry.linkpath ? { linkpath: entry.linkpath } : {}),
    }).encode(header);
    blocks.push(header);
    if (type === 'File' && body.length > 0) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export const BASE: Entry[] = [
  { path: 'bin/', type: 'Directory' },
  { path: 'bin/tool', body: '#!/bin/sh\necho tool\n', mode: 0o755 },
  { path: 'etc/os-release', body: 'NAME=test\n' },
];
export const APP: Entry[] = [
  { path: 'app/', type: 'Directory' },
  { path: 'app/data.bin', body: 'x'.repeat(300) },
  { path: 'app/link', type: 'SymbolicLink', linkpath: 'data.bin' },
  { path: 'app/main.js', body: 'console.log(1);\n' },
  { path: 'app/old.txt', body: 'old\n' },
];

export function image(layers: Buffer[], labels: Record<string, string> = { 'io.hass.arch': 'amd64' }): TestImage {
  return { goarch: 'amd64', layers, labels };
}
