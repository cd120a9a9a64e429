/**
 * Writes an IQ `.npz`: `iq` (complex64, streamed block by block), `sample_rate` and `center_frequency`
 * (float64 0-d arrays) and `meta` (a 0-d unicode array holding SigMF-style JSON) — in that order. `meta`
 * comes last because it carries the SHA-512 of the `iq` bytes, known only once they have streamed.
 *
 * Memory: two blocks of {@link IQ_BLOCK_SAMPLES} samples (8 MiB each), alternating so that filling one
 * overlaps writing the other (see NpzEntryWriter.write).
 */
import { createHash } from 'node:crypto';
import { npzArchiveBytes, writeNpzWithMeta } from './npz-writer.js';
import { DatasetError, type GenerateOptions, type GenerateResult } from './types.js';

/** Complex samples per generation block. */
export const IQ_BLOCK_SAMPLES = 1 << 20;
/** A placeholder of the length of a SHA-512 hex digest, to size `meta` before the data exists. */
export const SHA512_PLACEHOLDER = '0'.repeat(128);

/** Where the samples come from. */
export interface IqProducer {
  /** Complex samples in total. */
  samples: number;
  /**
   * Writes samples `start … start + count − 1` into `out[0 … 2·count)` (interleaved re, im), every value
   * (the buffer holds the previous block's). Called with consecutive ranges, in order.
   */
  fill(out: Float32Array, start: number, count: number): void | Promise<void>;
}

/** What goes around the samples. */
export interface IqDescription {
  sampleRate: number;
  centerFrequency: number;
  /** Builds the `meta` JSON value from the SHA-512 (hex) of the `iq` bytes. */
  meta(sha512: string): unknown;
}

function metaText(desc: IqDescription, sha512: string): string {
  return JSON.stringify(desc.meta(sha512));
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Exact size of the `.npz` that {@link writeIqNpz} writes. */
export function iqNpzBytes(samples: number, desc: IqDescription): number {
  const metaLen = Math.max(1, codePoints(metaText(desc, SHA512_PLACEHOLDER)));
  return npzArchiveBytes([
    ['iq', { descr: '<c8', shape: [samples] }],
    ['sample_rate', { descr: '<f8', shape: [] }],
    ['center_frequency', { descr: '<f8', shape: [] }],
    ['meta', { descr: `<U${metaLen}`, shape: [] }],
  ]);
}

/** Throws `ERR_ABORTED` if the signal has fired. */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) {
    throw new DatasetError('ERR_ABORTED', 'dataset generation aborted', { cause: signal.reason });
  }
}

/** Streams the IQ archive to `path`; on any failure the partial file is removed. */
export async function writeIqNpz(
  path: string,
  producer: IqProducer,
  desc: IqDescription,
  options: GenerateOptions = {},
): Promise<GenerateResult> {
  checkAborted(options.signal);
  return writeNpzWithMeta(
    path,
    async (w) => {
      const iq = await w.beginArray('iq', { descr: '<c8', shape: [producer.samples] });
      const hash = createHash('sha512');
      const blocks = [new Float32Array(2 * IQ_BLOCK_SAMPLES), new Float32Array(2 * IQ_BLOCK_SAMPLES)];
      let turn = 0;
      for (let start = 0; start < producer.samples; start += IQ_BLOCK_SAMPLES) {
        checkAborted(options.signal);
        const count = Math.min(IQ_BLOCK_SAMPLES, producer.samples - start);
        const block = (blocks[turn] as Float32Array).subarray(0, 2 * count);
        turn ^= 1;
        await producer.fill(block, start, count);
        hash.update(new Uint8Array(block.buffer, block.byteOffset, block.byteLength));
        await iq.write(block);
        options.onProgress?.(w.bytesWritten);
      }
      await iq.end();
      await w.writeArray('sample_rate', { descr: '<f8', shape: [] }, Float64Array.of(desc.sampleRate));
      await w.writeArray(
        'center_frequency',
        { descr: '<f8', shape: [] },
        Float64Array.of(desc.centerFrequency),
      );
      return metaText(desc, hash.digest('hex'));
    },
    options.onProgress,
  );
}
