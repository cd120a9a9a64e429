/**
 * A capture by a child process that writes samples on stdout (`rtl_sdr`, our SoapySDR program, or a
 * `command:` source) and tells on stderr what the hardware did. The samples are converted to complex64 as
 * they are read, pulled by the writer (the pipe's own back-pressure keeps memory bounded), and the capture
 * fails — never returns fewer samples or a silent gap — when the tool reports an error or ends short.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { CaptureError, type CaptureErrorCode } from './errors.js';

/** Sample formats a capture tool may write. */
export type SampleFormat = 'cu8' | 'cf32';

/** What one capture asks of the device. */
export interface CaptureRequest {
  /** Center frequency to tune (Hz). */
  frequency: number;
  /** Complex samples per second. */
  sampleRate: number;
  /** Complex samples to capture. */
  samples: number;
  /** Gain in dB; undefined: automatic. */
  gain?: number;
  /** Frequency correction (ppm). */
  ppm?: number;
}

/** What the hardware really did, as the tool reported it (values it did not report are the requested ones). */
export interface CaptureReport {
  /** Tuned center frequency (Hz). */
  frequency: number;
  sample_rate: number;
  /** dB, or `auto`. */
  gain: number | 'auto';
  ppm: number;
  /** The device as the tool named it. */
  device: string;
  /** ISO 8601: when the first sample arrived (the host clock). */
  datetime: string;
  samples: number;
  /** Overrun reports (dropped samples) during the capture. */
  overruns: number;
  /** Samples the tool said it dropped, when it said how many. */
  dropped_samples: number;
  /** Sample indexes (of this capture) at which an overrun was reported, as far as known. */
  overrun_at: number[];
  /** Which settings the tool confirmed (the others are the requested values). */
  reported: string[];
}

/** What a tool's stderr line means. */
export type StderrEvent =
  | {
      kind: 'setting';
      key: 'frequency' | 'sample_rate' | 'nominal_sample_rate' | 'gain' | 'ppm' | 'device';
      value: number | string;
    }
  | { kind: 'overrun'; droppedSamples?: number; at?: number }
  | { kind: 'error'; code: CaptureErrorCode; message: string };

/** How to run one capture tool. */
export interface ProcessSpec {
  command: string;
  args: string[];
  env?: Record<string, string>;
  format: SampleFormat;
  /** Reads one stderr line of the tool. */
  parseLine(line: string): StderrEvent | StderrEvent[] | undefined;
  /** The device name before the tool says it. */
  device: string;
}

/** Largest read from the pipe at once (bytes). */
const MAX_PENDING = 1 << 22;

/** A running capture: `read` pulls samples in order; `finish` waits for the tool and returns the report. */
export class ProcessCapture {
  readonly #spec: ProcessSpec;
  readonly #req: CaptureRequest;
  readonly #proc: ChildProcessByStdio<null, Readable, Readable>;
  readonly #report: CaptureReport;
  readonly #it: AsyncIterator<Buffer>;
  readonly #stderrTail: string[] = [];
  readonly #exited: Promise<number | null>;
  readonly #stderrDone: Promise<void>;
  #pending: Buffer = Buffer.alloc(0);
  #ended = false;
  #fatal: CaptureError | undefined;
  #delivered = 0;
  #started = false;

  constructor(spec: ProcessSpec, req: CaptureRequest, signal?: AbortSignal) {
    this.#spec = spec;
    this.#req = req;
    this.#report = {
      frequency: req.frequency,
      sample_rate: req.sampleRate,
      gain: req.gain ?? 'auto',
      ppm: req.ppm ?? 0,
      device: spec.device,
      datetime: new Date().toISOString(),
      samples: req.samples,
      overruns: 0,
      dropped_samples: 0,
      overrun_at: [],
      reported: [],
    };
    this.#proc = spawn(spec.command, spec.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...spec.env },
    });
    this.#exited = new Promise((resolve) => {
      this.#proc.once('error', (err: NodeJS.ErrnoException) => {
        this.#setFatal(
          err.code === 'ENOENT'
            ? new CaptureError(
                'ERR_DEVICE_MISSING',
                `${spec.command} is not installed or not on PATH (${err.message})`,
              )
            : new CaptureError('ERR_CAPTURE_FAILED', `${spec.command} did not start: ${err.message}`),
        );
        resolve(null);
      });
      this.#proc.once('close', (code) => resolve(code));
    });
    this.#stderrDone = this.#readStderr();
    this.#it = this.#proc.stdout[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    signal?.addEventListener('abort', () => this.abort(), { once: true });
  }

  /** The report so far (complete after `finish`). */
  get report(): CaptureReport {
    return this.#report;
  }

  async #readStderr(): Promise<void> {
    let rest = '';
    this.#proc.stderr.setEncoding('utf8');
    for await (const chunk of this.#proc.stderr as AsyncIterable<string>) {
      rest += chunk;
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        this.#line(rest.slice(0, nl).replace(/\r$/, ''));
        rest = rest.slice(nl + 1);
      }
    }
    if (rest !== '') this.#line(rest);
  }

  #line(line: string): void {
    if (line.trim() === '') return;
    this.#stderrTail.push(line.slice(0, 300));
    if (this.#stderrTail.length > 12) this.#stderrTail.shift();
    const parsed = this.#spec.parseLine(line);
    if (parsed === undefined) return;
    for (const e of Array.isArray(parsed) ? parsed : [parsed]) this.#event(e);
  }

  #event(e: StderrEvent): void {
    if (e.kind === 'error') {
      this.#setFatal(new CaptureError(e.code, e.message));
      this.abort();
    } else if (e.kind === 'overrun') {
      this.#report.overruns++;
      if (e.droppedSamples !== undefined) this.#report.dropped_samples += e.droppedSamples;
      this.#report.overrun_at.push(e.at ?? this.#delivered);
    } else {
      let key: string = e.key;
      if (key === 'nominal_sample_rate') {
        if (this.#report.reported.includes('sample_rate')) return;
        key = 'sample_rate';
      }
      const r = this.#report as unknown as Record<string, unknown>;
      r[key] = e.value;
      if (!this.#report.reported.includes(key)) this.#report.reported.push(key);
    }
  }

  #setFatal(err: CaptureError): void {
    this.#fatal ??= err;
  }

  /** Fills `out[0 … 2·count)` with the next `count` complex samples. */
  async read(out: Float32Array, count: number): Promise<void> {
    const bytesPer = this.#spec.format === 'cu8' ? 2 : 8;
    const need = count * bytesPer;
    let filled = 0;
    while (filled < need) {
      if (this.#fatal !== undefined) throw this.#fatal;
      if (this.#pending.length === 0) {
        if (this.#ended) {
          await this.#exited;
          await this.#stderrDone;
          throw this.#shortError(this.#delivered + Math.floor(filled / bytesPer));
        }
        const next = await this.#it.next();
        if (next.done === true) {
          this.#ended = true;
          continue;
        }
        if (!this.#started) {
          this.#started = true;
          this.#report.datetime = new Date().toISOString();
        }
        this.#pending = next.value.length > MAX_PENDING ? Buffer.from(next.value) : next.value;
        continue;
      }
      // Whole samples only: a partial one waits for the next chunk.
      const take = Math.min(need - filled, this.#pending.length);
      const whole = take - (take % bytesPer);
      if (whole === 0) {
        const more = await this.#it.next();
        if (more.done === true) {
          this.#ended = true;
          this.#pending = Buffer.alloc(0);
          continue;
        }
        this.#pending = Buffer.concat([this.#pending, more.value]);
        continue;
      }
      convert(this.#spec.format, this.#pending, whole, out, filled / bytesPer);
      this.#pending = this.#pending.subarray(whole);
      filled += whole;
    }
    this.#delivered += count;
  }

  #shortError(got: number): CaptureError {
    if (this.#fatal !== undefined) return this.#fatal;
    const tail = this.#stderrTail.slice(-4).join(' | ');
    if (this.#report.overruns > 0) {
      return new CaptureError(
        'ERR_CAPTURE_OVERRUN',
        `${this.#spec.command} dropped samples and ended after ${got} of ${this.#req.samples} samples (${tail})`,
      );
    }
    return new CaptureError(
      'ERR_CAPTURE_FAILED',
      `${this.#spec.command} ended after ${got} of ${this.#req.samples} samples${tail === '' ? '' : ` (${tail})`}`,
    );
  }

  /** Waits for the tool to end after every sample was read; the report then holds every overrun it told. */
  async finish(): Promise<CaptureReport> {
    // Whatever it still writes is past what was asked: drain it so that it can exit.
    while (!this.#ended) {
      const n = await this.#it.next();
      if (n.done === true) this.#ended = true;
    }
    const code = await this.#exited;
    await this.#stderrDone;
    if (this.#fatal !== undefined) throw this.#fatal;
    if (code !== 0 && code !== null) {
      // rtl_sdr returns the library's last status; it exits non-zero after a complete read on some builds.
      this.#report.reported.push(`exit ${code}`);
    }
    return this.#report;
  }

  /** Stops the tool (idempotent). */
  abort(): void {
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) this.#proc.kill('SIGTERM');
  }
}

/** Converts `bytes` bytes of `src` to complex64 into `out` from complex index `at`. */
export function convert(
  format: SampleFormat,
  src: Buffer,
  bytes: number,
  out: Float32Array,
  at: number,
): void {
  if (format === 'cu8') {
    // rtl_sdr's unsigned bytes: 127.5 is zero, so full scale is ±1 (see docs/datasets.md "Live capture").
    for (let i = 0, o = 2 * at; i < bytes; i++, o++) out[o] = ((src[i] as number) - 127.5) / 127.5;
    return;
  }
  if ((src.byteOffset & 3) === 0) {
    out.set(new Float32Array(src.buffer, src.byteOffset, bytes / 4), 2 * at);
  } else {
    for (let i = 0, o = 2 * at; i < bytes; i += 4, o++) out[o] = src.readFloatLE(i);
  }
}
