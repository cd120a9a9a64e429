/**
 * One capture uses a device at a time: the others wait in line, first come first served, and each hears
 * its place whenever the line moves (1: next). A waiter whose request is aborted leaves the line.
 */
export class DeviceQueue {
  #busy = false;
  readonly #line: Array<{ grant: () => void; onPosition: (position: number) => void }> = [];

  /** Captures waiting (not counting the one holding the device). */
  get waiting(): number {
    return this.#line.length;
  }

  /**
   * Resolves with a `release` function once the device is ours. `onPosition(n)` hears the place in line
   * while waiting (n ≥ 1) and `0` when the device is granted.
   */
  acquire(onPosition: (position: number) => void, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    const release = this.#releaser();
    if (!this.#busy) {
      this.#busy = true;
      onPosition(0);
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          onPosition(0);
          resolve(release);
        },
        onPosition,
      };
      const onAbort = () => {
        const i = this.#line.indexOf(entry);
        if (i >= 0) this.#line.splice(i, 1);
        this.#announce();
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#line.push(entry);
      onPosition(this.#line.length);
    });
  }

  #releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#line.shift();
      if (next === undefined) {
        this.#busy = false;
        return;
      }
      next.grant();
      this.#announce();
    };
  }

  #announce(): void {
    this.#line.forEach((w, i) => w.onPosition(i + 1));
  }
}
