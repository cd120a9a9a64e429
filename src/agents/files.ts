/**
 * Files on disk for the agents: the provider's byte source, the consumer's receive target (partial file +
 * sidecar for resume, verified rename into place that never overwrites), safe names, and hashing.
 * docs/protocol.md §4 describes the partial-file scheme.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  link,
  mkdir,
  open,
  readFile,
  rename,
  stat,
  unlink,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import type { Crc32 } from '../protocol/crc32.js';
import { wrapDigestHash, type HashFactory } from '../protocol/hashing.js';
import { checkFileName } from '../protocol/file-name.js';
import { TransferError } from '../protocol/errors.js';
import type { ByteSource } from '../protocol/sender.js';
import type { FileMetadata, ReceiveTarget } from '../protocol/receiver.js';
import { AgentError } from './errors.js';

/** CRC-32 of "123456789" is 0xCBF43926 (the standard check value). */
const CHECK_INPUT = new TextEncoder().encode('123456789');
const CHECK_VALUE = 0xcbf43926;

function loadNodeRsCrc32(): ((data: Uint8Array) => number) | undefined {
  if (process.env['SDRLINK_CRC32'] === 'zlib') return undefined;
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as { crc32(d: Uint8Array): number };
    // A wrong binary must not go unnoticed: check the standard test vector before trusting it.
    return mod.crc32(CHECK_INPUT) >>> 0 === CHECK_VALUE ? mod.crc32 : undefined;
  } catch {
    return undefined;
  }
}

const nodeRsCrc32 = loadNodeRsCrc32();

/**
 * The native CRC-32 the agents use: `@node-rs/crc32` (SIMD, crc32fast; ~2.5× `zlib.crc32` here, DESIGN.md
 * measured up to 6×) when its prebuilt binary for this platform is installed, else Node's `zlib.crc32`.
 * Both compute the §2 CRC-32 (IEEE, the zlib polynomial); `SDRLINK_CRC32=zlib` forces zlib.
 */
export const crc32Impl: 'node-rs' | 'zlib' = nodeRsCrc32 === undefined ? 'zlib' : 'node-rs';

/** CRC-32 of `data` (docs/protocol.md §2), unsigned, through {@link crc32Impl}. */
export const crc32: Crc32 =
  nodeRsCrc32 === undefined ? (data) => zlibCrc32(data) : (data) => nodeRsCrc32(data) >>> 0;

/** SHA-256 through node:crypto. */
export const createSha256: HashFactory = () => wrapDigestHash(createHash('sha256'));

/** SHA-256 of a file's first `length` bytes (the whole file when `length` is omitted), streamed. */
export async function sha256File(path: string, length?: number): Promise<string> {
  const h = createHash('sha256');
  if (length === 0) return h.digest('hex');
  const opts: { highWaterMark: number; end?: number } = { highWaterMark: 1 << 20 };
  if (length !== undefined) opts.end = length - 1;
  for await (const chunk of createReadStream(path, opts)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A file opened for sending: positional reads, so resume can start anywhere. */
export async function openFileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  const fh = await open(path, 'r');
  const { size } = await fh.stat();
  return {
    size,
    async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
      const buf =
        into !== undefined && into.byteLength >= length ? into.subarray(0, length) : new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === length ? buf : buf.subarray(0, got);
    },
    close: () => fh.close(),
  };
}

/**
 * Checks a file name that came from a peer: the protocol's rule (checkFileName: a base name, no separators
 * or control characters, ≤ 255 bytes) plus the agent's own: no `..` anywhere, no leading dot (hidden files,
 * and our own partial files), no leading or trailing white space. Throws ERR_FILENAME. (The seed's receiver
 * joined the name to its folder as is: a path traversal.)
 */
export function safeFileName(name: string): string {
  checkFileName(name);
  const shown = JSON.stringify(name.slice(0, 80));
  if (name.includes('..')) throw new TransferError('ERR_FILENAME', `file name ${shown} contains ".."`);
  if (name.startsWith('.')) throw new TransferError('ERR_FILENAME', `file name ${shown} starts with "."`);
  if (name !== name.trim())
    throw new TransferError('ERR_FILENAME', `file name ${shown} starts or ends with white space`);
  return name;
}

/**
 * Makes sure the consumer can save into `dir` before anything is asked of the server: creates the missing
 * folders ({@link createFolders}) and writes (then removes) a probe file. Rejects with `ERR_CONFIG` naming
 * the path and the system's code when `dir`, or a folder on its way, is a file, or when the folder cannot
 * be created or written. Returns the absolute path.
 */
export async function prepareOutDir(dir: string): Promise<string> {
  const abs = await createFolders(dir, '--out');
  const probe = join(abs, `.sdrlink-write-check-${process.pid}`);
  try {
    await (await open(probe, 'w')).close();
    await unlink(probe);
  } catch (err) {
    throw folderError('--out', abs, 'cannot write in the folder', err);
  }
  return abs;
}

/**
 * Creates `dir` and its missing parents, one level at a time, and returns its absolute path. Rejects with
 * `ERR_CONFIG` (the message starts with `flag`, the option that named the folder) when `dir` or a folder
 * on its way is a file, or a level cannot be created.
 *
 * Trap: `mkdir(dir, { recursive: true })` never returns for some paths Node 20 cannot create (`/proc/x`:
 * each level answers ENOENT and Node retries the parent), hence the levels one by one.
 */
export async function createFolders(dir: string, flag: string): Promise<string> {
  const abs = resolve(dir);
  const missing: string[] = [];
  for (let p = abs; ; p = dirname(p)) {
    let isDir: boolean | undefined;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw folderError(flag, abs, `cannot read ${p}`, err);
    }
    if (isDir === true) break;
    if (isDir === false) {
      const what = p === abs ? 'is a file, not a folder' : `lies under ${p}, a file`;
      throw new AgentError('ERR_CONFIG', `${flag} ${abs} ${what}`);
    }
    if (dirname(p) === p) break;
    missing.unshift(p);
  }
  for (const p of missing) {
    try {
      await mkdir(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw folderError(flag, abs, `cannot create ${p}`, err);
    }
  }
  return abs;
}

function folderError(flag: string, dir: string, what: string, cause: unknown): AgentError {
  const code = (cause as NodeJS.ErrnoException).code ?? 'unknown error';
  return new AgentError('ERR_CONFIG', `${flag} ${dir}: ${what} (${code})`, { cause });
}

interface Sidecar {
  filename: string;
  size: number;
  sha256: string;
  verified_bytes: number;
}

function partPaths(dir: string, filename: string) {
  const part = join(dir, `.${filename}.part`);
  return { part, sidecar: `${part}.json` };
}

/**
 * Picks the final path for `filename` in `dir` and moves `from` there without ever replacing an existing
 * file: `name.ext`, else `name (1).ext`, `name (2).ext`, … `link()` fails atomically when the target
 * exists, so two receivers cannot race into the same name.
 */
export async function moveIntoPlace(from: string, dir: string, filename: string): Promise<string> {
  const dot = filename.lastIndexOf('.');
  const stem = dot > 0 ? filename.slice(0, dot) : filename;
  const ext = dot > 0 ? filename.slice(dot) : '';
  for (let i = 0; i < 10_000; i++) {
    const candidate = join(dir, i === 0 ? filename : `${stem} (${i})${ext}`);
    try {
      await link(from, candidate);
      await unlink(from);
      return candidate;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      if (
        (err as NodeJS.ErrnoException).code === 'EPERM' ||
        (err as NodeJS.ErrnoException).code === 'ENOTSUP'
      ) {
        // File systems without hard links: check-then-rename (a small race, the best available).
        try {
          await stat(candidate);
          continue;
        } catch {
          await rename(from, candidate);
          return candidate;
        }
      }
      throw err;
    }
  }
  throw new TransferError('ERR_IO', `no free name for ${filename} in ${dir}`);
}

/** A receive target in the consumer's folder; `existing` names an identical file already in place. */
export type DiskTarget = ReceiveTarget & { partPath: string; existing?: string };

/**
 * The consumer's receive target in `dir` for the metadata `meta`. When a file of the same size and sha256
 * is already in place (under the name, or a numbered variant), it is offered to the sender as a prefix
 * covering the whole file (docs/protocol.md §4): nothing is sent, the file is verified against
 * `file-complete` and left as it is, and the target's `existing` names it. Else it reuses a verified
 * partial file from an earlier attempt at the same file (same sha256) for resume, or starts a new one.
 */
export async function openDiskTarget(dir: string, meta: FileMetadata): Promise<DiskTarget> {
  const filename = safeFileName(meta.filename);
  if (meta.sha256 !== undefined && meta.size > 0) {
    const same = await findIdentical(dir, filename, meta.size, meta.sha256);
    if (same !== undefined) return existingTarget(dir, meta, same);
  }
  return openPartTarget(dir, meta);
}

/**
 * The first file among `filename`, `stem (1).ext`, `stem (2).ext`, … (up to the first free name) of
 * `size` bytes whose SHA-256 is `sha256`, with a hash fed with its bytes.
 */
async function findIdentical(
  dir: string,
  filename: string,
  size: number,
  sha256: string,
): Promise<{ path: string; hash: ReturnType<typeof createHash> } | undefined> {
  const dot = filename.lastIndexOf('.');
  const stem = dot > 0 ? filename.slice(0, dot) : filename;
  const ext = dot > 0 ? filename.slice(dot) : '';
  for (let i = 0; i < 100; i++) {
    const path = join(dir, i === 0 ? filename : `${stem} (${i})${ext}`);
    let st;
    try {
      st = await stat(path);
    } catch {
      return undefined;
    }
    if (!st.isFile() || st.size !== size) continue;
    const h = createHash('sha256');
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
    if (h.copy().digest('hex') === sha256) return { path, hash: h };
  }
  return undefined;
}

/**
 * A target holding all of `meta`'s bytes already, in `found.path`. Should the sender refuse the prefix
 * (`truncate(0)`: its bytes differ after all), the file is received afresh into a partial file.
 */
function existingTarget(
  dir: string,
  meta: FileMetadata,
  found: { path: string; hash: ReturnType<typeof createHash> },
): DiskTarget {
  let fresh: DiskTarget | undefined;
  const target: DiskTarget = {
    partPath: '',
    existing: found.path,
    prefixLength: meta.size,
    prefixSha256: meta.sha256 as string,
    hash: wrapDigestHash(found.hash),
    async write(offset, data) {
      if (fresh === undefined)
        throw new TransferError('ERR_IO', `write at ${offset}: the whole file is already held`);
      await fresh.write(offset, data);
    },
    async truncate(length) {
      if (length > 0)
        throw new TransferError('ERR_RESUME_OFFSET', 'truncate to a non-zero length is not supported');
      fresh = await openPartTarget(dir, meta);
      target.partPath = fresh.partPath;
      target.hash = fresh.hash;
      delete target.existing;
    },
    commit: (r) => (fresh === undefined ? Promise.resolve(found.path) : fresh.commit(r)),
    abort: async (err, keepPrefix) => {
      await fresh?.abort(err, keepPrefix);
    },
  };
  return target;
}

/** A partial-file target: resumes a verified prefix of the same file, else starts a new one (§4). */
async function openPartTarget(dir: string, meta: FileMetadata): Promise<DiskTarget> {
  const filename = safeFileName(meta.filename);
  const { part, sidecar } = partPaths(dir, filename);
  let prefixLength = 0;
  let hash = createSha256();
  if (meta.sha256 !== undefined) {
    const previous = await readSidecar(sidecar);
    if (previous !== undefined && previous.sha256 === meta.sha256 && previous.size === meta.size) {
      try {
        const st = await stat(part);
        // Only CRC-verified bytes are ever written; a file shorter than the sidecar says is still a valid prefix.
        prefixLength = Math.min(st.size, previous.verified_bytes, meta.size);
      } catch {
        prefixLength = 0;
      }
    }
  }
  let prefixSha256: string | undefined;
  if (prefixLength > 0) {
    // Feed the prefix into the running hash, and take its own digest for the resume request.
    const h = createHash('sha256');
    for await (const chunk of createReadStream(part, { end: prefixLength - 1, highWaterMark: 1 << 20 })) {
      h.update(chunk as Buffer);
    }
    const copy = h.copy();
    prefixSha256 = copy.digest('hex');
    hash = wrapDigestHash(h);
  }
  const fh: FileHandle = await open(part, prefixLength > 0 ? 'r+' : 'w');
  if (prefixLength > 0) await fh.truncate(prefixLength);
  let written = prefixLength;
  let lastSidecar = 0;
  const saveSidecar = (verified: number) =>
    meta.sha256 === undefined
      ? Promise.resolve()
      : writeFile(
          sidecar,
          JSON.stringify({
            filename,
            size: meta.size,
            sha256: meta.sha256,
            verified_bytes: verified,
          } satisfies Sidecar),
        );
  await saveSidecar(prefixLength);

  const target: DiskTarget = {
    partPath: part,
    prefixLength,
    hash,
    async write(offset: number, data: Uint8Array) {
      if (offset !== written) {
        throw new TransferError('ERR_IO', `write at ${offset} but ${written} bytes are on disk`);
      }
      let done = 0;
      while (done < data.byteLength) {
        const { bytesWritten } = await fh.write(data, done, data.byteLength - done, offset + done);
        done += bytesWritten;
      }
      written += data.byteLength;
      // Keep the sidecar roughly current (every 64 MiB) so a killed consumer still resumes from near the end.
      if (written - lastSidecar >= 64 << 20) {
        lastSidecar = written;
        await saveSidecar(written);
      }
    },
    async truncate(length: number) {
      await fh.truncate(length);
      written = length;
      target.hash = createSha256();
      if (length > 0)
        throw new TransferError('ERR_RESUME_OFFSET', 'truncate to a non-zero length is not supported');
      await saveSidecar(0);
    },
    async commit() {
      await fh.sync();
      await fh.close();
      const final = await moveIntoPlace(part, dir, filename);
      await unlink(sidecar).catch(() => undefined);
      return final;
    },
    async abort(_err: TransferError, keepPrefix: boolean) {
      await fh.close().catch(() => undefined);
      if (keepPrefix && meta.sha256 !== undefined && written > 0) {
        await saveSidecar(written).catch(() => undefined);
      } else {
        await unlink(part).catch(() => undefined);
        await unlink(sidecar).catch(() => undefined);
      }
    },
  };
  if (prefixSha256 !== undefined) target.prefixSha256 = prefixSha256;
  return target;
}

async function readSidecar(path: string): Promise<Sidecar | undefined> {
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    if (
      typeof v['sha256'] === 'string' &&
      typeof v['size'] === 'number' &&
      typeof v['verified_bytes'] === 'number' &&
      typeof v['filename'] === 'string'
    ) {
      return {
        sha256: v['sha256'],
        size: v['size'],
        verified_bytes: v['verified_bytes'],
        filename: v['filename'],
      };
    }
  } catch {
    // no sidecar, or a damaged one: start over
  }
  return undefined;
}
