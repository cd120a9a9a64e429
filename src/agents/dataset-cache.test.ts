import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DatasetError, type Dataset } from '../datasets/types.js';
import { AgentError } from './errors.js';
import {
  DatasetCache,
  DEFAULT_CACHE_MAX_BYTES,
  parseByteSize,
  type CacheEvent,
  type CacheLease,
} from './dataset-cache.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sdrlink-cache-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let seq = 0;
/** A fresh data folder per test. */
async function dataDir(): Promise<string> {
  const d = join(root, `d${++seq}`);
  await mkdir(d);
  return d;
}

interface BlobParams {
  id: string;
  bytes: number;
}

/** A tiny deterministic dataset: `bytes` bytes derived from `id`; counts generations; optional gate. */
function blobDataset(opts: { gate?: Promise<void>; fail?: boolean } = {}) {
  const generated: string[] = [];
  const ds: Dataset<BlobParams> & { generated: string[] } = {
    type: 'blob',
    description: 'test bytes',
    generated,
    validate: (p) => p as BlobParams,
    fileName: (p) => `blob_${p.id}.bin`,
    estimateBytes: (p) => p.bytes,
    async generate(p, path) {
      generated.push(p.id);
      const buf = Buffer.alloc(p.bytes);
      for (let i = 0; i < p.bytes; i++) buf[i] = (i * 31 + (p.id.charCodeAt(0) || 0)) & 0xff;
      // Half the file first, so a gated generation leaves a partial temporary file behind.
      await writeFile(path, buf.subarray(0, p.bytes >> 1));
      if (opts.gate !== undefined) await opts.gate;
      if (opts.fail === true) throw new DatasetError('ERR_SOURCE', 'source went away');
      await writeFile(path, buf);
      return { bytes: p.bytes };
    },
  };
  return ds;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Entry folders under cache/, and the bytes of all files in them. */
async function onDisk(dir: string): Promise<{ keys: string[]; bytes: number }> {
  const cacheDir = join(dir, 'cache');
  const keys: string[] = [];
  let bytes = 0;
  for (const d of await readdir(cacheDir, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    keys.push(d.name);
    for (const f of await readdir(join(cacheDir, d.name)))
      bytes += (await stat(join(cacheDir, d.name, f))).size;
  }
  return { keys: keys.sort(), bytes };
}

/** Prepares and releases at once (a served request). */
async function serve(cache: DatasetCache, ds: Dataset, p: BlobParams): Promise<CacheLease> {
  const lease = await cache.prepare(ds, p);
  lease.release();
  await cache.idle();
  return lease;
}

/**
 * Bytes one entry takes on disk (file + meta.json, which holds the parameters), measured with a throwaway
 * cache: a test's ids all have the same length, so its entries all have this size.
 */
async function entryBytes(id: string, n: number): Promise<number> {
  const d = await dataDir();
  const c = await DatasetCache.open(d, { maxBytes: 1 << 30 });
  await serve(c, blobDataset(), { id, bytes: n });
  await c.close();
  return c.stats().bytes;
}

describe('parseByteSize', () => {
  test('reads plain bytes and binary suffixes', () => {
    const cases: [string, number][] = [
      ['0', 0],
      ['1', 1],
      ['536870912', 536870912],
      ['512M', 512 * 1024 ** 2],
      ['512m', 512 * 1024 ** 2],
      ['20G', 20 * 1024 ** 3],
      ['1k', 1024],
      ['2KiB', 2048],
      ['3 MiB', 3 * 1024 ** 2],
      ['1t', 1024 ** 4],
      ['7B', 7],
      ['1.5G', 1.5 * 1024 ** 3],
      ['0.5K', 512],
      ['0G', 0],
      [' 10G ', 10 * 1024 ** 3],
      ['10G', DEFAULT_CACHE_MAX_BYTES],
    ];
    for (const [text, want] of cases) assert.equal(parseByteSize(text, '--cache-max-bytes'), want, text);
  });

  test('refuses anything else with ERR_CONFIG naming the source and the value', () => {
    const bad = [
      '',
      ' ',
      '-1',
      '+5',
      '1.5',
      '1.1K',
      'abc',
      'G',
      '10MB',
      '10kb',
      '10X',
      '1e6',
      '0x10',
      '10 G G',
      '1,000',
      '.5G',
      '5.G',
      '99999999999999999999',
      '9000000T',
    ];
    for (const text of bad) {
      assert.throws(
        () => parseByteSize(text, 'SDRLINK_CACHE_MAX_BYTES'),
        (err: unknown) => {
          assert.ok(err instanceof AgentError, text);
          assert.equal(err.code, 'ERR_CONFIG');
          assert.match(err.message, /^SDRLINK_CACHE_MAX_BYTES: /);
          assert.ok(err.message.includes(JSON.stringify(text)), err.message);
          return true;
        },
        text,
      );
    }
  });

  test('the cache itself refuses a bound that is not a whole number of bytes ≥ 0', async () => {
    const d = await dataDir();
    for (const maxBytes of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(
        DatasetCache.open(d, { maxBytes }),
        (err: unknown) => err instanceof AgentError && err.code === 'ERR_CONFIG',
      );
    }
  });
});

describe('sdrlink provide --cache-max-bytes', () => {
  const run = async (args: string[], env?: string) => {
    const { provideCommand } = await import('../cli/commands/provide.js');
    const saved = process.env['SDRLINK_CACHE_MAX_BYTES'];
    if (env === undefined) delete process.env['SDRLINK_CACHE_MAX_BYTES'];
    else process.env['SDRLINK_CACHE_MAX_BYTES'] = env;
    try {
      // Refused values stop before any network or disk work, so the server address is never used.
      await provideCommand()
        .exitOverride()
        .parseAsync(['--server', 'http://127.0.0.1:9', '--token', 't', ...args], { from: 'user' });
    } finally {
      if (saved === undefined) delete process.env['SDRLINK_CACHE_MAX_BYTES'];
      else process.env['SDRLINK_CACHE_MAX_BYTES'] = saved;
    }
  };

  test('a bad flag value is refused, naming the flag', async () => {
    await assert.rejects(run(['--cache-max-bytes', '12Q']), (err: unknown) => {
      assert.ok(err instanceof AgentError);
      assert.equal(err.code, 'ERR_CONFIG');
      assert.match(err.message, /^--cache-max-bytes: .*"12Q"/);
      return true;
    });
  });

  test('a bad environment value is refused, naming the variable; the flag wins over it', async () => {
    await assert.rejects(run([], '-5'), /^AgentError: SDRLINK_CACHE_MAX_BYTES: .*"-5"/);
    await assert.rejects(run(['--cache-max-bytes', 'x'], '1G'), /--cache-max-bytes: .*"x"/);
  });
});

describe('DatasetCache', () => {
  test('serves a generated file, then the same file from the cache', async () => {
    const d = await dataDir();
    const ds = blobDataset();
    const cache = await DatasetCache.open(d);
    const a = await serve(cache, ds, { id: 'a', bytes: 300 });
    assert.equal(a.cached, false);
    const body = await readFile(a.path);
    assert.equal(body.byteLength, 300);
    assert.equal(a.sha256, sha(body));
    const again = await serve(cache, ds, { id: 'a', bytes: 300 });
    assert.deepEqual([again.cached, again.sha256, again.path], [true, a.sha256, a.path]);
    assert.deepEqual(ds.generated, ['a']);
    await cache.close();
  });

  test('the bound holds after many inserts, on disk and in the index, with one event per eviction', async () => {
    const d = await dataDir();
    const per = await entryBytes('e00', 100);
    const max = per * 4 + per / 2;
    const events: CacheEvent[] = [];
    const cache = await DatasetCache.open(d, { maxBytes: max, onEvent: (e) => events.push(e) });
    const ds = blobDataset();
    for (let i = 0; i < 40; i++) {
      await serve(cache, ds, { id: `e${String(i).padStart(2, '0')}`, bytes: 100 });
      const disk = await onDisk(d);
      assert.ok(disk.bytes <= max, `after insert ${i}: ${disk.bytes} bytes on disk > ${max}`);
      assert.equal(disk.bytes, cache.stats().bytes);
      assert.equal(disk.keys.length, cache.stats().entries);
    }
    assert.equal(cache.stats().entries, 4);
    const evicted = events.filter((e) => e.event === 'cache-evicted');
    assert.equal(
      evicted.reduce((n, e) => n + e.entries, 0),
      36,
    );
    assert.equal(
      evicted.reduce((n, e) => n + e.bytes, 0),
      36 * per,
    );
    const last = evicted.at(-1);
    assert.deepEqual(last, {
      event: 'cache-evicted',
      entries: 1,
      bytes: per,
      cache_bytes: 4 * per,
      max_bytes: max,
    });
    // The newest four are the ones kept.
    const keep = ['e36', 'e37', 'e38', 'e39'].map((id) => cache.keyOf(ds, { id, bytes: 100 })).sort();
    assert.deepEqual((await onDisk(d)).keys, keep);
    await cache.close();
  });

  test('eviction is least recently used first, and a hit counts as a use', async () => {
    const d = await dataDir();
    const per = await entryBytes('a', 100);
    const cache = await DatasetCache.open(d, { maxBytes: per * 3 });
    const ds = blobDataset();
    const key = (id: string) => cache.keyOf(ds, { id, bytes: 100 });
    for (const id of ['a', 'b', 'c']) await serve(cache, ds, { id, bytes: 100 });
    assert.equal((await serve(cache, ds, { id: 'a', bytes: 100 })).cached, true); // a is now the newest
    await serve(cache, ds, { id: 'd', bytes: 100 });
    assert.deepEqual((await onDisk(d)).keys, [key('a'), key('c'), key('d')].sort());
    await serve(cache, ds, { id: 'e', bytes: 100 });
    assert.deepEqual((await onDisk(d)).keys, [key('a'), key('d'), key('e')].sort());
    assert.deepEqual(ds.generated, ['a', 'b', 'c', 'd', 'e']);
    await cache.close();
  });

  test('last use survives a restart through the folder mtime, which a hit touches', async () => {
    const d = await dataDir();
    const per = await entryBytes('a', 100);
    const ds = blobDataset();
    const first = await DatasetCache.open(d, { maxBytes: per * 10 });
    for (const id of ['a', 'b', 'c', 'd']) await serve(first, ds, { id, bytes: 100 });
    await first.close();
    const key = (id: string) => first.keyOf(ds, { id, bytes: 100 });
    // Last uses, oldest first: c, a, d, b.
    const day = 86_400;
    const base = Math.floor(Date.now() / 1000) - 10 * day;
    for (const [id, t] of [
      ['c', 1],
      ['a', 2],
      ['d', 3],
      ['b', 4],
    ] as const) {
      await utimes(join(d, 'cache', key(id)), base + t * day, base + t * day);
    }
    // A hit in a new process makes c the newest, on disk too.
    const second = await DatasetCache.open(d, { maxBytes: per * 10 });
    assert.equal((await serve(second, ds, { id: 'c', bytes: 100 })).cached, true);
    await second.close();
    assert.ok((await stat(join(d, 'cache', key('c')))).mtimeMs > (base + 5 * day) * 1000);
    // Opening with room for two keeps the two most recently used: b and c.
    const events: CacheEvent[] = [];
    const third = await DatasetCache.open(d, { maxBytes: per * 2, onEvent: (e) => events.push(e) });
    assert.deepEqual((await onDisk(d)).keys, [key('b'), key('c')].sort());
    assert.deepEqual(events, [
      { event: 'cache-evicted', entries: 2, bytes: 2 * per, cache_bytes: 2 * per, max_bytes: per * 2 },
    ]);
    await third.close();
  });

  test('an entry in use survives eviction, and is kept or evicted by recency once released', async () => {
    const d = await dataDir();
    const per = await entryBytes('a', 100);
    const cache = await DatasetCache.open(d, { maxBytes: per * 2 });
    const ds = blobDataset();
    const held = await cache.prepare(ds, { id: 'h', bytes: 100 });
    const bodyBefore = await readFile(held.path);
    for (const id of ['p', 'q', 'r', 's', 't', 'u']) await serve(cache, ds, { id, bytes: 100 });
    assert.deepEqual(await readFile(held.path), bodyBefore);
    assert.ok((await onDisk(d)).keys.includes(cache.keyOf(ds, { id: 'h', bytes: 100 })));
    // A second user of the same entry, and both release: the entry is now the most recently used.
    const again = await cache.prepare(ds, { id: 'h', bytes: 100 });
    assert.equal(again.cached, true);
    held.release();
    held.release(); // idempotent: does not drop the other user's reference
    await serve(cache, ds, { id: 'y', bytes: 100 });
    assert.ok((await onDisk(d)).keys.includes(cache.keyOf(ds, { id: 'h', bytes: 100 })));
    again.release();
    await cache.idle();
    assert.deepEqual(cache.stats(), { entries: 2, bytes: 2 * per, maxBytes: 2 * per, held: 0 });
    await serve(cache, ds, { id: 'z', bytes: 100 });
    assert.deepEqual(
      (await onDisk(d)).keys,
      [cache.keyOf(ds, { id: 'h', bytes: 100 }), cache.keyOf(ds, { id: 'z', bytes: 100 })].sort(),
    );
    await cache.close();
  });

  test('an entry being generated is not touched by evictions running meanwhile', async () => {
    const d = await dataDir();
    const per = await entryBytes('a', 100);
    const cache = await DatasetCache.open(d, { maxBytes: per });
    let open!: () => void;
    const slow = blobDataset({ gate: new Promise<void>((r) => (open = r)) });
    const pending = cache.prepare(slow, { id: 's', bytes: 100 });
    const slowDir = join(d, 'cache', cache.keyOf(slow, { id: 's', bytes: 100 }));
    while ((await readdir(slowDir).catch(() => [])).length === 0) await new Promise((r) => setImmediate(r));
    const ds = blobDataset();
    for (const id of ['p', 'q', 'r']) await serve(cache, ds, { id, bytes: 100 });
    assert.equal(cache.stats().held, 1);
    open();
    const lease = await pending;
    assert.equal((await readFile(lease.path)).byteLength, 100);
    lease.release();
    await cache.idle();
    assert.deepEqual((await onDisk(d)).keys, [cache.keyOf(slow, { id: 's', bytes: 100 })]);
    await cache.close();
  });

  test('0 keeps nothing once released; a request while held shares the file; the next one generates again', async () => {
    const d = await dataDir();
    const events: CacheEvent[] = [];
    const cache = await DatasetCache.open(d, { maxBytes: 0, onEvent: (e) => events.push(e) });
    const ds = blobDataset();
    const p = { id: 'a', bytes: 200 };
    const one = await cache.prepare(ds, p);
    const two = await cache.prepare(ds, p);
    assert.deepEqual([one.cached, two.cached], [false, true]);
    one.release();
    await cache.idle();
    assert.equal((await readFile(two.path)).byteLength, 200);
    two.release();
    await cache.idle();
    assert.deepEqual(await onDisk(d), { keys: [], bytes: 0 });
    assert.deepEqual(cache.stats(), { entries: 0, bytes: 0, maxBytes: 0, held: 0 });
    assert.equal(events.filter((e) => e.event === 'cache-evicted').length, 1);
    // Released and asked for again at once: the new request waits for the removal, then generates.
    let lease = await cache.prepare(ds, p);
    for (let i = 0; i < 20; i++) {
      lease.release();
      lease = await cache.prepare(ds, p);
      assert.equal(lease.cached, false);
      assert.equal(sha(await readFile(lease.path)), one.sha256);
    }
    lease.release();
    await cache.idle();
    assert.equal(ds.generated.length, 22);
    assert.deepEqual(await onDisk(d), { keys: [], bytes: 0 });
    await cache.close();
  });

  test('a file larger than the bound is served, does not push out the rest, and goes once released', async () => {
    const d = await dataDir();
    const per = await entryBytes('a', 100);
    const cache = await DatasetCache.open(d, { maxBytes: per * 3 });
    const ds = blobDataset();
    for (const id of ['a', 'b']) await serve(cache, ds, { id, bytes: 100 });
    const big = await cache.prepare(ds, { id: 'big', bytes: per * 5 });
    await cache.idle();
    assert.equal((await readFile(big.path)).byteLength, per * 5);
    assert.equal((await onDisk(d)).keys.length, 3);
    big.release();
    await cache.idle();
    const keys = ['a', 'b'].map((id) => cache.keyOf(ds, { id, bytes: 100 })).sort();
    assert.deepEqual(await onDisk(d), { keys, bytes: 2 * per });
    await cache.close();
  });

  test('a failed generation leaves nothing behind and holds nothing', async () => {
    const d = await dataDir();
    const cache = await DatasetCache.open(d);
    const ds = blobDataset({ fail: true });
    await assert.rejects(
      cache.prepare(ds, { id: 'f', bytes: 100 }),
      (err: unknown) => err instanceof DatasetError && err.code === 'ERR_SOURCE',
    );
    assert.deepEqual(cache.stats(), { entries: 0, bytes: 0, maxBytes: DEFAULT_CACHE_MAX_BYTES, held: 0 });
    assert.deepEqual(await onDisk(d), { keys: [], bytes: 0 });
    await cache.close();
  });

  test('at start, incomplete entries and temporary files are removed; complete entries keep their last use', async () => {
    const d = await dataDir();
    const ds = blobDataset();
    const first = await DatasetCache.open(d);
    const ids = ['ok', 'tmp-left', 'no-meta', 'torn-meta', 'short-file', 'gone-file'];
    for (const id of ids) await serve(first, ds, { id, bytes: 100 });
    await first.close();
    const dirOf = (id: string) => join(d, 'cache', first.keyOf(ds, { id, bytes: 100 }));
    const file = (id: string) => join(dirOf(id), `blob_${id}.bin`);
    // A crash mid-generation of a new request: a folder with half a temporary file.
    const crashed = join(d, 'cache', 'f'.repeat(32));
    await mkdir(crashed);
    await writeFile(join(crashed, '.blob_new.bin.4242.tmp'), Buffer.alloc(50));
    // A complete entry with a leftover temporary file (the entry is kept, its last use too).
    await writeFile(join(dirOf('tmp-left'), '.meta.json.4242.tmp'), '{"filen');
    const old = new Date(Date.now() - 3_600_000);
    await utimes(dirOf('tmp-left'), old, old);
    await rm(join(dirOf('no-meta'), 'meta.json'));
    const meta = await readFile(join(dirOf('torn-meta'), 'meta.json'), 'utf8');
    await writeFile(join(dirOf('torn-meta'), 'meta.json'), meta.slice(0, meta.length >> 1));
    await writeFile(file('short-file'), Buffer.alloc(60));
    await rm(file('gone-file'));
    // Not ours: left alone.
    await mkdir(join(d, 'cache', 'notes'));
    await writeFile(join(d, 'cache', 'notes', 'keep.txt'), 'mine');

    const events: CacheEvent[] = [];
    const cache = await DatasetCache.open(d, { onEvent: (e) => events.push(e) });
    assert.equal(events.length, 1);
    const cleaned = events[0];
    assert.ok(cleaned?.event === 'cache-cleaned');
    assert.equal(cleaned.entries, 5); // crashed, no-meta, torn-meta, short-file, gone-file
    assert.equal(cleaned.files, 2); // the crash's half file, and the leftover beside the complete entry
    assert.ok(cleaned.bytes >= 50 + 4 * 100);
    const kept = ['ok', 'tmp-left'].map((id) => first.keyOf(ds, { id, bytes: 100 }));
    assert.deepEqual((await onDisk(d)).keys, [...kept, 'notes'].sort());
    assert.deepEqual(await readdir(dirOf('tmp-left')), ['blob_tmp-left.bin', 'meta.json']);
    assert.equal(Math.round((await stat(dirOf('tmp-left'))).mtimeMs), old.getTime());
    assert.equal(await readFile(join(d, 'cache', 'notes', 'keep.txt'), 'utf8'), 'mine');
    assert.equal(cache.stats().entries, 2);
    // A removed entry is generated again on request; a kept one is a hit.
    assert.equal((await serve(cache, ds, { id: 'no-meta', bytes: 100 })).cached, false);
    assert.equal((await serve(cache, ds, { id: 'tmp-left', bytes: 100 })).cached, true);
    await cache.close();
  });

  test('a cache built with new does the start-up work before its first request', async () => {
    const d = await dataDir();
    const crashed = join(d, 'cache', 'e'.repeat(32));
    await mkdir(crashed, { recursive: true });
    await writeFile(join(crashed, '.blob_a.bin.77.tmp'), Buffer.alloc(10));
    const events: CacheEvent[] = [];
    const cache = new DatasetCache(d, { onEvent: (e) => events.push(e) });
    const lease = await cache.prepare(blobDataset(), { id: 'a', bytes: 10 });
    assert.deepEqual(events, [{ event: 'cache-cleaned', entries: 1, files: 1, bytes: 10 }]);
    assert.equal(lease.cached, false);
    lease.release();
    assert.equal((await onDisk(d)).keys.length, 1);
    await cache.close();
  });

  test('concurrent requests for one file generate it once', async () => {
    const d = await dataDir();
    const cache = await DatasetCache.open(d);
    const ds = blobDataset();
    const leases = await Promise.all([1, 2, 3].map(() => cache.prepare(ds, { id: 'same', bytes: 100 })));
    assert.deepEqual(ds.generated, ['same']);
    assert.equal(cache.stats().held, 1);
    for (const l of leases) l.release();
    assert.equal(cache.stats().held, 0);
    await cache.close();
  });
});

describe('DatasetCache progress', () => {
  test('every caller waiting for a file being generated hears the bytes written; a cached file none', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const base = blobDataset({ gate });
    // reports half the file, then (after the gate) the whole
    const ds: Dataset<BlobParams> = {
      ...base,
      async generate(p, path, options) {
        const done = base.generate(p, path);
        options?.onProgress?.(p.bytes >> 1);
        await done;
        options?.onProgress?.(p.bytes);
        return { bytes: p.bytes };
      },
    };
    const cache = new DatasetCache(await dataDir());
    const heardA: number[] = [];
    const heardB: number[] = [];
    const a = cache.prepare(ds, { id: 'p', bytes: 4096 }, undefined, (b) => heardA.push(b));
    while (heardA.length === 0) await new Promise((r) => setTimeout(r, 5));
    const b = cache.prepare(ds, { id: 'p', bytes: 4096 }, undefined, (x) => heardB.push(x));
    open();
    (await a).release();
    (await b).release();
    assert.deepEqual(heardA, [2048, 4096]);
    assert.deepEqual(heardB, [4096], 'the second caller hears from when it joined');
    const heardC: number[] = [];
    (await cache.prepare(ds, { id: 'p', bytes: 4096 }, undefined, (x) => heardC.push(x))).release();
    assert.deepEqual(heardC, [], 'cached: nothing to prepare');
    await cache.close();
  });
});

describe('live captures in the cache', () => {
  test('a live file is held while leased, removed once released, never served again, and cleaned at start', async () => {
    const dir = await dataDir();
    const ds = { ...blobDataset(), isLive: (p: BlobParams) => p.id.startsWith('live') };
    const queued: number[] = [];
    const gen = ds.generate.bind(ds);
    ds.generate = async (p, path, o) => {
      o?.onQueued?.(2);
      o?.onQueued?.(0);
      return gen(p, path, o);
    };
    const cache = await DatasetCache.open(dir, { maxBytes: 1 << 20 });
    const a = await cache.prepare(ds, { id: 'live-a', bytes: 100 }, undefined, undefined, (q) =>
      queued.push(q),
    );
    assert.deepEqual(queued, [2, 0]);
    const again = await cache.prepare(ds, { id: 'live-a', bytes: 100 });
    // held by the session (a resume gets the same file) …
    assert.equal(again.sha256, a.sha256);
    again.release();
    assert.ok((await stat(a.path)).isFile());
    assert.ok(JSON.parse(await readFile(join(dirname(a.path), 'meta.json'), 'utf8')).live);
    // … gone once released: the next request captures anew
    a.release();
    await cache.idle();
    await assert.rejects(stat(a.path));
    const b = await cache.prepare(ds, { id: 'live-a', bytes: 100 });
    assert.equal(b.cached, false);
    assert.deepEqual(ds.generated, ['live-a', 'live-a']);
    // a deterministic one stays
    const c = await cache.prepare(ds, { id: 'file', bytes: 100 });
    c.release();
    await cache.close();
    // a live entry left by a crash (b never released) is removed at start; the deterministic one stays
    const events: CacheEvent[] = [];
    const reopened = await DatasetCache.open(dir, { maxBytes: 1 << 20, onEvent: (e) => events.push(e) });
    assert.equal(reopened.stats().entries, 1);
    assert.ok(events.some((e) => e.event === 'cache-cleaned' && e.entries === 1));
    await reopened.close();
  });
});
