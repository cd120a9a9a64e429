/**
 * Resume after a reload or a dropped connection (docs/protocol.md §4), in the page: every batch the
 * receiver writes — CRC-checked frames only — is also kept in IndexedDB, under the SHA-256 the provider
 * announced for the whole file, with the request that asked for it. When the transfer dies (the tab
 * reloaded, the network gone, the provider killed), what was stored is the verified prefix; asking again
 * for the same data gives a provider the same file (the same SHA-256, §4), and the page offers the prefix
 * in its `resume` message, so only the rest travels. The prefix is hashed again when it is taken up (the
 * incremental SHA-256 state is not stored), and dropped once the file is verified, when the provider
 * refuses it, or on "Discard".
 *
 * Limit: the page's 1 GiB (transfer.ts) — the prefix and the rest are held in memory until the file is
 * saved — and the browser's storage quota for this origin; a write the quota refuses fails the transfer
 * with ERR_IO and keeps what was stored before.
 */
import { createSha256 } from '../../protocol/hashing.js';
import { TransferError } from '../../protocol/errors.js';
import type { BrowserTarget } from './transfer.js';

const DB_NAME = 'sdrlink';
const FILES = 'partial-files';
const CHUNKS = 'partial-chunks';

/** What asked for a partial file: enough to ask again. */
export interface StoredRequest {
  type: string;
  params: Record<string, unknown>;
  provider?: string;
  transport: 'auto' | 'p2p' | 'relay';
}

/** A partial file kept for a resume. */
export interface PartialFile {
  sha256: string;
  filename: string;
  size: number;
  /** Bytes stored (contiguous from 0). */
  kept: number;
  request: StoredRequest;
  updated: string;
}

interface ChunkRecord {
  sha256: string;
  offset: number;
  data: ArrayBuffer;
}

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

let opening: Promise<IDBDatabase> | undefined;
function db(): Promise<IDBDatabase> {
  return (opening ??= new Promise((resolve, reject) => {
    const r = indexedDB.open(DB_NAME, 1);
    r.onupgradeneeded = () => {
      r.result.createObjectStore(FILES, { keyPath: 'sha256' });
      r.result.createObjectStore(CHUNKS, { keyPath: ['sha256', 'offset'] });
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB cannot be opened'));
  }));
}

const range = (sha256: string) => IDBKeyRange.bound([sha256, 0], [sha256, Number.MAX_SAFE_INTEGER]);

/** The partial files kept, newest first. */
export async function listPartials(): Promise<PartialFile[]> {
  const d = await db();
  const all = (await req(d.transaction(FILES).objectStore(FILES).getAll())) as PartialFile[];
  return all.filter((f) => f.kept > 0).sort((a, b) => b.updated.localeCompare(a.updated));
}

/** Drops a partial file and its bytes. */
export async function discardPartial(sha256: string): Promise<void> {
  const d = await db();
  const tx = d.transaction([FILES, CHUNKS], 'readwrite');
  tx.objectStore(FILES).delete(sha256);
  tx.objectStore(CHUNKS).delete(range(sha256));
  await done(tx);
}

/**
 * Opens the target for an announced file: takes up the stored prefix of the same SHA-256 (hashing it
 * again), or starts an empty one that stores as it goes.
 */
export async function openResumableTarget(
  meta: { filename: string; size: number; sha256?: string },
  request: StoredRequest,
): Promise<BrowserTarget> {
  const sha = meta.sha256;
  if (sha === undefined)
    throw new TransferError('ERR_UNVERIFIED', 'no sha256 announced: nothing to resume from');
  const d = await db();
  const known = (await req(d.transaction(FILES).objectStore(FILES).get(sha))) as PartialFile | undefined;
  let parts: Uint8Array[] = [];
  let kept = 0;
  const hash = createSha256();
  if (known !== undefined && known.size === meta.size) {
    const chunks = (await req(d.transaction(CHUNKS).objectStore(CHUNKS).getAll(range(sha)))) as ChunkRecord[];
    for (const c of chunks.sort((a, b) => a.offset - b.offset)) {
      if (c.offset !== kept) break; // only a contiguous prefix counts
      const bytes = new Uint8Array(c.data);
      parts.push(bytes);
      hash.update(bytes);
      kept += bytes.length;
    }
    if (kept > meta.size) {
      parts = [];
      kept = 0;
    }
  }
  if (kept === 0) {
    await discardPartial(sha);
    const fresh = createSha256();
    return storingTarget(sha, meta, request, [], 0, fresh, undefined);
  }
  return storingTarget(sha, meta, request, parts, kept, hash, hash.copy().digest());
}

function storingTarget(
  sha: string,
  meta: { filename: string; size: number },
  request: StoredRequest,
  initial: Uint8Array[],
  prefix: number,
  hash: ReturnType<typeof createSha256>,
  prefixSha256: string | undefined,
): BrowserTarget {
  let parts = initial;
  let kept = prefix;
  let file: Blob | undefined;
  const record = (): PartialFile => ({
    sha256: sha,
    filename: meta.filename,
    size: meta.size,
    kept,
    request,
    updated: new Date().toISOString(),
  });
  return {
    prefixLength: prefix,
    ...(prefixSha256 !== undefined ? { prefixSha256 } : {}),
    hash,
    async write(offset, data) {
      const copy = data.slice();
      parts.push(copy);
      try {
        const d = await db();
        const tx = d.transaction([FILES, CHUNKS], 'readwrite');
        tx.objectStore(CHUNKS).put({ sha256: sha, offset, data: copy.buffer } satisfies ChunkRecord);
        kept = offset + copy.length;
        tx.objectStore(FILES).put(record());
        await done(tx);
      } catch (err) {
        throw new TransferError('ERR_IO', `storing the received bytes for a resume failed: ${String(err)}`);
      }
    },
    async truncate() {
      parts = [];
      kept = 0;
      await discardPartial(sha);
    },
    async commit() {
      file = new Blob(parts as BlobPart[]);
      parts = [];
      await discardPartial(sha).catch(() => undefined);
      return 'memory';
    },
    async abort(_err, keepPrefix) {
      parts = [];
      if (!keepPrefix) await discardPartial(sha).catch(() => undefined);
    },
    blob() {
      if (file === undefined) throw new Error('no committed file');
      return file;
    },
  };
}
