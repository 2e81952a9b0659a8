/**
 * What an entry of a layer may be: the one place that decides it, for every command that reads layers
 * (push, load, assemble, inspect-image import them; diff and verify scan them), so that all give the same
 * verdict on the same layer.
 *
 * - A name stays inside the image root: no absolute names, no `..` component. Any other byte sequence is
 *   a name (backslashes, non-UTF-8 bytes: names are byte strings and stay distinct).
 * - A hard link names another entry of the image the same way (relative, no `..`).
 * - A symbolic link may point anywhere inside the root: an absolute target is resolved in the image's own
 *   root (the usual `/nix/store/...` links); a relative one must not climb above it.
 * - No entry is written through a symbolic link of the same layer (`evil -> /etc`, then `evil/passwd`),
 *   nor does a hard link reach through one: a tool that extracts the layer on a host would follow it.
 * - Device nodes only when allowed (`--allow-devices`: a base image may hold `/dev/null` and friends).
 *   Files, folders, links and FIFOs otherwise; other entry types (sparse files, ...) are refused.
 */
import { UserError } from '../util/errors.js';
import { showName } from '../util/names.js';
import type { TarEntry } from './tar.js';

export interface LayerRules {
  /** Accept character and block device nodes. */
  allowDevices: boolean;
}

export const DEFAULT_LAYER_RULES: LayerRules = { allowDevices: false };

/** The rules as part of a cache key: a layer accepted under other rules must be checked again. */
export function rulesKey(rules: LayerRules): string {
  return rules.allowDevices ? 'devices' : 'strict';
}

/** The components of a relative name, `.` and empty ones dropped; null when it has `..` or is absolute. */
function components(name: string): string[] | null {
  if (name.startsWith('/')) return null;
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return null;
    parts.push(part);
  }
  return parts;
}

/** Checks the entries of one layer in order, remembering its symbolic links. */
export class LayerChecker {
  private readonly symlinks = new Set<string>();
  /** Device nodes seen (allowed by the rules). */
  devices = 0;
  entries = 0;

  constructor(
    private readonly rules: LayerRules,
    private readonly what: string,
  ) {}

  /** The entry's path in the image (`/app/main.js`, `/` for the root; a byte string), or a UserError. */
  check(entry: TarEntry): string {
    const refuse = (why: string) => new UserError('image-hostile', `${this.what}: refusing ${describe(entry)} ${showName(entry.name)}: ${why}`);
    const parts = components(entry.name);
    if (parts === null) throw refuse(entry.name.startsWith('/') ? 'absolute names would be written outside the image root' : "'..' would lead outside the image root");
    if (parts.length === 0 && entry.type !== 'directory') throw refuse('only a folder can be the image root');
    const through = this.throughSymlink(parts);
    if (through) throw refuse(`it would be written through the symbolic link ${showName('/' + through)} of the same layer`);
    switch (entry.type) {
      case 'file':
      case 'directory':
      case 'fifo':
        break;
      case 'symlink': {
        const target = entry.linkpath!;
        if (!target.startsWith('/') && this.climbsAbove(parts.slice(0, -1), target)) throw refuse(`it points to ${showName(target)}, outside the image root`);
        this.symlinks.add(parts.join('/'));
        break;
      }
      case 'hardlink': {
        const target = components(entry.linkpath!);
        if (target === null || target.length === 0) throw refuse(`it links to ${showName(entry.linkpath!)}, which is not a file inside the image root`);
        const targetThrough = this.throughSymlink([...target, '']);
        if (targetThrough) throw refuse(`its target ${showName(entry.linkpath!)} is reached through the symbolic link ${showName('/' + targetThrough)} of the same layer`);
        break;
      }
      case 'char-device':
      case 'block-device':
        if (!this.rules.allowDevices) {
          throw refuse(`device nodes (${entry.devmajor}:${entry.devminor}) are refused in layers; pass --allow-devices if the image really needs them (a base image's /dev entries)`);
        }
        this.devices++;
        break;
      default:
        throw refuse(`entries of tar type '${entry.typeFlag}' are not files, folders, links, FIFOs or devices`);
    }
    this.entries++;
    return '/' + parts.join('/');
  }

  /** The symbolic link of this layer that a parent of `parts` is, if any. */
  private throughSymlink(parts: string[]): string | undefined {
    if (this.symlinks.size === 0) return undefined;
    let prefix = '';
    for (let i = 0; i < parts.length - 1; i++) {
      prefix = i === 0 ? parts[0]! : `${prefix}/${parts[i]!}`;
      if (this.symlinks.has(prefix)) return prefix;
    }
    return undefined;
  }

  /** Whether a relative link target, from the folder `dir`, leads above the root. */
  private climbsAbove(dir: string[], target: string): boolean {
    let depth = dir.length;
    for (const part of target.split('/')) {
      if (part === '' || part === '.') continue;
      depth += part === '..' ? -1 : 1;
      if (depth < 0) return true;
    }
    return false;
  }
}

function describe(entry: TarEntry): string {
  switch (entry.type) {
    case 'file':
      return 'file';
    case 'directory':
      return 'folder';
    case 'symlink':
      return 'symbolic link';
    case 'hardlink':
      return 'hard link';
    case 'char-device':
      return 'character device';
    case 'block-device':
      return 'block device';
    case 'fifo':
      return 'FIFO';
    default:
      return 'entry';
  }
}
