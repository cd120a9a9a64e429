/**
 * Peers shaped like the seed's Go Type1/Type2 (seeds/000: the same HTTP calls and JSON, polling, the plain
 * `file-metadata` + raw 16 KiB chunks, no checksum, no `capabilities`), written on node-datachannel's W3C
 * polyfill in the test process. The seed clients are Go on pion v3.3.5; Debian's pion (3.1.56) cannot
 * associate with libdatachannel (SCTP zero-checksum, DESIGN.md), so these stand in for them — and, with
 * `waitForClose`, for the Chromium / aiortc / node-datachannel senders written like the seed's Type1 that
 * keep the channel open until the receiver closes it.
 */
import nodeDataChannel from 'node-datachannel';
import { RTCPeerConnection } from 'node-datachannel/polyfill';
import { api } from './server.js';

export interface SeedSignal {
  id: number;
  signal_type: string;
  signal_data: string;
  from_client_id: string;
}
// The polyfill's types lean on DOM globals; this is the part the seed-shaped peers use.
interface Pc {
  onicecandidate: ((ev: { candidate: { toJSON(): Record<string, unknown> } | null }) => void) | null;
  ondatachannel: ((ev: { channel: Dc }) => void) | null;
  onconnectionstatechange: (() => void) | null;
  readonly connectionState: string;
  createDataChannel(label: string): Dc;
  createOffer(): Promise<{ type: string; sdp: string }>;
  createAnswer(): Promise<{ type: string; sdp: string }>;
  setLocalDescription(d: { type: string; sdp: string }): Promise<void>;
  setRemoteDescription(d: { type: string; sdp: string }): Promise<void>;
  addIceCandidate(c: unknown): Promise<void>;
  readonly localDescription: { type: string; sdp: string };
  close(): void;
}
/** The polyfill's data channel, as a hostile provider's `serve` script gets it. */
export interface Dc {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: string;
  onopen: (() => void) | null;
  onclose: (() => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(d: string | Uint8Array): void;
  close(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * How a test peer writes its candidates: `prefixed` as node-datachannel's polyfill hands them out
 * (`a=candidate:…`), `standard` as the W3C RTCIceCandidateInit has them (`candidate:…`, Chromium, aiortc).
 */
export type CandidateForm = 'prefixed' | 'standard';

function candidateInit(c: Record<string, unknown>, form: CandidateForm): Record<string, unknown> {
  const text = String(c['candidate']);
  const bare = text.startsWith('a=') ? text.slice(2) : text;
  return { ...c, candidate: form === 'standard' ? bare : `a=${bare}` };
}

/** Strips every candidate from an SDP (so that, with no trickled ones either, no direct path can form). */
function stripCandidates(sdp: string): string {
  return sdp
    .split(/\r?\n/)
    .filter((l) => !l.startsWith('a=candidate:') && !l.startsWith('a=end-of-candidates'))
    .join('\r\n');
}

interface PeerCommon {
  url: string;
  token: string;
  candidateForm?: CandidateForm;
  /** Sends no candidate and takes none: ICE cannot succeed. */
  withholdCandidates?: boolean;
  /** Gives up after this long (default 60 s). */
  deadlineMs?: number;
}

/** What a seed-shaped peer saw of the session's signals. */
export interface SeedPeerLog {
  /** Candidate strings the other side posted, as posted. */
  candidates: string[];
  /** `error` signals the other side posted (data parsed). */
  errors: Array<{ code: string; message: string }>;
}

async function listSignals(o: PeerCommon, sessionId: string): Promise<SeedSignal[]> {
  const r = await api(o.url, o.token, 'GET', `/api/ice/signals/${sessionId}`);
  if (r.status !== 200) throw new Error(`signals: HTTP ${r.status}`);
  return r.body as SeedSignal[];
}

/** Polls the session's signals once: new candidates are added (unless withheld), errors collected. */
async function pollSignals(
  o: PeerCommon,
  sessionId: string,
  pc: Pc,
  seen: Set<number>,
  log: SeedPeerLog,
): Promise<SeedSignal[]> {
  const all = await listSignals(o, sessionId);
  for (const s of all) {
    if (seen.has(s.id)) continue;
    seen.add(s.id);
    if (s.signal_type === 'error') log.errors.push(JSON.parse(s.signal_data) as SeedPeerLog['errors'][0]);
    if (s.signal_type !== 'candidate') continue;
    const c = JSON.parse(s.signal_data) as { candidate: string };
    log.candidates.push(c.candidate);
    if (o.withholdCandidates !== true) await pc.addIceCandidate(c);
  }
  return all;
}

export interface SeedConsumerRun extends SeedPeerLog {
  sessionId: string;
  /** Resolves once `size` bytes arrived (the seed's end), or an `error` signal came. Never closes. */
  done: Promise<{ file: Buffer; chunks: Buffer[]; texts: string[] } | { error: { code: string } }>;
  /** Polls until the other side posted at least one candidate; resolves with every one posted. */
  waitForCandidates(): Promise<string[]>;
  /** Closes the peer connection (the seed's Type2 never does: `select {}`). */
  close(): void;
}

/** A seed Type2: initiates without capabilities, answers the offer, takes raw chunks until `size`. */
export async function startSeedConsumer(
  o: PeerCommon & { params: Record<string, unknown> },
): Promise<SeedConsumerRun> {
  // RequestFileTransfer, exactly the seed's payload.
  const init = await api(o.url, o.token, 'POST', '/api/ice/initiate', {
    request_type: 'spectrum',
    parameters: JSON.stringify(o.params),
    file_name: 'spectrum_data.npz',
    file_size: 0,
    file_type: 'application/octet-stream',
  });
  if (init.status !== 201) throw new Error(`initiate: HTTP ${init.status}`);
  const sessionId = (init.body as { session_id: string }).session_id;
  const form = o.candidateForm ?? 'prefixed';
  const signal = (type: string, data: unknown) =>
    api(o.url, o.token, 'POST', '/api/ice/signal', {
      session_id: sessionId,
      signal_type: type,
      signal_data: JSON.stringify(data),
    });
  const pc = new RTCPeerConnection({ iceServers: [] } as never) as unknown as Pc;
  const log: SeedPeerLog = { candidates: [], errors: [] };
  const chunks: Buffer[] = [];
  const texts: string[] = [];
  let size = -1;
  let got = 0;
  let finished = false;
  let closed = false;
  const received = new Promise<{ file: Buffer; chunks: Buffer[]; texts: string[] }>((resolve) => {
    pc.ondatachannel = (ev) => {
      ev.channel.binaryType = 'arraybuffer';
      ev.channel.onmessage = (m) => {
        if (typeof m.data === 'string') {
          texts.push(m.data);
          const meta = JSON.parse(m.data) as { type?: string; size?: number };
          if (meta.type === 'file-metadata') size = meta.size as number;
          return;
        }
        const b = Buffer.from(m.data as ArrayBuffer);
        chunks.push(b);
        got += b.length;
        // handleFileData: "if bytesReceived >= currentFileSize" the file is complete.
        if (size >= 0 && got >= size) resolve({ file: Buffer.concat(chunks), chunks, texts });
      };
    };
  });
  pc.onicecandidate = (ev) => {
    if (ev.candidate !== null && o.withholdCandidates !== true)
      void signal('candidate', candidateInit(ev.candidate.toJSON(), form));
  };
  const run = async () => {
    const seen = new Set<number>();
    const deadline = Date.now() + (o.deadlineMs ?? 60_000);
    // waitForOffer: poll for an offer among the signals (the seed: every second; here 100 ms).
    let offer: SeedSignal | undefined;
    while (offer === undefined) {
      if (Date.now() > deadline || closed) throw new Error('seed consumer: no offer');
      const all = await listSignals(o, sessionId);
      offer = all.find((s) => s.signal_type === 'offer');
      const refusal = all.find((s) => s.signal_type === 'error');
      if (offer === undefined && refusal !== undefined) {
        log.errors.push(JSON.parse(refusal.signal_data) as SeedPeerLog['errors'][0]);
        return { error: log.errors[0] as { code: string } };
      }
      if (offer === undefined) await sleep(100);
    }
    await pc.setRemoteDescription(JSON.parse(offer.signal_data) as { type: string; sdp: string });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    const local = pc.localDescription;
    const sdp = o.withholdCandidates === true ? stripCandidates(local.sdp) : local.sdp;
    const a = await signal('answer', { type: local.type, sdp });
    if (a.status !== 200) throw new Error(`answer: HTTP ${a.status}`);
    // handleICECandidates: poll, add each candidate once; stop at the file's end or the peer's error.
    const doneFile = received.then((f) => {
      finished = true;
      return f;
    });
    while (!finished && log.errors.length === 0) {
      if (Date.now() > deadline || closed) throw new Error('seed consumer: no file');
      await pollSignals(o, sessionId, pc, seen, log);
      await Promise.race([doneFile, sleep(100)]);
    }
    if (finished) return doneFile;
    return { error: log.errors[0] as { code: string } };
  };
  return {
    sessionId,
    get candidates() {
      return log.candidates;
    },
    get errors() {
      return log.errors;
    },
    done: run().catch((err: unknown) => {
      pc.close();
      throw err;
    }),
    async waitForCandidates() {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const all = await listSignals(o, sessionId);
        const cands = all
          .filter((s) => s.signal_type === 'candidate')
          .map((s) => (JSON.parse(s.signal_data) as { candidate: string }).candidate);
        if (cands.length > 0 || Date.now() > deadline) return cands;
        await sleep(100);
      }
    },
    close: () => {
      closed = true;
      pc.close();
    },
  };
}

export interface SeedProviderRun extends SeedPeerLog {
  sessionId: string;
  /** When the last chunk left this side's buffer, and when the channel closed (`Date.now()`). */
  times: { lastByteAt: number; closedAt: number };
  /** Who closed first: the receiver (its close reached us), or this peer. */
  closedBy: 'receiver' | 'self' | undefined;
  close(): void;
}

/**
 * A seed Type1: takes the first session listed, claims it with a bare offer (no capabilities), sends
 * `file-metadata` and raw 16 KiB chunks once the channel opens. The seed closes its connection after the
 * last `Send` (`defer peerConnection.Close()`); with `waitForClose`, it instead waits, as browser-side
 * senders do, for the receiver to close.
 * Resolves when the transfer ended (or the other side posted `error`).
 */
export async function runSeedProvider(
  o: PeerCommon & {
    payload: Uint8Array;
    waitForClose?: boolean;
    /**
     * A hostile provider: once the channel is open, this script speaks instead of the seed's send loop
     * (the channel's `binaryType` is 'arraybuffer'); what follows (waiting for the close) is the same.
     */
    serve?: (dc: Dc) => Promise<void>;
  },
): Promise<SeedProviderRun> {
  const deadline = Date.now() + (o.deadlineMs ?? 60_000);
  const form = o.candidateForm ?? 'prefixed';
  // ListenForRequests: poll the session list; handleRequest for the session.
  let session: { session_id: string } | undefined;
  while (session === undefined) {
    if (Date.now() > deadline) throw new Error('seed provider: no session listed');
    const r = await api(o.url, o.token, 'GET', '/api/ice/sessions');
    session = (r.body as Array<{ session_id: string }>)[0];
    if (session === undefined) await sleep(100);
  }
  const sessionId = session.session_id;
  const signal = (type: string, data: unknown) =>
    api(o.url, o.token, 'POST', '/api/ice/signal', {
      session_id: sessionId,
      signal_type: type,
      signal_data: JSON.stringify(data),
    });
  const pc = new RTCPeerConnection({ iceServers: [] } as never) as unknown as Pc;
  const dc = pc.createDataChannel('file-transfer');
  const log: SeedPeerLog = { candidates: [], errors: [] };
  const out: SeedProviderRun = {
    sessionId,
    get candidates() {
      return log.candidates;
    },
    get errors() {
      return log.errors;
    },
    times: { lastByteAt: 0, closedAt: 0 },
    closedBy: undefined,
    close: () => pc.close(),
  };
  try {
    // Listen at once: the channel can open while later candidates are still being posted.
    let open = false;
    const opened = new Promise<void>((resolve) => (dc.onopen = () => resolve()));
    void opened.then(() => (open = true));
    const closed = new Promise<void>((resolve) => {
      dc.onclose = () => resolve();
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === 'closed' || pc.connectionState === 'failed') resolve();
      };
    });
    // Posted once the answer is in (see src/agents/channel/webrtc.ts on why that order matters).
    const local: Array<Record<string, unknown>> = [];
    pc.onicecandidate = (ev) => {
      if (ev.candidate !== null) local.push(candidateInit(ev.candidate.toJSON(), form));
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const sdp = o.withholdCandidates === true ? stripCandidates(offer.sdp) : offer.sdp;
    const posted = await signal('offer', { type: 'offer', sdp });
    if (posted.status !== 200) throw new Error(`offer: HTTP ${posted.status}`);
    const seen = new Set<number>();
    let answer: SeedSignal | undefined;
    while (answer === undefined) {
      if (Date.now() > deadline) throw new Error('seed provider: no answer');
      const all = await listSignals(o, sessionId);
      answer = all.find((s) => s.signal_type === 'answer');
      const refusal = all.find((s) => s.signal_type === 'error');
      if (answer === undefined && refusal !== undefined) {
        log.errors.push(JSON.parse(refusal.signal_data) as SeedPeerLog['errors'][0]);
        break;
      }
      if (answer === undefined) await sleep(100);
    }
    if (answer === undefined) return out;
    await pc.setRemoteDescription(JSON.parse(answer.signal_data) as { type: string; sdp: string });
    if (o.withholdCandidates !== true) for (const c of local) await signal('candidate', c);
    while (!open && log.errors.length === 0) {
      if (Date.now() > deadline) return out;
      await pollSignals(o, sessionId, pc, seen, log);
      await Promise.race([opened, sleep(100)]);
    }
    if (!open) return out;
    if (o.serve !== undefined) {
      dc.binaryType = 'arraybuffer';
      await o.serve(dc);
    } else {
      // sendFile: metadata, then 16 KiB chunks in a tight loop, nothing after.
      dc.send(
        JSON.stringify({ filename: 'spectrum_seed.npz', size: o.payload.length, type: 'file-metadata' }),
      );
      for (let i = 0; i < o.payload.length; i += 16384) dc.send(o.payload.subarray(i, i + 16384));
    }
    while (dc.readyState === 'open' && dc.bufferedAmount > 0) await sleep(5);
    out.times.lastByteAt = Date.now();
    let receiverClosed = false;
    void closed.then(() => (receiverClosed = true));
    if (o.waitForClose === true) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, deadline - Date.now())))]);
      clearTimeout(timer);
    }
    out.closedBy = receiverClosed ? 'receiver' : 'self';
    out.times.closedAt = Date.now();
    pc.close();
    return out;
  } finally {
    pc.close();
  }
}

/** Frees node-datachannel's threads once every test peer is closed. */
export function cleanupSeedPeers(): void {
  nodeDataChannel.cleanup();
}
