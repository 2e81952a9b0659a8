/** The text form of a comparison, in the order a person reads it: verdict, digests, config, layers, files. */
import { shortDigest } from '../oci/digest.js';
import type { FileFacts } from '../oci/scan.js';
import { bytesOf, jsonName, jsonNameBytes, showName } from '../util/names.js';
import { plural } from '../util/text.js';
import type { ConfigFieldChange, DiffResult, Difference, FileChange, ImageComparison, ImageSide, LayerComparison } from './compare.js';

/** Differences whose values are made of names (byte strings), shown and written as names are. */
const NAMED_KINDS = new Set<Difference['kind']>(['link-target', 'owner']);

/** Files listed per layer in text; --json and --diff-report have them all. */
export const TEXT_FILE_LIMIT = 40;

function value(v: unknown): string {
  if (v === undefined) return '(absent)';
  const text = JSON.stringify(v);
  return text.length > 100 ? text.slice(0, 97) + '...' : text;
}

function fieldLine(change: ConfigFieldChange): string {
  return `    ${change.path}: ${'a' in change ? value(change.a) : '(absent)'} -> ${'b' in change ? value(change.b) : '(absent)'}`;
}

function differenceText(d: Difference): string {
  const show = (v: string | number | null) =>
    v === null ? '-' : typeof v === 'string' && NAMED_KINDS.has(d.kind) ? showName(v) : typeof v === 'string' && v.startsWith('sha256:') ? shortDigest(v) : String(v);
  return `${d.kind} ${show(d.a)} -> ${show(d.b)}`;
}

function fileLine(change: FileChange): string {
  const facts = change.b ?? change.a!;
  const what = facts.kind === 'file' ? `${facts.size} B` : facts.kind === 'symlink' ? `symlink -> ${showName(facts.linkTarget ?? '')}` : facts.kind;
  const path = showName(change.path);
  switch (change.change) {
    case 'added':
      return `added    ${path}  (${what})`;
    case 'removed':
      return `removed  ${path}  (${what})`;
    case 'moved':
      return `moved    ${path}  to layer ${change.layerB}${change.differences.length ? `; ${change.differences.map(differenceText).join('; ')}` : ' (unchanged)'}`;
    case 'changed':
      return `changed  ${path}  ${change.differences.map(differenceText).join('; ')}`;
  }
}

function layerCounts(files: FileChange[]): string {
  const counts = new Map<string, number>();
  for (const f of files) counts.set(f.change, (counts.get(f.change) ?? 0) + 1);
  return [...counts].map(([change, n]) => `${n} ${change}`).join(', ') || 'no file differs (entry order or tar padding)';
}

function layerLines(layer: LayerComparison): string[] {
  const position = `${layer.a?.position ?? '-'}/${layer.b?.position ?? '-'}`.padEnd(7);
  const lines: string[] = [];
  switch (layer.status) {
    case 'same':
      lines.push(`  ${position} same          ${shortDigest(layer.a!.diffId)}`);
      return lines;
    case 'recompressed':
      lines.push(`  ${position} recompressed  ${shortDigest(layer.a!.diffId)}: same content, stored as ${shortDigest(layer.a!.digest)} (${layer.a!.compression}) vs ${shortDigest(layer.b!.digest)} (${layer.b!.compression})`);
      return lines;
    case 'changed':
      lines.push(`  ${position} changed       ${shortDigest(layer.a!.diffId)} -> ${shortDigest(layer.b!.diffId)}: ${layerCounts(layer.files)}`);
      break;
    case 'removed':
      lines.push(`  ${position} only in A     ${shortDigest(layer.a!.diffId)}: ${plural(layer.a!.files, 'entry', 'entries')}`);
      break;
    case 'added':
      lines.push(`  ${position} only in B     ${shortDigest(layer.b!.diffId)}: ${plural(layer.b!.files, 'entry', 'entries')}`);
      break;
  }
  for (const change of layer.files.slice(0, TEXT_FILE_LIMIT)) lines.push(`            ${fileLine(change)}`);
  if (layer.files.length > TEXT_FILE_LIMIT) lines.push(`            ... and ${layer.files.length - TEXT_FILE_LIMIT} more (--json lists them all)`);
  return lines;
}

function digestLine(label: string, a: string | null, b: string | null, none: string): string {
  const width = Math.max(9, label.length + 1);
  if (a === null && b === null) return `  ${label.padEnd(width)}${none}`;
  if (a === b) return `  ${label.padEnd(width)}${a} (both)`;
  return `  ${label.padEnd(width)}A ${a ?? none}\n  ${''.padEnd(width)}B ${b ?? none}`;
}

function sideName(side: ImageSide): string {
  return `${side.source} (${side.platform}${side.arch ? `, ${side.arch}` : ''})`;
}

/**
 * A compressor record in short: its settings and, in brackets at its end, the deflate that made the
 * bytes (the middle says how blocks are laid out, which docs/json.md and --json give in full).
 */
export function shortCompressor(record: string | null): string | null {
  if (record === null) return null;
  return record
    .split(' | ')
    .map((one) => {
      const settings = one.split(';')[0]!;
      const engine = /\(([^()]*)\)$/.exec(one)?.[1];
      return engine && !settings.includes(engine) ? `${settings} (${engine})` : settings;
    })
    .join(' | ');
}

export function renderComparison(image: ImageComparison): string {
  const out: string[] = [];
  const headline = image.verdict === 'identical' ? 'identical' : image.verdict === 'same-content' ? 'same content, different manifests' : 'different';
  out.push(`${headline}: A = ${sideName(image.a)}`);
  out.push(`${''.padEnd(headline.length)}  B = ${sideName(image.b)}`);
  out.push(digestLine('manifest', image.a.manifestDigest, image.b.manifestDigest, '(none: docker-archives have no manifest of their own)'));
  out.push(digestLine('config', image.a.configDigest, image.b.configDigest, '-'));
  out.push(digestLine('compressor', shortCompressor(image.a.compressor), shortCompressor(image.b.compressor), 'not recorded (compressed by another tool than addonix, or not compressed)'));
  if (image.verdict === 'identical') return out.join('\n');
  if (image.configFields.length > 0) {
    out.push('  config fields that differ:');
    out.push(...image.configFields.map(fieldLine));
  }
  out.push(`  layers (A/B position, by diff_id):`);
  for (const layer of image.layers) out.push(...layerLines(layer));
  return out.join('\n');
}

export function renderDiff(result: DiffResult): string {
  const blocks = result.images.map(renderComparison);
  for (const side of result.onlyInA) blocks.push(`only in A: ${sideName(side)}`);
  for (const side of result.onlyInB) blocks.push(`only in B: ${sideName(side)}`);
  return blocks.join('\n\n') + '\n';
}

/** A file's facts for JSON: names as text (UTF-8), with their bytes in base64 beside them when they are not UTF-8. */
function factsJson(facts: FileFacts | null): unknown {
  if (!facts) return null;
  const pathBytes = jsonNameBytes(facts.path);
  const linkBytes = facts.linkTarget === null ? undefined : jsonNameBytes(facts.linkTarget);
  return {
    ...facts,
    path: jsonName(facts.path),
    ...(pathBytes ? { pathBytes } : {}),
    linkTarget: facts.linkTarget === null ? null : jsonName(facts.linkTarget),
    ...(linkBytes ? { linkTargetBytes: linkBytes } : {}),
    uname: jsonName(facts.uname),
    gname: jsonName(facts.gname),
    xattrs: facts.xattrs.map(([name, value]) => ({ name: jsonName(name), value: bytesOf(value).toString('base64') })),
  };
}

function changeJson(change: FileChange): unknown {
  const pathBytes = jsonNameBytes(change.path);
  return {
    ...change,
    path: jsonName(change.path),
    ...(pathBytes ? { pathBytes } : {}),
    differences: change.differences.map((d) => (NAMED_KINDS.has(d.kind) ? { ...d, a: typeof d.a === 'string' ? jsonName(d.a) : d.a, b: typeof d.b === 'string' ? jsonName(d.b) : d.b } : d)),
    a: factsJson(change.a),
    b: factsJson(change.b),
  };
}

/** One image comparison as JSON takes it: names (byte strings inside) turned into text. */
export function comparisonJson(image: ImageComparison): unknown {
  return { ...image, layers: image.layers.map((layer) => ({ ...layer, files: layer.files.map(changeJson) })) };
}

/** `diff --json` and `diff.json`: the result with names as text (see factsJson). */
export function diffJson(result: DiffResult): string {
  return JSON.stringify({ ...result, images: result.images.map(comparisonJson) }, null, 2) + '\n';
}
