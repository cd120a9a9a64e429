import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import {
  cleanupWebRtc,
  HOLD_CANDIDATES_MAX_MS,
  parseCandidate,
  parseDescription,
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
