/**
 * A benchmark dataset of an exact size: request type `blob`, parameters `{"bytes": N, "seed"?: S}`.
 * The bytes are deterministic (src/datasets/types.ts contract) and cheap to make: one 1 MiB block from a
 * seeded xorshift generator, repeated, with each block's index stamped into its first 8 bytes so no two
 * MiB of the file are equal. Writing costs little more than the disk.
 */
import { open } from 'node:fs/promises';
import { DatasetError, type Dataset } from '../src/datasets/types.js';

export const BLOB_TYPE = 'blob';
const BLOCK = 1024 * 1024;
/** 64 GiB: far above any benchmark size, low enough to refuse a typo. */
const MAX_BYTES = 64 * 1024 ** 3;

export interface BlobParams {
  bytes: number;
  seed: number;
}

function fillBlock(seed: number): Buffer {
  const b = Buffer.allocUnsafe(BLOCK);
  // xorshift32; a zero state would stay zero.
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < BLOCK; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

/** The `blob` dataset module. */
export const blobDataset: Dataset<BlobParams> = {
  type: BLOB_TYPE,
  description: 'deterministic pseudo-random bytes of an exact size (benchmarks)',
  validate(params: unknown): BlobParams {
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      throw new DatasetError('ERR_PARAMS', 'parameters: must be an object');
    }
    const p = params as Record<string, unknown>;
    const bytes = p['bytes'];
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 1 || bytes > MAX_BYTES) {
      throw new DatasetError(
        'ERR_PARAMS',
        `parameters.bytes: must be an integer from 1 to ${MAX_BYTES}, got ${JSON.stringify(bytes)}`,
      );
    }
    const seed = p['seed'] ?? 1;
    if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new DatasetError(
        'ERR_PARAMS',
        `parameters.seed: must be an integer from 0 to 2^32-1, got ${JSON.stringify(seed)}`,
      );
    }
    return { bytes, seed };
  },
  fileName: (p) => `blob_${p.bytes}_${p.seed}.bin`,
  estimateBytes: (p) => p.bytes,
  async generate(p, path, options) {
    const block = fillBlock(p.seed);
    const fh = await open(path, 'w');
    try {
      let written = 0;
      for (let i = 0; written < p.bytes; i++) {
        if (options?.signal?.aborted === true)
          throw new DatasetError('ERR_ABORTED', 'blob generation aborted');
        block.writeBigUInt64BE(BigInt(i), 0);
        const n = Math.min(BLOCK, p.bytes - written);
        await fh.write(block, 0, n, written);
        written += n;
        if ((i & 63) === 63) options?.onProgress?.(written);
      }
      options?.onProgress?.(written);
      return { bytes: written };
    } finally {
      await fh.close();
    }
  },
};
