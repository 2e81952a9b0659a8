/**
 * A worker thread that scans one archive (see scanOnWorker in scan.ts): reading, decompressing, hashing
 * and checking an input run on a core of its own, so that `diff` reads its two inputs at once. It may be
 * started before anyone knows what to scan (scan-pool.ts): the request is its first message. Sent
 * `{ hashRanges: COUNTER, claims }` instead, it hashes the ranges of files it can claim, or scans an archive
 * whose ranges it may have hashed already, until it is ended (RangeHasher in scan-pool.ts).
 */
import { once } from 'node:events';
import { parentPort } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import { hashFileRange, type Digest } from './digest.js';
import { layerMessage, scanArchive, type ScanAnswer, type ScanRequest } from './scan.js';
import { CLAIMED_BY_WORKER, UNCLAIMED, type RangeAnswer, type RangeRequest, type RangeSetup } from './scan-pool.js';

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

const [request] = (await once(parentPort!, 'message')) as [ScanRequest | RangeSetup];
if ('hashRanges' in request) {
  const { hashRanges: counter, claims } = request;
  // What it hashed, for a scan of the same file asked later.
  const hashed = new Map<string, { digest: Digest; bytes: number }>();
  const hashRange = ({ file, offset, size }: { file: string; offset: number; size: number }) => {
    const key = `${offset}:${size}:${file}`;
    let answer = hashed.get(key);
    if (!answer) hashed.set(key, (answer = hashFileRange(file, offset, size)));
    return answer;
  };
  const answer = (message: RangeAnswer, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(message, transfer);
  const failure = (id: number, error: unknown): RangeAnswer => ({ id, error: error instanceof Error ? error.message : String(error), code: (error as NodeJS.ErrnoException).code });
  // Ranges are hashed from the last asked backwards (the thread that asked claims them from the first
  // on, as it reads them: see RangeHasher); a scan runs once no range is left.
  const ranges: Extract<RangeRequest, { file: string }>[] = [];
  const scans: Extract<RangeRequest, { scan: ScanRequest }>[] = [];
  let running = false;
  const next = async () => {
    const range = ranges.pop();
    if (range) {
      let message: RangeAnswer;
      try {
        if (range.claim >= 0 && Atomics.compareExchange(claims, range.claim, UNCLAIMED, CLAIMED_BY_WORKER) !== UNCLAIMED) message = { id: range.id, claimedElsewhere: true };
        else message = { id: range.id, ...hashRange(range) };
      } catch (error) {
        message = failure(range.id, error);
      }
      // Counted at once: the thread that asked may be too busy reading to take the answer.
      Atomics.add(counter, 0, 1);
      answer(message);
    } else {
      const job = scans.shift();
      if (!job) {
        running = false;
        return;
      }
      try {
        const [scanned, transfer] = await scan(job.scan, { take: (range) => Promise.resolve(hashRange(range)) });
        answer({ id: job.id, scanned }, transfer);
      } catch (error) {
        answer(failure(job.id, error));
      }
    }
    // Messages that came meanwhile are taken before the next job.
    setImmediate(next);
  };
  parentPort!.on('message', (job: RangeRequest) => {
    if ('scan' in job) scans.push(job);
    else ranges.push(job);
    if (!running) {
      running = true;
      setImmediate(next);
    }
  });
} else {
  const [answer, transfer] = await scan(request);
  parentPort!.postMessage(answer, transfer);
}
