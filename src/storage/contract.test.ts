/**
 * The storage contract (src/storage/types.ts), run against every implementation: SQLite in a file and in
 * memory, and PostgreSQL — a real server this file starts (test/helpers/postgres.ts), a fresh database per
 * case. The same cases, unchanged, for each.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { SIGNALING_MIGRATIONS } from './migrations/index.js';
import { createSqliteStorage } from './sqlite/sqlite-storage.js';
import { migrate } from './sqlite/migrate.js';
import { StorageError, usernameKey, type NewSession, type Storage } from './types.js';
import { createPostgresStorage } from './postgres/postgres-storage.js';
import { postgresSkip, startPostgres, type PostgresServer } from '../../test/helpers/postgres.js';

let dir: string;
let postgres: PostgresServer | undefined;
const pgSkip = postgresSkip();
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdrlink-storage-'));
});
let starting: Promise<PostgresServer> | undefined;
/** Starts the PostgreSQL server once, for the suites that use it (a failure fails those suites only). */
async function ensurePostgres(): Promise<void> {
  starting ??= startPostgres();
  postgres = await starting;
}
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await postgres?.stop();
});

async function openPostgres(): Promise<Storage> {
  if (postgres === undefined) throw new Error('PostgreSQL was not started');
  return createPostgresStorage(await postgres.createDatabase());
}

const T0 = '2024-05-01T12:00:00.000Z';
const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();
let seq = 0;

function newSession(initiator: number, over: Partial<NewSession> = {}): NewSession {
  seq += 1;
  return {
    sessionId: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    initiatorUserId: initiator,
    targetUserId: null,
    requestType: 'spectrum',
    parameters: '{"frequency_start":1}',
    capabilities: ['sdrlink/1'],
    fileName: 'spectrum_data.npz',
    fileSize: 0,
    fileType: 'application/octet-stream',
    ...over,
  };
}

const implementations: Array<{
  name: string;
  open: () => Storage | Promise<Storage>;
  skip?: string | false;
}> = [
  { name: 'sqlite file', open: () => createSqliteStorage(join(dir, `contract-${++seq}.sqlite`)) },
  { name: 'sqlite memory', open: () => createSqliteStorage(':memory:') },
  {
    name: 'sqlite file, background checkpoints',
    open: () => createSqliteStorage(join(dir, `contract-${++seq}.sqlite`), { backgroundCheckpoint: true }),
  },
  { name: 'postgresql', open: openPostgres, skip: pgSkip },
];

for (const impl of implementations) {
  describe(`storage contract: ${impl.name}`, { skip: impl.skip ?? false }, () => {
    if (impl.name === 'postgresql') before(ensurePostgres);
    async function withStorage(
      fn: (s: Storage, u: { p1: number; p2: number; c1: number; c2: number }) => Promise<void>,
    ) {
      const s = await impl.open();
      try {
        const p1 = (
          await s.users.create(
            { username: 'p1', passwordHash: 'h', clientType: 1, requestTypes: ['spectrum'] },
            T0,
          )
        ).id;
        const p2 = (
          await s.users.create({ username: 'p2', passwordHash: 'h', clientType: 1, requestTypes: [] }, T0)
        ).id;
        const c1 = (
          await s.users.create({ username: 'c1', passwordHash: 'h', clientType: 2, requestTypes: [] }, T0)
        ).id;
        const c2 = (
          await s.users.create({ username: 'c2', passwordHash: 'h', clientType: 2, requestTypes: [] }, T0)
        ).id;
        await fn(s, { p1, p2, c1, c2 });
      } finally {
        await s.close();
      }
    }

    it('creates users, finds them by id and name, refuses a taken name', () =>
      withStorage(async (s, { p1 }) => {
        const u = await s.users.byId(p1);
        assert.equal(u?.username, 'p1');
        assert.equal(u?.clientType, 1);
        assert.deepEqual(u?.requestTypes, ['spectrum']);
        assert.equal((await s.users.byName('p1'))?.id, p1);
        assert.equal(await s.users.byName('nobody'), undefined);
        assert.equal(await s.users.byId(9999), undefined);
        await assert.rejects(
          s.users.create({ username: 'p1', passwordHash: 'x', clientType: 2, requestTypes: [] }, T0),
          (e: unknown) => e instanceof StorageError && e.code === 'ERR_CONFLICT',
        );
        assert.equal((await s.users.list()).length, 4);
      }));

    it('compares names after NFKC and lower-casing: a look-alike is taken, look-ups ignore case', () =>
      withStorage(async (s, { p1 }) => {
        assert.equal(usernameKey('ＰＡ'), 'pa', 'NFKC folds full-width letters');
        for (const name of ['P1', 'Ｐ1']) {
          await assert.rejects(
            s.users.create({ username: name, passwordHash: 'x', clientType: 2, requestTypes: [] }, T0),
            (e: unknown) => e instanceof StorageError && e.code === 'ERR_CONFLICT',
            name,
          );
        }
        assert.equal((await s.users.byName('P1'))?.id, p1);
        assert.equal((await s.users.byName('P1'))?.username, 'p1', 'the stored spelling is kept');
        assert.equal((await s.users.list()).length, 4);
      }));

    it('disables and enables a user; lists the disabled ones', () =>
      withStorage(async (s, { p1, c2 }) => {
        assert.equal((await s.users.byId(p1))?.disabledAt, null);
        assert.deepEqual(await s.users.disabledIds(), []);
        assert.equal((await s.users.setDisabled(p1, at(1)))?.disabledAt, at(1));
        assert.equal((await s.users.setDisabled(c2, at(2)))?.disabledAt, at(2));
        assert.deepEqual(
          await s.users.disabledIds(),
          [p1, c2].sort((a, b) => a - b),
        );
        assert.equal((await s.users.byName('p1'))?.disabledAt, at(1));
        assert.equal((await s.users.setDisabled(p1, null))?.disabledAt, null);
        assert.deepEqual(await s.users.disabledIds(), [c2]);
        assert.equal(await s.users.setDisabled(9999, at(3)), undefined);
      }));

    it('stores hostile text verbatim (bound parameters only)', () =>
      withStorage(async (s) => {
        const name = `x'); DROP TABLE users; --`;
        const u = await s.users.create(
          { username: name, passwordHash: 'h', clientType: 2, requestTypes: [] },
          T0,
        );
        assert.equal((await s.users.byName(name))?.id, u.id);
        assert.equal((await s.users.list()).length, 5);
      }));

    it('stores API keys by digest, lists them newest first, counts active ones, revokes once', () =>
      withStorage(async (s, { p1, c1 }) => {
        const k1 = await s.apiKeys.create(
          { userId: p1, name: 'laptop', secretSha256: 'a'.repeat(64), secretHead: 'AbCd', expiresAt: null },
          T0,
        );
        assert.equal(k1.prefix, `sdrk_${k1.id}_AbCd`);
        assert.equal(k1.secretSha256, 'a'.repeat(64));
        assert.equal(k1.revokedAt, null);
        assert.equal(k1.lastUsedAt, null);
        const k2 = await s.apiKeys.create(
          { userId: p1, name: 'radio', secretSha256: 'b'.repeat(64), secretHead: 'EfGh', expiresAt: at(60) },
          at(1),
        );
        await s.apiKeys.create(
          { userId: c1, name: 'other', secretSha256: 'c'.repeat(64), secretHead: 'IjKl', expiresAt: null },
          T0,
        );
        assert.deepEqual(
          (await s.apiKeys.listForUser(p1, 10)).map((k) => k.id),
          [k2.id, k1.id],
        );
        assert.equal((await s.apiKeys.listForUser(p1, 1)).length, 1);
        assert.equal(await s.apiKeys.countActiveForUser(p1, at(2)), 2);
        assert.equal(await s.apiKeys.countActiveForUser(p1, at(61)), 1, 'the expired key is not active');
        await s.apiKeys.touch(k1.id, at(5));
        assert.equal((await s.apiKeys.get(k1.id))?.lastUsedAt, at(5));
        const r = await s.apiKeys.revoke(k1.id, at(10));
        assert.equal(r?.revokedAt, at(10));
        assert.equal((await s.apiKeys.revoke(k1.id, at(20)))?.revokedAt, at(10), 'revoked once');
        assert.equal(await s.apiKeys.revoke(99999, at(20)), undefined);
        assert.equal(await s.apiKeys.get(99999), undefined);
        assert.equal(await s.apiKeys.countActiveForUser(p1, at(11)), 1);
      }));

    it('unions the request types providers serve', () =>
      withStorage(async (s, { p2 }) => {
        await s.users.setRequestTypes(p2, ['signal', 'battery-report', 'spectrum']);
        assert.deepEqual(await s.users.servedRequestTypes(), ['battery-report', 'signal', 'spectrum']);
        assert.deepEqual((await s.users.byId(p2))?.requestTypes, ['signal', 'battery-report', 'spectrum']);
      }));

    it('creates a session with its transfer row and first history entry', () =>
      withStorage(async (s, { c1 }) => {
        const ns = newSession(c1);
        const sess = await s.sessions.create(ns, T0);
        assert.equal(sess.status, 'pending');
        assert.equal(sess.targetUserId, null);
        assert.deepEqual(sess.capabilities, ['sdrlink/1']);
        assert.deepEqual(await s.sessions.get(ns.sessionId), sess);
        const t = await s.transfers.get(ns.sessionId);
        assert.equal(t?.fileName, 'spectrum_data.npz');
        assert.equal(t?.requestType, 'spectrum');
        assert.equal(t?.status, 'pending');
        assert.deepEqual(await s.sessions.history(ns.sessionId), [
          { status: 'pending', at: T0, byUserId: c1 },
        ]);
        await assert.rejects(
          s.sessions.create(ns, T0),
          (e: unknown) => e instanceof StorageError && e.code === 'ERR_CONFLICT',
        );
        assert.equal(await s.sessions.get('nope'), undefined);
      }));

    it('lists for a provider only the pending sessions it may serve', () =>
      withStorage(async (s, { p1, p2, c1 }) => {
        const open = await s.sessions.create(newSession(c1), T0);
        const signal = await s.sessions.create(newSession(c1, { requestType: 'signal' }), T0);
        const forP2 = await s.sessions.create(
          newSession(c1, { requestType: 'signal', targetUserId: p2 }),
          T0,
        );
        const forP1 = await s.sessions.create(
          newSession(c1, { requestType: 'signal', targetUserId: p1 }),
          T0,
        );
        const ids = (xs: Array<{ sessionId: string }>) => xs.map((x) => x.sessionId);
        assert.deepEqual(ids(await s.sessions.listOpenForProvider(p1, ['spectrum'], 100)), [
          open.sessionId,
          forP1.sessionId,
        ]);
        assert.deepEqual(ids(await s.sessions.listOpenForProvider(p2, null, 100)), [
          open.sessionId,
          signal.sessionId,
          forP2.sessionId,
        ]);
        assert.deepEqual(ids(await s.sessions.listOpenForProvider(p2, null, 1)), [open.sessionId]);
        assert.ok(await s.sessions.claim(open.sessionId, p2, at(1)));
        assert.deepEqual(ids(await s.sessions.listOpenForProvider(p1, ['spectrum'], 100)), [forP1.sessionId]);
        assert.equal(await s.sessions.countOpenByInitiator(c1), 4);
      }));

    it('lets exactly one of two racing providers claim a session', () =>
      withStorage(async (s, { p1, p2, c1 }) => {
        for (let i = 0; i < 20; i++) {
          const sess = await s.sessions.create(newSession(c1), T0);
          const [a, b] = await Promise.all([
            s.sessions.claim(sess.sessionId, p1, at(1)),
            s.sessions.claim(sess.sessionId, p2, at(1)),
          ]);
          assert.equal([a, b].filter((x) => x !== undefined).length, 1);
          const winner = (a ?? b)?.targetUserId;
          const now = await s.sessions.get(sess.sessionId);
          assert.equal(now?.status, 'offered');
          assert.equal(now?.targetUserId, winner);
        }
      }));

    it('lets only the named provider claim a targeted session', () =>
      withStorage(async (s, { p1, p2, c1 }) => {
        const sess = await s.sessions.create(newSession(c1, { targetUserId: p1 }), T0);
        assert.equal(await s.sessions.claim(sess.sessionId, p2, at(1)), undefined);
        assert.equal((await s.sessions.get(sess.sessionId))?.status, 'pending');
        assert.equal((await s.sessions.claim(sess.sessionId, p1, at(1)))?.targetUserId, p1);
        assert.equal(
          await s.sessions.claim(sess.sessionId, p1, at(2)),
          undefined,
          'a claimed session cannot be claimed again',
        );
      }));

    it('releases a stalled claim once: back to pending, next attempt, the claimant declined, its signals unlisted', () =>
      withStorage(async (s, { p1, p2, c1 }) => {
        const sid = (await s.sessions.create(newSession(c1), T0)).sessionId;
        const seed = (await s.sessions.create(newSession(c1, { capabilities: [] }), T0)).sessionId;
        const post = (
          from: number,
          to: number,
          type: 'offer' | 'candidate' | 'answer',
          t: number,
          claim = false,
        ) =>
          s.signals.post(
            {
              sessionId: sid,
              signalType: type,
              signalData:
                type === 'candidate' ? '{"candidate":"candidate:1"}' : `{"type":"${type}","sdp":"v=0"}`,
              fromUserId: from,
              toUserId: to,
            },
            at(t),
            { claim },
          );
        const offer = await post(p1, c1, 'offer', 1, true);
        assert.ok(offer.ok);
        assert.equal(offer.signal.attempt, 0);
        assert.equal(offer.session?.claimedAt, at(1));
        assert.equal(offer.session?.attempt, 0);
        assert.ok((await post(p1, c1, 'candidate', 2)).ok);
        assert.ok((await post(c1, p1, 'answer', 2)).ok);
        assert.ok(await s.sessions.claim(seed, p2, at(1)));
        // only an sdrlink consumer's claims, only those made before the cutoff
        assert.deepEqual(
          (await s.sessions.staleClaims(at(5), 'sdrlink/1', 10)).map((x) => x.sessionId),
          [sid],
        );
        assert.deepEqual(await s.sessions.staleClaims(at(1), 'sdrlink/1', 10), []);
        const release = {
          sessionId: sid,
          attempt: 0,
          providerId: p1,
          claimedBefore: at(5),
          code: 'ERR_CLAIM_TIMEOUT',
          message: 'no channel',
        };
        // the wrong attempt, the wrong provider, a claim younger than the cutoff: nothing moves
        assert.equal(await s.sessions.releaseClaim({ ...release, attempt: 1 }, at(6)), undefined);
        assert.equal(await s.sessions.releaseClaim({ ...release, providerId: p2 }, at(6)), undefined);
        assert.equal(await s.sessions.releaseClaim({ ...release, claimedBefore: at(1) }, at(6)), undefined);
        assert.equal((await s.sessions.get(sid))?.status, 'offered');
        const [a, b] = await Promise.all([
          s.sessions.releaseClaim(release, at(6)),
          s.sessions.releaseClaim(release, at(6)),
        ]);
        assert.equal([a, b].filter((x) => x !== undefined).length, 1, 'released exactly once');
        const now = await s.sessions.get(sid);
        assert.equal(now?.status, 'pending');
        assert.equal(now?.targetUserId, null);
        assert.equal(now?.attempt, 1);
        assert.equal(now?.claimedAt, null);
        assert.equal(now?.updatedAt, at(6));
        assert.deepEqual(
          (await s.sessions.history(sid)).map((h) => [h.status, h.byUserId]),
          [
            ['pending', c1],
            ['offered', p1],
            ['pending', null],
          ],
        );
        assert.equal((await s.transfers.get(sid))?.status, 'pending');
        assert.deepEqual(
          (await s.catalogs.declines(sid)).map((d) => [d.userId, d.code, d.message]),
          [[p1, 'ERR_CLAIM_TIMEOUT', 'no channel']],
        );
        assert.deepEqual(
          await s.signals.listFor(sid, c1, 0, 100),
          [],
          "the released claim's signals are not listed",
        );
        assert.deepEqual(await s.sessions.staleClaims(at(9), 'sdrlink/1', 10), []);
        // the next claim is attempt 1; its signals are listed, with their attempt
        assert.equal((await s.sessions.claim(sid, p2, at(7)))?.attempt, 1);
        const second = await post(p2, c1, 'offer', 8);
        assert.ok(second.ok);
        assert.equal(second.signal.attempt, 1);
        assert.deepEqual(
          (await s.signals.listFor(sid, c1, 0, 100)).map((x) => [x.signalType, x.fromUserId, x.attempt]),
          [['offer', p2, 1]],
        );
        // a report moves it on: no longer a stalled claim
        await s.sessions.transition(sid, ['offered'], 'connected', at(9), c1);
        assert.equal((await s.sessions.get(sid))?.claimedAt, null);
        assert.deepEqual(await s.sessions.staleClaims(at(99), 'sdrlink/1', 10), []);
      }));

    it('releases a named session to its provider, not to the others', () =>
      withStorage(async (s, { p1, c1 }) => {
        const sid = (await s.sessions.create(newSession(c1, { targetUserId: p1 }), T0)).sessionId;
        assert.equal((await s.sessions.get(sid))?.namedUserId, p1);
        assert.ok(await s.sessions.claim(sid, p1, at(1)));
        const r = await s.sessions.releaseClaim(
          {
            sessionId: sid,
            attempt: 0,
            providerId: p1,
            claimedBefore: at(5),
            code: 'ERR_CLAIM_TIMEOUT',
            message: 'x',
          },
          at(6),
        );
        assert.equal(r?.status, 'pending');
        assert.equal(r?.targetUserId, p1);
      }));

    it('posts signals, claiming atomically, and lists a participant inbox in order', () =>
      withStorage(async (s, { p1, p2, c1 }) => {
        const sess = await s.sessions.create(newSession(c1), T0);
        const sid = sess.sessionId;
        const offer = await s.signals.post(
          {
            sessionId: sid,
            signalType: 'offer',
            signalData: '{"type":"offer","sdp":"v=0"}',
            fromUserId: p1,
            toUserId: c1,
          },
          at(1),
          { claim: true },
        );
        assert.ok(offer.ok);
        assert.equal(offer.claimed, true);
        assert.equal(offer.session?.status, 'offered');
        assert.equal(typeof offer.signal.id, 'number');
        const lost = await s.signals.post(
          { sessionId: sid, signalType: 'offer', signalData: '{}', fromUserId: p2, toUserId: c1 },
          at(1),
          { claim: true },
        );
        assert.equal(lost.ok, false);
        assert.equal(!lost.ok && lost.reason, 'claim-lost');
        const cand = await s.signals.post(
          {
            sessionId: sid,
            signalType: 'candidate',
            signalData:
              '{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMLineIndex":0,"sdpMid":"0"}',
            fromUserId: p1,
            toUserId: c1,
            candidate: {
              candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host',
              sdpMLineIndex: 0,
              sdpMid: '0',
            },
          },
          at(2),
        );
        assert.ok(cand.ok);
        const answer = await s.signals.post(
          {
            sessionId: sid,
            signalType: 'answer',
            signalData: '{"type":"answer","sdp":"v=0"}',
            fromUserId: c1,
            toUserId: p1,
          },
          at(3),
        );
        assert.ok(answer.ok);
        const inbox = await s.signals.listFor(sid, c1, 0, 100);
        assert.deepEqual(
          inbox.map((x) => x.signalType),
          ['offer', 'candidate'],
        );
        assert.ok(inbox[0] !== undefined && inbox[1] !== undefined && inbox[0].id < inbox[1].id);
        assert.equal(inbox[0]?.fromUserId, p1);
        assert.equal(inbox[0]?.signalData, '{"type":"offer","sdp":"v=0"}');
        assert.deepEqual(
          (await s.signals.listFor(sid, c1, inbox[0]?.id ?? 0, 100)).map((x) => x.signalType),
          ['candidate'],
        );
        assert.equal((await s.signals.listFor(sid, c1, 0, 1)).length, 1);
        assert.deepEqual(
          (await s.signals.listFor(sid, p1, 0, 100)).map((x) => x.signalType),
          ['answer'],
        );
        assert.deepEqual(await s.signals.listFor(sid, p2, 0, 100), []);
        assert.equal(
          (await s.sessions.get(sid))?.updatedAt,
          at(1),
          'a plain signal does not rewrite its session',
        );
        await s.sessions.touch([sid], at(9));
        assert.equal((await s.sessions.get(sid))?.updatedAt, at(9), 'touch does');
      }));

    it('stores concurrent posts in call order, each settled on its own', () =>
      withStorage(async (s, { p1, c1 }) => {
        const open = (await s.sessions.create(newSession(c1), T0)).sessionId;
        const done = (await s.sessions.create(newSession(c1), T0)).sessionId;
        assert.ok(await s.sessions.claim(open, p1, at(1)));
        assert.ok(await s.sessions.claim(done, p1, at(1)));
        assert.ok(await s.sessions.transition(done, ['offered'], 'completed', at(2), p1));
        const posts = Array.from({ length: 50 }, (_, i) =>
          s.signals.post(
            {
              sessionId: i === 25 ? done : open,
              signalType: 'candidate',
              signalData: `{"n":${i}}`,
              fromUserId: p1,
              toUserId: c1,
            },
            at(3),
          ),
        );
        const results = await Promise.all(posts);
        const refused = results[25];
        assert.ok(refused !== undefined && !refused.ok && refused.reason === 'final');
        const stored = await s.signals.listFor(open, c1, 0, 100);
        assert.deepEqual(
          stored.map((x) => x.signalData),
          results.flatMap((r) => (r.ok ? [r.signal.signalData] : [])),
        );
        assert.deepEqual(
          stored.map((x) => JSON.parse(x.signalData).n),
          [...Array(50).keys()].filter((i) => i !== 25),
        );
        assert.ok(stored.every((x, i) => i === 0 || x.id > (stored[i - 1]?.id ?? 0)));
      }));

    it('fails a session on an error signal and refuses signals on a final session', () =>
      withStorage(async (s, { p1, c1 }) => {
        const sess = await s.sessions.create(newSession(c1), T0);
        const sid = sess.sessionId;
        assert.ok(await s.sessions.claim(sid, p1, at(1)));
        const err = await s.signals.post(
          {
            sessionId: sid,
            signalType: 'error',
            signalData: '{"code":"ERR_PARAMS","message":"no"}',
            fromUserId: p1,
            toUserId: c1,
          },
          at(2),
          { fail: true },
        );
        assert.ok(err.ok);
        assert.equal(err.session?.status, 'failed');
        assert.equal(err.statusChanged, true);
        const late = await s.signals.post(
          { sessionId: sid, signalType: 'candidate', signalData: '{}', fromUserId: p1, toUserId: c1 },
          at(3),
        );
        assert.equal(late.ok, false);
        assert.equal(!late.ok && late.reason, 'final');
        assert.equal((await s.signals.listFor(sid, c1, 0, 100)).length, 1);
        const t = await s.transfers.get(sid);
        assert.equal(t?.status, 'failed');
        assert.equal(t?.completedAt, at(2));
        assert.deepEqual(
          (await s.sessions.history(sid)).map((h) => h.status),
          ['pending', 'offered', 'failed'],
        );
      }));

    it('moves a session only from the allowed statuses and records each transition', () =>
      withStorage(async (s, { p1, c1 }) => {
        const sid = (await s.sessions.create(newSession(c1), T0)).sessionId;
        assert.equal(await s.sessions.transition(sid, ['offered'], 'connected', at(1), p1), undefined);
        assert.ok(await s.sessions.claim(sid, p1, at(1)));
        assert.equal(
          (await s.sessions.transition(sid, ['offered'], 'connected', at(2), p1))?.status,
          'connected',
        );
        assert.equal(
          (await s.sessions.transition(sid, ['pending', 'offered', 'connected'], 'cancelled', at(3), c1))
            ?.status,
          'cancelled',
        );
        assert.equal(
          await s.sessions.transition(sid, ['pending', 'offered', 'connected'], 'cancelled', at(4), c1),
          undefined,
        );
        assert.equal(await s.sessions.transition('missing', ['pending'], 'cancelled', at(4), c1), undefined);
        assert.deepEqual(await s.sessions.history(sid), [
          { status: 'pending', at: T0, byUserId: c1 },
          { status: 'offered', at: at(1), byUserId: p1 },
          { status: 'connected', at: at(2), byUserId: p1 },
          { status: 'cancelled', at: at(3), byUserId: c1 },
        ]);
      }));

    it('expires open sessions untouched since the cutoff, and nothing else', () =>
      withStorage(async (s, { p1, c1 }) => {
        const old = (await s.sessions.create(newSession(c1), T0)).sessionId;
        const oldClaimed = (await s.sessions.create(newSession(c1), T0)).sessionId;
        assert.ok(await s.sessions.claim(oldClaimed, p1, at(1)));
        const done = (await s.sessions.create(newSession(c1), T0)).sessionId;
        assert.ok(await s.sessions.transition(done, ['pending'], 'cancelled', at(1), c1));
        const fresh = (await s.sessions.create(newSession(c1), at(100))).sessionId;
        const relayed = (await s.sessions.create(newSession(c1), T0)).sessionId;
        await s.sessions.touch([relayed], at(100));
        const expired = await s.sessions.expireStale(at(50), at(101), 100);
        assert.deepEqual(
          expired.map((e) => [e.session.sessionId, e.previous, e.session.status]).sort(),
          [
            [old, 'pending', 'expired'],
            [oldClaimed, 'offered', 'expired'],
          ].sort(),
        );
        assert.equal((await s.sessions.get(done))?.status, 'cancelled');
        assert.equal((await s.sessions.get(fresh))?.status, 'pending');
        assert.equal((await s.sessions.get(relayed))?.status, 'pending');
        assert.equal((await s.transfers.get(old))?.status, 'expired');
        assert.deepEqual(await s.sessions.expireStale(at(50), at(102), 100), []);
        assert.deepEqual(await s.sessions.countOpenByStatus(), { pending: 2 });
      }));

    it('prunes old final sessions (signals, history, declines) and keeps their session and transfer rows; leaves open and young ones', () =>
      withStorage(async (s, { p1, c1 }) => {
        const old = (await s.sessions.create(newSession(c1), T0)).sessionId;
        const posted = await s.signals.post(
          { sessionId: old, signalType: 'offer', signalData: '{}', fromUserId: p1, toUserId: c1 },
          at(1),
          { claim: true },
        );
        assert.ok(posted.ok);
        await s.catalogs.decline({ sessionId: old, userId: p1, code: 'ERR_X', message: 'no', at: at(1) });
        assert.ok(await s.sessions.transition(old, ['offered'], 'cancelled', at(2), c1));
        const openOld = (await s.sessions.create(newSession(c1), T0)).sessionId;
        const young = (await s.sessions.create(newSession(c1), T0)).sessionId;
        assert.ok(await s.sessions.transition(young, ['pending'], 'cancelled', at(100), c1));

        const r = await s.sessions.prune(at(50), 10);
        assert.deepEqual(r, { sessions: 1, signals: 1, history: 3, declines: 1 });
        assert.deepEqual(await s.sessions.history(old), []);
        assert.deepEqual(await s.signals.listFor(old, c1, 0, 10), []);
        assert.deepEqual(await s.catalogs.declines(old), []);
        assert.equal((await s.sessions.get(old))?.status, 'cancelled');
        assert.equal((await s.transfers.get(old))?.status, 'cancelled');
        assert.equal((await s.transfers.listForUser(c1, 10)).length, 3);
        assert.equal((await s.sessions.history(openOld)).length, 1);
        assert.equal((await s.sessions.history(young)).length, 2);
        assert.deepEqual(await s.sessions.prune(at(50), 10), {
          sessions: 0,
          signals: 0,
          history: 0,
          declines: 0,
        });
      }));

    it('stores, replaces and lists provider catalogs; records each decline once; lists the pending ones', () =>
      withStorage(async (s, { p1, p2, c1 }) => {
        assert.equal(await s.catalogs.get(p1), undefined);
        await s.catalogs.put(p1, '{"types":[],"recordings":[]}', at(1));
        const r = await s.catalogs.put(
          p1,
          '{"types":[{"type":"signal","parameters":[]}],"recordings":[]}',
          at(2),
        );
        assert.deepEqual(r, {
          userId: p1,
          catalog: '{"types":[{"type":"signal","parameters":[]}],"recordings":[]}',
          updatedAt: at(2),
        });
        assert.deepEqual(await s.catalogs.get(p1), r);
        await s.catalogs.put(p2, '{"types":[],"recordings":[]}', at(3));
        assert.deepEqual(
          (await s.catalogs.list()).map((c) => c.userId),
          [p1, p2].sort((a, b) => a - b),
        );

        const open = await s.sessions.create(newSession(c1), at(4));
        const gone = await s.sessions.create(newSession(c1), at(4));
        const d = {
          sessionId: open.sessionId,
          userId: p1,
          code: 'ERR_PARAMS',
          message: 'it\'s "bad"',
          at: at(5),
        };
        assert.equal(await s.catalogs.decline(d), true);
        assert.equal(
          await s.catalogs.decline({ ...d, code: 'ERR_BUSY', at: at(6) }),
          false,
          'a second decline keeps the first',
        );
        await s.catalogs.decline({ ...d, userId: p2, code: 'ERR_TOO_LARGE', at: at(7) });
        await s.catalogs.decline({ ...d, sessionId: gone.sessionId, at: at(7) });
        assert.deepEqual(await s.catalogs.declines(open.sessionId), [
          d,
          { ...d, userId: p2, code: 'ERR_TOO_LARGE', at: at(7) },
        ]);
        await s.sessions.transition(gone.sessionId, ['pending'], 'cancelled', at(8), c1);
        assert.deepEqual(
          (await s.catalogs.pendingDeclines()).map((x) => [x.sessionId, x.userId]),
          [
            [open.sessionId, p1],
            [open.sessionId, p2],
          ],
          'only the declines of sessions still pending',
        );
      }));

    it('counts the sessions in each open status', () =>
      withStorage(async (s, { p1, c1 }) => {
        assert.deepEqual(await s.sessions.countOpenByStatus(), {});
        await s.sessions.create(newSession(c1), T0);
        const claimed = (await s.sessions.create(newSession(c1), T0)).sessionId;
        assert.ok(await s.sessions.claim(claimed, p1, at(1)));
        const gone = (await s.sessions.create(newSession(c1), T0)).sessionId;
        assert.ok(await s.sessions.transition(gone, ['pending'], 'cancelled', at(1), c1));
        assert.deepEqual(await s.sessions.countOpenByStatus(), { pending: 1, offered: 1 });
      }));

    it('merges transfer reports, moves the session, and lists a user’s transfers', () =>
      withStorage(async (s, { p1, c1, c2 }) => {
        const sid = (await s.sessions.create(newSession(c1), T0)).sessionId;
        const other = (await s.sessions.create(newSession(c2), T0)).sessionId;
        assert.ok(await s.sessions.claim(sid, p1, at(1)));
        const r1 = await s.transfers.report(
          {
            sessionId: sid,
            byUserId: p1,
            status: 'transferring',
            transitionFrom: ['offered', 'connected'],
            patch: { bytes: 10, transport: 'p2p', fileSize: 100, fileName: 'a.npz' },
          },
          at(2),
        );
        assert.equal(r1?.session.status, 'transferring');
        assert.equal(r1?.previousStatus, 'offered');
        assert.equal(r1?.transfer.bytes, 10);
        const r2 = await s.transfers.report(
          {
            sessionId: sid,
            byUserId: c1,
            status: 'transferring',
            transitionFrom: ['offered', 'connected'],
            patch: { bytes: 50 },
          },
          at(3),
        );
        assert.equal(r2?.previousStatus, null);
        assert.equal(r2?.transfer.transport, 'p2p', 'absent fields keep their value');
        const sha = 'a'.repeat(64);
        const r3 = await s.transfers.report(
          {
            sessionId: sid,
            byUserId: c1,
            status: 'completed',
            transitionFrom: ['offered', 'connected', 'transferring'],
            patch: { bytes: 100, sha256: sha, durationMs: 1234, verified: true },
          },
          at(4),
        );
        assert.equal(r3?.session.status, 'completed');
        assert.deepEqual(
          {
            status: r3?.transfer.status,
            bytes: r3?.transfer.bytes,
            sha256: r3?.transfer.sha256,
            durationMs: r3?.transfer.durationMs,
            verified: r3?.transfer.verified,
            completedAt: r3?.transfer.completedAt,
            fileName: r3?.transfer.fileName,
            fileSize: r3?.transfer.fileSize,
          },
          {
            status: 'completed',
            bytes: 100,
            sha256: sha,
            durationMs: 1234,
            verified: true,
            completedAt: at(4),
            fileName: 'a.npz',
            fileSize: 100,
          },
        );
        await s.transfers.addRelayBytes(sid, 4096);
        assert.equal((await s.transfers.get(sid))?.relayBytes, 4096);
        assert.deepEqual(
          (await s.transfers.listForUser(p1, 10)).map((t) => t.sessionId),
          [sid],
        );
        assert.deepEqual(
          (await s.transfers.listForUser(c1, 10)).map((t) => t.sessionId),
          [sid],
        );
        assert.deepEqual(
          (await s.transfers.listForUser(c2, 10)).map((t) => t.sessionId),
          [other],
        );
        assert.equal(
          await s.transfers.report(
            { sessionId: 'missing', byUserId: c1, status: 'failed', transitionFrom: [], patch: {} },
            at(5),
          ),
          undefined,
        );
        assert.deepEqual(
          (await s.sessions.listForUser(c1, 10)).map((x) => x.sessionId),
          [sid],
        );
      }));

    it('records the first outcome of a session (transition, error signal, report, expiry) and keeps it', () =>
      withStorage(async (s, { p1, c1 }) => {
        const out = async (sid: string) => {
          const t = await s.transfers.get(sid);
          return [t?.status, t?.errorCode, t?.errorMessage, t?.failedSide, t?.error];
        };
        const a = (await s.sessions.create(newSession(c1), T0)).sessionId;
        await s.sessions.transition(a, ['pending'], 'cancelled', at(1), c1, {
          code: 'ERR_CANCELLED',
          message: 'interrupted',
          side: 'consumer',
        });
        assert.deepEqual(await out(a), [
          'cancelled',
          'ERR_CANCELLED',
          'interrupted',
          'consumer',
          'ERR_CANCELLED: interrupted',
        ]);
        const b = (await s.sessions.create(newSession(c1), T0)).sessionId;
        const posted = await s.signals.post(
          { sessionId: b, signalType: 'error', signalData: '{}', fromUserId: p1, toUserId: c1 },
          at(1),
          { claim: true, fail: true, outcome: { code: 'ERR_PARAMS', message: 'bad', side: 'provider' } },
        );
        assert.equal(posted.ok, true);
        // a later failed report neither moves the session nor replaces the recorded outcome
        await s.transfers.report(
          {
            sessionId: b,
            byUserId: c1,
            status: 'failed',
            transitionFrom: ['offered'],
            patch: { outcome: { code: 'ERR_TIMEOUT', message: 'late', side: 'consumer' }, path: 'ws-relay' },
          },
          at(2),
        );
        assert.deepEqual(await out(b), ['failed', 'ERR_PARAMS', 'bad', 'provider', 'ERR_PARAMS: bad']);
        assert.equal((await s.transfers.get(b))?.path, 'ws-relay');
        const c = (await s.sessions.create(newSession(c1), T0)).sessionId;
        const expired = await s.sessions.expireStale(at(10), at(11), 10, (x, prev) => ({
          code: 'ERR_EXPIRED',
          message: `${x.sessionId === c ? 'this' : 'other'} while ${prev}`,
          side: 'server',
        }));
        assert.deepEqual(
          expired.map((e) => e.session.sessionId),
          [c],
        );
        assert.deepEqual(await out(c), [
          'expired',
          'ERR_EXPIRED',
          'this while pending',
          'server',
          'ERR_EXPIRED: this while pending',
        ]);
      }));

    it('lists a user’s transfers with names, filtered by status, type, provider and time', () =>
      withStorage(async (s, { p1, p2, c1, c2 }) => {
        const a = (await s.sessions.create(newSession(c1), at(1))).sessionId;
        await s.sessions.claim(a, p1, at(2));
        const b = (await s.sessions.create(newSession(c1, { requestType: 'signal' }), at(3))).sessionId;
        await s.sessions.claim(b, p2, at(4));
        await s.sessions.transition(b, ['offered'], 'failed', at(5), p2);
        const c = (await s.sessions.create(newSession(c1), at(6))).sessionId;
        await s.sessions.create(newSession(c2), at(7));
        const ids = async (f: Parameters<Storage['transfers']['listForUser']>[2], user = c1) =>
          (await s.transfers.listForUser(user, 10, f)).map((t) => t.sessionId);
        const all = await s.transfers.listForUser(c1, 10);
        assert.deepEqual(
          all.map((t) => [t.sessionId, t.consumerName, t.providerName]),
          [
            [c, 'c1', null],
            [b, 'c1', 'p2'],
            [a, 'c1', 'p1'],
          ],
        );
        assert.deepEqual(await ids({ status: 'failed' }), [b]);
        assert.deepEqual(await ids({ requestType: 'spectrum' }), [c, a]);
        assert.deepEqual(await ids({ providerName: 'p1' }), [a]);
        assert.deepEqual(await ids({ since: at(3), until: at(6) }), [b]);
        assert.deepEqual(await ids({ providerName: "p1' OR 1=1 --" }), []);
        assert.deepEqual(await ids({}, p2), [b]);
      }));
  });
}

describe('storage: SQLite file', () => {
  it('migration 007 keys existing names; two names equal but for case both survive, the later keyed by id', async () => {
    const path = join(dir, 'pre-007.sqlite');
    const raw = new BetterSqlite3(path);
    try {
      migrate(
        raw,
        SIGNALING_MIGRATIONS.filter((m) => m.version < 7),
      );
      const insert = raw.prepare(
        "INSERT INTO users (username, password_hash, client_type, request_types, created_at) VALUES (?, 'h', 2, '[]', ?)",
      );
      insert.run('Alice', T0);
      insert.run('alice', T0);
      insert.run('bob', T0);
    } finally {
      raw.close();
    }
    const s = createSqliteStorage(path);
    try {
      assert.equal((await s.users.byName('ALICE'))?.username, 'Alice', 'the first keeps the name');
      assert.equal((await s.users.byName('BOB'))?.username, 'bob');
      assert.equal((await s.users.list()).length, 3);
      await assert.rejects(
        s.users.create({ username: 'BOB', passwordHash: 'x', clientType: 2, requestTypes: [] }, T0),
        (e: unknown) => e instanceof StorageError && e.code === 'ERR_CONFLICT',
      );
    } finally {
      await s.close();
    }
  });

  it('keeps everything across close and reopen, and migrates once', async () => {
    const path = join(dir, 'reopen.sqlite');
    const a = createSqliteStorage(path);
    const u = await a.users.create({ username: 'c', passwordHash: 'h', clientType: 2, requestTypes: [] }, T0);
    const p = await a.users.create({ username: 'p', passwordHash: 'h', clientType: 1, requestTypes: [] }, T0);
    const sess = await a.sessions.create(newSession(u.id), T0);
    const posted = await a.signals.post(
      { sessionId: sess.sessionId, signalType: 'offer', signalData: '{}', fromUserId: p.id, toUserId: u.id },
      at(1),
      { claim: true },
    );
    assert.ok(posted.ok);
    await a.close();
    const b = createSqliteStorage(path);
    try {
      assert.equal((await b.users.byName('c'))?.id, u.id);
      assert.equal((await b.sessions.get(sess.sessionId))?.status, 'offered');
      assert.equal((await b.signals.listFor(sess.sessionId, u.id, 0, 10))[0]?.id, posted.signal.id);
      assert.equal((await b.transfers.get(sess.sessionId))?.status, 'offered');
    } finally {
      await b.close();
    }
    const raw = new BetterSqlite3(path);
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      const versions = raw.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{
        version: number;
      }>;
      assert.deepEqual(
        versions.map((v) => v.version),
        SIGNALING_MIGRATIONS.map((m) => m.version),
      );
      assert.ok(
        versions.some((v) => v.version === 5),
        'api-keys (005) applied',
      );
      const cols = (raw.prepare('PRAGMA table_info(ice_candidates)').all() as Array<{ name: string }>).map(
        (c) => c.name,
      );
      for (const seedCol of [
        'id',
        'session_id',
        'user_id',
        'candidate',
        'sdp_mline_index',
        'sdp_mid',
        'created_at',
      ]) {
        assert.ok(cols.includes(seedCol), `seed column ice_candidates.${seedCol}`);
      }
      raw
        .prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')")
        .run();
    } finally {
      raw.close();
    }
    assert.throws(
      () => createSqliteStorage(path),
      (e: unknown) => e instanceof StorageError && e.code === 'ERR_MIGRATION',
    );
  });

  it('with background checkpoints (no checkpoint inside commits), pages still reach the database file', async () => {
    const path = join(dir, 'checkpoint.sqlite');
    const s = createSqliteStorage(path, { backgroundCheckpoint: true });
    try {
      const c = await s.users.create(
        { username: 'c', passwordHash: 'h', clientType: 2, requestTypes: [] },
        T0,
      );
      const p = await s.users.create(
        { username: 'p', passwordHash: 'h', clientType: 1, requestTypes: [] },
        T0,
      );
      const sess = await s.sessions.create(newSession(c.id), T0);
      const before = statSync(path).size;
      const data = JSON.stringify({ candidate: 'x'.repeat(400) });
      for (let i = 0; i < 3000; i++) {
        const r = await s.signals.post(
          {
            sessionId: sess.sessionId,
            signalType: 'candidate',
            signalData: data,
            fromUserId: p.id,
            toUserId: c.id,
          },
          T0,
        );
        assert.ok(r.ok);
      }
      // the worker's checkpoint extends the file page by page, and under load it may start late: wait
      // for the whole of it (the condition asserted below), not just a first page
      const deadline = Date.now() + 30_000;
      while (statSync(path).size <= before + 1024 * 1024 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok(statSync(path).size > before + 1024 * 1024, 'the pages reached the database file');
      assert.equal((await s.signals.listFor(sess.sessionId, c.id, 0, 5000)).length, 3000);
    } finally {
      await s.close();
    }
  });

  it('refuses a path it cannot open with ERR_STORAGE', () => {
    assert.throws(
      () => createSqliteStorage(join(dir, 'reopen.sqlite', 'inside-a-file', 'x.sqlite')),
      (e: unknown) => e instanceof StorageError && e.code === 'ERR_STORAGE',
    );
  });
});

describe('storage: PostgreSQL, several servers on one database', { skip: pgSkip }, () => {
  before(ensurePostgres);
  const users = async (s: Storage) => {
    const mk = (username: string, clientType: 1 | 2) =>
      s.users.create({ username, passwordHash: 'h', clientType, requestTypes: [] }, T0);
    return { p1: (await mk('p1', 1)).id, p2: (await mk('p2', 1)).id, c1: (await mk('c1', 2)).id };
  };

  it('migrates once when four open the same fresh database at the same moment', async () => {
    if (postgres === undefined) throw new Error('PostgreSQL was not started');
    const url = await postgres.createDatabase();
    const all = await Promise.all([1, 2, 3, 4].map(() => createPostgresStorage(url)));
    try {
      await all[0]?.users.create({ username: 'u', passwordHash: 'h', clientType: 2, requestTypes: [] }, T0);
      for (const s of all) assert.equal((await s.users.byName('u'))?.username, 'u');
    } finally {
      await Promise.all(all.map((s) => s.close()));
    }
  });

  it('lets exactly one of two providers on two servers claim each session', async () => {
    if (postgres === undefined) throw new Error('PostgreSQL was not started');
    const url = await postgres.createDatabase();
    const a = await createPostgresStorage(url);
    const b = await createPostgresStorage(url);
    try {
      const { p1, p2, c1 } = await users(a);
      for (let i = 0; i < 30; i++) {
        const sid = (await a.sessions.create(newSession(c1), T0)).sessionId;
        // half by claim, half by a claiming offer signal, on the two servers' own pools
        const [x, y] =
          i % 2 === 0
            ? await Promise.all([a.sessions.claim(sid, p1, at(1)), b.sessions.claim(sid, p2, at(1))])
            : (
                await Promise.all(
                  [
                    [a, p1],
                    [b, p2],
                  ].map(([s, p]) =>
                    (s as Storage).signals.post(
                      {
                        sessionId: sid,
                        signalType: 'offer',
                        signalData: '{}',
                        fromUserId: p as number,
                        toUserId: c1,
                      },
                      at(1),
                      { claim: true },
                    ),
                  ),
                )
              ).map((r) => (r.ok ? r.session : undefined));
        assert.equal([x, y].filter((v) => v !== undefined && v !== null).length, 1, `session ${i}`);
        const winner = (x ?? y)?.targetUserId;
        assert.equal((await b.sessions.get(sid))?.targetUserId, winner);
        assert.deepEqual(
          (await a.sessions.history(sid)).map((h) => h.status),
          ['pending', 'offered'],
          'one claim recorded',
        );
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('expires each stale session once when two servers sweep at the same moment', async () => {
    if (postgres === undefined) throw new Error('PostgreSQL was not started');
    const url = await postgres.createDatabase();
    const a = await createPostgresStorage(url);
    const b = await createPostgresStorage(url);
    try {
      const { c1 } = await users(a);
      const ids = new Set<string>();
      for (let i = 0; i < 40; i++) ids.add((await a.sessions.create(newSession(c1), T0)).sessionId);
      const swept: string[] = [];
      for (let round = 0; round < 5; round++) {
        const [x, y] = await Promise.all([
          a.sessions.expireStale(at(50), at(51), 7),
          b.sessions.expireStale(at(50), at(51), 7),
        ]);
        swept.push(...[...x, ...y].map((e) => e.session.sessionId));
      }
      swept.push(...(await a.sessions.expireStale(at(50), at(51), 100)).map((e) => e.session.sessionId));
      assert.equal(swept.length, ids.size, 'each expired once');
      assert.deepEqual(new Set(swept), ids);
      for (const id of ids) {
        assert.deepEqual(
          (await b.sessions.history(id)).map((h) => h.status),
          ['pending', 'expired'],
        );
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses a malformed URL, a wrong password and an unreachable server with their codes', async () => {
    if (postgres === undefined) throw new Error('PostgreSQL was not started');
    const code = (c: string) => (e: unknown) => e instanceof StorageError && e.code === c;
    await assert.rejects(createPostgresStorage('postgres://no-user-here'), code('ERR_DB_URL'));
    await assert.rejects(createPostgresStorage('postgres://u@127.0.0.1:5432/'), code('ERR_DB_URL'));
    await assert.rejects(createPostgresStorage(postgres.urlFor('postgres', 'wrong')), code('ERR_DB_AUTH'));
    await assert.rejects(createPostgresStorage('postgres://u:p@127.0.0.1:1/x'), code('ERR_DB_UNREACHABLE'));
  });
});
