/**
 * A worker thread that imports one archive into the cache (see importOnWorker in inputs.ts): the reading,
 * hashing, checking, compressing and writing of each input then run on a core of its own. It answers
 * with plain data: events as blobs are written (when asked), then the images' record, or the error (a
 * UserError stays one; a full disk or an unwritable cache becomes one).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import { fileSystemUserError } from '../util/fs-errors.js';
import { Cache, cacheAdvice, layoutRecord } from './cache.js';
import { importSource, type ImportEvents } from './import.js';
import { fileSource } from './input.js';
import { LayoutSource } from './layout.js';
import { BlobStore } from './store.js';
import type { ImportRequest, WorkerMessage } from './inputs.js';

const request = workerData as ImportRequest;
const port = parentPort!;
const abort = new AbortController();
// The cores this import may use: more once the imports beside it are done (see readInputs).
let deflateThreads = request.deflateThreads;
port.on('message', (message: 'abort' | { deflateThreads: number }) => {
  if (message === 'abort') abort.abort();
  else deflateThreads = message.deflateThreads;
});
const send = (message: WorkerMessage) => port.postMessage(message);
const events: ImportEvents | undefined = request.events
  ? {
      known: (descriptor, inPlace) => send({ event: 'known', descriptor, inPlace: inPlace === true }),
      started: (id, temporary) => send({ event: 'started', id, temporary }),
      written: (id, bytes) => send({ event: 'written', id, bytes }),
      stored: (id, descriptor) => send({ event: 'stored', id, descriptor }),
      failed: (id) => send({ event: 'failed', id }),
    }
  : undefined;
const cache = new Cache(request.cacheDir);
try {
  // A layout folder is read in place: its blobs that stay as they are stay there.
  const layout = request.kind === 'layout-directory' ? new BlobStore(request.file) : undefined;
  const source = layout ? new LayoutSource(request.display, layout, abort.signal) : fileSource(request.file, request.kind as Exclude<typeof request.kind, 'layout-directory'>, request.display, abort.signal);
  const result = await importSource(source, cache, { policy: request.policy, rules: request.rules, deflateThreads: () => deflateThreads, events }, layout);
  send({
    record: layout
      ? await layoutRecord(result, layout)
      : {
          images: result.images.map((image) => ({ manifest: image.manifestDigest, mediaType: image.manifest.mediaType, names: image.names })),
          artifacts: result.artifacts.map((artifact) => ({ descriptor: artifact.descriptor, blobs: artifact.blobs })),
        },
  });
} catch (caught) {
  const error = fileSystemUserError(caught, { places: [{ dir: cache.dir, advice: cacheAdvice() }] }) ?? caught;
  const failure = error instanceof Error ? error : new Error(String(error));
  send({ error: { message: failure.message, stack: failure.stack ?? failure.message, user: failure instanceof UserError ? failure.toJSON() : null } });
}
port.close();
