/**
 * A worker thread that scans one archive (see scanOnWorker in scan.ts): reading, decompressing, hashing
 * and checking an input run on a core of its own, so that `diff` reads its two inputs at once. It may be
 * started before anyone knows what to scan (scan-pool.ts): the request is its first message. Asked
 * `{ hashRanges: true }` instead, it hashes ranges of files until it is ended (RangeHasher in scan-pool.ts).
 */
import { once } from 'node:events';
import { parentPort } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import { hashFileRange } from './digest.js';
import { layerMessage, scanArchive, type ScanAnswer, type ScanRequest } from './scan.js';
import type { RangeAnswer, RangeRequest } from './scan-pool.js';

const [request] = (await once(parentPort!, 'message')) as [ScanRequest | { hashRanges: true }];
if ('hashRanges' in request) {
  parentPort!.on('message', ({ id, file, offset, size }: RangeRequest) => {
    let answer: RangeAnswer;
    try {
      answer = { id, ...hashFileRange(file, offset, size) };
    } catch (error) {
      answer = { id, error: error instanceof Error ? error.message : String(error), code: (error as NodeJS.ErrnoException).code };
    }
    parentPort!.postMessage(answer);
  });
} else {
  const send = (message: ScanAnswer, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(message, transfer);
  try {
    // The file tables' buffers are handed over, not copied.
    const transfer: ArrayBuffer[] = [];
    const images = (await scanArchive(request)).map((image) => ({ ...image, layers: image.layers.map((layer) => layerMessage(layer, transfer)) }));
    send({ images }, transfer);
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    send({ error: { message: failure.message, stack: failure.stack ?? failure.message, user: failure instanceof UserError ? failure.toJSON() : null } });
  }
}
