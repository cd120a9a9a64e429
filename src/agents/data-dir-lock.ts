/**
 * One provider per `--data-dir`: an exclusive lock file holding the owner's pid. Two providers on one
 * folder would remove each other's files being generated (a cache scan at start takes them for a crash's
 * leftovers) and evict under each other's feet.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from './errors.js';
import { createFolders } from './files.js';

/** The lock file's name inside the data folder. */
export const LOCK_FILE = 'provider.lock';

/** A held lock; `release` removes the file when it is still ours. */
export interface DataDirLock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * Takes the lock on `dir` (created when missing): creates `dir/provider.lock` exclusively with this
 * process's pid. A lock left by a process that no longer runs is taken over; one held by a live process
 * rejects with `ERR_DATA_DIR_LOCKED` naming its pid and the file.
 *
 * Trap: a dead owner's pid reused by an unrelated process keeps the lock "held"; the message says which
 * file to remove in that case.
 */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  // Not mkdir's `recursive`: it never returns for some paths (createFolders).
  await createFolders(dir, '--data-dir');
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      return { path, release: () => releaseLock(path) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readOwner(path);
    if (owner === 'gone') continue;
    if (owner !== undefined && isAlive(owner)) {
      throw new AgentError(
        'ERR_DATA_DIR_LOCKED',
        `--data-dir ${dir} is in use by another provider (pid ${owner}); stop it or choose another --data-dir (remove ${path} if no provider runs there)`,
      );
    }
    if (owner === undefined) {
      throw new AgentError(
        'ERR_DATA_DIR_LOCKED',
        `--data-dir ${dir} is locked by ${path}, which names no process; remove it if no provider runs there`,
      );
    }
    // A stale lock (its process is gone): take it over.
    await unlink(path).catch(() => undefined);
  }
  throw new AgentError('ERR_DATA_DIR_LOCKED', `--data-dir ${dir}: could not take ${path}`);
}

/** The pid in the lock file, 'gone' when the file vanished meanwhile, undefined when unreadable. */
async function readOwner(path: string): Promise<number | 'gone' | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    return undefined;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function releaseLock(path: string): Promise<void> {
  if ((await readOwner(path)) === process.pid) await unlink(path).catch(() => undefined);
}
