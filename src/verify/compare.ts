/**
 * Comparing two scanned images: the verdict, and when they differ, why — manifest and config digests,
 * the config fields that differ, the layers matched by diff_id, and inside each pair of differing layers
 * every file added, removed, moved to another layer or changed (type, content, size, mode, owner, mtime,
 * link target, device, extended attributes), sorted by path. Pure functions over what the scanners found.
 */
import type { Digest } from '../oci/digest.js';
import { formatPlatform } from '../oci/platform.js';
import { FileTable } from '../oci/file-table.js';
import type { FileFacts, ImageFacts, ScannedImage, ScannedLayer } from '../oci/scan.js';
import type { Compression } from '../oci/media-types.js';
import { Annotation } from '../oci/types.js';
import { bytesOf, showName } from '../util/names.js';

/** identical: same manifest (or no manifest to compare) and config; same-content: same config and layers, other manifest. */
export type Verdict = 'identical' | 'same-content' | 'different';

export interface ImageSide {
  source: string;
  platform: string;
  arch: string | null;
  /** null when the input has no manifest of its own (docker-archive). */
  manifestDigest: Digest | null;
  configDigest: Digest;
  layers: number;
  /**
   * What compressed its layers, as addonix records it on each layer it compresses (the annotation
   * io.addonix.layer.compressor; several records joined by ' | '), or null: compressed by another tool,
   * or not compressed (a docker-archive has no manifest to record it in).
   */
  compressor: string | null;
}

export type DifferenceKind = 'type' | 'content' | 'size' | 'mode' | 'owner' | 'mtime' | 'link-target' | 'device' | 'xattrs';

export interface Difference {
  kind: DifferenceKind;
  a: string | number | null;
  b: string | number | null;
}

export interface FileChange {
  path: string;
  change: 'added' | 'removed' | 'changed' | 'moved';
  /** 1-based layer positions in A and B (moved: from layerA to layerB). */
  layerA: number | null;
  layerB: number | null;
  /** For changed and moved files: what differs (empty for a file moved unchanged). */
  differences: Difference[];
  a: FileFacts | null;
  b: FileFacts | null;
}

export interface LayerSide {
  /** 1-based position in the image. */
  position: number;
  diffId: Digest;
  digest: Digest;
  /** Bytes as stored (compressed or not), and uncompressed. */
  size: number;
  uncompressedSize: number;
  compression: Compression;
  files: number;
}

export interface LayerComparison {
  /** same: same diff_id and stored bytes; recompressed: same diff_id, other compressed bytes. */
  status: 'same' | 'recompressed' | 'changed' | 'removed' | 'added';
  a: LayerSide | null;
  b: LayerSide | null;
  files: FileChange[];
}

export interface ConfigFieldChange {
  /** e.g. `created`, `config.Env[1]`, `config.Labels["io.hass.version"]`. */
  path: string;
  /** Absent on the side that does not have the field. */
  a?: unknown;
  b?: unknown;
}

export interface ImageComparison {
  verdict: Verdict;
  a: ImageSide;
  b: ImageSide;
  configFields: ConfigFieldChange[];
  layers: LayerComparison[];
}

export interface DiffResult {
  schemaVersion: 1;
  verdict: Verdict;
  images: ImageComparison[];
  /** Platforms only one side has (multi-arch inputs). */
  onlyInA: ImageSide[];
  onlyInB: ImageSide[];
}

export function imageSide(facts: ImageFacts): ImageSide {
  return {
    source: facts.source,
    platform: formatPlatform(facts.platform),
    arch: facts.arch,
    manifestDigest: facts.manifest?.digest ?? null,
    configDigest: facts.configDigest,
    layers: facts.layerCount,
    compressor: compressorOf(facts),
  };
}

function compressorOf(facts: ImageFacts): string | null {
  const records = new Set((facts.manifest?.document.layers ?? []).map((layer) => layer.annotations?.[Annotation.compressor]).filter((record) => record !== undefined));
  return records.size === 0 ? null : [...records].join(' | ');
}

function octal(mode: number): string {
  return '0' + mode.toString(8).padStart(3, '0');
}

function owner(file: FileFacts): string {
  const names = file.uname || file.gname ? ` (${file.uname || '-'}:${file.gname || '-'})` : '';
  return `${file.uid}:${file.gid}${names}`;
}

/** An mtime as a person reads it: ISO 8601 in UTC, with the fraction a pax header may carry. */
function formatMtime(mtime: number | null): string | null {
  if (mtime === null) return null;
  const whole = Math.floor(mtime);
  const iso = new Date(whole * 1000).toISOString().replace('.000Z', 'Z');
  const fraction = mtime - whole;
  return fraction > 0 ? iso.replace('Z', `${fraction.toFixed(6).slice(1).replace(/0+$/, '')}Z`) : iso;
}

/**
 * Extended attributes as one line: `name=value, ...`, names shown as names are, values as text when
 * they are printable ASCII, else in hex (`security.capability=0x01000002...`); null when there are none.
 */
export function xattrText(xattrs: readonly [string, string][]): string | null {
  if (xattrs.length === 0) return null;
  return xattrs.map(([name, value]) => `${showName(name)}=${/^[\x20-\x7e]*$/.test(value) ? JSON.stringify(value) : `0x${bytesOf(value).toString('hex')}`}`).join(', ');
}

/** What differs between two entries at one path. */
function fileDifferences(a: FileFacts, b: FileFacts): Difference[] {
  const out: Difference[] = [];
  const add = (kind: DifferenceKind, x: string | number | null, y: string | number | null) => {
    if (x !== y) out.push({ kind, a: x, b: y });
  };
  add('type', a.kind, b.kind);
  add('content', a.sha256, b.sha256);
  add('size', a.size, b.size);
  add('mode', octal(a.mode), octal(b.mode));
  add('owner', owner(a), owner(b));
  add('mtime', formatMtime(a.mtime), formatMtime(b.mtime));
  add('link-target', a.linkTarget, b.linkTarget);
  add('device', a.device, b.device);
  add('xattrs', xattrText(a.xattrs), xattrText(b.xattrs));
  return out;
}

function layerSide(layer: ScannedLayer, index: number): LayerSide {
  return { position: index + 1, diffId: layer.diffId, digest: layer.digest, size: layer.size, uncompressedSize: layer.uncompressedSize, compression: layer.compression, files: layer.entries };
}

/** The files of a layer whose files the scanner was asked for (every layer another has no copy of is). */
function filesOf(layer: ScannedLayer): FileTable {
  if (!layer.files) throw new Error(`layer ${layer.diffId} was compared without its files`);
  return layer.files;
}

/**
 * The files that differ between two layers, sorted by path: the records of the two tables compared
 * as they are stored, and only those that differ decoded (a layer of many files costs a table of
 * record numbers, no string per file).
 */
function compareFiles(a: ScannedLayer | null, b: ScannedLayer | null, positionA: number | null, positionB: number | null): FileChange[] {
  const ta = a ? filesOf(a) : null;
  const tb = b ? filesOf(b) : null;
  const changes: FileChange[] = [];
  const removed = (i: number) => changes.push({ path: ta!.path(i), change: 'removed', layerA: positionA, layerB: null, differences: [], a: ta!.get(i), b: null });
  if (!tb) {
    for (let i = 0; ta && i < ta.count; i++) removed(i);
  } else {
    // Paired by path without a string per path (a layer may have hundreds of thousands).
    (ta ?? new FileTable()).join(
      tb,
      (i, j) => {
        if (i < 0) {
          changes.push({ path: tb.path(j), change: 'added', layerA: null, layerB: positionB, differences: [], a: null, b: tb.get(j) });
          return;
        }
        if (ta!.same(i, tb, j)) return;
        const fa = ta!.get(i);
        const fb = tb.get(j);
        const differences = fileDifferences(fa, fb);
        if (differences.length > 0) changes.push({ path: fb.path, change: 'changed', layerA: positionA, layerB: positionB, differences, a: fa, b: fb });
      },
      removed,
    );
  }
  return changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

/**
 * Matches layers: equal diff_ids first (the same position preferred), then the rest in order of position;
 * what is left over exists on one side only.
 */
function pairLayers(a: ScannedLayer[], b: ScannedLayer[]): [number | null, number | null][] {
  const usedB = new Set<number>();
  const partner = new Map<number, number>();
  a.forEach((layer, i) => {
    const candidates = b.map((_, j) => j).filter((j) => !usedB.has(j) && b[j]!.diffId === layer.diffId);
    const j = candidates.includes(i) ? i : candidates[0];
    if (j !== undefined) {
      usedB.add(j);
      partner.set(i, j);
    }
  });
  const restA = a.map((_, i) => i).filter((i) => !partner.has(i));
  const restB = b.map((_, j) => j).filter((j) => !usedB.has(j));
  restA.forEach((i, k) => {
    if (k < restB.length) {
      partner.set(i, restB[k]!);
      usedB.add(restB[k]!);
    }
  });
  const pairs: [number | null, number | null][] = a.map((_, i) => [i, partner.get(i) ?? null]);
  // Layers only in B go after the last pair whose B position comes before theirs.
  for (const j of b.map((_, j) => j).filter((j) => !usedB.has(j))) {
    let at = 0;
    pairs.forEach(([, pj], k) => {
      if (pj !== null && pj < j) at = k + 1;
    });
    pairs.splice(at, 0, [null, j]);
  }
  return pairs;
}

/** A file removed from one layer and added to another is a move: one entry, in the layer it left. */
function foldMoves(layers: LayerComparison[]): void {
  const added = new Map<string, { layer: LayerComparison; change: FileChange }>();
  for (const layer of layers) for (const change of layer.files) if (change.change === 'added') added.set(change.path, { layer, change });
  for (const layer of layers) {
    layer.files = layer.files.map((change) => {
      const other = change.change === 'removed' ? added.get(change.path) : undefined;
      if (!other || other.layer === layer) return change;
      added.delete(change.path);
      other.layer.files = other.layer.files.filter((c) => c !== other.change);
      return { ...change, change: 'moved', layerB: other.change.layerB, differences: fileDifferences(change.a!, other.change.b!), b: other.change.b };
    });
  }
}

function fieldPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return parent ? `${parent}.${key}` : key;
  return `${parent}[${JSON.stringify(key)}]`;
}

/** Differences between two JSON values, field by field (objects by key, arrays by index). */
function jsonDifferences(a: unknown, b: unknown, at = '', out: ConfigFieldChange[] = []): ConfigFieldChange[] {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const path = fieldPath(at, key);
      if (!(key in b)) out.push({ path, a: a[key] });
      else if (!(key in a)) out.push({ path, b: b[key] });
      else jsonDifferences(a[key], b[key], path, out);
    }
  } else if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const path = fieldPath(at, i);
      if (i >= b.length) out.push({ path, a: a[i] });
      else if (i >= a.length) out.push({ path, b: b[i] });
      else jsonDifferences(a[i], b[i], path, out);
    }
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    out.push({ path: at, a, b });
  }
  return out;
}

/** The config without its diff_ids, which the layer comparison explains. */
function configFields(image: ScannedImage): unknown {
  const { rootfs, ...rest } = image.config;
  const { diff_ids: _diffIds, ...rootfsRest } = rootfs ?? { diff_ids: [] };
  return { ...rest, rootfs: rootfsRest };
}

export function compareImages(a: ScannedImage, b: ScannedImage): ImageComparison {
  const layers: LayerComparison[] = pairLayers(a.layers, b.layers).map(([i, j]) => {
    const la = i === null ? null : a.layers[i]!;
    const lb = j === null ? null : b.layers[j]!;
    const sideA = la ? layerSide(la, i!) : null;
    const sideB = lb ? layerSide(lb, j!) : null;
    if (la && lb && la.diffId === lb.diffId) return { status: la.digest === lb.digest ? 'same' : 'recompressed', a: sideA, b: sideB, files: [] };
    return { status: !la ? 'added' : !lb ? 'removed' : 'changed', a: sideA, b: sideB, files: compareFiles(la, lb, sideA?.position ?? null, sideB?.position ?? null) };
  });
  foldMoves(layers);
  const configEqual = a.configDigest === b.configDigest;
  const manifestEqual = a.manifest && b.manifest ? a.manifest.digest === b.manifest.digest : null;
  return {
    verdict: !configEqual ? 'different' : manifestEqual === false ? 'same-content' : 'identical',
    a: imageSide(a),
    b: imageSide(b),
    configFields: configEqual ? [] : jsonDifferences(configFields(a), configFields(b)),
    layers,
  };
}

const RANK: Record<Verdict, number> = { identical: 0, 'same-content': 1, different: 2 };

export function overallVerdict(verdicts: Verdict[]): Verdict {
  return verdicts.reduce<Verdict>((worst, v) => (RANK[v] > RANK[worst] ? v : worst), 'identical');
}
