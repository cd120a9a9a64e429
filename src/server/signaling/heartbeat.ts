/**
 * WebSocket keep-alive: every interval each tracked socket is pinged, and one that has not answered the
 * previous ping is terminated (its 'close' then cleans up). A socket whose reading the relay paused for
 * backpressure cannot see pongs, so it is spared while paused.
 */
import type { WebSocket } from 'ws';

export class Heartbeat {
  readonly #alive = new Map<WebSocket, boolean>();
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.#timer = setInterval(() => this.#beat(), intervalMs);
    this.#timer.unref();
  }

  track(ws: WebSocket): void {
    this.#alive.set(ws, true);
    ws.on('pong', () => this.#alive.set(ws, true));
    ws.on('close', () => this.#alive.delete(ws));
  }

  #beat(): void {
    for (const [ws, alive] of this.#alive) {
      if (ws.isPaused) continue;
      if (!alive) {
        ws.terminate();
        this.#alive.delete(ws);
        continue;
      }
      this.#alive.set(ws, false);
      try {
        ws.ping();
      } catch {
        // closing already
      }
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
