/**
 * A worker thread that scans one archive (see scanOnWorker in scan.ts): reading, decompressing, hashing
 * and checking an input run on a core of its own, so that `diff` reads its two inputs at once.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import { fileSource } from './input.js';
import { LayerScanner, type ScanAnswer, type ScanRequest } from './scan.js';

const request = workerData as ScanRequest;
const send = (message: ScanAnswer) => parentPort!.postMessage(message);
try {
  const { images } = await fileSource(request.file, request.kind, request.display).open(new LayerScanner(request.rules));
  const answer = [];
  for (const image of images) {
    answer.push({
      source: image.source,
      manifest: image.manifest && { digest: image.manifest.digest, mediaType: image.manifest.mediaType, document: image.manifest.document },
      configDigest: image.configDigest,
      config: image.config,
      indexPlatform: image.indexPlatform,
      layerCount: image.layerCount,
      layers: await image.layers(),
    });
  }
  send({ images: answer });
} catch (error) {
  const failure = error instanceof Error ? error : new Error(String(error));
  send({ error: { message: failure.message, stack: failure.stack ?? failure.message, user: failure instanceof UserError ? failure.toJSON() : null } });
}
