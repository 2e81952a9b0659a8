/**
 * A worker thread that scans one archive (see scanOnWorker in scan.ts): reading, decompressing, hashing
 * and checking an input run on a core of its own, so that `diff` reads its two inputs at once. It may be
 * started before anyone knows what to scan (scan-pool.ts): the request is its first message.
 */
import { once } from 'node:events';
import { parentPort } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import { layerMessage, scanArchive, type ScanAnswer, type ScanRequest } from './scan.js';

const [request] = (await once(parentPort!, 'message')) as [ScanRequest];
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
