/**
 * What an entry of a layer may be: the one place that decides it, for every command that reads layers
 * (push, load, assemble, inspect-image import them; diff and verify scan them), so that all give the same
 * verdict on the same layer. The rules refuse what the engines cannot extract, or would extract other
 * than addonix reads it (containers/storage's pkg/archive and the tar-split packer Podman and Docker run
 * on every layer are the reference), and some more that no honest layer holds:
 *
 * - A name stays inside the image root: no absolute names, no `..` component. Any other byte sequence is
 *   a name (backslashes, non-UTF-8 bytes: names are byte strings and stay distinct). A component is at
 *   most 255 bytes and a name at most MAX_NAME_BYTES (longer ones fail with ENAMETOOLONG on extraction).
 * - Each path once: tar-split, which the engines run on every layer, refuses a layer holding a path twice
 *   ("duplicates of file paths not supported"), however the names are spelled (`a/`, `./a`, `a`).
 * - A hard link names an earlier entry of the same layer that is no folder (the engines link to what
 *   they have extracted so far, and Linux links no folders), by a relative name without `..`.
 * - A symbolic link may point anywhere inside the root: an absolute target is resolved in the image's own
 *   root (the usual `/nix/store/...` links); a relative one must not climb above it.
 * - No entry is written through a symbolic link of the same layer (`evil -> /etc`, then `evil/passwd`),
 *   nor inside a file of it, nor does a hard link reach through one; no entry replaces a folder that
 *   holds earlier entries of the layer (the engines would remove them first).
 * - A whiteout (`.wh.NAME`) removes NAME beside it: `.wh.`, `.wh..` and `.wh...` would remove the
 *   folder it is in or the one above, and are refused. `.wh..wh..opq` makes its folder opaque.
 * - Device nodes only when allowed (`--allow-devices`: a base image may hold `/dev/null` and friends).
 *   Files, folders, links and FIFOs otherwise; other entry types (sparse files, contiguous files, volume
 *   labels, pax global headers, which the engines extract by removing what they name) are refused.
 */
import { UserError } from '../util/errors.js';
import { showName } from '../util/names.js';
import { PathFlags } from './path-flags.js';
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

/** Linux's NAME_MAX: the longest component a file system takes. */
const MAX_COMPONENT_BYTES = 255;
/**
 * The longest name: Linux's PATH_MAX (4096, the terminating NUL included) less room for the folder an
 * engine extracts into (`/var/lib/containers/storage/overlay/<64 hex>/diff/` is 110 bytes; Podman
 * extracted a name of 3,820 bytes under a 90-byte storage folder, and refuses a component of 256).
 */
export const MAX_NAME_BYTES = 4096 - 256;
/** The longest symbolic link target Linux stores (PATH_MAX less the NUL). */
const MAX_LINK_BYTES = 4095;
const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** What a path of the layer is, as flags. */
const EXPLICIT = 1; // an entry of the layer names it (implicit: a folder an entry is in)
const FOLDER = 2;
const SYMLINK = 4;
const REMOVED = 8; // removed by a whiteout of the layer
const NOT_LINKABLE = 16; // a whiteout: extracted as nothing

/** An empty, `.` or `..` component anywhere in a name. */
const ODD_COMPONENT = /(^|\/)\.{0,2}(\/|$)/;

/**
 * A relative name as the key of its path (`a/b`; '' for the root), `.` and empty components dropped;
 * null when it has `..` or is absolute. The usual name is its own key (every entry of every layer comes
 * through here, so the usual case splits and joins nothing).
 */
function pathKey(name: string): string | null {
  if (name.startsWith('/')) return null;
  if (!ODD_COMPONENT.test(name)) return name;
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return null;
    parts.push(part);
  }
  return parts.join('/');
}

/** The folder a key is in ('' for the root) and its last component. */
function splitKey(key: string): [string, string] {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? ['', key] : [key.slice(0, slash), key.slice(slash + 1)];
}

/** Checks the entries of one layer in order, remembering every path it has seen. */
export class LayerChecker {
  /** Every path of the layer so far (`a/b`, `` for the root) with what it is (the flags above). */
  private readonly paths: PathFlags;
  /** Device nodes seen (allowed by the rules). */
  devices = 0;
  entries = 0;

  constructor(
    private readonly rules: LayerRules,
    private readonly what: string,
    paths = new PathFlags(),
  ) {
    this.paths = paths;
  }

  /** The entry's path in the image (`/app/main.js`, `/` for the root; a byte string), or a UserError. */
  check(entry: TarEntry): string {
    const refuse = (why: string) => new UserError('image-hostile', `${this.what}: refusing ${describe(entry)} ${showName(shortened(entry.name))}: ${why}`);
    const key = pathKey(entry.name);
    if (key === null) throw refuse(entry.name.startsWith('/') ? 'absolute names would be written outside the image root' : "'..' would lead outside the image root");
    if (key === '' && entry.type !== 'directory') throw refuse('only a folder can be the image root');
    if (key.length > MAX_NAME_BYTES) throw refuse(`its name has ${key.length} bytes; Linux cannot extract names over ${MAX_NAME_BYTES} bytes under an engine's storage folder`);
    if (key.length > MAX_COMPONENT_BYTES) {
      const long = key.split('/').find((part) => part.length > MAX_COMPONENT_BYTES);
      if (long !== undefined) throw refuse(`a component of its name has ${long.length} bytes; Linux file systems take at most ${MAX_COMPONENT_BYTES}`);
    }
    const known = this.paths.get(key);
    if (known !== undefined && known & EXPLICIT) throw refuse('the layer holds this path twice; the engines refuse such a layer (tar-split: "duplicates of file paths not supported")');
    if (known !== undefined && !(known & REMOVED) && entry.type !== 'directory') throw refuse('it would replace a folder that holds earlier entries of the same layer');
    const [folder, base] = splitKey(key);
    this.checkFolders(folder, refuse);

    let flags = EXPLICIT;
    // Whiteouts are told by their name whatever their type, and extracted as nothing but a removal.
    const whiteout = base.startsWith(WHITEOUT);
    if (key.startsWith(WHITEOUT + WHITEOUT) && key !== OPAQUE) throw refuse('AUFS metadata (.wh..wh.*), which the engines skip or treat apart');
    if (whiteout) {
      flags |= NOT_LINKABLE;
      if (base !== OPAQUE) this.whiteout(folder, base.slice(WHITEOUT.length), refuse);
    }
    switch (entry.type) {
      case 'file':
      case 'fifo':
        break;
      case 'directory':
        if (!whiteout) flags |= FOLDER;
        break;
      case 'symlink': {
        const target = entry.linkpath ?? '';
        if (target === '') throw refuse('it has no target');
        if (target.length > MAX_LINK_BYTES) throw refuse(`its target has ${target.length} bytes; Linux stores at most ${MAX_LINK_BYTES}`);
        if (!target.startsWith('/') && climbsAbove(folder === '' ? 0 : folder.split('/').length, target)) throw refuse(`it points to ${showName(target)}, outside the image root`);
        if (!whiteout) flags |= SYMLINK;
        break;
      }
      case 'hardlink':
        this.checkHardLink(entry.linkpath ?? '', key, refuse);
        break;
      case 'char-device':
      case 'block-device':
        if (!this.rules.allowDevices) {
          throw refuse(`device nodes (${entry.devmajor}:${entry.devminor}) are refused in layers; pass --allow-devices if the image really needs them (a base image's /dev entries)`);
        }
        this.devices++;
        break;
      case 'global':
        throw refuse('a pax global header in a layer: the engines extract it as nothing but remove what its name names, differently by storage driver; rebuild the layer without one');
      default:
        throw refuse(`entries of tar type '${entry.typeFlag}' are not files, folders, links, FIFOs or devices; the engines do not extract them`);
    }
    this.paths.set(key, flags);
    this.entries++;
    return '/' + key;
  }

  /**
   * The folders an entry is in (`folder` and those above it): none may be a symbolic link or another
   * non-folder of this layer. Folders no entry named yet are remembered as such (the engines make them),
   * up to the first one known.
   */
  private checkFolders(folder: string, refuse: (why: string) => UserError): void {
    for (let at = folder; at !== ''; at = at.slice(0, Math.max(0, at.lastIndexOf('/')))) {
      const flags = this.paths.get(at);
      if (flags === undefined || flags & REMOVED) {
        this.paths.set(at, FOLDER);
        continue;
      }
      if (flags & SYMLINK) throw refuse(`it would be written through the symbolic link ${showName('/' + at)} of the same layer`);
      if (!(flags & FOLDER)) throw refuse(`it would be written inside ${showName('/' + at)}, which is no folder in the same layer`);
      return;
    }
  }

  /** A whiteout of `name` in `folder`: refused when it names no file beside it; what it removes is gone for later hard links. */
  private whiteout(folder: string, name: string, refuse: (why: string) => UserError): void {
    if (name === '' || name === '.' || name === '..') {
      throw refuse(`a whiteout must name a file beside it; this one would remove ${name === '..' ? 'the folder above' : 'the folder it is in'}`);
    }
    const removed = folder === '' ? name : `${folder}/${name}`;
    const flags = this.paths.get(removed);
    if (flags === undefined) return;
    this.paths.set(removed, flags | REMOVED);
    if (flags & FOLDER) {
      this.paths.addUnder(removed, REMOVED);
    }
  }

  private checkHardLink(linkpath: string, own: string, refuse: (why: string) => UserError): void {
    const key = pathKey(linkpath);
    if (key === null || key === '') throw refuse(`it links to ${showName(linkpath)}, which is not a file inside the image root`);
    for (let at = splitKey(key)[0]; at !== ''; at = at.slice(0, Math.max(0, at.lastIndexOf('/')))) {
      if ((this.paths.get(at) ?? 0) & SYMLINK) throw refuse(`its target ${showName(linkpath)} is reached through the symbolic link ${showName('/' + at)} of the same layer`);
    }
    if (key === own) throw refuse('it links to itself');
    const flags = this.paths.get(key);
    if (flags === undefined || !(flags & EXPLICIT)) throw refuse(`its target ${showName(linkpath)} is no earlier entry of the same layer (the engines link only to what they have extracted of it)`);
    if (flags & REMOVED) throw refuse(`its target ${showName(linkpath)} was removed by a whiteout of the same layer`);
    if (flags & FOLDER) throw refuse(`its target ${showName(linkpath)} is a folder, and Linux links no folders`);
    if (flags & NOT_LINKABLE) throw refuse(`its target ${showName(linkpath)} is a whiteout, which is extracted as nothing`);
  }
}

/** A name short enough for a message: a very long one by its start and end. */
function shortened(name: string): string {
  return name.length <= 300 ? name : `${name.slice(0, 200)}...${name.slice(-80)}`;
}

/** Whether a relative link target, from a folder `depth` components below the root, leads above it. */
function climbsAbove(depth: number, target: string): boolean {
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    depth += part === '..' ? -1 : 1;
    if (depth < 0) return true;
  }
  return false;
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
    case 'global':
      return 'pax global header';
    default:
      return 'entry';
  }
}
