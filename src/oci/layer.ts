/**
 * One layer from an input into a blob store, in one streaming pass: the bytes as found are hashed (to
 * check the archive's own digests), decompressed and hashed again (the diff_id the config must list),
 * and compressed for the registry unless they already are and the policy keeps them.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UserError } from '../util/errors.js';
import { peek } from './archive.js';
import { Hasher, type Digest } from './digest.js';
import { compressorRecord, decompressor, GzipBlocks, sniffCompression, zstdCompressor } from './compression.js';
import { ociLayerType, type Compression } from './media-types.js';
import type { BlobStore, PendingBlob } from './store.js';
import { Annotation, type Descriptor } from './types.js';

export interface LayerPolicy {
  /** The compression of layers addonix compresses. */
  compression: Compression;
  /** Keep layers that arrive compressed as they are (their digests stay those of the source). */
  keepCompressed: boolean;
}

export interface ProcessedLayer {
  /** Digest and size of the bytes as the input holds them. */
  rawDigest: Digest;
  rawSize: number;
  /** Digest and size of the uncompressed tar. */
  diffId: Digest;
  uncompressedSize: number;
  /** The blob in the store, as a manifest lists it. */
  descriptor: Descriptor;
  /** Whether the store did not have the blob before. */
  created: boolean;
}

/** The compression a layer will end up with under a policy. */
export function targetCompression(source: Compression, policy: LayerPolicy): Compression {
  return policy.keepCompressed && source !== 'none' ? source : policy.compression;
}

function describeStreamError(error: unknown, what: string, compression: Compression): Error {
  if (error instanceof UserError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (code.startsWith('Z_') || code.startsWith('ERR_ZLIB') || /incorrect header|invalid|unexpected end/i.test(String((error as Error).message))) {
    return new UserError(`${what}: the layer is not valid ${compression} data (${(error as Error).message})`);
  }
  return error as Error;
}

/** The chunks, each shown to `look` and then given on as a copy: for streams, which keep chunks a while. */
async function* copies(chunks: AsyncIterable<Buffer>, look: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    look(chunk);
    yield Buffer.from(chunk);
  }
}

/**
 * Compresses chunks into the blob, each shown to `look` first; answers the hash of what was written.
 * For gzip and none every chunk is hashed and compressed or copied (GzipBlocks keeps no reference to it)
 * before the next is asked for, so the source may hand out views of one buffer it reuses.
 * `deflateThreads`: how many gzip blocks may be deflated at once (see GzipBlocks).
 */
async function compressInto(chunks: AsyncIterable<Buffer>, target: Compression, blob: PendingBlob, deflateThreads: number, look: (chunk: Buffer) => void): Promise<Hasher> {
  const stored = new Hasher();
  const write = (pieces: readonly Buffer[]) => {
    for (const piece of pieces) stored.update(piece);
    blob.write(pieces);
  };
  if (target === 'zstd') {
    await pipeline(Readable.from(copies(chunks, look)), zstdCompressor(), async (compressed: AsyncIterable<Buffer>) => {
      for await (const chunk of compressed) write([chunk]);
    });
  } else {
    const gzip = target === 'gzip' ? new GzipBlocks(write, deflateThreads) : undefined;
    for await (const chunk of chunks) {
      look(chunk);
      if (gzip) await gzip.write(chunk);
      else write([chunk]);
    }
    await gzip?.end();
  }
  return stored;
}

/**
 * Stores one layer. The chunks of `source` need only stay valid until the next one is asked for: each is
 * used up (hashed, written, or copied) before then. `deflateThreads`: see compressInto.
 */
export async function processLayer(source: AsyncIterable<Buffer>, policy: LayerPolicy, store: BlobStore, what: string, deflateThreads = 1): Promise<ProcessedLayer> {
  const { head, all } = await peek(source, 4);
  const sourceCompression = sniffCompression(head);
  const target = targetCompression(sourceCompression, policy);
  const raw = new Hasher();
  const uncompressed = new Hasher();
  let stored: Hasher;
  const blob = await store.create();
  try {
    if (sourceCompression === 'none') {
      // Uncompressed input (what dockerTools and docker save write): its own hash is the diff_id.
      stored = await compressInto(all, target, blob, deflateThreads, (chunk) => raw.update(chunk));
    } else if (sourceCompression === target) {
      // Kept as it is; decompressed only to check it and learn its diff_id.
      const keep = (chunk: Buffer) => {
        raw.update(chunk);
        blob.write([chunk]);
      };
      await pipeline(Readable.from(copies(all, keep)), decompressor(sourceCompression)[0]!, async (tar: AsyncIterable<Buffer>) => {
        for await (const chunk of tar) uncompressed.update(chunk);
      });
      stored = raw;
    } else {
      await pipeline(Readable.from(copies(all, (chunk) => raw.update(chunk))), decompressor(sourceCompression)[0]!, async (tar: AsyncIterable<Buffer>) => {
        stored = await compressInto(tar, target, blob, deflateThreads, (chunk) => uncompressed.update(chunk));
      });
    }
  } catch (error) {
    await blob.abort();
    throw describeStreamError(error, what, sourceCompression);
  }
  const passThrough = sourceCompression === target;
  const diffId = sourceCompression === 'none' ? raw.digest() : uncompressed.digest();
  const created = await blob.commit(stored!.digest());
  const record = passThrough ? undefined : compressorRecord(target);
  return {
    rawDigest: raw.digest(),
    rawSize: raw.bytes,
    diffId,
    uncompressedSize: sourceCompression === 'none' ? raw.bytes : uncompressed.bytes,
    descriptor: {
      mediaType: ociLayerType(target),
      digest: stored!.digest(),
      size: stored!.bytes,
      ...(record ? { annotations: { [Annotation.compressor]: record } } : {}),
    },
    created,
  };
}
