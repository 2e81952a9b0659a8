/**
 * diff's scan worker, started ahead of need: a worker takes a tenth of a second or more to start (a V8
 * isolate, Node's bootstrap, addonix's modules compiled again), which a diff of two 300 MB archives
 * otherwise waits for after it has read the inputs' documents. `addonix diff` starts it first thing, so
 * that it loads while the command itself loads; a scan takes it, or starts one when there is none.
 * A worker nobody takes holds nothing up: it is unreferenced until taken.
 */
import type { Worker } from 'node:worker_threads';

interface Started {
  worker: Worker;
  /** Settles once the worker runs JavaScript, or has ended. */
  online: Promise<void>;
}

let spare: Promise<Started> | undefined;

function startWorker(): Promise<Started> {
  return import('node:worker_threads').then(({ Worker }) => {
    // A small young generation: a scan's objects die young (what it keeps is in buffers outside the
    // heap), and V8 would otherwise let it grow to tens of MB on a worker.
    const worker = new Worker(new URL('./scan-worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 8 } });
    worker.unref();
    const online = new Promise<void>((resolve) => {
      worker.once('online', resolve);
      worker.once('exit', resolve);
    });
    return { worker, online };
  });
}

/** Starts a scan worker for a later scan to take. */
export function prestartScanWorker(): void {
  spare ??= startWorker();
}

/** A scan worker waiting for its request (scan-worker.ts): the one started ahead, or a new one. */
export async function takeScanWorker(): Promise<Worker> {
  const { worker } = await (spare ?? startWorker());
  spare = undefined;
  worker.ref();
  return worker;
}

/**
 * Ends the worker started ahead when no scan took it (a diff refused before it scans), once that worker
 * has started: a process that exits while a worker thread is still starting can crash in Node.js 20
 * (nodejs/node#56312, #56245: SIGSEGV at exit), and the CLI ends with process.exit. A refused diff
 * once died by a signal under a loaded suite instead of exiting 2, most likely so (not reproduced in 160
 * runs here).
 */
export async function stopSpareScanWorker(): Promise<void> {
  const pending = spare;
  spare = undefined;
  if (!pending) return;
  const { worker, online } = await pending;
  // Held while it starts: an unreferenced worker leaves the event loop empty, and Node ends the process
  // with status 13 (a top-level await that never settled) instead of the command's own.
  worker.ref();
  await online;
  await worker.terminate();
}
