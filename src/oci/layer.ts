/**
 * One layer from an input into a blob store, in one streaming pass: the bytes as found are hashed (to
 * check the archive's own digests), decompressed and hashed again (the diff_id the config must list),
 * and compressed for the registry unless they already are and the policy keeps them.
 */
import { PassThrough, Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UserError } from '../util/errors.js';
import { peek } from './archive.js';
import { HashCounter, type Digest } from './digest.js';
import { compressor, compressorRecord, decompressor, sniffCompression } from './compression.js';
import { ociLayerType, type Compression } from './media-types.js';
import type { BlobStore } from './store.js';
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

/** Forwards every chunk and also writes it to a side stream, waiting for the slower of the two. */
class Tee extends Transform {
  constructor(private readonly side: Writable) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.side.write(chunk)) callback(null, chunk);
    else this.side.once('drain', () => callback(null, chunk));
  }
  override _flush(callback: TransformCallback): void {
    this.side.end();
    callback();
  }
}

/** stream.pipeline over a list whose length is only known at run time. */
export function pipeAll(streams: (NodeJS.ReadableStream | NodeJS.WritableStream | NodeJS.ReadWriteStream)[]): Promise<void> {
  return pipeline(streams);
}

const discard = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });

function describeStreamError(error: unknown, what: string, compression: Compression): Error {
  if (error instanceof UserError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (code.startsWith('Z_') || code.startsWith('ERR_ZLIB') || /incorrect header|invalid|unexpected end/i.test(String((error as Error).message))) {
    return new UserError(`${what}: the layer is not valid ${compression} data (${(error as Error).message})`);
  }
  return error as Error;
}

export async function processLayer(source: AsyncIterable<Buffer>, policy: LayerPolicy, store: BlobStore, what: string): Promise<ProcessedLayer> {
  const { head, all } = await peek(source, 4);
  const sourceCompression = sniffCompression(head);
  const target = targetCompression(sourceCompression, policy);
  const raw = new HashCounter();
  const uncompressed = new HashCounter();
  const stored = new HashCounter();
  const pending = await store.create();
  const input = Readable.from(all);
  try {
    if (sourceCompression === target) {
      if (sourceCompression === 'none') {
        await pipeAll([input, raw, pending.stream]);
      } else {
        const side = new PassThrough();
        const tee = new Tee(side);
        const checking = pipeAll([side, ...decompressor(sourceCompression), uncompressed, discard()]);
        checking.catch((error: unknown) => tee.destroy(error as Error));
        await Promise.all([pipeAll([input, raw, tee, pending.stream]), checking]);
      }
    } else if (sourceCompression === 'none') {
      // Uncompressed input: its own hash is the diff_id, no need to hash the same bytes twice.
      await pipeAll([input, raw, ...compressor(target), stored, pending.stream]);
    } else {
      await pipeAll([input, raw, ...decompressor(sourceCompression), uncompressed, ...compressor(target), stored, pending.stream]);
    }
  } catch (error) {
    await pending.abort();
    throw describeStreamError(error, what, sourceCompression);
  }
  const passThrough = sourceCompression === target;
  const diffId = sourceCompression === 'none' ? raw.digest() : uncompressed.digest();
  const blobDigest = passThrough ? raw.digest() : stored.digest();
  const created = await pending.commit(blobDigest);
  const record = passThrough ? undefined : compressorRecord(target);
  return {
    rawDigest: raw.digest(),
    rawSize: raw.bytes,
    diffId,
    uncompressedSize: sourceCompression === 'none' ? raw.bytes : uncompressed.bytes,
    descriptor: {
      mediaType: ociLayerType(target),
      digest: blobDigest,
      size: passThrough ? raw.bytes : stored.bytes,
      ...(record ? { annotations: { [Annotation.compressor]: record } } : {}),
    },
    created,
  };
}
