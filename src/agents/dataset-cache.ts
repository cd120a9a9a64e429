/**
 * The provider's cache of generated files. A request (type + validated parameters) always gives the same
 * bytes (src/datasets/types.ts), so a file generated once is served again as is: a consumer that lost a
 * transfer midway resumes against the same SHA-256, even after a provider restart (docs/protocol.md §4).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset } from '../datasets/types.js';
import { sha256File } from './files.js';

export interface PreparedFile {
  path: string;
  filename: string;
  size: number;
  sha256: string;
  /** True when the file came from the cache. */
  cached: boolean;
}

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

export class DatasetCache {
  readonly #dir: string;
  readonly #inflight = new Map<string, Promise<PreparedFile>>();

  constructor(dataDir: string) {
    this.#dir = join(dataDir, 'cache');
  }

  /** Returns the file for the request, generating it (once, however many ask at the same time) if needed. */
  prepare(dataset: Dataset, params: unknown, signal?: AbortSignal): Promise<PreparedFile> {
    const key = createHash('sha256')
      .update(`${dataset.type}\n${canonicalJson(params)}`)
      .digest('hex')
      .slice(0, 32);
    const running = this.#inflight.get(key);
    if (running !== undefined) return running;
    const p = this.#prepare(key, dataset, params, signal).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }

  async #prepare(key: string, dataset: Dataset, params: unknown, signal?: AbortSignal): Promise<PreparedFile> {
    const dir = join(this.#dir, key);
    const filename = dataset.fileName(params);
    const path = join(dir, filename);
    const metaPath = join(dir, 'meta.json');
    try {
      const meta = JSON.parse(await readFile(metaPath, 'utf8')) as { size: number; sha256: string; filename: string };
      const st = await stat(path);
      if (st.size === meta.size && meta.filename === filename) {
        return { path, filename, size: meta.size, sha256: meta.sha256, cached: true };
      }
    } catch {
      // not cached (or damaged): generate
    }
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${filename}.${process.pid}.tmp`);
    try {
      const opts = signal === undefined ? {} : { signal };
      await dataset.generate(params, tmp, opts);
      const sha256 = await sha256File(tmp);
      const { size } = await stat(tmp);
      await rename(tmp, path);
      await writeFile(metaPath, JSON.stringify({ filename, size, sha256, type: dataset.type, params }));
      return { path, filename, size, sha256, cached: false };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}
