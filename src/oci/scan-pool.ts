/**
 * diff's scan worker, started ahead of need: a worker takes a tenth of a second or more to start (a V8
 * isolate, Node's bootstrap, addonix's modules compiled again), which a diff of two 300 MB archives
 * otherwise waits for after it has read the inputs' documents. `addonix diff` starts it first thing, so
 * that it loads while the command itself loads; a scan takes it, or starts one when there is none.
 * A worker nobody takes holds nothing up: it is unreferenced until taken.
 */
import type { Worker } from 'node:worker_threads';
import type { Digest } from './digest.js';
import type { ScanAnswer, ScanRequest } from './scan.js';

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

/**
 * What a scan worker in hash mode is sent first (its counter of ranges done, and the claims of ranges:
 * see RangeHasher), then asked, and answers (scan-worker.ts). `claim` is the range's slot in the claims,
 * or -1 when it has none (it is then the worker's).
 */
export type RangeSetup = { hashRanges: Int32Array; claims: Int32Array };
export type RangeRequest = { id: number; file: string; offset: number; size: number; claim: number } | { id: number; scan: ScanRequest };
export type RangeAnswer = { id: number; digest: Digest; bytes: number } | { id: number; claimedElsewhere: true } | { id: number; scanned: ScanAnswer } | { id: number; error: string; code: string | undefined };

/** A range's claim: nobody's yet, this thread's (it hashes it as it reads it), the worker's. */
export const UNCLAIMED = 0;
export const CLAIMED_HERE = 1;
export const CLAIMED_BY_WORKER = 2;
/** Ranges that can be claimed (a layer each; later ones are the worker's). */
const CLAIM_SLOTS = 4096;

type Range = { file: string; offset: number; size: number };
type Hashed = { digest: Digest; bytes: number };

/** What scans take to hash a range of a file elsewhere (readLayer's hashRange). */
export interface RangeHashing {
  /** The range's digest, hashed elsewhere; null when the caller is to hash it as it reads it. */
  take(range: Range): Promise<Hashed> | null;
  /** The scan of `file` has read its entries up to `offset` of the file. */
  reached?(file: string, offset: number): void;
}

/**
 * Shares the hashing of ranges of plain files (the uncompressed layers of plain archives) between this
 * thread and a scan worker, while this thread reads the entries of the same layers: `diff` of two plain
 * archives then reads both archives' entries on this thread, its compiled code warm for the second (a
 * fresh thread pays for warming up the tar reading again). Each range is hashed once, by whichever
 * thread claims it first (an atomic claim per range): this thread claims a range when it comes to read
 * it, and hashes it as it reads it (the same reading, no second one); the worker claims ranges from the
 * last asked backwards and hashes them apart. So the two meet in the middle with about as much work
 * each. A range asked for again answers the same promise.
 *
 * Archives of many small files are the other way round: reading their entries is most of the work, and
 * one thread would read both archives' alone. So the archives take turns on this thread (`turn`), and
 * when the worker has nothing left to hash while this thread has read less than half of the first
 * archive, the worker reads the second archive itself.
 */
export class RangeHasher implements RangeHashing {
  private worker: Promise<Worker> | undefined;
  private readonly asked = new Map<string, Promise<Hashed>>();
  private readonly waiting = new Map<number, { resolve: (answer: RangeAnswer) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  /** Per file: the bytes its ranges span, and where its scan has read to. */
  private readonly spans = new Map<string, { start: number; end: number; reached: number }>();
  /** The file being read on this thread, and what waits for its turn. */
  private reading: string | undefined;
  private readonly turns: (() => void)[] = [];
  /** Called when the worker has nothing left to hash. */
  private onIdle: (() => void)[] = [];
  /**
   * Ranges the worker has hashed, counted by the worker itself: this thread reads an archive without
   * going back to its event loop (its reads are synchronous), so it sees no answer meanwhile, and looks
   * here at each entry instead.
   */
  private readonly hashedCount = new Int32Array(new SharedArrayBuffer(4));
  private hashesSent = 0;
  /** Per range asked, who hashes it (UNCLAIMED, CLAIMED_HERE, CLAIMED_BY_WORKER); and each range's slot. */
  private readonly claims = new Int32Array(new SharedArrayBuffer(4 * CLAIM_SLOTS));
  private readonly slots = new Map<string, number>();

  /** Asks for the range's digest; the worker hashes it unless this thread claims it first (`take`). */
  hash(range: Range): Promise<Hashed> {
    const key = `${range.offset}:${range.size}:${range.file}`;
    let answer = this.asked.get(key);
    if (!answer) {
      const claim = this.slots.size < CLAIM_SLOTS ? this.slots.size : -1;
      this.slots.set(key, claim);
      const span = this.spans.get(range.file);
      if (span) {
        span.start = Math.min(span.start, range.offset);
        span.end = Math.max(span.end, range.offset + range.size);
      } else {
        this.spans.set(range.file, { start: range.offset, end: range.offset + range.size, reached: range.offset });
      }
      answer = this.request({ file: range.file, offset: range.offset, size: range.size, claim }).then((message) => {
        if ('claimedElsewhere' in message) throw new Error('a range claimed by the thread that reads it was awaited from the worker');
        const { digest, bytes } = message as Hashed;
        return { digest, bytes };
      });
      this.asked.set(key, answer);
    }
    return answer;
  }

  /**
   * The range's digest from the worker when it has claimed the range (hashed or being hashed); null when
   * this thread claims it now (or it was never asked): the caller hashes it as it reads it.
   */
  take(range: Range): Promise<Hashed> | null {
    const key = `${range.offset}:${range.size}:${range.file}`;
    const answer = this.asked.get(key);
    if (!answer) return null;
    const claim = this.slots.get(key)!;
    if (claim >= 0 && Atomics.compareExchange(this.claims, claim, UNCLAIMED, CLAIMED_HERE) !== CLAIMED_BY_WORKER) {
      // Whatever the worker answers for it now is not waited for.
      answer.catch(() => undefined);
      return null;
    }
    return answer;
  }

  reached(file: string, offset: number): void {
    const span = this.spans.get(file);
    if (span && offset > span.reached) span.reached = offset;
    if (this.onIdle.length > 0 && Atomics.load(this.hashedCount, 0) === this.hashesSent) this.idle();
  }

  private idle(): void {
    const checks = this.onIdle;
    this.onIdle = [];
    for (const check of checks) check();
  }

  /**
   * Runs `here` (a scan of `file` on this thread) when no other file is being read here; while one is,
   * waits for it to end, unless the worker runs dry first with that file less than half read: then
   * `there` runs instead (the same scan, sent to the worker through `scanThere`).
   */
  async turn<T>(file: string, here: () => Promise<T>, there: () => Promise<T>): Promise<T> {
    if (this.reading !== undefined) {
      const other = this.reading;
      const handOver = await new Promise<boolean>((resolve) => {
        this.turns.push(() => resolve(false));
        const check = () => {
          const span = this.spans.get(other);
          if (this.reading === other && span && span.reached - span.start < (span.end - span.start) / 2) resolve(true);
        };
        if (Atomics.load(this.hashedCount, 0) === this.hashesSent) check();
        else this.onIdle.push(check);
      });
      if (handOver) return there();
      if (this.reading !== undefined) return this.turn(file, here, there);
    }
    this.reading = file;
    try {
      return await here();
    } finally {
      this.reading = undefined;
      // Every waiter looks again (one handed over already has nothing more to wait for).
      for (const wake of this.turns.splice(0)) wake();
    }
  }

  /** Has the worker scan an archive (its ranges hashed already are not hashed again). */
  async scanThere(request: ScanRequest): Promise<ScanAnswer> {
    const answer = await this.request({ scan: request });
    return (answer as { scanned: ScanAnswer }).scanned;
  }

  private async request(job: Omit<Extract<RangeRequest, { file: string }>, 'id'> | { scan: ScanRequest }): Promise<RangeAnswer> {
    const worker = await (this.worker ??= this.start());
    const id = this.nextId++;
    const answer = new Promise<RangeAnswer>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    // Held while it has work: an idle worker keeps no process alive.
    if (this.waiting.size === 1) worker.ref();
    if (!('scan' in job)) this.hashesSent++;
    worker.postMessage({ id, ...job } as RangeRequest);
    return answer;
  }

  private async start(): Promise<Worker> {
    const worker = await takeScanWorker();
    worker.unref();
    worker.postMessage({ hashRanges: this.hashedCount, claims: this.claims } satisfies RangeSetup);
    const fail = (error: Error) => {
      for (const { reject } of this.waiting.values()) reject(error);
      this.waiting.clear();
    };
    worker.on('message', (message: RangeAnswer) => {
      const waiter = this.waiting.get(message.id);
      if (!waiter) return;
      this.waiting.delete(message.id);
      if ('error' in message) waiter.reject(Object.assign(new Error(message.error), { code: message.code }));
      else waiter.resolve(message);
      if (this.waiting.size === 0) worker.unref();
      if (Atomics.load(this.hashedCount, 0) === this.hashesSent) this.idle();
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the hashing worker stopped with exit code ${code}`)));
    return worker;
  }
}
