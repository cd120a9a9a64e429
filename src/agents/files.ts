/**
 * Files on disk for the agents: the provider's byte source, the consumer's receive target (partial file +
 * sidecar for resume, verified rename into place that never overwrites), safe names, and hashing.
 * docs/protocol.md §4 describes the partial-file scheme.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, createReadStream } from 'node:fs';
import {
  chmod,
  link,
  lstat,
  mkdir,
  open,
  rename,
  rmdir,
  stat,
  statfs,
  unlink,
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
  // A fresh name, created exclusively and never through a symbolic link: a planted
  // `.sdrlink-write-check-*` cannot make the check truncate another file.
  const probe = join(abs, `.sdrlink-write-check-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    await (await open(probe, CREATE_NEW, 0o600)).close();
    await unlink(probe);
  } catch (err) {
    throw folderError('--out', abs, 'cannot write in the folder', err);
  }
  try {
    await checkPartialDir(join(abs, PARTIAL_DIR));
  } catch (err) {
    if (!(err instanceof TransferError)) throw err;
    throw new AgentError('ERR_CONFIG', `--out ${abs}: ${err.message}`, { cause: err });
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

/**
 * The consumer's private folder for partial files, inside `--out` (docs/protocol.md §4). Created 0700;
 * one that is a symbolic link, not a folder, or another user's is refused, so nobody else can plant a file
 * or a link where the partial files go.
 */
export const PARTIAL_DIR = '.sdrlink-partial';

/** Open flags of a new file: created here or not at all, never through a symbolic link. */
const CREATE_NEW = fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
/** Open flags of an existing partial file: never through a symbolic link. */
const OPEN_EXISTING = fsConstants.O_RDWR | fsConstants.O_NOFOLLOW;

/** A sidecar's fixed length: rewritten in place at this length, it never needs a new disk block. */
const SIDECAR_BYTES = 1024;

/**
 * The largest file a consumer accepts unless told otherwise (`--max-size`, `RequestOptions.maxSize`):
 * 16 GiB — eight times the provider's default output cap, and far below what a lying peer could announce.
 */
export const DEFAULT_MAX_SIZE = 16 * 1024 ** 3;

/** Checks the private folder at `path` when it exists; throws `ERR_IO` when it is unsafe to write through. */
async function checkPartialDir(path: string): Promise<boolean> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new TransferError('ERR_IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new TransferError(
      'ERR_IO',
      `${path} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}; partial files are never written through it (remove it)`,
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new TransferError(
      'ERR_IO',
      `${path} belongs to another user (uid ${st.uid}); partial files are never written through it (remove it)`,
    );
  }
  if ((st.mode & 0o077) !== 0) await chmod(path, 0o700);
  return true;
}

/** Creates (or checks) the private folder for partial files in `dir` and returns its path. */
async function partialDir(dir: string): Promise<string> {
  const path = join(dir, PARTIAL_DIR);
  if (await checkPartialDir(path)) return path;
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(`creating ${path}`, err);
  }
  await checkPartialDir(path);
  return path;
}

/** Removes the private folder when nothing is left in it (a concurrent transfer's files keep it). */
async function dropPartialDirIfEmpty(path: string): Promise<void> {
  await rmdir(path).catch(() => undefined);
}

/** fsync of a folder: its new or removed names survive a crash. */
async function syncDir(path: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    await fh.sync();
  } catch {
    // Not every file system can sync a folder (EINVAL on some); the file itself was synced.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** A disk error as a transfer error: a full disk or quota (`ERR_DISK_FULL`), else `ERR_IO`. */
function ioError(context: string, err: unknown): TransferError {
  if (err instanceof TransferError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new TransferError('ERR_DISK_FULL', `${context}: the disk is full (${code})`, { cause: err });
  if (code === 'EFBIG')
    return new TransferError('ERR_TOO_LARGE', `${context}: larger than the file system allows (EFBIG)`, {
      cause: err,
    });
  return new TransferError('ERR_IO', `${context}: ${detail}`, { cause: err });
}

interface Sidecar {
  filename: string;
  size: number;
  sha256: string;
  verified_bytes: number;
}

/**
 * The partial file and sidecar of `filename` in the private folder: named by a hash of the name, so any
 * name the protocol allows (up to 255 bytes) fits, and no name the peer picks can collide with them.
 */
function partPaths(tmp: string, filename: string) {
  const key = createHash('sha256').update(filename).digest('hex').slice(0, 32);
  return { part: join(tmp, `${key}.part`), sidecar: join(tmp, `${key}.json`) };
}

/**
 * Checks that the file system of `tmp` (the one of `--out`) takes `filename` as a name, by creating and
 * removing it there: a name it refuses (longer than it allows, bytes it forbids) fails here with
 * `ERR_FILENAME`, before a byte is received, not as `ERR_IO` at the end.
 */
async function checkNameFits(tmp: string, filename: string): Promise<void> {
  const probe = join(tmp, filename);
  try {
    await (await open(probe, CREATE_NEW, 0o600)).close();
    await unlink(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return; // a probe left by a crash: the name fits
    if (code === 'ENAMETOOLONG' || code === 'EINVAL' || code === 'EILSEQ')
      throw new TransferError(
        'ERR_FILENAME',
        `file name ${JSON.stringify(filename.slice(0, 80))} is refused by the file system of the folder (${code})`,
        { cause: err },
      );
    throw ioError('checking the file name', err);
  }
}

/** Refuses with `ERR_DISK_FULL` when the file system of the folder `dir` has fewer than `need` bytes free. */
async function checkFreeSpace(dir: string, need: number): Promise<void> {
  if (need <= 0) return;
  let free: number;
  try {
    const st = await statfs(dir);
    free = st.bavail * st.bsize;
  } catch {
    return; // no figure to go by: the writes will tell
  }
  if (free < need)
    throw new TransferError(
      'ERR_DISK_FULL',
      `${need} bytes to receive but ${free} free in ${dirname(dir)}: refused before any byte was written`,
    );
}

/**
 * Picks the final path for `filename` in `dir` and moves `from` there without ever replacing an existing
 * file: `name.ext`, else `name (1).ext`, `name (2).ext`, … `link()` fails atomically when the target
 * exists (a symbolic link planted there included: it is never followed), so two receivers cannot race
 * into the same name. A name longer than the file system allows is `ERR_FILENAME`.
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
      if ((err as NodeJS.ErrnoException).code === 'ENAMETOOLONG')
        throw new TransferError(
          'ERR_FILENAME',
          `no name for ${JSON.stringify(filename.slice(0, 80))} in ${dir}: ${i === 0 ? 'the name' : `"${stem} (${i})${ext}"`} is longer than the file system allows`,
          { cause: err },
        );
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
      st = await lstat(path); // a symbolic link is not a file in place
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

/**
 * A partial-file target in the private folder (§4): resumes a verified prefix of the same file, else starts
 * a new one. Before any byte: the name is checked against the folder's file system, and the bytes still to
 * come against its free space (`ERR_DISK_FULL`). Files are opened without following links; a new one is
 * created exclusively (a stale or planted entry is unlinked first, never truncated through).
 */
async function openPartTarget(dir: string, meta: FileMetadata): Promise<DiskTarget> {
  const filename = safeFileName(meta.filename);
  const tmp = await partialDir(dir);
  try {
    return await openPartIn(dir, tmp, filename, meta);
  } catch (err) {
    await dropPartialDirIfEmpty(tmp); // refused before any byte: leave nothing behind
    throw err;
  }
}

async function openPartIn(
  dir: string,
  tmp: string,
  filename: string,
  meta: FileMetadata,
): Promise<DiskTarget> {
  await checkNameFits(tmp, filename);
  let { part, sidecar } = partPaths(tmp, filename);
  let prefixLength = 0;
  let fh: FileHandle | undefined;
  let sc: FileHandle | undefined;
  if (meta.sha256 !== undefined) {
    const previous = await readSidecar(sidecar);
    if (previous !== undefined && previous.sha256 === meta.sha256 && previous.size === meta.size) {
      try {
        fh = await open(part, OPEN_EXISTING);
        sc = await open(sidecar, OPEN_EXISTING);
        const st = await fh.stat();
        // Only CRC-verified bytes are ever written; a file shorter than the sidecar says is still a valid prefix.
        if (st.isFile()) prefixLength = Math.min(st.size, previous.verified_bytes, meta.size);
      } catch {
        prefixLength = 0; // gone, or a link planted in its place (ELOOP): start over
      }
    }
  }
  if (prefixLength === 0) {
    await fh?.close().catch(() => undefined);
    await sc?.close().catch(() => undefined);
    fh = sc = undefined;
  }
  try {
    await checkFreeSpace(tmp, meta.size - prefixLength);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await sc?.close().catch(() => undefined);
    throw err;
  }
  let unique = false;
  if (fh === undefined || sc === undefined) {
    try {
      await unlink(part).catch(() => undefined);
      await unlink(sidecar).catch(() => undefined);
      try {
        fh = await open(part, CREATE_NEW, 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // Another transfer of the same name into this folder, right now: this one gets names of its own
        // (not resumable; removed whatever the outcome).
        unique = true;
        const suffix = `${process.pid}-${randomBytes(6).toString('hex')}`;
        part = `${part}.${suffix}`;
        sidecar = `${sidecar}.${suffix}`;
        fh = await open(part, CREATE_NEW, 0o600);
      }
      sc = await open(sidecar, CREATE_NEW, 0o600);
    } catch (err) {
      await fh?.close().catch(() => undefined);
      throw ioError(`creating the partial file of ${filename}`, err);
    }
  }
  const file = fh;
  const side = sc;
  let hash = createSha256();
  let prefixSha256: string | undefined;
  if (prefixLength > 0) {
    // Feed the prefix into the running hash, and take its own digest for the resume request.
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let at = 0; at < prefixLength;) {
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, prefixLength - at), at);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      at += bytesRead;
    }
    prefixSha256 = h.copy().digest('hex');
    hash = wrapDigestHash(h);
    await file.truncate(prefixLength);
  }
  let written = prefixLength;
  let lastSidecar = 0;
  const saveSidecar = async (verified: number) => {
    if (meta.sha256 === undefined) return;
    const text = JSON.stringify({
      filename,
      size: meta.size,
      sha256: meta.sha256,
      verified_bytes: verified,
    } satisfies Sidecar);
    // Padded to a fixed length and written over itself: no truncation, no new block, so it can still be
    // written on a disk that just filled up (and JSON ignores the trailing blanks).
    const bytes = Buffer.alloc(SIDECAR_BYTES, 0x20);
    bytes.write(text, 0, 'utf8');
    await side.write(bytes, 0, SIDECAR_BYTES, 0);
  };
  try {
    await saveSidecar(prefixLength);
  } catch (err) {
    await file.close().catch(() => undefined);
    await side.close().catch(() => undefined);
    throw ioError(`writing the sidecar of ${filename}`, err);
  }
  const discard = async () => {
    await file.close().catch(() => undefined);
    await side.close().catch(() => undefined);
    await unlink(part).catch(() => undefined);
    await unlink(sidecar).catch(() => undefined);
    await dropPartialDirIfEmpty(tmp);
  };

  const target: DiskTarget = {
    partPath: part,
    prefixLength,
    hash,
    async write(offset: number, data: Uint8Array) {
      if (offset !== written) {
        throw new TransferError('ERR_IO', `write at ${offset} but ${written} bytes are on disk`);
      }
      try {
        let done = 0;
        while (done < data.byteLength) {
          const { bytesWritten } = await file.write(data, done, data.byteLength - done, offset + done);
          done += bytesWritten;
        }
      } catch (err) {
        throw ioError(`writing ${filename} at byte ${offset}`, err);
      }
      written += data.byteLength;
      // Keep the sidecar roughly current (every 64 MiB) so a killed consumer still resumes from near the end.
      if (written - lastSidecar >= 64 << 20) {
        lastSidecar = written;
        await saveSidecar(written).catch((err: unknown) => {
          throw ioError(`writing the sidecar of ${filename}`, err);
        });
      }
    },
    async truncate(length: number) {
      await file.truncate(length);
      written = length;
      target.hash = createSha256();
      if (length > 0)
        throw new TransferError('ERR_RESUME_OFFSET', 'truncate to a non-zero length is not supported');
      await saveSidecar(0);
    },
    async commit() {
      // The bytes reach the disk before the name does; the folder's new entry is synced after (§4).
      await file.sync();
      await file.close();
      const final = await moveIntoPlace(part, dir, filename);
      await syncDir(dir);
      await side.close().catch(() => undefined);
      await unlink(sidecar).catch(() => undefined);
      await syncDir(tmp);
      await dropPartialDirIfEmpty(tmp);
      return final;
    },
    async abort(_err: TransferError, keepPrefix: boolean) {
      if (keepPrefix && !unique && meta.sha256 !== undefined && written > 0) {
        try {
          // A write cut short (a full disk) may have left bytes past `written`: only whole batches count.
          await file.truncate(written);
          await file.sync();
          await saveSidecar(written);
          await side.sync();
        } catch {
          // What is on disk stays; the sidecar bounds what a resume offers, and the sender checks it (§3.3).
        }
        await file.close().catch(() => undefined);
        await side.close().catch(() => undefined);
      } else {
        await discard();
      }
    },
  };
  if (prefixSha256 !== undefined) target.prefixSha256 = prefixSha256;
  return target;
}

async function readSidecar(path: string): Promise<Sidecar | undefined> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    const v = JSON.parse(await fh.readFile('utf8')) as Record<string, unknown>;
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
    // no sidecar, a damaged one, or a link in its place: start over
  } finally {
    await fh?.close().catch(() => undefined);
  }
  return undefined;
}
