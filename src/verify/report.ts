/**
 * `diff --diff-report DIR`: the two versions of every file whose content differs (and of files only one side
 * has), laid out as `DIR/a/<path>` and `DIR/b/<path>` for diffoscope, with the two configs and the JSON
 * result beside them. Files are written only as plain files with mode 0644 into a folder addonix creates
 * (never links, never the image's modes), and the folder appears whole or not at all.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readdir, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeDirectoryAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { checkWritableFolder } from '../util/fs-errors.js';
import { bytesOf, showName } from '../util/names.js';
import { readLayer } from '../oci/layer.js';
import type { LayerRules } from '../oci/layer-rules.js';
import type { ImageCandidate } from '../oci/scan.js';
import type { FileChange } from './compare.js';
import type { DiffOutcome } from './diff.js';
import { diffJson } from './render.js';

/** Refuses a report folder that exists with something in it, before any work is done. */
export async function checkReportDir(dir: string): Promise<void> {
  try {
    const info = await stat(dir);
    if (!info.isDirectory() || (await readdir(dir)).length > 0) throw new UserError('exists', `--diff-report ${dir} exists and is not an empty folder; remove it or name another`);
    await checkWritableFolder(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    // It will be made: where, must be writable now, not after the images were read.
    await checkWritableFolder(await nearestFolder(path.dirname(path.resolve(dir))));
  }
}

/** `dir` or its nearest parent that exists (mkdir -p makes the rest). */
async function nearestFolder(dir: string): Promise<string> {
  for (let at = dir; ; at = path.dirname(at)) {
    if (await stat(at).then(() => true, () => false)) return at;
    if (path.dirname(at) === at) return at;
  }
}

/** Which files of which layers to take from one side: layer index (0-based) -> paths. */
type Wanted = Map<number, Set<string>>;

function want(wanted: Wanted, position: number | null, filePath: string): void {
  if (position === null) return;
  const set = wanted.get(position - 1) ?? new Set<string>();
  set.add(filePath);
  wanted.set(position - 1, set);
}

/** Files worth looking at side by side: content that differs, and files one side lacks. */
function worthWriting(change: FileChange, side: 'a' | 'b'): boolean {
  const facts = change[side];
  if (!facts || facts.kind !== 'file') return false;
  if (change.change === 'added' || change.change === 'removed') return true;
  return change.differences.some((d) => d.kind === 'content' || d.kind === 'type');
}

/** A file of the report at an image path (a byte string): the name's own bytes under `root`. */
function reportPath(root: string, imagePath: string): Buffer {
  return Buffer.concat([Buffer.from(root, 'utf8'), bytesOf(imagePath)]);
}

async function extract(candidate: ImageCandidate, wanted: Wanted, root: string, skipped: string[], rules: LayerRules): Promise<number> {
  let written = 0;
  for (const [index, paths] of wanted) {
    // Read with the same rules as the scan that chose these paths, so no name leaves `root`.
    await readLayer(candidate.openLayer(index), `${candidate.facts.source}: layer ${index + 1}`, {
      rules,
      onEntry: async (entry, imagePath) => {
        if (entry.type !== 'file' || !paths.has(imagePath)) return;
        const parent = imagePath.slice(0, imagePath.lastIndexOf('/'));
        let fd: number | undefined;
        try {
          mkdirSync(reportPath(root, parent), { recursive: true });
          fd = openSync(reportPath(root, imagePath), 'w', 0o644);
          // Written at once: the chunks may be views of a buffer the reader reuses.
          for await (const chunk of entry.body()) writeSync(fd, chunk);
          written++;
        } catch (error) {
          // A path that is a file on one side and a folder on another (or written twice) cannot be laid out.
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'EEXIST' && code !== 'ENOTDIR' && code !== 'EISDIR') throw error;
          skipped.push(`${candidate.facts.source}: ${showName(imagePath)}`);
        } finally {
          if (fd !== undefined) closeSync(fd);
        }
      },
    });
  }
  return written;
}

export interface ReportSummary {
  dir: string;
  files: number;
  skipped: string[];
  /** The diffoscope command lines to run on it. */
  commands: string[];
}

export async function writeDiffReport(dir: string, outcome: DiffOutcome, rules: LayerRules): Promise<ReportSummary> {
  await checkReportDir(dir);
  const skipped: string[] = [];
  const commands: string[] = [];
  let files = 0;
  await writeDirectoryAtomic(
    dir,
    async (temp) => {
      await writeFile(path.join(temp, 'diff.json'), diffJson(outcome.result));
      const several = outcome.pairs.length > 1;
      for (const pair of outcome.pairs) {
        const comparison = pair.comparison;
        const prefix = several ? (comparison.a.arch ?? comparison.a.platform.replace(/\//g, '-')) : '';
        const base = path.join(temp, prefix);
        const shown = path.join(dir, prefix);
        if (comparison.verdict === 'identical') continue;
        if (comparison.a.configDigest !== comparison.b.configDigest) {
          const [sa, sb] = await Promise.all([pair.a.scan(), pair.b.scan()]);
          await mkdir(base, { recursive: true });
          await writeFile(path.join(base, 'a.config.json'), JSON.stringify(sa.config, null, 2) + '\n');
          await writeFile(path.join(base, 'b.config.json'), JSON.stringify(sb.config, null, 2) + '\n');
          commands.push(`diffoscope ${path.join(shown, 'a.config.json')} ${path.join(shown, 'b.config.json')}`);
        }
        const wantedA: Wanted = new Map();
        const wantedB: Wanted = new Map();
        for (const layer of comparison.layers) {
          for (const change of layer.files) {
            if (worthWriting(change, 'a')) want(wantedA, change.layerA, change.path);
            if (worthWriting(change, 'b')) want(wantedB, change.layerB, change.path);
          }
        }
        if (wantedA.size + wantedB.size === 0) continue;
        files += await extract(pair.a, wantedA, path.join(base, 'a'), skipped, rules);
        files += await extract(pair.b, wantedB, path.join(base, 'b'), skipped, rules);
        commands.push(`diffoscope ${path.join(shown, 'a')} ${path.join(shown, 'b')}`);
      }
    },
    {
      // An empty folder given by the user makes way; anything else was refused above already.
      mayReplace: async (existing) => (await readdir(existing)).length === 0,
      refuse: () => new UserError('exists', `--diff-report ${dir} exists and is not an empty folder; remove it or name another`),
    },
  );
  return { dir, files, skipped, commands };
}
