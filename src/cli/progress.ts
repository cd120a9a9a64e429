/**
 * Progress on long transfers: a bar with bytes, rate and ETA on a terminal (cli-progress), plain lines
 * every few seconds otherwise (logs, CI). Always on stderr, so stdout stays the result.
 */
import cliProgress from 'cli-progress';
import { formatBytes, formatRate } from './format.js';

export interface Progress {
  update(done: number, total: number, detail?: string): void;
  note(line: string): void;
  /**
   * A status that replaces itself (`preparing 40%…`): on a terminal, one line rewritten in place until
   * the next note, bar or stop; otherwise a plain line, like {@link note}.
   */
  status(line: string): void;
  stop(): void;
}

export function createProgress(verb: string): Progress {
  const tty = process.stderr.isTTY;
  let bar: cliProgress.SingleBar | undefined;
  let lastLine = 0;
  // The rate counts from the first report (the first bytes, or a resume's starting offset), not from the
  // command's start: waiting for a provider to generate the file is not transfer time.
  let t0 = -1;
  let done0 = 0;
  // a status line is being rewritten in place (terminal only): end it before anything else is written
  let inPlace = false;
  const endStatus = () => {
    if (!inPlace) return;
    inPlace = false;
    process.stderr.write('\n');
  };
  return {
    update(done, total, detail) {
      endStatus();
      const now = Date.now();
      if (t0 < 0) {
        t0 = now;
        done0 = done;
      }
      const elapsed = (now - t0) / 1000;
      const rate = elapsed > 0 ? (done - done0) / elapsed : 0;
      if (tty) {
        if (bar === undefined) {
          bar = new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: `${verb} [{bar}] {percentage}% | {doneH} / {totalH} | {rateH} | ETA {eta_formatted} | {detail}`,
              hideCursor: true,
              etaBuffer: 50,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, 0, { doneH: '', totalH: formatBytes(total), rateH: '', detail: detail ?? '' });
        }
        bar.setTotal(total);
        bar.update(done, {
          doneH: formatBytes(done),
          totalH: formatBytes(total),
          rateH: formatRate(rate),
          detail: detail ?? '',
        });
      } else if (Date.now() - lastLine >= 2000 || done === total) {
        lastLine = Date.now();
        const pct = total > 0 ? ((done / total) * 100).toFixed(1) : '100.0';
        process.stderr.write(
          `${verb} ${pct}% ${formatBytes(done)} / ${formatBytes(total)} ${formatRate(rate)}${detail !== undefined ? ` ${detail}` : ''}\n`,
        );
      }
    },
    note(line) {
      if (bar !== undefined) return;
      endStatus();
      process.stderr.write(`${line}\n`);
    },
    status(line) {
      if (bar !== undefined) return;
      if (tty) {
        inPlace = true;
        process.stderr.write(`\r${line}\x1b[K`);
      } else {
        process.stderr.write(`${line}\n`);
      }
    },
    stop() {
      endStatus();
      bar?.stop();
      bar = undefined;
    },
  };
}
