/**
 * The provider's cache of generated files. A request (type + validated parameters) always gives the same
 * bytes (src/datasets/types.ts), so a file generated once is served again as is: a consumer that lost a
 * transfer midway resumes against the same SHA-256, even after a provider restart (docs/protocol.md §4).
 *
 * Layout: `<dataDir>/cache/<key>/` holds the file and `meta.json` (written last, atomically: an entry
 * without a valid `meta.json` is incomplete). The folder's mtime is the entry's last use; it is touched on
 * every hit and orders eviction across restarts.
 *
 * The cache is bounded (`maxBytes`): least-recently-used entries are evicted after each new file is stored,
 * when a file is released and the cache is over its bound, and at start. An entry is never evicted while it
 * is held — each `prepare` takes a reference on its key, from the call (so an entry being generated is
 * held too) until the lease's `release()` — nor while it is being generated. A file larger than the bound
 * is still produced and served, and evicted once released; `maxBytes = 0` keeps nothing after release.
 * One provider per data folder: start-up removes leftovers it finds (temporary files, incomplete entries).
 *
 * Live captures (`dataset.isLive(params)`, a receiver's samples) are never served twice: each request has
 * its own key, and the file is removed as soon as the last lease on it is released (so a resume within the
 * session that asked for it gets the same file, and nobody gets a stale capture); start-up removes any left.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset } from '../datasets/types.js';
import { AgentError } from './errors.js';
import { sha256File } from './files.js';

export interface PreparedFile {
  path: string;
  filename: string;
  size: number;
  sha256: string;
  /** True when the file came from the cache. */
  cached: boolean;
}

/** A prepared file held by one user: the cache keeps it on disk until `release()` (idempotent). */
export interface CacheLease extends PreparedFile {
  release(): void;
}

/** Default bound of the cache: 10 GiB. */
export const DEFAULT_CACHE_MAX_BYTES = 10 * 1024 ** 3;

/** What the cache reports, in the provider's event style (one JSON line each with `--json`). */
export type CacheEvent =
  /** Entries evicted to keep the bound: how many, the bytes freed, what the cache holds now. */
  | { event: 'cache-evicted'; entries: number; bytes: number; cache_bytes: number; max_bytes: number }
  /** At start: incomplete entries and temporary files left by a crash, removed. */
  | { event: 'cache-cleaned'; entries: number; files: number; bytes: number }
  | { event: 'log'; message: string };

export interface DatasetCacheOptions {
  /** Bound in bytes (default DEFAULT_CACHE_MAX_BYTES); 0 keeps no file once it is released. */
  maxBytes?: number;
  onEvent?: (e: CacheEvent) => void;
}

/** A snapshot of the cache, for logs and tests. */
export interface CacheStats {
  /** Complete entries on disk. */
  entries: number;
  /** Their bytes (file + meta.json). */
  bytes: number;
  maxBytes: number;
  /** Keys held by a lease or being generated. */
  held: number;
}

interface Meta {
  filename: string;
  size: number;
  sha256: string;
  /** A live capture's file: removed once released, and at start-up. */
  live?: boolean;
}

const KEY_RE = /^[0-9a-f]{32}$/;
const META = 'meta.json';
/** Our temporary files: `.<name>.<pid>.tmp` (the data file while generated, meta.json while written). */
const isTemp = (name: string) => name.startsWith('.') && name.endsWith('.tmp');

/** JSON with object keys sorted, so equal parameters give equal keys. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Reads a byte count: a whole number of bytes (`536870912`), or a number with a binary suffix `K`, `M`,
 * `G`, `T` (powers of 1024; `KiB`…`TiB` and a bare `B` read the same, case-insensitive). A fraction is
 * accepted only when it makes whole bytes (`1.5G`, not `1.1K`). `KB`/`MB`/… are refused as ambiguous.
 * Throws AgentError('ERR_CONFIG') naming `label` (the flag or variable the text came from).
 *
 * @example parseByteSize('512M', '--cache-max-bytes') === 536870912
 */
export function parseByteSize(text: string, label: string): number {
  const m = /^(\d+(?:\.\d+)?) ?(?:([kmgt])(?:ib)?|(b))?$/i.exec(text.trim());
  const bad = (why: string) =>
    new AgentError(
      'ERR_CONFIG',
      `${label}: ${why}; expected a whole number of bytes or one with a suffix K, M, G or T (powers of 1024, KiB…TiB alike), e.g. 0, 536870912, 512M, 20G; got ${JSON.stringify(text)}`,
    );
  if (m === null) throw bad('not a byte count');
  const unit = (m[2] ?? m[3] ?? '').toLowerCase();
  const n = Number(m[1]) * (UNITS[unit] ?? NaN);
  if (!Number.isInteger(n)) throw bad('not a whole number of bytes');
  if (!Number.isSafeInteger(n)) throw bad('too large');
  return n;
}

interface Entry {
  bytes: number;
}

/**
 * The bounded cache of generated files (see the file's comment for the layout and the eviction rules).
 *
 * @example
 * const cache = await DatasetCache.open(dataDir, { maxBytes: 10 * 1024 ** 3, onEvent: log });
 * const file = await cache.prepare(dataset, params, signal);
 * try { await send(file.path); } finally { file.release(); }
 */
export class DatasetCache {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #emit: (e: CacheEvent) => void;
  /** Generations running, by key (one per key however many ask). */
  readonly #inflight = new Map<string, Promise<PreparedFile>>();
  /** Who hears the bytes written of each file being generated (every caller waiting for it). */
  readonly #listeners = new Map<string, Set<(bytesWritten: number) => void>>();
  /** Complete entries in least-recently-used order (a Map iterates in insertion order; a use re-inserts). */
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  /** References per key: leases not yet released, and callers waiting for their file. */
  readonly #refs = new Map<string, number>();
  /** Entry folders being removed: a request for the same key waits until the removal is done. */
  readonly #removing = new Map<string, Promise<void>>();
  /** Keys of live captures: removed when their last lease is released. */
  readonly #live = new Set<string>();
  #closed = false;
  #started: Promise<void> | undefined;

  /** A cache under `<dataDir>/cache`; `open` (or the first `prepare`) runs the start-up work of `start`. */
  constructor(dataDir: string, opts: DatasetCacheOptions = {}) {
    this.#dir = join(dataDir, 'cache');
    const max = opts.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new AgentError(
        'ERR_CONFIG',
        `cache bound: expected a whole number of bytes ≥ 0, got ${String(max)}`,
      );
    }
    this.#maxBytes = max;
    this.#emit = opts.onEvent ?? (() => undefined);
  }

  /**
   * Opens the cache under `<dataDir>/cache`: removes what a crash left (temporary files, entries without a
   * complete meta.json or whose file does not match it), indexes the rest by last use, and evicts down to
   * the bound before resolving.
   */
  static async open(dataDir: string, opts: DatasetCacheOptions = {}): Promise<DatasetCache> {
    const cache = new DatasetCache(dataDir, opts);
    await cache.start();
    return cache;
  }

  /** The start-up work of `open`, run once; `prepare` waits for it. */
  start(): Promise<void> {
    this.#started ??= this.#scan().then(() => this.#evict());
    return this.#started;
  }

  /** The bound, in bytes. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** A snapshot of the cache. */
  stats(): CacheStats {
    const held = new Set([...this.#refs.keys(), ...this.#inflight.keys()]);
    return { entries: this.#entries.size, bytes: this.#bytes, maxBytes: this.#maxBytes, held: held.size };
  }

  /** The cache key of a request: the dataset type and its canonical parameters, hashed. */
  keyOf(dataset: Dataset, params: unknown): string {
    return createHash('sha256')
      .update(`${dataset.type}\n${canonicalJson(params)}`)
      .digest('hex')
      .slice(0, 32);
  }

  /**
   * Returns a lease on the file for the request, generating it (once, however many ask at the same time)
   * if needed. The entry is held from this call until the lease is released — or, if this rejects, until
   * it rejects. Always release a lease, whatever the transfer's outcome.
   * @param onProgress hears the bytes written while the file is generated (by this call or another one
   *   that asked for the same file first); not called for a file already cached.
   */
  prepare(
    dataset: Dataset,
    params: unknown,
    signal?: AbortSignal,
    onProgress?: (bytesWritten: number) => void,
    onQueued?: (position: number) => void,
  ): Promise<CacheLease> {
    const key = this.keyOf(dataset, params);
    this.#ref(key);
    let p = this.#inflight.get(key);
    if (p === undefined) {
      const listeners = new Set<(bytesWritten: number) => void>();
      this.#listeners.set(key, listeners);
      if (dataset.isLive?.(params) === true) this.#live.add(key);
      const started = this.#load(
        key,
        dataset,
        params,
        signal,
        (b) => {
          for (const l of listeners) l(b);
        },
        onQueued,
      ).finally(() => {
        this.#inflight.delete(key);
        this.#listeners.delete(key);
      });
      this.#inflight.set(key, started);
      p = started;
    }
    if (onProgress !== undefined) {
      const listeners = this.#listeners.get(key);
      listeners?.add(onProgress);
      void p.finally(() => listeners?.delete(onProgress)).catch(() => undefined);
    }
    return p.then(
      (file) => {
        let held = true;
        return {
          ...file,
          release: () => {
            if (!held) return;
            held = false;
            this.#unref(key);
          },
        };
      },
      (err: unknown) => {
        this.#unref(key);
        throw err;
      },
    );
  }

  /** Waits for removals in progress. Later releases no longer evict (the next start does). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inflight.values()]);
    await Promise.allSettled([...this.#removing.values()]);
  }

  /** Waits until no eviction is in progress (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#removing.size > 0) await Promise.allSettled([...this.#removing.values()]);
  }

  #ref(key: string) {
    this.#refs.set(key, (this.#refs.get(key) ?? 0) + 1);
  }

  #unref(key: string) {
    const n = (this.#refs.get(key) ?? 1) - 1;
    if (n > 0) {
      this.#refs.set(key, n);
      return;
    }
    this.#refs.delete(key);
    if (this.#live.has(key)) {
      // A live capture is never served again: gone as soon as nobody holds it.
      this.#live.delete(key);
      this.#drop(key);
      const p = rm(join(this.#dir, key), { recursive: true, force: true })
        .catch(() => undefined)
        .finally(() => {
          if (this.#removing.get(key) === p) this.#removing.delete(key);
        });
      this.#removing.set(key, p);
      return;
    }
    // Just finished serving: the most recently used entry.
    const e = this.#entries.get(key);
    if (e !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, e);
    }
    if (!this.#closed && this.#bytes > this.#maxBytes) void this.#evict();
  }

  #held(key: string): boolean {
    return this.#refs.has(key) || this.#inflight.has(key);
  }

  async #load(
    key: string,
    dataset: Dataset,
    params: unknown,
    signal: AbortSignal | undefined,
    onProgress: (bytesWritten: number) => void,
    onQueued: ((position: number) => void) | undefined,
  ): Promise<PreparedFile> {
    await this.start();
    await this.#removing.get(key);
    const dir = join(this.#dir, key);
    const filename = dataset.fileName(params);
    const path = join(dir, filename);
    const metaPath = join(dir, META);
    try {
      const meta = JSON.parse(await readFile(metaPath, 'utf8')) as Meta;
      const st = await stat(path);
      if (st.isFile() && st.size === meta.size && meta.filename === filename) {
        await this.#touch(dir);
        // Re-inserted: now the most recently used.
        this.#put(key, this.#entries.get(key)?.bytes ?? meta.size + (await stat(metaPath)).size);
        return { path, filename, size: meta.size, sha256: meta.sha256, cached: true };
      }
    } catch {
      // not cached (or damaged): generate
    }
    // Whatever is there is not a usable entry (a damaged one, or one from another file name): start clean.
    this.#drop(key);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${filename}.${process.pid}.tmp`);
    const metaTmp = join(dir, `.${META}.${process.pid}.tmp`);
    try {
      await dataset.generate(params, tmp, {
        onProgress,
        ...(signal === undefined ? {} : { signal }),
        ...(onQueued === undefined ? {} : { onQueued }),
      });
      const sha256 = await sha256File(tmp);
      const { size } = await stat(tmp);
      await rename(tmp, path);
      // meta.json last, and atomically: its presence marks the entry complete.
      const live = this.#live.has(key) ? { live: true } : {};
      const metaJson = JSON.stringify({ filename, size, sha256, type: dataset.type, params, ...live });
      await writeFile(metaTmp, metaJson);
      await rename(metaTmp, metaPath);
      this.#put(key, size + Buffer.byteLength(metaJson));
      // This key is held by its caller(s), so the new file itself stays until released.
      if (this.#bytes > this.#maxBytes) void this.#evict();
      return { path, filename, size, sha256, cached: false };
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  #put(key: string, bytes: number) {
    this.#drop(key);
    this.#entries.set(key, { bytes });
    this.#bytes += bytes;
  }

  #drop(key: string) {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= e.bytes;
  }

  async #touch(dir: string) {
    const now = new Date();
    await utimes(dir, now, now).catch(() => undefined);
  }

  /**
   * Evicts least-recently-used entries that nobody holds until the cache fits its bound. An entry held
   * right now that is larger than the bound by itself is counted as gone (it will be, once released), so
   * serving it does not empty the rest of the cache.
   */
  async #evict(): Promise<void> {
    let doomed = 0;
    for (const [key, e] of this.#entries) if (e.bytes > this.#maxBytes && this.#held(key)) doomed += e.bytes;
    const victims: string[] = [];
    let freed = 0;
    // Entries too large to keep first, then from the least recently used.
    const order = [...this.#entries].sort(
      ([, a], [, b]) => Number(b.bytes > this.#maxBytes) - Number(a.bytes > this.#maxBytes),
    );
    for (const [key, e] of order) {
      if (this.#bytes - doomed <= this.#maxBytes) break;
      if (this.#held(key)) continue;
      this.#drop(key);
      freed += e.bytes;
      victims.push(key);
    }
    if (victims.length === 0) return;
    const removals = victims.map((key) => {
      const p = rm(join(this.#dir, key), { recursive: true, force: true })
        .catch((err: unknown) =>
          this.#emit({
            event: 'log',
            message: `cache: could not remove entry ${key}: ${(err as Error).message}`,
          }),
        )
        .finally(() => {
          if (this.#removing.get(key) === p) this.#removing.delete(key);
        });
      this.#removing.set(key, p);
      return p;
    });
    await Promise.all(removals);
    this.#emit({
      event: 'cache-evicted',
      entries: victims.length,
      bytes: freed,
      cache_bytes: this.#bytes,
      max_bytes: this.#maxBytes,
    });
  }

  /** Start-up: removes crash leftovers and indexes complete entries, least recently used first. */
  async #scan(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const found: { key: string; bytes: number; used: number }[] = [];
    let brokenEntries = 0;
    let tempFiles = 0;
    let cleanedBytes = 0;
    for (const d of await readdir(this.#dir, { withFileTypes: true })) {
      // Only our own entry folders: anything else under cache/ is left alone and not counted.
      if (!d.isDirectory() || !KEY_RE.test(d.name)) continue;
      const dir = join(this.#dir, d.name);
      const dirStat = await stat(dir);
      let bytes = 0;
      let temps = 0;
      const sizes = new Map<string, number>();
      for (const f of await readdir(dir, { withFileTypes: true })) {
        if (!f.isFile()) continue;
        const size = (await stat(join(dir, f.name))).size;
        if (isTemp(f.name)) {
          await rm(join(dir, f.name), { force: true });
          temps++;
          cleanedBytes += size;
        } else {
          sizes.set(f.name, size);
          bytes += size;
        }
      }
      tempFiles += temps;
      const meta = await readMeta(join(dir, META));
      // A live capture left by a previous run is stale by definition.
      if (meta === undefined || meta.live === true || sizes.get(meta.filename) !== meta.size) {
        await rm(dir, { recursive: true, force: true });
        brokenEntries++;
        cleanedBytes += bytes;
        continue;
      }
      // Removing temporary files moved the folder's mtime, which is the entry's last use: put it back.
      if (temps > 0) await utimes(dir, dirStat.atime, dirStat.mtime).catch(() => undefined);
      found.push({ key: d.name, bytes, used: dirStat.mtimeMs });
    }
    found.sort((a, b) => a.used - b.used || (a.key < b.key ? -1 : 1));
    for (const f of found) this.#put(f.key, f.bytes);
    if (brokenEntries > 0 || tempFiles > 0) {
      this.#emit({ event: 'cache-cleaned', entries: brokenEntries, files: tempFiles, bytes: cleanedBytes });
    }
  }
}

/** A complete entry's meta.json, or undefined when it is missing, truncated or malformed. */
async function readMeta(path: string): Promise<Meta | undefined> {
  let v: unknown;
  try {
    v = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object') return undefined;
  const m = v as Record<string, unknown>;
  const { filename, size, sha256 } = { filename: m['filename'], size: m['size'], sha256: m['sha256'] };
  if (
    typeof filename !== 'string' ||
    filename === '' ||
    filename === META ||
    filename.includes('/') ||
    filename.includes('\\')
  )
    return undefined;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return undefined;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  return { filename, size, sha256, ...(m['live'] === true ? { live: true } : {}) };
}
