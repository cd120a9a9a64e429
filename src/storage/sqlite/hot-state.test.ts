/**
 * The SQLite hot path (hot-state.ts, write-queue.ts): changes answered from memory and written behind —
 * what reaches the file when, what a crash loses, what a failed commit does, and what memory holds back
 * (old signals, reloaded sessions). The repository behaviour itself is src/storage/contract.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { createSqliteStorage } from './sqlite-storage.js';
import { FINAL_KEPT, SIGNALS_KEPT, WRITE_BEHIND_MS } from './hot-state.js';
import { RETRY_MS } from './write-queue.js';
import type { NewSession, Storage } from '../types.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdrlink-hot-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const T0 = '2024-05-01T12:00:00.000Z';
const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();
let seq = 0;
const sid = () => `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
function newSession(initiator: number, over: Partial<NewSession> = {}): NewSession {
  return {
    sessionId: sid(),
    initiatorUserId: initiator,
    targetUserId: null,
    requestType: 'spectrum',
    parameters: '{}',
    capabilities: ['sdrlink/1'],
    fileName: 'f.npz',
    fileSize: 0,
    fileType: null,
    ...over,
  };
}

async function users(s: Storage) {
  const c = await s.users.create(
    { username: `c${++seq}`, passwordHash: 'h', clientType: 2, requestTypes: [] },
    T0,
  );
  const p = await s.users.create(
    { username: `p${++seq}`, passwordHash: 'h', clientType: 1, requestTypes: [] },
    T0,
  );
  return { c: c.id, p: p.id };
}

/** Rows of `table` for a session, read by a second connection (what is committed in the file). */
function committed(path: string, table: string, sessionId: string): number {
  const raw = new BetterSqlite3(path, { readonly: true });
  try {
    return (
      raw.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE session_id = ?`).get(sessionId) as { n: number }
    ).n;
  } finally {
    raw.close();
  }
}

describe('SQLite hot path: write-behind', () => {
  it('answers before the commit, and commits within the write-behind delay', async () => {
    const path = join(dir, 'behind.sqlite');
    const s = createSqliteStorage(path);
    try {
      const u = await users(s);
      // let the users' (write-through) batch settle, then change sessions only
      const created = await s.sessions.create(newSession(u.c), T0);
      assert.equal(created.status, 'pending');
      assert.equal(
        committed(path, 'ice_sessions', created.sessionId),
        0,
        'answered before it is in the file',
      );
      assert.equal((await s.sessions.get(created.sessionId))?.status, 'pending', 'served from memory');
      await sleep(WRITE_BEHIND_MS * 5);
      assert.equal(committed(path, 'ice_sessions', created.sessionId), 1);
      assert.equal(committed(path, 'file_transfers', created.sessionId), 1);
      assert.equal(committed(path, 'ice_session_history', created.sessionId), 1);
    } finally {
      await s.close();
    }
  });

  it('reads through SQL see every acknowledged change (history, listings)', async () => {
    const s = createSqliteStorage(join(dir, 'sync.sqlite'));
    try {
      const u = await users(s);
      const x = await s.sessions.create(newSession(u.c), T0);
      await s.signals.post(
        { sessionId: x.sessionId, signalType: 'offer', signalData: '{}', fromUserId: u.p, toUserId: u.c },
        at(1),
        { claim: true },
      );
      await s.sessions.transition(x.sessionId, ['offered'], 'cancelled', at(2), u.c);
      // no wait: history and the transfer listing are SQL, read after the log is committed
      assert.deepEqual(
        (await s.sessions.history(x.sessionId)).map((h) => h.status),
        ['pending', 'offered', 'cancelled'],
      );
      const listed = await s.transfers.listForUser(u.c, 10);
      assert.equal(listed[0]?.status, 'cancelled');
      assert.equal((await s.sessions.listForUser(u.p, 10))[0]?.targetUserId, u.p);
    } finally {
      await s.close();
    }
  });

  it('loses on a crash only what was not yet committed; a clean close commits everything', async () => {
    const path = join(dir, 'crash.sqlite');
    const s = createSqliteStorage(path);
    const u = await users(s);
    await s.close();
    const storageUrl = new URL('./sqlite-storage.js', import.meta.url).href;
    // a child acknowledges two sessions — the first long enough before it dies to be committed, the
    // second just before — and is killed (SIGKILL) with the second still in memory
    const script = `
      const { createSqliteStorage } = await import(${JSON.stringify(storageUrl)});
      const s = createSqliteStorage(${JSON.stringify(path)});
      const mk = (id) => s.sessions.create({ sessionId: id, initiatorUserId: ${u.c}, targetUserId: null,
        requestType: 'spectrum', parameters: '{}', capabilities: [], fileName: 'f', fileSize: 0, fileType: null },
        new Date().toISOString());
      await mk('00000000-0000-4000-8000-0000000c0001');
      await new Promise((r) => setTimeout(r, ${WRITE_BEHIND_MS * 10}));
      await mk('00000000-0000-4000-8000-0000000c0002');
      process.kill(process.pid, 'SIGKILL');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    const b = createSqliteStorage(path);
    try {
      assert.equal((await b.sessions.get('00000000-0000-4000-8000-0000000c0001'))?.status, 'pending');
      assert.equal(await b.sessions.get('00000000-0000-4000-8000-0000000c0002'), undefined);
      // and a clean close commits what is still in memory
      const x = await b.sessions.create(newSession(u.c), T0);
      await b.close();
      assert.equal(committed(path, 'ice_sessions', x.sessionId), 1);
    } finally {
      await b.close();
    }
  });

  it('keeps the log when a commit fails, serves from memory meanwhile, and commits it once it can', async () => {
    const path = join(dir, 'failing.sqlite');
    const s = createSqliteStorage(path);
    const u = await users(s);
    await s.close();
    // a real SQL failure inside the batch: a trigger that aborts history inserts while a switch is on
    const raw = new BetterSqlite3(path);
    raw.exec(`CREATE TABLE fail_switch (on_ INTEGER); INSERT INTO fail_switch VALUES (1);
      CREATE TRIGGER fail_history BEFORE INSERT ON ice_session_history
        WHEN (SELECT on_ FROM fail_switch) = 1 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;`);
    raw.close();
    const t = createSqliteStorage(path);
    try {
      const x = await t.sessions.create(newSession(u.c), T0);
      await sleep(WRITE_BEHIND_MS * 5);
      assert.equal(committed(path, 'ice_sessions', x.sessionId), 0, 'the failed batch was rolled back');
      // memory goes on: a claim and a signal, answered
      const posted = await t.signals.post(
        { sessionId: x.sessionId, signalType: 'offer', signalData: '{}', fromUserId: u.p, toUserId: u.c },
        at(1),
        { claim: true },
      );
      assert.ok(posted.ok);
      assert.equal((await t.signals.listFor(x.sessionId, u.c, 0, 10)).length, 1);
      // a write-through write in a failing batch is refused, not lost silently
      await assert.rejects(t.users.setRequestTypes(u.p, ['spectrum']), /injected failure/);
      const off = new BetterSqlite3(path);
      off.prepare('UPDATE fail_switch SET on_ = 0').run();
      off.close();
      await sleep(RETRY_MS + WRITE_BEHIND_MS * 10);
      assert.equal(committed(path, 'ice_sessions', x.sessionId), 1, 'the kept log was committed');
      assert.equal(committed(path, 'ice_candidates', x.sessionId), 1);
      assert.equal(committed(path, 'ice_session_history', x.sessionId), 2);
    } finally {
      await t.close();
    }
  });

  it('refuses to close silently over changes it could not commit', async () => {
    const path = join(dir, 'close-fail.sqlite');
    const s = createSqliteStorage(path);
    const u = await users(s);
    await s.close();
    const raw = new BetterSqlite3(path);
    raw.exec(
      `CREATE TRIGGER fail_sessions BEFORE INSERT ON ice_sessions BEGIN SELECT RAISE(ABORT, 'disk gone'); END;`,
    );
    raw.close();
    const t = createSqliteStorage(path);
    await t.sessions.create(newSession(u.c), T0);
    await assert.rejects(
      t.close(),
      (e: unknown) => (e as { code?: string }).code === 'ERR_STORAGE' && /disk gone/.test(String(e)),
    );
  });
});

describe('SQLite hot path: what memory holds', () => {
  it('reads a long inbox across the memory/SQL boundary in order, under the current attempt only', async () => {
    const path = join(dir, 'long.sqlite');
    const s = createSqliteStorage(path);
    try {
      const u = await users(s);
      const x = await s.sessions.create(newSession(u.c), T0);
      await s.signals.post(
        {
          sessionId: x.sessionId,
          signalType: 'offer',
          signalData: '{"n":0}',
          fromUserId: u.p,
          toUserId: u.c,
        },
        at(1),
        { claim: true },
      );
      const total = SIGNALS_KEPT + 40;
      for (let i = 1; i < total; i++)
        await s.signals.post(
          {
            sessionId: x.sessionId,
            signalType: 'progress',
            signalData: `{"n":${i}}`,
            fromUserId: u.p,
            toUserId: u.c,
          },
          at(1),
        );
      const all: number[] = [];
      let after = 0;
      for (;;) {
        const page = await s.signals.listFor(x.sessionId, u.c, after, 50);
        if (page.length === 0) break;
        for (const sig of page) all.push((JSON.parse(sig.signalData) as { n: number }).n);
        after = (page.at(-1) as { id: number }).id;
      }
      assert.deepEqual(
        all,
        Array.from({ length: total }, (_, i) => i),
      );
    } finally {
      await s.close();
    }
  });

  it('reloads open sessions at start: lists, counts, inboxes and new ids carry on', async () => {
    const path = join(dir, 'reload.sqlite');
    const a = createSqliteStorage(path);
    const u = await users(a);
    const first = await a.sessions.create(newSession(u.c), at(0));
    const second = await a.sessions.create(newSession(u.c), at(1));
    const done = await a.sessions.create(newSession(u.c), at(2));
    await a.sessions.transition(done.sessionId, ['pending'], 'cancelled', at(3), u.c);
    const s1 = await a.signals.post(
      { sessionId: second.sessionId, signalType: 'offer', signalData: '{}', fromUserId: u.p, toUserId: u.c },
      at(4),
      { claim: true },
    );
    assert.ok(s1.ok);
    await a.close();
    const b = createSqliteStorage(path);
    try {
      assert.equal(await b.sessions.countOpenByInitiator(u.c), 2);
      assert.deepEqual(await b.sessions.countOpenByStatus(), { pending: 1, offered: 1 });
      assert.deepEqual(
        (await b.sessions.listOpenForProvider(u.p, null, 10)).map((x) => x.sessionId),
        [first.sessionId],
      );
      assert.deepEqual(
        (await b.signals.listFor(second.sessionId, u.c, 0, 10)).map((x) => x.id),
        [s1.signal.id],
      );
      const s2 = await b.signals.post(
        {
          sessionId: second.sessionId,
          signalType: 'candidate',
          signalData: '{}',
          fromUserId: u.p,
          toUserId: u.c,
        },
        at(5),
      );
      assert.ok(s2.ok && s2.signal.id > s1.signal.id, 'signal ids go on after the last stored one');
      const third = await b.sessions.create(newSession(u.c), at(6));
      assert.deepEqual(
        (await b.sessions.listOpenForProvider(u.p, null, 10)).map((x) => x.sessionId),
        [first.sessionId, third.sessionId],
        'oldest first, across the restart',
      );
      assert.equal(
        (await b.sessions.expireStale(at(1), at(7), 10)).map((x) => x.session.sessionId).join(),
        first.sessionId,
      );
    } finally {
      await b.close();
    }
  });

  it('drops the oldest final sessions past its limit and reads them back from SQL, signals and all', async () => {
    const path = join(dir, 'evict.sqlite');
    const s = createSqliteStorage(path);
    try {
      const u = await users(s);
      const ids: string[] = [];
      for (let i = 0; i < FINAL_KEPT + 300; i++) {
        const x = await s.sessions.create(newSession(u.c), at(i));
        const posted = await s.signals.post(
          {
            sessionId: x.sessionId,
            signalType: 'offer',
            signalData: `{"i":${i}}`,
            fromUserId: u.p,
            toUserId: u.c,
          },
          at(i),
          { claim: true },
        );
        assert.ok(posted.ok);
        await s.sessions.transition(x.sessionId, ['offered'], 'cancelled', at(i), u.c);
        ids.push(x.sessionId);
        // let the log commit now and then, so that committed final sessions can be dropped
        if (i % 500 === 0) await sleep(WRITE_BEHIND_MS * 3);
      }
      await sleep(WRITE_BEHIND_MS * 3);
      const first = ids[0] as string;
      const last = ids.at(-1) as string;
      // marks behind memory's back: a session read from SQL shows it, one still in memory does not
      const raw = new BetterSqlite3(path);
      raw
        .prepare("UPDATE file_transfers SET file_name = 'read-from-sql' WHERE session_id IN (?, ?)")
        .run(first, last);
      raw.close();
      assert.equal((await s.transfers.get(first))?.fileName, 'read-from-sql', 'the oldest was dropped');
      assert.equal((await s.transfers.get(last))?.fileName, 'f.npz', 'the newest is still in memory');
      assert.equal((await s.sessions.get(first))?.status, 'cancelled');
      const inbox = await s.signals.listFor(first, u.c, 0, 10);
      assert.deepEqual(
        inbox.map((x) => x.signalData),
        ['{"i":0}'],
      );
      assert.equal(await s.sessions.countOpenByInitiator(u.c), 0);
    } finally {
      await s.close();
    }
  });
});
