/**
 * A worker thread that scans one archive (see scanOnWorker in scan.ts): reading, decompressing, hashing
 * and checking an input run on a core of its own, so that `diff` reads its two inputs at once. It may be
 * started before anyone knows what to scan (scan-pool.ts): the request is its first message. Asked
 * `{ hashRanges: COUNTER }` instead, it hashes ranges of files, or scans an archive whose ranges it may have
 * hashed already, until it is ended (RangeHasher in scan-pool.ts).
 */
import { once } from 'node:events';
import { parentPort } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import { hashFileRange, type Digest } from './digest.js';
import { layerMessage, scanArchive, type ScanAnswer, type ScanRequest } from './scan.js';
import type { RangeAnswer, RangeRequest } from './scan-pool.js';

/** Scans an archive; the answer, with the buffers to transfer. */
async function scan(request: ScanRequest, hasher?: Parameters<typeof scanArchive>[1]): Promise<[ScanAnswer, ArrayBuffer[]]> {
  try {
    // The file tables' buffers are handed over, not copied.
    const transfer: ArrayBuffer[] = [];
    const images = (await scanArchive(request, hasher)).map((image) => ({ ...image, layers: image.layers.map((layer) => layerMessage(layer, transfer)) }));
    return [{ images }, transfer];
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    return [{ error: { message: failure.message, stack: failure.stack ?? failure.message, user: failure instanceof UserError ? failure.toJSON() : null } }, []];
  }
}

const [request] = (await once(parentPort!, 'message')) as [ScanRequest | { hashRanges: Int32Array }];
if ('hashRanges' in request) {
  const counter = request.hashRanges;
  // What it hashed, for a scan of the same file asked later.
  const hashed = new Map<string, { digest: Digest; bytes: number }>();
  const hashRange = ({ file, offset, size }: { file: string; offset: number; size: number }) => {
    const key = `${offset}:${size}:${file}`;
    let answer = hashed.get(key);
    if (!answer) hashed.set(key, (answer = hashFileRange(file, offset, size)));
    return answer;
  };
  // Jobs run one at a time, in the order sent.
  let queue = Promise.resolve();
  parentPort!.on('message', (job: RangeRequest) => {
    queue = queue.then(async () => {
      let answer: RangeAnswer;
      let transfer: ArrayBuffer[] = [];
      try {
        if ('scan' in job) {
          let scanned: ScanAnswer;
          [scanned, transfer] = await scan(job.scan, { hash: async (range) => hashRange(range) });
          answer = { id: job.id, scanned };
        } else {
          answer = { id: job.id, ...hashRange(job) };
          // Counted at once: the thread that asked may be too busy reading to take the answer.
          Atomics.add(counter, 0, 1);
        }
      } catch (error) {
        answer = { id: job.id, error: error instanceof Error ? error.message : String(error), code: (error as NodeJS.ErrnoException).code };
      }
      parentPort!.postMessage(answer, transfer);
    });
  });
} else {
  const [answer, transfer] = await scan(request);
  parentPort!.postMessage(answer, transfer);
}
