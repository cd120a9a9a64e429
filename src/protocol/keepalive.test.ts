/**
 * The keepalive state machine (docs/protocol.md §3.7) on a fake clock: time is the ticks the test drives,
 * so every case is exact and instant.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KEEPALIVE_DEFAULTS, Keepalive, peerTimeoutFor } from './keepalive.js';

/** A keepalive whose sends and death are recorded, and a clock that advances it tick by tick. */
function rig(intervalMs = 1000, peerTimeoutMs = 5000) {
  const log: string[] = [];
  let now = 0;
  const ka = new Keepalive({
    intervalMs,
    peerTimeoutMs,
    send: () => log.push(`${now} send`),
    dead: (silentMs, timeoutMs) => log.push(`${now} dead ${silentMs}/${timeoutMs}`),
  });
  return {
    ka,
    log,
    /** Advances the fake clock by `ms` (whole ticks), calling `during` before each tick. */
    advance(ms: number, during?: () => void) {
      for (let t = 0; t < ms; t += ka.tickMs) {
        during?.();
        now += ka.tickMs;
        ka.tick();
      }
    },
  };
}

describe('keepalive state machine (docs/protocol.md §3.7)', () => {
  it('does nothing before the peer advertised keepalive: no send, no timeout', () => {
    const r = rig();
    r.advance(60_000);
    assert.deepEqual(r.log, []);
    assert.equal(r.ka.sending, false);
    assert.equal(r.ka.watching, false);
  });

  it('sends one keepalive per interval while this side sends nothing else', () => {
    const r = rig();
    r.ka.startSending();
    r.advance(3000, () => r.ka.heard++);
    assert.deepEqual(r.log, ['1000 send', '2000 send', '3000 send']);
  });

  it('sends none while data flows (anything sent counts)', () => {
    const r = rig();
    r.ka.startSending();
    r.advance(10_000, () => r.ka.sent++);
    assert.deepEqual(r.log, []);
  });

  it('declares a silent peer gone once its timeout has passed, once', () => {
    const r = rig();
    r.ka.watch(1000);
    r.advance(4000);
    assert.deepEqual(r.log, [], 'not before the timeout');
    r.advance(1000);
    assert.deepEqual(r.log, ['5000 dead 5000/5000']);
    r.advance(10_000);
    assert.equal(r.log.length, 1, 'reported once');
  });

  it('any message from the peer restarts its timeout', () => {
    const r = rig();
    r.ka.watch(1000);
    r.advance(4000);
    r.ka.heard++;
    r.advance(4000);
    assert.deepEqual(r.log, []);
    r.advance(2000);
    // the message came between the ticks at 4 s and 5 s: five silent ticks after the one that saw it
    assert.deepEqual(r.log, ['10000 dead 5000/5000']);
  });

  it('never times out while reading is paused (the peer’s messages wait in the transport)', () => {
    const r = rig();
    r.ka.watch(1000);
    r.ka.paused = true;
    r.advance(30_000);
    assert.deepEqual(r.log, []);
    r.ka.paused = false;
    r.advance(5000);
    assert.deepEqual(r.log, ['35000 dead 5000/5000'], 'counted again from the resume');
  });

  it('gives a peer with a slow beat three of its intervals', () => {
    assert.equal(peerTimeoutFor(5000, 1000), 5000);
    assert.equal(peerTimeoutFor(5000, 4000), 12_000);
    const r = rig();
    r.ka.watch(4000);
    assert.equal(r.ka.timeoutMs, 12_000);
    r.advance(11_000);
    assert.deepEqual(r.log, []);
    r.advance(1000);
    assert.deepEqual(r.log, ['12000 dead 12000/12000']);
  });

  it('ticks at a fifth of a short peer timeout, so detection stays within 20 % of it', () => {
    const r = rig(1000, 500);
    assert.equal(r.ka.tickMs, 100);
    r.ka.startSending();
    r.ka.watch(100);
    r.advance(1000);
    // one keepalive after a quiet interval (10 ticks), and the silent peer gone after 5 ticks
    assert.deepEqual(r.log, ['500 dead 500/500']);
  });

  it('a send that throws (channel gone) is swallowed; the timeout still decides', () => {
    let sends = 0;
    const deaths: number[] = [];
    const ka = new Keepalive({
      intervalMs: 1000,
      peerTimeoutMs: 3000,
      send: () => {
        sends++;
        throw new Error('InvalidStateError: channel closed');
      },
      dead: (silentMs) => deaths.push(silentMs),
    });
    ka.startSending();
    ka.watch(1000);
    for (let i = 0; i < 10; i++) ka.tick();
    assert.ok(sends >= 2);
    assert.deepEqual(deaths, [3000]);
  });

  it('refuses a bad configuration', () => {
    const base = { send: () => undefined, dead: () => undefined };
    assert.throws(() => new Keepalive({ ...base, intervalMs: 0, peerTimeoutMs: 5000 }), TypeError);
    assert.throws(() => new Keepalive({ ...base, intervalMs: 1000, peerTimeoutMs: 0.5 }), TypeError);
    assert.equal(KEEPALIVE_DEFAULTS.intervalMs, 1000);
    assert.equal(KEEPALIVE_DEFAULTS.peerTimeoutMs, 5000);
  });
});
