/** What the image commands (push, load, inspect-image, assemble) share: options, the add-on, sizes, progress. */
import type { AssembledIndex } from '../oci/assemble.js';
import type { AddonModel } from '../addon/model.js';
import { UsageError } from '../util/errors.js';
import { checkCompression } from '../oci/compression.js';
import type { LayerPolicy } from '../oci/import.js';
import { DEFAULT_LAYER_RULES, type LayerRules } from '../oci/layer-rules.js';
import type { Compression } from '../oci/media-types.js';
import { gitRevision } from '../oci/assemble.js';

/** Layers are compressed with `--compression` (gzip by default); given explicitly, it applies to every layer. */
export function layerPolicy(compression: string | undefined): LayerPolicy {
  const chosen = (compression ?? 'gzip') as Compression;
  checkCompression(chosen);
  return { compression: chosen, keepCompressed: compression === undefined };
}

export function layerRules(allowDevices: boolean | undefined): LayerRules {
  return { ...DEFAULT_LAYER_RULES, allowDevices: allowDevices === true };
}

export function registryTimes(args: { timeout?: number | undefined; 'retry-for'?: number | undefined }): { timeoutMs?: number; retryForMs?: number } {
  const seconds = (value: number | undefined, option: string) => {
    if (value === undefined) return undefined;
    if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${option} ${value}: give a number of seconds > 0`);
    return Math.round(value * 1000);
  };
  const timeoutMs = seconds(args.timeout, '--timeout');
  const retryForMs = seconds(args['retry-for'], '--retry-for');
  return { ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(retryForMs !== undefined ? { retryForMs } : {}) };
}

/** `--addon DIR` of push and assemble: the add-on's model, for the index annotations, and the git commit of its checkout. */
export async function addonForIndex(dir: string): Promise<{ model: AddonModel; revision: string | undefined }> {
  // Imported here: reading add-ons is a stage of its own (a tenth of a second to load) that a push without --addon never needs.
  const [{ loadOneAddon }, { relativeDisplay }, { resolveModel }, { DEFAULT_ERA }] = await Promise.all([import('./addon-input.js'), import('../addon/load.js'), import('../addon/model.js'), import('../addon/eras.js')]);
  const display = relativeDisplay();
  const addon = (await loadOneAddon(dir, DEFAULT_ERA, display))!;
  return { model: resolveModel(addon, { era: DEFAULT_ERA, display }), revision: await gitRevision(dir) };
}

/** `12.3 MB` (decimal units, as registries and Docker print sizes). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

/** `64M`, `1G`, `1048576` → bytes, for --chunk-size. */
export function parseSize(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]i?b?)?$/i.exec(text.trim());
  if (!match) throw new UsageError(`${option} ${text}: give a size like 64M, 512k or 1G`);
  const unit = (match[2] ?? '').toLowerCase()[0];
  const factor = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  const bytes = Math.floor(Number(match[1]) * factor);
  if (bytes < 1024) throw new UsageError(`${option} ${text}: at least 1k`);
  return bytes;
}

/** A one-line progress display on a terminal (bytes and rate); silent elsewhere. */
export class ProgressLine {
  private readonly enabled: boolean;
  private readonly start = Date.now();
  private last = 0;
  private text = '';

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = stream.isTTY === true;
  }

  update(render: (seconds: number) => string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    this.text = render((now - this.start) / 1000);
    this.stream.write(`\r\u001b[K${this.text}`);
  }

  /** A line of its own above the progress line (shown on terminals and elsewhere alike). */
  note(message: string): void {
    if (this.enabled && this.text) this.stream.write('\r\u001b[K');
    this.stream.write(`addonix: ${message}\n`);
    if (this.enabled && this.text) this.stream.write(this.text);
  }

  done(): void {
    if (this.enabled && this.text) this.stream.write('\r\u001b[K');
    this.text = '';
  }
}

export function rate(bytes: number, seconds: number): string {
  return seconds > 0 ? `${formatBytes(bytes / seconds)}/s` : '';
}

/** Says which artifacts an index leaves out: they are about an image whose manifest this run changed. */
export function warnDropped(assembled: AssembledIndex): void {
  for (const { artifact, refersTo } of assembled.dropped) {
    process.stderr.write(`addonix: warning: the artifact ${artifact.descriptor.digest} is left out of the index: it is about ${refersTo}, an image manifest this run changed (recompressed layers)\n`);
  }
}
