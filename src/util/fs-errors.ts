/**
 * File-system failures that are the machine's state, not addonix's bugs: a full disk, a folder the user
 * may not write, a read-only file system. Every command reports them as user errors naming the path and
 * what to do (the CLI turns any that reach it into one, see main.ts).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { UserError } from './errors.js';

const CAUSES: Record<string, { code: 'disk-full' | 'not-writable' | 'read-only'; reason: string; fix: string }> = {
  ENOSPC: { code: 'disk-full', reason: 'no space left on the device', fix: 'free some space there, or choose another place' },
  EDQUOT: { code: 'disk-full', reason: 'the disk quota is used up', fix: 'free some space there, or choose another place' },
  EACCES: { code: 'not-writable', reason: 'permission denied', fix: 'make it writable for this user, or choose another place' },
  EPERM: { code: 'not-writable', reason: 'operation not permitted', fix: 'make it writable for this user, or choose another place' },
  EROFS: { code: 'read-only', reason: 'the file system is read-only', fix: 'choose a place on a writable file system' },
};

export interface FileSystemErrorContext {
  /** Folders with advice of their own, e.g. addonix's cache ("set ADDONIX_CACHE_DIR ..."). */
  places?: { dir: string; advice: string }[];
}

/** A UserError for a file-system failure of the machine's making, or undefined for any other error. */
export function fileSystemUserError(error: unknown, context: FileSystemErrorContext = {}): UserError | undefined {
  if (error instanceof UserError || !(error instanceof Error)) return undefined;
  const { code, path: file, syscall } = error as NodeJS.ErrnoException;
  const cause = code ? CAUSES[code] : undefined;
  if (!cause) return undefined;
  const where = file ?? '(a file)';
  if (file && cause.code === 'not-writable' && cannotRead(file, syscall)) {
    return new UserError('not-readable', `cannot read ${where}: ${cause.reason}; make it readable for this user (or run as a user who may read it)`, { file });
  }
  const place = context.places?.find(({ dir }) => where === dir || where.startsWith(dir.endsWith('/') ? dir : `${dir}/`));
  const doing = syscall === 'open' || syscall === 'mkdir' || syscall === 'rename' || syscall === 'write' || syscall === 'writev' || syscall === 'copyfile' || syscall === 'link' || syscall === 'symlink' || syscall === 'access' ? 'cannot write' : `cannot ${syscall ?? 'use'}`;
  return new UserError(cause.code, `${doing} ${where}: ${cause.reason}; ${place ? place.advice : cause.fix}`, { file: file ?? undefined });
}

/**
 * Whether a permission error on `file` was one of reading: Node's errors say `open` for reads and
 * writes alike, so the file itself is asked. One that exists and this user may not read was being
 * read (a file opened to write is one addonix made, or readable); a folder that cannot be listed too.
 */
function cannotRead(file: string, syscall: string | undefined): boolean {
  if (syscall !== 'open' && syscall !== 'scandir' && syscall !== 'opendir' && syscall !== 'read' && syscall !== 'stat') return false;
  if (!existsSync(file)) return false;
  try {
    accessSync(file, constants.R_OK);
    return false;
  } catch {
    return true;
  }
}

/**
 * Fails now, with the user error a write would give later, when files cannot be written in `dir`: a
 * command that builds for minutes checks the folder of its results before it starts.
 */
export async function checkWritableFolder(dir: string): Promise<void> {
  try {
    await access(dir, constants.W_OK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError('not-found', `${dir} does not exist: create the folder, or choose another place`, { file: dir });
    throw fileSystemUserError(error) ?? error;
  }
}
