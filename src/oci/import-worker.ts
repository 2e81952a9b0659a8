/**
 * A worker thread that imports one tar input into the blob store (see importOnWorker in source.ts): the
 * reading, hashing, compressing and writing of each input then run on a core of its own. It answers with
 * plain data: each layer as soon as it is in the store, then the images' manifest digests and names, or
 * the error (a UserError stays one).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import { importFile, type ImportRequest, type WorkerMessage } from './source.js';
import { BlobStore } from './store.js';

const request = workerData as ImportRequest;
const port = parentPort!;
const abort = new AbortController();
port.on('message', (message: 'abort') => {
  if (message === 'abort') abort.abort();
});
const send = (message: WorkerMessage) => port.postMessage(message);
try {
  const images = await importFile(request.file, request.kind, request.display, request.policy, new BlobStore(request.storeDir), {
    signal: abort.signal,
    onLayer: (descriptor) => send({ layer: descriptor }),
    deflateThreads: request.deflateThreads,
  });
  send({ images: images.map((image) => ({ manifest: image.manifestDigest, names: image.names })) });
} catch (error) {
  const failure = error instanceof Error ? error : new Error(String(error));
  send({ error: { message: failure.message, stack: failure.stack ?? failure.message, user: failure instanceof UserError, exitCode: failure instanceof UserError ? failure.exitCode : 1 } });
}
port.close();
