/**
 * The seed's wire contract (`../shared/seeds/000_643836d90716d58b.txt`, DESIGN.md "Wire contract"): a
 * seed-shaped Type2 (receiver, initiator) and Type1 (sender, responder) make exactly the seed's HTTP calls —
 * same URLs, headers, JSON bodies (parameters as a JSON *string*, `file_size: 0`), same status
 * expectations (201 / 200) — through a whole offer / answer / candidate exchange against the real server
 * process, and every answer is decoded the way Go's `encoding/json` would decode it into the seed's
 * structs (a JSON number where Go declared a string is an error).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { postgresSkip, serverOnPostgres, startPostgres, type PostgresServer } from '../helpers/postgres.js';

type GoKind = 'string' | 'int';
/** type ICESession struct (seed). */
const ICE_SESSION: Record<string, GoKind> = {
  session_id: 'string',
  initiator_user_id: 'string',
  target_user_id: 'string',
  request_type: 'string',
  parameters: 'string',
  status: 'string',
};
/** type SignalResponse struct (seed). */
const SIGNAL_RESPONSE: Record<string, GoKind> = {
  id: 'int',
  session_id: 'string',
  signal_type: 'string',
  signal_data: 'string',
  from_client_id: 'string',
  to_client_id: 'string',
};

/**
 * Decodes like Go's json.Unmarshal into a struct: unknown fields are ignored, null leaves the zero value,
 * and a value of the wrong JSON type is an UnmarshalTypeError.
 */
function goDecode(v: unknown, spec: Record<string, GoKind>, where: string): Record<string, string | number> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new Error(`${where}: cannot unmarshal ${JSON.stringify(v)} into struct`);
  const o = v as Record<string, unknown>;
  const out: Record<string, string | number> = {};
  for (const [k, kind] of Object.entries(spec)) {
    const x = o[k];
    if (x === undefined || x === null) {
      out[k] = kind === 'string' ? '' : 0;
    } else if (kind === 'string') {
      if (typeof x !== 'string')
        throw new Error(
          `${where}.${k}: json: cannot unmarshal ${typeof x} into Go struct field of type string`,
        );
      out[k] = x;
    } else {
      if (typeof x !== 'number' || !Number.isInteger(x))
        throw new Error(`${where}.${k}: json: cannot unmarshal ${typeof x} into Go struct field of type int`);
      out[k] = x;
    }
  }
  return out;
}

function goDecodeArray(
  v: unknown,
  spec: Record<string, GoKind>,
  where: string,
): Array<Record<string, string | number>> {
  if (!Array.isArray(v)) throw new Error(`${where}: cannot unmarshal ${typeof v} into slice`);
  return v.map((x, i) => goDecode(x, spec, `${where}[${i}]`));
}

/** The seed's http.Client calls: exactly its headers and status checks. */
class SeedClient {
  constructor(
    readonly serverURL: string,
    readonly authToken: string,
  ) {}

  /** Type2.RequestFileTransfer */
  async requestFileTransfer(
    requestType: string,
    requestData: unknown,
  ): Promise<Record<string, string | number>> {
    const payload = {
      request_type: requestType,
      parameters: JSON.stringify(requestData),
      file_name: `${requestType}_data.npz`,
      file_size: 0,
      file_type: 'application/octet-stream',
    };
    const resp = await fetch(`${this.serverURL}/api/ice/initiate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.authToken}` },
      body: JSON.stringify(payload),
    });
    if (resp.status !== 201) throw new Error(`server returned status ${resp.status}: ${await resp.text()}`);
    return goDecode(await resp.json(), ICE_SESSION, 'ICESession');
  }

  /** Type1/Type2.sendSignal */
  async sendSignal(sessionID: string, signalType: string, signalData: string): Promise<number> {
    const resp = await fetch(`${this.serverURL}/api/ice/signal`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.authToken}` },
      body: JSON.stringify({ session_id: sessionID, signal_type: signalType, signal_data: signalData }),
    });
    await resp.arrayBuffer();
    return resp.status; // the seed only checks == http.StatusOK
  }

  /** Type2.getSignals (and Type1's answer / candidate loops) */
  async getSignals(sessionID: string, viaQuery = false): Promise<Array<Record<string, string | number>>> {
    const url = viaQuery
      ? `${this.serverURL}/api/ice/signals?session_id=${sessionID}`
      : `${this.serverURL}/api/ice/signals/${sessionID}`;
    const resp = await fetch(url, { headers: { Authorization: `Bearer ${this.authToken}` } });
    if (resp.status !== 200) throw new Error(`server returned status ${resp.status}`);
    return goDecodeArray(await resp.json(), SIGNAL_RESPONSE, '[]SignalResponse');
  }

  /** Type1.getActiveSessions */
  async getActiveSessions(): Promise<Array<Record<string, string | number>>> {
    const resp = await fetch(`${this.serverURL}/api/ice/sessions`, {
      headers: { Authorization: `Bearer ${this.authToken}` },
    });
    if (resp.status !== 200) throw new Error(`server returned status ${resp.status}`);
    return goDecodeArray(await resp.json(), ICE_SESSION, '[]ICESession');
  }
}

// What pion v3 marshals: webrtc.SessionDescription and ICECandidate.ToJSON() (ICECandidateInit).
const pionOffer = JSON.stringify({
  type: 'offer',
  sdp: 'v=0\r\no=- 8297283426582133457 1712345678 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 AB:CD\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=sctp-port:5000\r\na=ice-ufrag:abcd\r\na=ice-pwd:efghijklmnopqrstuvwxyz12\r\n',
});
const pionAnswer = JSON.stringify({
  type: 'answer',
  sdp: 'v=0\r\no=- 1 1712345679 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=setup:active\r\na=mid:0\r\na=sctp-port:5000\r\n',
});
const pionCandidate = (port: number) =>
  JSON.stringify({
    candidate: `candidate:1966762134 1 udp 2130706431 127.0.0.1 ${port} typ host`,
    sdpMid: '0',
    sdpMLineIndex: 0,
    usernameFragment: null,
  });

// The same cases on each database the server runs on: SQLite (the default), and a real PostgreSQL
for (const backend of ['sqlite', 'postgresql'] as const) {
  describe(
    `seed wire contract (Go Type1 / Type2 against the real server), ${backend}`,
    { skip: backend === 'postgresql' ? postgresSkip() : false },
    () => {
      let pg: PostgresServer | undefined;
      let srv: ServerProcess;
      let type1: SeedClient;
      let type1b: SeedClient;
      let type2: SeedClient;
      let ids: { t1: string; t2: string };

      before(async () => {
        if (backend === 'postgresql') pg = await startPostgres();
        srv = await startServerProcess(pg === undefined ? {} : await serverOnPostgres(pg));
        const t1 = await registerUser(srv.url, {
          username: 'type1-client-123',
          password: 'seed-password',
          client_type: 1,
        });
        const t1b = await registerUser(srv.url, {
          username: 'type1-client-124',
          password: 'seed-password',
          client_type: 1,
        });
        const t2 = await registerUser(srv.url, {
          username: 'type2-client-456',
          password: 'seed-password',
          client_type: 2,
        });
        type1 = new SeedClient(srv.url, t1.token);
        type1b = new SeedClient(srv.url, t1b.token);
        type2 = new SeedClient(srv.url, t2.token);
        ids = { t1: t1.user_id, t2: t2.user_id };
      });
      after(async () => {
        await srv?.stop();
        await pg?.stop();
      });

      it('runs the seed’s whole exchange with the seed’s JSON and status codes', async () => {
        // Type2: main() → RequestFileTransfer("spectrum", requestData)
        const requestData = { frequency_start: 100000000, frequency_end: 200000000, sample_rate: 1000000 };
        const session = await type2.requestFileTransfer('spectrum', requestData);
        assert.equal(session['initiator_user_id'], ids.t2);
        assert.equal(session['status'], 'pending');
        const sessionID = session['session_id'] as string;

        // Type1: ListenForRequests → getActiveSessions; both seed providers see the request
        const sessions = await type1.getActiveSessions();
        assert.deepEqual(
          sessions.map((s) => s['session_id']),
          [sessionID],
        );
        assert.equal((await type1b.getActiveSessions()).length, 1);
        const seen = sessions[0] ?? {};
        // handleRequest: json.Unmarshal([]byte(session.Parameters), &requestData) into map[string]interface{}
        assert.deepEqual(JSON.parse(seen['parameters'] as string), requestData);
        assert.equal(seen['request_type'], 'spectrum');

        // Type1: a candidate from OnICECandidate may overtake the offer; then sendSignal(offer)
        assert.equal(await type1.sendSignal(sessionID, 'candidate', pionCandidate(50001)), 200);
        assert.equal(await type1.sendSignal(sessionID, 'offer', pionOffer), 200);
        assert.equal(await type1.sendSignal(sessionID, 'candidate', pionCandidate(50002)), 200);
        // the session left every provider's list: the seed Type1 will not handle it again at its next poll
        assert.deepEqual(await type1.getActiveSessions(), []);
        assert.deepEqual(await type1b.getActiveSessions(), []);
        // a second seed provider that handled the same poll: its offer is refused (it is not 200, the seed logs it)
        assert.equal(await type1b.sendSignal(sessionID, 'offer', pionOffer), 409);

        // Type2: waitForOffer (polls getSignals, takes the first "offer")
        const forType2 = await type2.getSignals(sessionID);
        const offer = forType2.find((s) => s['signal_type'] === 'offer');
        assert.ok(offer, 'the offer is in the list');
        assert.deepEqual(JSON.parse(offer['signal_data'] as string), JSON.parse(pionOffer));
        assert.equal(offer['from_client_id'], ids.t1);
        assert.equal(offer['to_client_id'], ids.t2);
        assert.equal(offer['session_id'], sessionID);
        assert.ok(
          forType2.every((s) => s['from_client_id'] === ids.t1),
          'only the provider’s signals reach the consumer',
        );

        // Type2: sendSignal(answer), then its own candidates
        assert.equal(await type2.sendSignal(sessionID, 'answer', pionAnswer), 200);
        assert.equal(await type2.sendSignal(sessionID, 'candidate', pionCandidate(60001)), 200);

        // Type2: handleICECandidates (same list, keyed by data+from, candidates only)
        const processed = new Set<string>();
        for (const s of await type2.getSignals(sessionID)) {
          if (s['signal_type'] !== 'candidate') continue;
          const key = `${s['signal_data'] as string}-${s['from_client_id'] as string}`;
          if (processed.has(key)) continue;
          processed.add(key);
          const init = JSON.parse(s['signal_data'] as string) as {
            candidate: string;
            sdpMid: string;
            sdpMLineIndex: number;
          };
          assert.match(init.candidate, /^candidate:/);
          assert.equal(init.sdpMid, '0');
        }
        assert.equal(processed.size, 2);

        // Type1: waitForAnswer / handleICECandidates over the same call (and its ?session_id= form)
        for (const viaQuery of [false, true]) {
          const forType1 = await type1.getSignals(sessionID, viaQuery);
          assert.deepEqual(
            forType1.map((s) => s['signal_type']),
            ['answer', 'candidate'],
          );
          assert.deepEqual(JSON.parse(forType1[0]?.['signal_data'] as string), JSON.parse(pionAnswer));
          assert.ok(forType1.every((s) => s['to_client_id'] === ids.t1 && typeof s['id'] === 'number'));
        }

        // reading does not delete: the seed reads the same list from two loops
        assert.equal((await type2.getSignals(sessionID)).length, forType2.length);
      });

      it('keeps the seed’s shapes for its other answers: empty lists are [] and statuses are what it checks', async () => {
        const fresh = await type2.requestFileTransfer('signal', {
          duration: 0.5,
          frequency: 100000000,
          sample_rate: 1000000,
        });
        assert.equal(fresh['target_user_id'], '', 'an open session decodes into the seed’s string field');
        assert.deepEqual(await type2.getSignals(fresh['session_id'] as string), []);
        await assert.rejects(new SeedClient(srv.url, 'your-jwt-token').getActiveSessions(), /status 401/);
      });
    },
  );
}
