/**
 * diff's scan worker, started ahead of need: a worker takes a tenth of a second or more to start (a V8
 * isolate, Node's bootstrap, addonix's modules compiled again), which a diff of two 300 MB archives
 * otherwise waits for after it has read the inputs' documents. `addonix diff` starts it first thing, so
 * that it loads while the command itself loads; a scan takes it, or starts one when there is none.
 * A worker nobody takes holds nothing up: it is unreferenced until taken.
 */
import type { Worker } from 'node:worker_threads';
import type { Digest } from './digest.js';

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

/** What a scan worker in hash mode is sent after `{ hashRanges: true }`, and answers (scan-worker.ts). */
export interface RangeRequest {
  id: number;
  file: string;
  offset: number;
  size: number;
}
export type RangeAnswer = { id: number; digest: Digest; bytes: number } | { id: number; error: string; code: string | undefined };

/**
 * Hashes ranges of plain files (the uncompressed layers of plain archives) on a scan worker, in the
 * order asked, while this thread reads the entries of the same layers: `diff` of two plain archives
 * then reads both archives' entries on this thread (its compiled code warm for the second) and hashes
 * all their layers on the worker, instead of each thread doing both for one archive. A range asked for
 * again answers the same promise, so a scan asks ahead (see openLocalImages) and finds it hashed.
 */
export class RangeHasher {
  private worker: Promise<Worker> | undefined;
  private readonly asked = new Map<string, Promise<{ digest: Digest; bytes: number }>>();
  private readonly waiting = new Map<number, { resolve: (answer: { digest: Digest; bytes: number }) => void; reject: (error: Error) => void }>();
  private nextId = 0;

  hash(range: { file: string; offset: number; size: number }): Promise<{ digest: Digest; bytes: number }> {
    const key = `${range.offset}:${range.size}:${range.file}`;
    let answer = this.asked.get(key);
    if (!answer) {
      answer = this.request(range);
      this.asked.set(key, answer);
    }
    return answer;
  }

  private async request(range: { file: string; offset: number; size: number }): Promise<{ digest: Digest; bytes: number }> {
    const worker = await (this.worker ??= this.start());
    const id = this.nextId++;
    const answer = new Promise<{ digest: Digest; bytes: number }>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    // Held while it has work: an idle worker keeps no process alive.
    if (this.waiting.size === 1) worker.ref();
    worker.postMessage({ id, file: range.file, offset: range.offset, size: range.size } satisfies RangeRequest);
    return answer;
  }

  private async start(): Promise<Worker> {
    const worker = await takeScanWorker();
    worker.unref();
    worker.postMessage({ hashRanges: true });
    const fail = (error: Error) => {
      for (const { reject } of this.waiting.values()) reject(error);
      this.waiting.clear();
    };
    worker.on('message', (message: RangeAnswer) => {
      const waiter = this.waiting.get(message.id);
      if (!waiter) return;
      this.waiting.delete(message.id);
      if (this.waiting.size === 0) worker.unref();
      if ('error' in message) waiter.reject(Object.assign(new Error(message.error), { code: message.code }));
      else waiter.resolve({ digest: message.digest, bytes: message.bytes });
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the hashing worker stopped with exit code ${code}`)));
    return worker;
  }
}
