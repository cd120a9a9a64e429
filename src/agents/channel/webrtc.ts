/**
 * A WebRTC peer for one transfer, on node-datachannel's W3C polyfill (DESIGN.md: measured fastest here).
 *
 * Traps handled here (DESIGN.md "Known traps in the libraries"):
 * - node-datachannel aborts the whole process when a callback throws: every callback body is wrapped.
 * - Remote candidates may arrive before the remote description: they are queued until it is set.
 * - Candidates inside a remote SDP are dropped: every peer here trickles each candidate as a signal too,
 *   and libdatachannel now and then refused an answer carrying them ("Got a remote candidate without ICE
 *   transport", about 1 run in 5 of the mid-transfer relay test) — the trickled copies always work.
 * - The offerer holds its own candidates until it has set the answer. Otherwise the answerer, which gets
 *   them first, starts ICE checks before the answer reaches the offerer; libdatachannel then connects ICE
 *   and runs DTLS *while* still applying the answer, checks the peer's certificate against a remote
 *   fingerprint not stored yet, and fails the handshake ("DTLS alert: unknown CA"; ~1 connection in 10
 *   across processes on a loaded machine here).
 * - The extra second: ~25% of bare connections (and 11 of 20 in one benchmark run) took ~1 s more to open,
 *   when the DTLS client sent its first flight before the other side's ICE was connected — the flight was
 *   dropped and OpenSSL retransmitted after its 1 s timer. In a bare pair, making the *offerer* the DTLS
 *   client (the answerer reading `actpass` as `active`) cured it; but with the offerer holding its
 *   candidates as above, the order flips and that change *caused* it (5 of 10 requests at ~1 s, against
 *   0 of 10 without it, same run). So roles stay the default: the answerer is the DTLS client.
 * - The last 2%: even so, 2 of 100 requests still took ~1 s (bench, 2026-11-21). libdatachannel's log
 *   showed the answerer (DTLS client) reaching ICE-connected *first* — its own checks toward the
 *   offerer's just-released candidates succeeded before the offerer's ICE was connected — and its
 *   ClientHello lost. So the offerer now keeps holding its candidates after the answer is set, until its
 *   own checks (towards the answerer's candidates, which it has) connect ICE: the DTLS server is then up
 *   before the client can even start. Measured over 2 × 100 requests each way: 4 at ~1 s and a median of
 *   28–31 ms before; none and a median of 72–78 ms (p95 79–84 ms) after — the answerer, controlled, now
 *   connects on the offerer's nomination, which libjuice paces at ~50 ms. Where the offerer's checks
 *   cannot succeed alone (it is behind a NAT the answerer cannot reach unprompted), the candidates go out
 *   after {@link HOLD_CANDIDATES_MAX_MS}.
 * - The SCTP stall: libdatachannel announces RFC 9653 "zero checksum acceptable" (INIT parameter 32769)
 *   on every association — unconditionally: src/impl/sctptransport.cpp sets `SCTP_ACCEPT_ZERO_CHECKSUM`
 *   on each socket (libdatachannel 0.24.5, lines 278–286, the version node-datachannel 0.33.4 bundles;
 *   no Configuration field, no SctpSettings field, no environment variable turns it off, and the
 *   maintainer declined an option in PR #1015). pion/sctp before its 2024 fix (pion/webrtc < 3.2.24;
 *   Debian's 3.1.56) cannot parse that INIT ("unhandled ParamType 32769") and drops it without a word:
 *   ICE and DTLS succeed, SCTP never does, and the peer connection sits in `connecting` until usrsctp
 *   gives up (~30 s). So {@link WebRtcPeer.openChannel} watches for it — DTLS up (the peer's certificate
 *   was checked: `remoteFingerprint()` is set only then) and no open channel {@link SCTP_STALL_MS}
 *   later — and fails with {@link SctpStallError}, naming the cause and the fix.
 */
import nodeDataChannel from 'node-datachannel';
import { RTCPeerConnection } from 'node-datachannel/polyfill';
import type { Channel } from '../../protocol/channel.js';
import type { IceServerConfig } from '../signaling-client.js';

export const DATA_CHANNEL_LABEL = 'file-transfer';

/**
 * After setting the answer, how long the offerer keeps holding its own candidates while its ICE checks
 * have not connected yet (module comment). On loopback and LANs they connect within a few ms.
 */
export const HOLD_CANDIDATES_MAX_MS = 250;

/**
 * How long SCTP may take to open the channel once DTLS is up before the association counts as stalled
 * (module comment). usrsctp sends its INIT at once and again after 1 s and 3 s (initial RTO 1 s,
 * doubling), so a healthy peer whose first INITs were lost still gets two retries inside this.
 */
export const SCTP_STALL_MS = 4000;

/**
 * DTLS connected, but the SCTP association carrying the data channel never came up
 * ({@link SCTP_STALL_MS}; module comment). `peerStack` says whose SDP the peer sent: `libdatachannel`
 * (ours, whose SCTP accepts our INIT, so the cause is elsewhere) or `other` (e.g. pion).
 */
export class SctpStallError extends Error {
  override name = 'SctpStallError';
  constructor(
    message: string,
    readonly peerStack: PeerStack,
    /** How long DTLS had been up when the wait ended. */
    readonly dtlsUpMs: number,
  ) {
    super(message);
  }
}

/** No data channel opened (nor DTLS came up) within the time {@link WebRtcPeer.openChannel} was given. */
export class OpenTimeoutError extends Error {
  override name = 'OpenTimeoutError';
}

/** Which WebRTC stack wrote the remote description, as far as its origin line tells. */
export type PeerStack = 'libdatachannel' | 'other';

/** libdatachannel writes `o=rtc <session-id> 0 IN IP4 127.0.0.1` (src/description.cpp). */
export function peerStackOf(sdp: string): PeerStack {
  return /^o=rtc \d+ 0 IN IP4 127\.0\.0\.1\r?$/m.test(sdp) ? 'libdatachannel' : 'other';
}

/** How long after the connection closed the library may still deliver the channel's own close event. */
const CLOSE_GRACE_MS = 50;

// libdatachannel's own log, for diagnosing connections: SDRLINK_WEBRTC_LOG=Debug|Info|Warning|Error.
const nativeLogLevel = process.env['SDRLINK_WEBRTC_LOG'];
if (nativeLogLevel !== undefined && nativeLogLevel !== '') {
  nodeDataChannel.initLogger(
    nativeLogLevel as Parameters<typeof nodeDataChannel.initLogger>[0],
    (level, message) => {
      process.stderr.write(`${new Date().toISOString().slice(11, 23)} libdatachannel ${level}: ${message}\n`);
    },
  );
}

export interface SessionDescriptionInit {
  type: 'offer' | 'answer';
  sdp: string;
}

export interface CandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

export interface WebRtcPeerOptions {
  iceServers: IceServerConfig[];
  /** Called with each local ICE candidate, to be signaled to the other side. */
  onCandidate(candidate: CandidateInit): void;
  /** Called on connection-state changes ('connected', 'failed', …). */
  onStateChange?(state: string): void;
  /** Called when something inside a library callback went wrong (it must not throw out of it). */
  onError?(err: unknown): void;
  /** Test fault: withhold all candidates both ways, so ICE cannot succeed (docs: relay fallback tests). */
  withholdCandidates?: boolean;
}

// The polyfill's types lean on DOM globals this Node build doesn't declare; this is the part we use.
interface PolyfillDataChannel extends Channel {
  binaryType: string;
  readonly label: string;
  addEventListener(type: 'close', listener: () => void): void;
  dispatchEvent(ev: Event): boolean;
}
interface PolyfillPeerConnection {
  onicecandidate: ((ev: { candidate: { candidate: string; sdpMid: string | null } | null }) => void) | null;
  onconnectionstatechange: (() => void) | null;
  oniceconnectionstatechange: (() => void) | null;
  ondatachannel: ((ev: { channel: PolyfillDataChannel }) => void) | null;
  readonly connectionState: string;
  readonly iceConnectionState: string;
  readonly localDescription: { type: string; sdp: string } | null;
  createDataChannel(label: string, init?: { ordered?: boolean }): PolyfillDataChannel;
  createOffer(): Promise<{ type: string; sdp: string }>;
  createAnswer(): Promise<{ type: string; sdp: string }>;
  setLocalDescription(d: { type: string; sdp: string }): Promise<void>;
  setRemoteDescription(d: { type: string; sdp: string }): Promise<void>;
  addIceCandidate(c: CandidateInit): Promise<void>;
  close(): void;
}

/** Validates a signaled session description (untrusted input). */
export function parseDescription(data: string, expected: 'offer' | 'answer'): SessionDescriptionInit {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    throw new Error(`${expected}: signal_data is not JSON`);
  }
  const d = v as Record<string, unknown> | null;
  if (typeof d !== 'object' || d === null) throw new Error(`${expected}: signal_data is not an object`);
  if (d['type'] !== expected) throw new Error(`${expected}: type is ${JSON.stringify(d['type'])}`);
  if (typeof d['sdp'] !== 'string' || !d['sdp'].startsWith('v=0')) {
    throw new Error(`${expected}: sdp missing or not an SDP`);
  }
  return { type: expected, sdp: d['sdp'] };
}

/** Validates a signaled ICE candidate (an RTCIceCandidateInit as JSON, untrusted input). */
export function parseCandidate(data: string): CandidateInit {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    throw new Error('candidate: signal_data is not JSON');
  }
  const c = v as Record<string, unknown> | null;
  if (typeof c !== 'object' || c === null) throw new Error('candidate: not an object');
  if (typeof c['candidate'] !== 'string') throw new Error('candidate: "candidate" must be a string');
  const out: CandidateInit = { candidate: standardCandidate(c['candidate']) };
  const mid = c['sdpMid'];
  if (typeof mid === 'string') out.sdpMid = mid;
  const idx = c['sdpMLineIndex'];
  if (typeof idx === 'number' && Number.isInteger(idx) && idx >= 0) out.sdpMLineIndex = idx;
  if (out.sdpMid === undefined && out.sdpMLineIndex === undefined) out.sdpMid = '0';
  return out;
}

/**
 * A candidate as the W3C `RTCIceCandidateInit.candidate` has it (RFC 8839 §5.1 `candidate-attribute`
 * without the SDP line's `a=`): libdatachannel hands its own out as `a=candidate:…`, and seed-shaped peers
 * on it send that form too; both are accepted, the standard one is sent.
 */
export function standardCandidate(candidate: string): string {
  return candidate.startsWith('a=') ? candidate.slice(2) : candidate;
}

/** `typ` and transport of a candidate line (RFC 8839 §5.1): `candidate:1 1 UDP 2114977791 10.0.0.2 5000 typ host`. */
export function candidateTypeAndProto(
  candidate: string,
): { type: 'host' | 'srflx' | 'prflx' | 'relay'; proto: 'udp' | 'tcp' } | undefined {
  const m = /^(?:a=)?candidate:\S+ \d+ (\S+) \d+ \S+ \d+ typ (host|srflx|prflx|relay)(?: |$)/i.exec(
    candidate,
  );
  if (m === null) return undefined;
  const proto = (m[1] as string).toLowerCase();
  if (proto !== 'udp' && proto !== 'tcp') return undefined;
  return { type: (m[2] as string).toLowerCase() as 'host' | 'srflx' | 'prflx' | 'relay', proto };
}

function stripCandidates(sdp: string): string {
  return sdp
    .split(/\r?\n/)
    .filter((l) => !l.startsWith('a=candidate:') && !l.startsWith('a=end-of-candidates'))
    .join('\r\n');
}

/**
 * One peer connection with the `file-transfer` data channel. The provider is the offerer and creates the
 * channel; the consumer answers and receives it.
 */
export class WebRtcPeer {
  readonly #pc: PolyfillPeerConnection;
  readonly #native: nodeDataChannel.PeerConnection;
  readonly #opts: WebRtcPeerOptions;
  /** Whose stack wrote the remote description (set with it). */
  #peerStack: PeerStack = 'other';
  #remoteSet = false;
  #queued: CandidateInit[] = [];
  #channel: PolyfillDataChannel | undefined;
  #channelWaiters: Array<(c: PolyfillDataChannel) => void> = [];
  #closed = false;
  /** The offerer's own candidates, held until the answer is set and ICE is connected (module comment). */
  #holdLocal: CandidateInit[] | undefined;
  #holdTimer: NodeJS.Timeout | undefined;
  /** The channel as node-datachannel's polyfill made it (an EventTarget). */
  #raw: PolyfillDataChannel | undefined;
  /** Its `close` event was dispatched (by the library or by {@link #ensureChannelClose}). */
  #channelClosed = false;

  constructor(opts: WebRtcPeerOptions) {
    this.#opts = opts;
    const iceServers = opts.iceServers.map((s) => {
      const o: { urls: string | string[]; username?: string; credential?: string } = { urls: s.urls };
      if (s.username !== undefined) o.username = s.username;
      if (s.credential !== undefined) o.credential = s.credential;
      return o;
    });
    // The native connection is made here and handed to the polyfill, for what the W3C API lacks:
    // whether DTLS is up (the SCTP stall, module comment).
    this.#native = new nodeDataChannel.PeerConnection(`sdrlink-${Math.random().toString(36).slice(2, 9)}`, {
      iceServers: toNativeIceServers(iceServers),
    });
    this.#pc = new RTCPeerConnection({
      iceServers,
      peerConnection: this.#native,
    } as never) as unknown as PolyfillPeerConnection;
    this.#pc.onicecandidate = (ev) =>
      this.#guard(() => {
        if (ev.candidate === null || ev.candidate.candidate === '' || opts.withholdCandidates === true)
          return;
        const c: CandidateInit = {
          candidate: standardCandidate(ev.candidate.candidate),
          sdpMid: ev.candidate.sdpMid ?? '0',
          sdpMLineIndex: 0,
        };
        if (this.#holdLocal !== undefined) this.#holdLocal.push(c);
        else opts.onCandidate(c);
      });
    this.#pc.onconnectionstatechange = () =>
      this.#guard(() => {
        const state = this.#pc.connectionState;
        // libdatachannel closes the connection on each of these (ICE, DTLS or SCTP down:
        // PeerConnection::remoteClose), unlike a browser, where `disconnected` may recover.
        if (state === 'closed' || state === 'failed' || state === 'disconnected') this.#ensureChannelClose();
        opts.onStateChange?.(state);
      });
    this.#pc.oniceconnectionstatechange = () =>
      this.#guard(() => {
        const st = this.#pc.iceConnectionState;
        // Only once the answer is set (the timer runs): before that, the hold guards the fingerprint.
        if ((st === 'connected' || st === 'completed') && this.#holdTimer !== undefined) this.#releaseHeld();
      });
    this.#pc.ondatachannel = (ev) =>
      this.#guard(() => {
        if (ev.channel.label !== DATA_CHANNEL_LABEL) return;
        this.#adopt(ev.channel);
      });
  }

  #guard(fn: () => void) {
    try {
      fn();
    } catch (err) {
      try {
        this.#opts.onError?.(err);
      } catch {
        // never let anything escape into the native callback
      }
    }
  }

  /**
   * The connection is gone: make sure the channel's `close` event reaches its handlers. node-datachannel
   * now and then drops a channel's close when the peer connection closes with it (seen on both sides of
   * the mid-transfer relay test: the consumer's connection logged "SCTP disconnected … closed", yet the
   * receiver waited for its idle timeout), and the protocol would then wait for that timeout (30 s).
   */
  #ensureChannelClose(): void {
    const raw = this.#raw;
    if (raw === undefined || this.#channelClosed) return;
    setTimeout(() => {
      if (this.#channelClosed) return;
      this.#channelClosed = true;
      this.#guard(() => raw.dispatchEvent(new Event('close')));
    }, CLOSE_GRACE_MS);
  }

  #adopt(raw: PolyfillDataChannel) {
    raw.binaryType = 'arraybuffer';
    this.#raw = raw;
    raw.addEventListener('close', () => {
      this.#channelClosed = true;
    });
    const ch = guardClosedChannel(raw);
    this.#channel = ch;
    const waiters = this.#channelWaiters;
    this.#channelWaiters = [];
    for (const w of waiters) w(ch);
  }

  get connectionState(): string {
    return this.#pc.connectionState;
  }

  /**
   * DTLS is up: libdatachannel stores the peer's certificate fingerprint while it checks it during the
   * handshake, and nowhere else (`PeerConnection::checkFingerprint`), so a non-empty one means the
   * handshake reached the peer's certificate; a bad one fails the connection at once.
   */
  get dtlsConnected(): boolean {
    try {
      const fp = this.#native.remoteFingerprint() as { value?: unknown } | number | undefined;
      return typeof fp === 'object' && typeof fp.value === 'string' && fp.value !== '';
    } catch {
      return false; // destroyed
    }
  }

  /** ICE state as the W3C API reports it ('new', 'checking', 'connected', …; libdatachannel's 'completed' reads 'connected'). */
  get iceConnectionState(): string {
    return this.#pc.iceConnectionState;
  }

  /** Offerer: creates the data channel and the offer (already set as local description). */
  async createOffer(): Promise<SessionDescriptionInit> {
    this.#holdLocal = [];
    this.#adopt(this.#pc.createDataChannel(DATA_CHANNEL_LABEL, { ordered: true }));
    const offer = await this.#pc.createOffer();
    await this.#pc.setLocalDescription(offer);
    const sdp = this.#opts.withholdCandidates === true ? stripCandidates(offer.sdp) : offer.sdp;
    return { type: 'offer', sdp };
  }

  /** Answerer: takes the offer, returns the answer (already set as local description). */
  async acceptOffer(offer: SessionDescriptionInit): Promise<SessionDescriptionInit> {
    const sdp = stripCandidates(offer.sdp);
    this.#peerStack = peerStackOf(sdp);
    await this.#pc.setRemoteDescription({ type: 'offer', sdp });
    await this.#flushCandidates();
    const answer = await this.#pc.createAnswer();
    await this.#pc.setLocalDescription(answer);
    const local = this.#pc.localDescription ?? answer;
    const out = this.#opts.withholdCandidates === true ? stripCandidates(local.sdp) : local.sdp;
    return { type: 'answer', sdp: out };
  }

  /** Offerer: takes the answer. */
  async acceptAnswer(answer: SessionDescriptionInit): Promise<void> {
    this.#peerStack = peerStackOf(answer.sdp);
    await this.#pc.setRemoteDescription({ type: 'answer', sdp: stripCandidates(answer.sdp) });
    await this.#flushCandidates();
    // Our candidates go out once our own checks have connected ICE (see the module comment), or after
    // HOLD_CANDIDATES_MAX_MS when they cannot (e.g. only the consumer can reach us).
    const st = this.#pc.iceConnectionState;
    if (st === 'connected' || st === 'completed') this.#releaseHeld();
    else this.#holdTimer = setTimeout(() => this.#releaseHeld(), HOLD_CANDIDATES_MAX_MS);
  }

  #releaseHeld(): void {
    this.#guard(() => {
      if (this.#holdTimer !== undefined) clearTimeout(this.#holdTimer);
      this.#holdTimer = undefined;
      const held = this.#holdLocal;
      if (held === undefined) return;
      this.#holdLocal = undefined;
      if (!this.#closed) for (const c of held) this.#opts.onCandidate(c);
    });
  }

  /** Adds a remote candidate, or queues it until the remote description is set. */
  async addRemoteCandidate(c: CandidateInit): Promise<void> {
    if (this.#opts.withholdCandidates === true || this.#closed) return;
    if (!this.#remoteSet) {
      this.#queued.push(c);
      return;
    }
    await this.#pc.addIceCandidate(c);
  }

  async #flushCandidates() {
    this.#remoteSet = true;
    const q = this.#queued;
    this.#queued = [];
    for (const c of q) {
      try {
        await this.#pc.addIceCandidate(c);
      } catch (err) {
        this.#opts.onError?.(err);
      }
    }
  }

  /**
   * Resolves with the data channel once it is open; rejects on timeout, on a failed connection, when
   * `signal` aborts, or with {@link SctpStallError} when DTLS is up and the channel still has not opened
   * `stallMs` later. Once DTLS is up, the stall check replaces `timeoutMs` (the path works; SCTP gets its
   * full `stallMs`), so the wait may last up to `timeoutMs + stallMs`.
   */
  openChannel(
    timeoutMs: number,
    signal?: AbortSignal,
    stallMs = SCTP_STALL_MS,
    /** When ICE is connected at `timeoutMs` (DTLS still on its way), wait this much longer for DTLS. */
    iceGraceMs = 0,
  ): Promise<Channel> {
    return new Promise<Channel>((resolve, reject) => {
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      let poll: NodeJS.Timeout | undefined;
      let dtlsUpAt: number | undefined;
      const finish = (err: Error | undefined, ch?: Channel) => {
        if (done) return;
        done = true;
        if (timer !== undefined) clearTimeout(timer);
        if (poll !== undefined) clearInterval(poll);
        signal?.removeEventListener('abort', onAbort);
        if (err !== undefined) reject(err);
        else resolve(ch as Channel);
      };
      const onAbort = () => finish(new Error('aborted while connecting'));
      signal?.addEventListener('abort', onAbort);
      const expire = (graceMs: number, afterMs: number) => {
        // DTLS up: the path works, and the stall check below decides.
        if (dtlsUpAt !== undefined || this.dtlsConnected) return;
        const ice = this.#pc.iceConnectionState;
        if (graceMs > 0 && (ice === 'connected' || ice === 'completed')) {
          timer = setTimeout(() => expire(0, afterMs + graceMs), graceMs);
          return;
        }
        finish(new OpenTimeoutError(`no open data channel within ${afterMs} ms`));
      };
      timer = setTimeout(() => expire(iceGraceMs, timeoutMs), timeoutMs);
      const watch = (ch: PolyfillDataChannel) => {
        if (ch.readyState === 'open') return finish(undefined, ch);
        const prevOpen = ch.onopen;
        ch.onopen = () => {
          ch.onopen = prevOpen;
          this.#guard(() => finish(undefined, ch));
        };
      };
      if (this.#channel !== undefined) watch(this.#channel);
      else this.#channelWaiters.push(watch);
      // Connection failure is not always followed by a channel event: watch the state too.
      poll = setInterval(() => {
        const s = this.#pc.connectionState;
        if (s === 'failed' || s === 'closed') return finish(new Error(`peer connection ${s}`));
        if (dtlsUpAt === undefined) {
          if (!this.dtlsConnected) return;
          dtlsUpAt = Date.now();
        }
        const upMs = Date.now() - dtlsUpAt;
        if (upMs >= stallMs) finish(this.#stallError(upMs));
      }, 100);
    });
  }

  #stallError(upMs: number): SctpStallError {
    const seconds = (upMs / 1000).toFixed(1);
    if (this.#peerStack === 'libdatachannel') {
      return new SctpStallError(
        `DTLS connected but the data channel's SCTP association did not open within ${seconds} s`,
        'libdatachannel',
        upMs,
      );
    }
    return new SctpStallError(
      `DTLS connected but the peer never completed the data channel's SCTP association (${seconds} s): ` +
        'a peer on pion/webrtc older than v3.2.24 (e.g. Debian’s 3.1.56) drops the SCTP INIT of libdatachannel, ' +
        'which carries the RFC 9653 zero-checksum parameter (type 32769) that sdrlink cannot turn off; ' +
        'upgrade the peer to pion/webrtc ≥ v3.2.24 (the seed pins v3.3.5)',
      'other',
      upMs,
    );
  }

  /**
   * The selected candidate pair as `<local>-<remote>/<proto>` (`host-host/udp`, `relay-srflx/udp`,
   * docs/api.md §3 `path`), or undefined while none is selected or when it is of another form.
   */
  candidatePath(): string | undefined {
    let pair: ReturnType<nodeDataChannel.PeerConnection['getSelectedCandidatePair']>;
    try {
      pair = this.#native.getSelectedCandidatePair();
    } catch {
      return undefined; // closed
    }
    if (pair === null) return undefined;
    // The candidate lines first (their `typ` is the standard name, as seen in the network lab), then
    // the pair's own type fields.
    const lc = candidateTypeAndProto(pair.local.candidate);
    const rc = candidateTypeAndProto(pair.remote.candidate);
    if (lc !== undefined && rc !== undefined) return `${lc.type}-${rc.type}/${lc.proto}`;
    const type = (t: string) => (/^(host|srflx|prflx|relay)$/.test(t) ? t : undefined);
    const proto = /^(udp|tcp)/i.exec(pair.local.transportType)?.[1]?.toLowerCase();
    const [l, r] = [type(pair.local.type), type(pair.remote.type)];
    return l && r && proto ? `${l}-${r}/${proto}` : undefined;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#holdTimer !== undefined) clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    try {
      this.#channel?.close();
    } catch {
      // already closed
    }
    try {
      this.#pc.close();
    } catch {
      // already closed
    }
  }
}

/**
 * The native API's ICE servers. STUN URLs go as strings; a TURN server with credentials goes as an object
 * (`{hostname, port, username, password, relayType}`), because the string form the polyfill builds
 * (`turn:USER:PASS@host:port`) breaks on the TURN REST username `EXPIRY:USERID`, whose `:` libdatachannel
 * would read as the end of the user name.
 */
export function toNativeIceServers(
  servers: Array<{ urls: string | string[]; username?: string; credential?: string }>,
): Array<string | nodeDataChannel.IceServer> {
  return servers.flatMap((s) =>
    (Array.isArray(s.urls) ? s.urls : [s.urls]).flatMap((url): Array<string | nodeDataChannel.IceServer> => {
      if (s.username === undefined || s.credential === undefined || s.username === '' || s.credential === '')
        return [url];
      const turn = /^turn:(\[[0-9A-Fa-f:.]+\]|[^:?[\]]+)(?::(\d+))?(?:\?transport=([a-z]+))?$/i.exec(url);
      if (turn === null) {
        // turns: and TURN over TCP are not supported by libjuice (docs/api.md §4): skipped, not misread.
        return [];
      }
      if (turn[3] !== undefined && turn[3].toLowerCase() !== 'udp') return [];
      const hostname = (turn[1] as string).replace(/^\[(.*)\]$/, '$1');
      return [
        {
          hostname,
          port: turn[2] === undefined ? 3478 : Number(turn[2]),
          username: s.username,
          password: s.credential,
          relayType: 'TurnUdp',
        },
      ];
    }),
  );
}

/**
 * node-datachannel throws from plain property access once a channel is destroyed ("…called on destroyed
 * channel"). The protocol reads `bufferedAmount` and sets the threshold while it winds down; after close,
 * these read as an empty buffer and a no-op instead, and `send` throws an ordinary Error.
 */
function guardClosedChannel(ch: PolyfillDataChannel): PolyfillDataChannel {
  return new Proxy(ch, {
    get(target, prop) {
      if (prop === 'bufferedAmount') {
        try {
          return target.bufferedAmount;
        } catch {
          return 0;
        }
      }
      if (prop === 'readyState') {
        try {
          return target.readyState;
        } catch {
          return 'closed';
        }
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
    set(target, prop, value) {
      try {
        return Reflect.set(target, prop, value, target);
      } catch {
        return true;
      }
    },
  });
}

/** Frees node-datachannel's native threads so the process can exit; call once when all peers are closed. */
export function cleanupWebRtc(): void {
  nodeDataChannel.cleanup();
}
