/**
 * diff's scan worker, started ahead of need: a worker takes a tenth of a second or more to start (a V8
 * isolate, Node's bootstrap, addonix's modules compiled again), which a diff of two 300 MB archives
 * otherwise waits for after it has read the inputs' documents. `addonix diff` starts it first thing, so
 * that it loads while the command itself loads; a scan takes it, or starts one when there is none.
 * A worker nobody takes holds nothing up: it is unreferenced until taken.
 */
import type { Worker } from 'node:worker_threads';

let spare: Promise<Worker> | undefined;

function startWorker(): Promise<Worker> {
  return import('node:worker_threads').then(({ Worker }) => {
    // A small young generation: a scan's objects die young (what it keeps is in buffers outside the
    // heap), and V8 would otherwise let it grow to tens of MB on a worker.
    const worker = new Worker(new URL('./scan-worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 8 } });
    worker.unref();
    return worker;
  });
}

/** Starts a scan worker for a later scan to take. */
export function prestartScanWorker(): void {
  spare ??= startWorker();
}

/** A scan worker waiting for its request (scan-worker.ts): the one started ahead, or a new one. */
export async function takeScanWorker(): Promise<Worker> {
  const worker = await (spare ?? startWorker());
  spare = undefined;
  worker.ref();
  return worker;
}
