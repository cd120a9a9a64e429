/**
 * Coalesces verified payloads into large sequential writes (about 1 MiB each) for the receiver, with a
 * bounded queue. A data channel cannot be paused, so when the disk is slower than the network the queue
 * fills; past `maxQueuedBytes` the transfer fails with ERR_IO instead of growing without bound. Transports
 * that can stop reading (the relay's WebSocket) are paused at half the bound (`onPressure`). (Disks are
 * typically far faster than the ~125 MB/s a data channel reaches here.)
 */
import { TransferError, toTransferError } from './errors.js';

/** Where the batches go: sequential appends; the writer reuses `data`'s memory once the promise settles. */
export interface BatchSink {
  write(offset: number, data: Uint8Array): Promise<void>;
}

export class BatchWriter {
  /** File offset of the next byte appended. */
  private offset: number;
  /** File offset up to which writes have completed. */
  written: number;
  private current: Uint8Array | null = null;
  private fill = 0;
  private readonly pool: Uint8Array[] = [];
  private readonly queue: { offset: number; buf: Uint8Array; length: number }[] = [];
  private queuedBytes = 0;
  private allocated = 0;
  private writing: Promise<void> | null = null;
  private pressured = false;
  /** Set when a write failed; later appends and flushes fail with it. */
  error: TransferError | null = null;

  constructor(
    private readonly sink: BatchSink,
    start: number,
    private readonly batchBytes: number,
    private readonly maxQueuedBytes: number,
    private readonly onError: (err: TransferError) => void,
    /**
     * Called with `true` when the queue passes half of `maxQueuedBytes` and with `false` once it is back
     * under a quarter: transports that can stop reading (the WebSocket relay) apply backpressure with it.
     */
    private readonly onPressure?: (high: boolean) => void,
  ) {
    this.offset = start;
    this.written = start;
  }

  /** Copies `data` into the current batch, queueing full batches for writing. Throws ERR_IO on overflow. */
  append(data: Uint8Array): void {
    if (this.error !== null) throw this.error;
    let i = 0;
    const n = data.length;
    while (i < n) {
      if (this.current === null) this.current = this.take();
      const cur = this.current;
      const room = cur.length - this.fill;
      const len = n - i < room ? n - i : room;
      cur.set(len === n ? data : data.subarray(i, i + len), this.fill);
      this.fill += len;
      i += len;
      if (this.fill === cur.length) this.enqueue();
    }
  }

  /** Queues the partial batch and resolves once everything appended so far is written. */
  async flush(): Promise<void> {
    if (this.fill > 0) this.enqueue();
    while (this.writing !== null) await this.writing;
    if (this.error !== null) throw this.error;
  }

  /** Waits for the write in progress (if any) to settle, dropping queued batches; never throws. */
  async settle(): Promise<void> {
    this.queue.length = 0;
    this.queuedBytes = 0;
    while (this.writing !== null) await this.writing;
  }

  private take(): Uint8Array {
    const buf = this.pool.pop();
    if (buf !== undefined) return buf;
    if ((this.allocated + 1) * this.batchBytes > this.maxQueuedBytes + this.batchBytes) {
      throw new TransferError(
        'ERR_IO',
        `receive: more than ${this.maxQueuedBytes} bytes waiting to be written: the disk is slower than the network`,
      );
    }
    this.allocated++;
    return new Uint8Array(this.batchBytes);
  }

  private enqueue(): void {
    const buf = this.current as Uint8Array;
    this.queue.push({ offset: this.offset, buf, length: this.fill });
    this.queuedBytes += this.fill;
    if (!this.pressured && this.queuedBytes > this.maxQueuedBytes / 2) {
      this.pressured = true;
      this.onPressure?.(true);
    }
    this.offset += this.fill;
    this.current = null;
    this.fill = 0;
    this.writing ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
        try {
          await this.sink.write(
            item.offset,
            item.length === item.buf.length ? item.buf : item.buf.subarray(0, item.length),
          );
        } catch (err) {
          const e = toTransferError(
            err,
            'ERR_IO',
            `receive: writing ${item.length} bytes at offset ${item.offset}`,
          );
          this.error = e;
          this.queue.length = 0;
          this.queuedBytes = 0;
          this.onError(e);
          return;
        }
        this.queuedBytes -= item.length;
        if (this.pressured && this.queuedBytes < this.maxQueuedBytes / 4) {
          this.pressured = false;
          this.onPressure?.(false);
        }
        this.written = item.offset + item.length;
        this.pool.push(item.buf);
      }
    } finally {
      this.writing = null;
    }
  }
}
