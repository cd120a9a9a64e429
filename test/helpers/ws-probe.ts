/**
 * WebSocket helpers for the server's tests: open a socket and wait for messages or the close, with
 * timeouts, so a test fails with a message instead of hanging.
 */
import WebSocket from 'ws';

export interface WsProbe {
  ws: WebSocket;
  /** Resolves with the next text JSON message matching `pred` (earlier unmatched ones are kept). */
  next(pred?: (m: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the close code and reason. */
  closed(timeoutMs?: number): Promise<{ code: number; reason: string }>;
  /** Every text message seen so far. */
  seen: Array<Record<string, unknown>>;
}

/** Opens a WebSocket; `opened` waits for 'open'. */
export async function openWs(url: string, headers: Record<string, string> = {}): Promise<WsProbe> {
  const ws = new WebSocket(url, { headers });
  const seen: Array<Record<string, unknown>> = [];
  const queue: Array<Record<string, unknown>> = [];
  const waiters: Array<{
    pred: (m: Record<string, unknown>) => boolean;
    resolve: (m: Record<string, unknown>) => void;
  }> = [];
  let closeInfo: { code: number; reason: string } | undefined;
  const closeWaiters: Array<(c: { code: number; reason: string }) => void> = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    let m: Record<string, unknown>;
    try {
      m = JSON.parse((data as Buffer).toString('utf8')) as Record<string, unknown>;
    } catch {
      return;
    }
    seen.push(m);
    const i = waiters.findIndex((w) => w.pred(m));
    if (i >= 0) {
      const [w] = waiters.splice(i, 1);
      w?.resolve(m);
    } else {
      queue.push(m);
    }
  });
  ws.on('close', (code, reason) => {
    closeInfo = { code, reason: reason.toString() };
    for (const w of closeWaiters.splice(0)) w(closeInfo);
  });
  ws.on('error', () => {
    // 'close' follows
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`unexpected response ${String(res.statusCode)}`)),
    );
    ws.once('close', () => resolve());
  });
  return {
    ws,
    seen,
    next(pred = () => true, timeoutMs = 5000) {
      const i = queue.findIndex(pred);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0] as Record<string, unknown>);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (m: Record<string, unknown>) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(
            new Error(
              `no matching message within ${timeoutMs} ms; seen ${JSON.stringify(seen).slice(0, 500)}`,
            ),
          );
        }, timeoutMs);
        waiters.push(w);
      });
    },
    closed(timeoutMs = 5000) {
      if (closeInfo !== undefined) return Promise.resolve(closeInfo);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`socket not closed within ${timeoutMs} ms`)),
          timeoutMs,
        );
        closeWaiters.push((c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
    },
  };
}
