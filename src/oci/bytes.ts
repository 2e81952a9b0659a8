/** Small helpers for streams of byte chunks. */

/** One buffer as a stream of chunks. */
export async function* bufferChunks(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

/**
 * Reads the first `bytes` of a stream and gives them back with the rest, unread. Chunks valid only until
 * the next is read (a reader's reused buffer) stay usable: a chunk too short for the head is copied
 * before the next is read.
 */
export async function peek(source: AsyncIterable<Buffer>, bytes: number): Promise<{ head: Buffer; all: AsyncGenerator<Buffer> }> {
  const iterator = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done) break;
    length += next.value.length;
    chunks.push(length < bytes ? Buffer.from(next.value) : next.value);
  }
  // One chunk (the usual case) is given back as it is, not copied.
  const head = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  const all = (async function* () {
    try {
      if (head.length > 0) yield head;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    } finally {
      await iterator.return?.();
    }
  })();
  return { head, all };
}
