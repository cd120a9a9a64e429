import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, describe, it, test } from 'node:test';
import {
  candidateTypeAndProto,
  cleanupWebRtc,
  HOLD_CANDIDATES_MAX_MS,
  parseCandidate,
  parseDescription,
  peerStackOf,
  SctpStallError,
  WebRtcPeer,
  type CandidateInit,
} from './webrtc.js';

after(() => cleanupWebRtc());

/** Two peers wired directly (no server): candidates go straight across, queued by the peer as needed. */
function signalPair() {
  let b!: WebRtcPeer;
  const a = new WebRtcPeer({ iceServers: [], onCandidate: (c) => void b.addRemoteCandidate(c) });
  b = new WebRtcPeer({ iceServers: [], onCandidate: (c) => void a.addRemoteCandidate(c) });
  return { a, b };
}

test('offerer and answerer open the file-transfer channel and move bytes both ways', async () => {
  const { a, b } = signalPair();
  try {
    const offer = await a.createOffer();
    assert.match(offer.sdp, /a=setup:actpass/);
    const answer = await b.acceptOffer(offer);
    // Default roles (see webrtc.ts): the answerer is the DTLS client; candidates travel as signals only.
    assert.match(answer.sdp, /a=setup:active/);
    await a.acceptAnswer(answer);
    const [ca, cb] = await Promise.all([a.openChannel(10_000), b.openChannel(10_000)]);
    // No ICE servers: the selected pair is host to host over UDP (a candidate may be seen first in a
    // check, before its signal: peer-reflexive), never srflx or relay.
    assert.match(a.candidatePath() ?? '', /^(host|prflx)-(host|prflx)\/udp$/);
    assert.match(b.candidatePath() ?? '', /^(host|prflx)-(host|prflx)\/udp$/);
    const payload = randomBytes(200_000);
    const got: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      cb.onmessage = (ev) => {
        if (typeof ev.data === 'string') {
          assert.equal(ev.data, 'end');
          resolve();
        } else got.push(Buffer.from(ev.data as ArrayBuffer));
      };
    });
    for (let i = 0; i < payload.length; i += 60_000) ca.send(payload.subarray(i, i + 60_000));
    ca.send('end');
    await done;
    assert.equal(
      createHash('sha256').update(Buffer.concat(got)).digest('hex'),
      createHash('sha256').update(payload).digest('hex'),
    );
    const back = new Promise<unknown>((resolve) => (ca.onmessage = (ev) => resolve(ev.data)));
    cb.send('pong');
    assert.equal(await back, 'pong');
  } finally {
    a.close();
    b.close();
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An offerer that records each candidate it releases, with its ICE state and the time of the first. */
function recordingOfferer() {
  const rec = { candidates: [] as CandidateInit[], iceStates: [] as string[], firstAt: 0 };
  const peer: WebRtcPeer = new WebRtcPeer({
    iceServers: [],
    onCandidate: (c) => {
      rec.candidates.push(c);
      rec.iceStates.push(peer.iceConnectionState);
      rec.firstAt ||= performance.now();
    },
  });
  return { peer, rec };
}

test('candidates that arrive before the remote description are queued, not thrown; the offerer holds its own until the answer is set and its ICE is connected', async () => {
  const fromB: CandidateInit[] = [];
  const { peer: a, rec } = recordingOfferer();
  const fromA = rec.candidates;
  const b = new WebRtcPeer({ iceServers: [], onCandidate: (c) => fromB.push(c) });
  try {
    const offer = await a.createOffer();
    const answer = await b.acceptOffer(offer);
    for (let i = 0; i < 50 && fromB.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(fromB.length > 0, 'the answerer gathered host candidates');
    assert.equal(fromA.length, 0, 'the offerer sends none before it has the answer');
    // The answerer's candidates reach the offerer before its answer does.
    for (const c of fromB) await a.addRemoteCandidate(c);
    await a.acceptAnswer(answer);
    for (let i = 0; i < 100 && fromA.length === 0; i++) await sleep(10);
    assert.ok(fromA.length > 0, 'the held candidates go out once the answer is set and ICE connected');
    // The offerer's own checks reached the answerer's candidates first: the DTLS server (the offerer) is up
    // before the answerer, the DTLS client, can connect (webrtc.ts, "the last 2%").
    assert.deepEqual(new Set(rec.iceStates), new Set(['connected']));
    for (const c of fromA) await b.addRemoteCandidate(c);
    const [ca] = await Promise.all([a.openChannel(10_000), b.openChannel(10_000)]);
    assert.equal(ca.readyState, 'open');
  } finally {
    a.close();
    b.close();
  }
});

test('an offerer whose own checks cannot connect releases its candidates after HOLD_CANDIDATES_MAX_MS, and the answerer connects', async () => {
  const { peer: a, rec } = recordingOfferer();
  const fromA = rec.candidates;
  // The answerer's candidates never reach the offerer (as if it could not reach them).
  const b = new WebRtcPeer({ iceServers: [], onCandidate: () => undefined });
  try {
    const answer = await b.acceptOffer(await a.createOffer());
    const answeredAt = performance.now();
    await a.acceptAnswer(answer);
    for (let i = 0; i < 100 && fromA.length === 0; i++) await sleep(10);
    assert.ok(fromA.length > 0, 'released after the hold');
    // A timer never fires early: this bounds the logic, not the machine's speed.
    assert.ok(
      rec.firstAt - answeredAt >= HOLD_CANDIDATES_MAX_MS - 2,
      `released after ${rec.firstAt - answeredAt} ms`,
    );
    assert.ok(!rec.iceStates.includes('connected'), 'released by the timer, not by a connection');
    for (const c of fromA) await b.addRemoteCandidate(c);
    const [ca, cb] = await Promise.all([a.openChannel(10_000), b.openChannel(10_000)]);
    assert.equal(ca.readyState, 'open');
    assert.equal(cb.readyState, 'open');
  } finally {
    a.close();
    b.close();
  }
});

test('the remote side closing reaches the local channel as a close event', async () => {
  const { a, b } = signalPair();
  try {
    await a.acceptAnswer(await b.acceptOffer(await a.createOffer()));
    const [ca, cb] = await Promise.all([a.openChannel(10_000), b.openChannel(10_000)]);
    const closed = new Promise<void>((resolve) => (cb.onclose = () => resolve()));
    assert.equal(ca.readyState, 'open');
    a.close();
    await closed;
    assert.equal(cb.readyState, 'closed');
  } finally {
    a.close();
    b.close();
  }
});

test('withheld candidates: no channel opens, and openChannel rejects on its timeout', async () => {
  const a = new WebRtcPeer({
    iceServers: [],
    withholdCandidates: true,
    onCandidate: () => assert.fail('withheld'),
  });
  const b = new WebRtcPeer({
    iceServers: [],
    withholdCandidates: true,
    onCandidate: () => assert.fail('withheld'),
  });
  try {
    const offer = await a.createOffer();
    assert.doesNotMatch(offer.sdp, /a=candidate:/);
    await a.acceptAnswer(await b.acceptOffer(offer));
    await assert.rejects(a.openChannel(1500), /no open data channel within 1500 ms|peer connection failed/);
  } finally {
    a.close();
    b.close();
  }
});

/**
 * A UDP relay between two peers that passes ICE (STUN) and the DTLS handshake but drops DTLS application
 * data — the records that carry SCTP (RFC 7983 demultiplexing: first byte 20–63 is DTLS; content type 23 is
 * application data). DTLS connects, SCTP never does: what a pion before v3.2.24 does to libdatachannel.
 * Each side's first IPv4 UDP candidate is rewritten to the relay socket that stands for it.
 */
async function createSctpBlackhole() {
  const sockets = { a: createSocket('udp4'), b: createSocket('udp4') };
  const real: { a?: { ip: string; port: number }; b?: { ip: string; port: number } } = {};
  const other = { a: 'b', b: 'a' } as const;
  for (const side of ['a', 'b'] as const) {
    const s: Socket = sockets[side];
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    // A packet reaching the socket that stands for `side` came from the other peer: pass it to `side`, from
    // the socket that stands for the other peer, so each sees the other at its rewritten candidate.
    s.on('message', (msg) => {
      const to = real[side];
      if (to === undefined || msg[0] === 23) return;
      sockets[other[side]].send(msg, to.port, to.ip);
    });
  }
  return {
    /** `side`'s candidate as the other peer must see it, or undefined to withhold it. */
    rewrite(side: 'a' | 'b', c: CandidateInit): CandidateInit | undefined {
      const f = c.candidate.split(' ');
      if (
        real[side] !== undefined ||
        f[2]?.toUpperCase() !== 'UDP' ||
        !/^\d+\.\d+\.\d+\.\d+$/.test(f[4] ?? '')
      )
        return undefined;
      real[side] = { ip: f[4] as string, port: Number(f[5]) };
      f[4] = '127.0.0.1';
      f[5] = String(sockets[side].address().port);
      return { ...c, candidate: f.join(' ') };
    },
    close() {
      sockets.a.close();
      sockets.b.close();
    },
  };
}

test('DTLS up and SCTP never: openChannel fails with SctpStallError once the stall time has passed, not at its connect timeout', async () => {
  const hole = await createSctpBlackhole();
  let b!: WebRtcPeer;
  const forward = (side: 'a' | 'b', to: () => WebRtcPeer) => (c: CandidateInit) => {
    const r = hole.rewrite(side, c);
    if (r !== undefined) void to().addRemoteCandidate(r);
  };
  const a = new WebRtcPeer({ iceServers: [], onCandidate: forward('a', () => b) });
  b = new WebRtcPeer({ iceServers: [], onCandidate: forward('b', () => a) });
  try {
    await a.acceptAnswer(await b.acceptOffer(await a.createOffer()));
    assert.equal(a.dtlsConnected, false, 'not before the handshake');
    for (let i = 0; i < 500 && !(a.dtlsConnected && b.dtlsConnected); i++) await sleep(20);
    assert.ok(a.dtlsConnected && b.dtlsConnected, 'DTLS connects through the relay');
    // A connect timeout that has passed (1 ms) does not end the wait once DTLS is up: the stall check does.
    const [ea, eb] = await Promise.all([
      a.openChannel(1, undefined, 1500).then(
        () => assert.fail('no channel can open'),
        (e: unknown) => e,
      ),
      b.openChannel(1, undefined, 1500).then(
        () => assert.fail('no channel can open'),
        (e: unknown) => e,
      ),
    ]);
    for (const e of [ea, eb]) {
      assert.ok(e instanceof SctpStallError, String(e));
      // Both ends are libdatachannel: the message does not blame pion.
      assert.equal(e.peerStack, 'libdatachannel');
      assert.match(
        e.message,
        /^DTLS connected but the data channel's SCTP association did not open within \d+\.\d s$/,
      );
      assert.ok(e.dtlsUpMs >= 1500);
    }
    assert.equal(a.dtlsConnected, true);
  } finally {
    a.close();
    b.close();
    hole.close();
  }
  assert.equal(a.dtlsConnected, false, 'closed');
});

test('the remote stack is read from the SDP origin line: libdatachannel’s, or another (pion’s)', () => {
  const ours = 'v=0\r\no=rtc 2937145683 0 IN IP4 127.0.0.1\r\ns=-\r\n';
  const pion = 'v=0\r\no=- 6317447069396337530 2 IN IP4 0.0.0.0\r\ns=-\r\n';
  assert.equal(peerStackOf(ours), 'libdatachannel');
  assert.equal(peerStackOf(ours.replaceAll('\r\n', '\n')), 'libdatachannel');
  assert.equal(peerStackOf(pion), 'other');
  assert.equal(peerStackOf('v=0\r\n'), 'other');
});

test('signaled descriptions and candidates are validated', () => {
  assert.throws(() => parseDescription('nope', 'offer'), /not JSON/);
  assert.throws(() => parseDescription('{"type":"answer","sdp":"v=0"}', 'offer'), /type is "answer"/);
  assert.throws(
    () => parseDescription('{"type":"offer","sdp":"hello"}', 'offer'),
    /sdp missing or not an SDP/,
  );
  assert.deepEqual(parseDescription('{"type":"offer","sdp":"v=0\\r\\n"}', 'offer'), {
    type: 'offer',
    sdp: 'v=0\r\n',
  });
  assert.throws(() => parseCandidate('[]'), /"candidate" must be a string/);
  assert.throws(() => parseCandidate('{"candidate":5}'), /"candidate" must be a string/);
  assert.deepEqual(
    parseCandidate(
      '{"candidate":"candidate:1 1 UDP 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}',
    ),
    {
      candidate: 'candidate:1 1 UDP 1 127.0.0.1 5000 typ host',
      sdpMid: '0',
      sdpMLineIndex: 0,
    },
  );
  // The `a=` of an SDP line is accepted and dropped (libdatachannel's own form; docs/api.md §2).
  assert.equal(
    parseCandidate('{"candidate":"a=candidate:1 1 UDP 1 127.0.0.1 5000 typ host","sdpMid":"0"}').candidate,
    'candidate:1 1 UDP 1 127.0.0.1 5000 typ host',
  );
  // The seed's pion ToJSON() shape, with usernameFragment null.
  assert.equal(
    parseCandidate('{"candidate":"c","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}').candidate,
    'c',
  );
});

describe('candidateTypeAndProto (the path of a selected pair)', () => {
  it('reads typ and transport from candidate lines, with or without a=', () => {
    assert.deepEqual(candidateTypeAndProto('candidate:1 1 UDP 2114977791 10.0.0.2 5000 typ host'), {
      type: 'host',
      proto: 'udp',
    });
    assert.deepEqual(
      candidateTypeAndProto(
        'a=candidate:3 1 UDP 1678769663 203.0.113.7 40000 typ srflx raddr 0.0.0.0 rport 0',
      ),
      { type: 'srflx', proto: 'udp' },
    );
    assert.deepEqual(
      candidateTypeAndProto('candidate:4 1 UDP 1047807 198.51.100.1 49177 typ relay raddr 0.0.0.0 rport 0'),
      {
        type: 'relay',
        proto: 'udp',
      },
    );
    assert.deepEqual(candidateTypeAndProto('candidate:5 1 TCP 1 10.0.0.2 9 typ prflx tcptype active'), {
      type: 'prflx',
      proto: 'tcp',
    });
    assert.equal(candidateTypeAndProto('candidate:1 1 SCTP 1 10.0.0.2 5000 typ host'), undefined);
    assert.equal(candidateTypeAndProto('candidate:1 1 UDP 1 10.0.0.2 5000 typ weird'), undefined);
    assert.equal(candidateTypeAndProto('garbage'), undefined);
  });
});
