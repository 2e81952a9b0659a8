/**
 * Showing a build as it goes: on a terminal, a block redrawn in place (totals, then one line per image:
 * derivations built of those it needs, what is building now and in which phase); elsewhere (CI logs),
 * one plain line per derivation that starts building, naming the images it is for.
 */
import { plural } from '../util/text.js';
import type { BuildPlan, PlannedTarget } from './build.js';
import { ActivityType, derivationName, type BuildMonitor, type NixEvent } from './log.js';

function formatBytes(bytes: number): string {
  if (bytes < 1e6) return `${Math.round(bytes / 1e3)} kB`;
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function clock(seconds: number): string {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class BuildProgress {
  private readonly interactive: boolean;
  private readonly started = Date.now();
  private drawnLines = 0;
  private lastDraw = 0;
  private timer: NodeJS.Timeout | undefined;
  private monitor: BuildMonitor | undefined;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly plan: BuildPlan,
  ) {
    this.interactive = stream.isTTY === true && process.env['TERM'] !== 'dumb';
    const labels = plan.planned.map((t) => t.label).join(', ');
    const work = [plan.willBuild.size > 0 ? `${plural(plan.willBuild.size, 'derivation')} to build` : '', plan.willFetch.size > 0 ? `${plural(plan.willFetch.size, 'path')} to fetch` : ''].filter(Boolean);
    this.stream.write(`addonix: building ${labels}: ${work.join(', ') || 'nothing to do, all in the store'}\n`);
    if (this.interactive) this.timer = setInterval(() => this.draw(), 1000).unref();
  }

  /** The images a derivation is built for. */
  private labelsFor(drv: string): string[] {
    return this.plan.planned.filter((t) => t.closure.has(drv)).map((t) => t.label);
  }

  readonly onEvent = (event: NixEvent, monitor: BuildMonitor): void => {
    this.monitor = monitor;
    if (this.interactive) {
      if (Date.now() - this.lastDraw > 150) this.draw();
      return;
    }
    if (event.action === 'start' && event.type === ActivityType.build && typeof event.fields[0] === 'string') {
      const labels = this.labelsFor(event.fields[0]);
      this.stream.write(`addonix: building ${derivationName(event.fields[0])}${labels.length ? ` (for ${labels.join(', ')})` : ''}\n`);
    }
  };

  private targetLine(target: PlannedTarget, monitor: BuildMonitor, width: number): string {
    const needed = [...target.closure].filter((drv) => this.plan.willBuild.has(drv));
    const done = needed.filter((drv) => monitor.builds.get(drv)?.stoppedAt).length;
    const running = [...monitor.builds.values()].filter((b) => b.stoppedAt === null && target.closure.has(b.drv));
    const now = running[0] ? `${derivationName(running[0].drv)}${running[0].phase ? ` (${running[0].phase})` : ''}${running.length > 1 ? ` +${running.length - 1}` : ''}` : done === needed.length ? 'done' : 'waiting';
    return `  ${target.label.padEnd(width)}  ${`${done}/${needed.length}`.padStart(7)}  ${now}`;
  }

  private draw(): void {
    const monitor = this.monitor;
    if (!monitor) return;
    this.lastDraw = Date.now();
    const width = Math.max(...this.plan.planned.map((t) => t.label.length));
    const { totals, downloads } = monitor;
    const fetched = downloads.expected > 0 ? `, ${downloads.done}/${downloads.expected} fetched (${formatBytes(downloads.bytes)})` : '';
    const lines = [
      `${totals.done}/${Math.max(totals.expected, this.plan.willBuild.size)} built${totals.failed ? `, ${totals.failed} failed` : ''}${fetched}, ${clock((Date.now() - this.started) / 1000)}`,
      ...this.plan.planned.map((t) => this.targetLine(t, monitor, width)),
    ];
    const columns = this.stream.columns || 100;
    this.clear();
    this.stream.write(lines.map((line) => line.slice(0, columns - 1)).join('\n') + '\n');
    this.drawnLines = lines.length;
  }

  private clear(): void {
    if (this.drawnLines > 0) this.stream.write(`\u001b[${this.drawnLines}F\u001b[J`);
    this.drawnLines = 0;
  }

  /** Removes the live block (the caller prints the result). */
  finish(): void {
    clearInterval(this.timer);
    if (this.interactive) this.clear();
  }
}
