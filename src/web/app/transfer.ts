/**
 * One request in the page, what src/agents/consumer.ts does for the CLI, in the browser's own WebRTC stack
 * (libwebrtc) and speaking sdrlink/1 through src/protocol (`receiveFile`, the agents' code, bundled):
 *
 * 1. `POST /api/ice/initiate` (capabilities `sdrlink/1`, `relay`, and `relay-only` for the relay);
 * 2. the provider's offer (push channel) → `RTCPeerConnection` answer, ICE candidates trickled both ways;
 * 3. the provider's data channel opens — or, when none does within the server's `relay_after_ms`, both
 *    sides meet at the WebSocket relay (docs/api.md §6);
 * 4. `connected` reported, the file received: CRC-32 per frame, SHA-256 of the whole (incremental, the
 *    protocol's pure implementation), kept in memory (or resumed from a kept prefix, resume.ts);
 * 5. `completed` (or `failed` with the code) reported, as the agent reports it.
 *
 * Nothing of a file that failed a check is handed out: the protocol refuses it (ERR_FRAME_CRC,
 * ERR_HASH_MISMATCH, ERR_FILENAME…) and the target drops what it held.
 */
import { receiveFile, type ReceiveTarget } from '../../protocol/receiver.js';
import { crc32 } from '../../protocol/crc32.js';
import { createSha256 } from '../../protocol/hashing.js';
import { TransferError } from '../../protocol/errors.js';
import type { Channel } from '../../protocol/channel.js';
import {
  CandidateData,
  OfferData,
  ProgressSignalData,
  createChecker,
  type IceServerWire,
  type SignalWire,
} from '../../wire/index.js';
import { ApiError, type Api } from './api.js';
import type { PushClient } from './push.js';
import { RelayError, openRelay } from './relay.js';

export type TransportChoice = 'auto' | 'p2p' | 'relay';

/**
 * How long the page waits at the relay for a provider after the direct channel died midway: the provider
 * may notice only at its own idle timeout (30 s); as the agents (src/agents/transport.ts).
 */
export const FAILOVER_RELAY_WAIT_MS = 45_000;

/** The largest file the page takes: it holds the file in memory until it is saved (README "In a browser"). */
export const MAX_BROWSER_FILE_BYTES = 1024 * 1024 * 1024;

export interface TransferRequest {
  type: string;
  params: Record<string, unknown>;
  /** A provider's user name; any able provider when absent. */
  provider?: string;
  transport: TransportChoice;
  signal?: AbortSignal;
  onStatus?(text: string): void;
  onProgress?(p: { received: number; total: number; startOffset: number; transport: 'p2p' | 'relay' }): void;
  /** Where the bytes go (default: memory); resume.ts keeps a verified prefix across reloads. */
  openTarget?(meta: { filename: string; size: number; sha256?: string }): Promise<BrowserTarget>;
}

/** A receive target that can hand out the verified file. */
export interface BrowserTarget extends ReceiveTarget {
  /** The committed file (after `commit`). */
  blob(): Blob;
}

export interface TransferResult {
  sessionId: string;
  fileName: string;
  file: Blob;
  size: number;
  sha256: string;
  verified: boolean;
  transport: 'p2p' | 'relay';
  /** docs/api.md §3 `path`: `host-host/udp`…, or `ws-relay`. */
  path: string | undefined;
  /** The same in words: `direct`, `TURN`, `WebSocket relay`. */
  route: string;
  /** Why the relay carried it, when it was a fallback. */
  fallback?: string;
  durationMs: number;
  firstByteMs: number;
  /** Bytes per second from the first byte to the verified file. */
  rate: number;
  bytesReceived: number;
  resumedFrom: number;
}

/** A failure with a stable code, as the page shows it. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const offerCheck = createChecker(OfferData);
const candidateCheck = createChecker(CandidateData);
const progressCheck = createChecker(ProgressSignalData);

/** How long the page waits for a provider's offer with no word from it (the agent's `--wait` default). */
const OFFER_WAIT_MS = 60_000;

/** Holds the file in memory (copies each batch: the protocol reuses its buffers). */
export function memoryTarget(): BrowserTarget {
  let parts: Uint8Array[] = [];
  let file: Blob | undefined;
  return {
    prefixLength: 0,
    hash: createSha256(),
    write(_offset, data) {
      parts.push(data.slice());
      return Promise.resolve();
    },
    truncate() {
      parts = [];
      return Promise.resolve();
    },
    commit() {
      file = new Blob(parts as BlobPart[]);
      parts = [];
      return Promise.resolve('memory');
    },
    abort() {
      parts = [];
      return Promise.resolve();
    },
    blob() {
      if (file === undefined) throw new Error('no committed file');
      return file;
    },
  };
}

/** Codes for which the provider, not this page, is at fault (the agent's list, src/agents/consumer.ts). */
const PROVIDER_FAULTS = new Set([
  'ERR_CHANNEL_CLOSED',
  'ERR_TIMEOUT',
  'ERR_PEER_GONE',
  'ERR_PEER',
  'ERR_HASH_MISMATCH',
  'ERR_SIZE_MISMATCH',
  'ERR_UNVERIFIED',
  'ERR_FILENAME',
]);
const providerAtFault = (code: string) => PROVIDER_FAULTS.has(code) || /^ERR_FRAME_[A-Z]+$/.test(code);

/** Session statuses after which nothing more comes. */
const FINAL = new Set(['failed', 'cancelled', 'expired', 'completed']);

/** Runs one request to a verified file (or a {@link RequestError}). */
export async function runRequest(api: Api, push: PushClient, req: TransferRequest): Promise<TransferResult> {
  const started = performance.now();
  const status = req.onStatus ?? (() => undefined);
  const token = api.token;
  if (token === undefined) throw new RequestError('ERR_AUTH', 'sign in first');
  if (!push.open) throw new RequestError('ERR_PUSH_CLOSED', 'the push channel is closed: sign in again');
  const config = await api.iceConfig();
  const connectMs = config.relay_after_ms > 0 ? config.relay_after_ms : 5000;
  const capabilities = ['sdrlink/1', 'relay', ...(req.transport === 'relay' ? ['relay-only'] : [])];
  const session = await api.initiate({
    request_type: req.type,
    parameters: JSON.stringify(req.params),
    capabilities,
    ...(req.provider !== undefined ? { target: req.provider } : {}),
  });
  const sessionId = session.session_id;
  const events = new SessionEvents(push, sessionId, req.signal);
  let pc: RTCPeerConnection | undefined;
  let channel: Channel | undefined;
  let transport: 'p2p' | 'relay' | undefined;
  let path: string | undefined;
  let fallback: string | undefined;
  let finished = false;
  try {
    if (req.provider === undefined && session.providers_able === 0) {
      throw new RequestError(
        'ERR_NO_PROVIDER',
        session.no_provider ?? `no provider online can serve this ${req.type} request`,
      );
    }
    status('waiting for a provider’s offer');
    events.onPreparing = (p) =>
      status(
        p.phase === 'queued'
          ? `the provider's receiver is busy: queued, position ${p.position ?? 1}`
          : `the provider is preparing the file (${p.total > 0 ? `${Math.round((100 * p.bytes) / p.total)} %` : `${p.bytes} bytes`})`,
      );
    const offer = await events.awaitOffer(OFFER_WAIT_MS);
    events.onPreparing = undefined;
    const offerData = parseJson(offer.signal_data);
    if (!offerCheck.check(offerData))
      throw new RequestError('ERR_SIGNAL_INVALID', 'the provider’s offer is not a session description');
    const peerRelays = capabilitiesOf(offerData).some((c) => c === 'relay' || c === 'sdrlink/1');

    if (req.transport !== 'relay') {
      status('connecting directly (WebRTC)');
      try {
        const p2p = await openP2P(
          api,
          events,
          sessionId,
          offerData.sdp,
          config.ice_servers,
          connectMs,
          req.signal,
        );
        pc = p2p.pc;
        channel = p2p.channel;
        transport = 'p2p';
        path = await candidatePath(pc);
      } catch (err) {
        pc?.close();
        pc = undefined;
        if (req.transport === 'p2p' || !peerRelays || err instanceof RequestError) throw err;
        fallback = (err as Error).message;
        status(`no direct path (${fallback}): using the relay`);
      }
    }
    if (channel === undefined) {
      status('waiting for the provider at the relay');
      try {
        channel = await events.race(
          openRelay(sessionId, token, Math.max(10_000, connectMs * 2), req.signal),
          60_000,
          'relay',
        );
      } catch (err) {
        if (err instanceof RelayError) throw new RequestError(err.code, err.message);
        throw err;
      }
      transport = 'relay';
      path = 'ws-relay';
    }
    let kind = transport as 'p2p' | 'relay';
    api
      .report(sessionId, { status: 'connected', transport: kind, ...(path !== undefined ? { path } : {}) })
      .catch(() => undefined);
    status(
      kind === 'relay' ? 'receiving over the WebSocket relay' : 'receiving over a direct WebRTC channel',
    );

    let firstByteAt = 0;
    let target: BrowserTarget | undefined;
    /** The announced name, checked by the protocol (§5: a plain base name). */
    let fileName = '';
    const receiveOver = (over: Channel, via: 'p2p' | 'relay') =>
      events.race(
        receiveFile(over, {
          crc32,
          createHash: createSha256,
          maxSize: MAX_BROWSER_FILE_BYTES,
          open: async (meta) => {
            if (meta.mode !== 'sdrlink') {
              throw new TransferError(
                'ERR_UNVERIFIED',
                `the provider sent ${JSON.stringify(meta.filename.slice(0, 80))} in the seed's unverified format (no sha256, no per-frame CRC): refused`,
              );
            }
            fileName = meta.filename;
            target = await (req.openTarget ?? (() => Promise.resolve(memoryTarget())))({
              filename: meta.filename,
              size: meta.size,
              ...(meta.sha256 !== undefined ? { sha256: meta.sha256 } : {}),
            });
            return target;
          },
          onProgress: (p) => {
            if (p.received > p.startOffset && firstByteAt === 0) firstByteAt = performance.now();
            req.onProgress?.({ ...p, transport: via });
          },
          ...(req.signal !== undefined ? { signal: req.signal } : {}),
        }),
        0,
        'transfer',
      );
    let file: Awaited<ReturnType<typeof receiveFile>>;
    try {
      file = await receiveOver(channel, kind);
    } catch (err) {
      // a direct channel lost midway (`auto`): continue over the relay, from the verified prefix (§4), as
      // the agents do (src/agents/transport.ts runWithFailover); the provider comes to the relay too
      const died =
        err instanceof TransferError &&
        (err.code === 'ERR_CHANNEL_CLOSED' || err.code === 'ERR_TIMEOUT' || err.code === 'ERR_PEER_GONE');
      if (!died || kind !== 'p2p' || req.transport !== 'auto' || !peerRelays || req.signal?.aborted === true)
        throw err;
      fallback = `direct channel lost midway (${err.message})`;
      status(`${fallback}: continuing over the relay`);
      channel.close();
      pc?.close();
      pc = undefined;
      try {
        channel = await events.race(
          openRelay(sessionId, token, FAILOVER_RELAY_WAIT_MS, req.signal),
          FAILOVER_RELAY_WAIT_MS + 5000,
          'relay',
        );
      } catch (relayErr) {
        if (relayErr instanceof RelayError)
          throw new RequestError(relayErr.code, `${fallback}; ${relayErr.message}`);
        throw relayErr;
      }
      kind = transport = 'relay';
      path = 'ws-relay';
      file = await receiveOver(channel, kind);
    }
    finished = true;
    const now = performance.now();
    const received = file.size - file.startOffset;
    const fb = firstByteAt === 0 ? now : firstByteAt;
    // our `ack` (§3.5) must reach the provider before the connection goes: close once it has left and
    // the provider closed its side (it does on the ack), or after a second
    void closeGently(channel, pc);
    const durationMs = Math.round(now - started);
    await api
      .report(sessionId, {
        status: 'completed',
        file_name: fileName,
        file_size: file.size,
        bytes: received,
        sha256: file.sha256,
        transport: kind,
        duration_ms: durationMs,
        verified: file.verified,
        ...(path !== undefined ? { path } : {}),
      })
      .catch(() => undefined);
    return {
      sessionId,
      fileName,
      file: (target as BrowserTarget).blob(),
      size: file.size,
      sha256: file.sha256,
      verified: file.verified,
      transport: kind,
      path,
      route: routeOf(path, kind),
      ...(fallback !== undefined ? { fallback } : {}),
      durationMs,
      firstByteMs: Math.round(fb - started),
      rate: (received / Math.max(1, now - fb)) * 1000,
      bytesReceived: received,
      resumedFrom: file.startOffset,
    };
  } catch (err) {
    const e =
      req.signal?.aborted === true
        ? new RequestError('ERR_CANCELLED', 'stopped by the user')
        : asRequestError(err);
    if (!finished && e.code === 'ERR_CANCELLED') {
      // the user stopped it: the session is cancelled by the consumer, as `sdrlink request` does on Ctrl-C
      await api.cancel(sessionId, 'ERR_CANCELLED', e.message).catch(() => undefined);
    } else if (!finished) {
      await settleFailure(api, sessionId, e, channel !== undefined, transport, path, events.ended);
    }
    // our `error` (§3.6) leaves before the close
    if (channel !== undefined) await closeGently(channel, pc);
    else pc?.close();
    throw e;
  } finally {
    events.close();
  }
}

/** Closes once nothing is left to send and the peer closed its side, or after about a second. */
async function closeGently(channel: Channel, pc: RTCPeerConnection | undefined): Promise<void> {
  const until = performance.now() + 1250;
  const open = () => channel.readyState === 'open';
  while (open() && channel.bufferedAmount > 0 && performance.now() < until) await sleep(10);
  while (open() && performance.now() < until) await sleep(10);
  channel.close();
  pc?.close();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function capabilitiesOf(data: unknown): string[] {
  const v = (data as { capabilities?: unknown }).capabilities;
  return Array.isArray(v) ? v.filter((c): c is string => typeof c === 'string') : [];
}

function routeOf(path: string | undefined, kind: 'p2p' | 'relay'): string {
  if (kind === 'relay') return 'WebSocket relay';
  if (path === undefined) return 'p2p';
  return path.startsWith('relay-') || path.includes('-relay/') ? 'TURN' : 'direct';
}

function asRequestError(err: unknown): RequestError {
  if (err instanceof RequestError) return err;
  if (err instanceof TransferError) return new RequestError(err.code, err.message);
  if (err instanceof ApiError) return new RequestError(err.code, err.message);
  if (err instanceof RelayError) return new RequestError(err.code, err.message);
  return new RequestError('ERR_TRANSFER', err instanceof Error ? err.message : String(err));
}

/** Tells the server how it ended, as the agent does (src/agents/consumer.ts `settleFailure`). */
async function settleFailure(
  api: Api,
  sessionId: string,
  e: RequestError,
  opened: boolean,
  transport: 'p2p' | 'relay' | undefined,
  path: string | undefined,
  ended: string | undefined,
): Promise<void> {
  if (ended !== undefined) return; // the provider or the server ended it and said why
  if (!opened) {
    await api
      .cancel(sessionId, /^ERR_[A-Z0-9_]+$/.test(e.code) ? e.code : 'ERR_CANCELLED', e.message)
      .catch(() => undefined);
    return;
  }
  await api
    .report(sessionId, {
      status: 'failed',
      error: `${e.code}: ${e.message}`.slice(0, 500),
      ...(/^[A-Z][A-Z0-9_]{0,63}$/.test(e.code) ? { error_code: e.code } : {}),
      ...(providerAtFault(e.code) ? { failed_side: 'provider' as const } : {}),
      ...(transport !== undefined ? { transport } : {}),
      ...(path !== undefined ? { path } : {}),
    })
    .catch(() => undefined);
}

/** The session's signals and status, as promises and callbacks. */
class SessionEvents {
  readonly offer: Promise<SignalWire>;
  /** Rejects when the provider or the server ends the session (its `error` signal, a final status). */
  readonly failed: Promise<never>;
  onCandidate: ((sig: SignalWire) => void) | undefined;
  /** Called with each `progress` signal of the provider while the page waits for its offer. */
  onPreparing:
    | ((p: { phase: 'preparing' | 'queued'; bytes: number; total: number; position?: number }) => void)
    | undefined;
  #lastWord = 0;
  /** Set once the session ended on the other side. */
  ended: string | undefined;
  readonly #unlisten: () => void;
  readonly #candidates: SignalWire[] = [];

  constructor(push: PushClient, sessionId: string, stop: AbortSignal | undefined) {
    let offerResolve!: (s: SignalWire) => void;
    let fail!: (e: RequestError) => void;
    this.offer = new Promise((r) => (offerResolve = r));
    this.failed = new Promise<never>((_, rej) => (fail = rej));
    this.failed.catch(() => undefined);
    // the user's Stop ends every wait at once
    const onStop = () => fail(new RequestError('ERR_CANCELLED', 'stopped by the user'));
    if (stop?.aborted === true) onStop();
    stop?.addEventListener('abort', onStop, { once: true });
    this.#unlisten = push.listen(sessionId, {
      signal: (sig) => {
        if (sig.signal_type === 'offer') offerResolve(sig);
        else if (sig.signal_type === 'candidate') {
          if (this.onCandidate !== undefined) this.onCandidate(sig);
          else this.#candidates.push(sig);
        } else if (sig.signal_type === 'progress') {
          // the provider is making the file (or waits for its device): it is alive, the wait goes on
          const d = parseJson(sig.signal_data);
          if (!progressCheck.check(d)) return;
          this.#lastWord = performance.now();
          this.onPreparing?.(d);
        } else if (sig.signal_type === 'error') {
          const d = parseJson(sig.signal_data) as { code?: unknown; message?: unknown } | undefined;
          const code = typeof d?.code === 'string' ? d.code : 'ERR_PEER';
          const message = typeof d?.message === 'string' ? d.message : 'the provider gave the session up';
          this.ended = code;
          fail(new RequestError(code, message));
        }
      },
      status: (s) => {
        if (s === 'push-closed') fail(new RequestError('ERR_PUSH_CLOSED', 'the push channel closed'));
        else if (FINAL.has(s) && s !== 'completed') {
          this.ended ??= s;
          // an `error` signal, which says why, usually comes first; give it a moment
          setTimeout(() => fail(new RequestError('ERR_SESSION_ENDED', `the session is ${s}`)), 200);
        }
      },
    });
  }

  /** Candidates that came before a listener: handed to it now. */
  takeCandidates(f: (sig: SignalWire) => void): void {
    this.onCandidate = f;
    for (const c of this.#candidates.splice(0)) f(c);
  }

  /**
   * The provider's offer, unless the session fails first or `ms` pass without a word from a provider (its
   * `progress` signals, sent while it prepares the file, restart the wait — as the agent's `--wait`).
   */
  async awaitOffer(ms: number): Promise<SignalWire> {
    this.#lastWord = performance.now();
    for (;;) {
      const left = this.#lastWord + ms - performance.now();
      if (left <= 0)
        throw new RequestError('ERR_CONNECT_TIMEOUT', `no provider answered within ${ms / 1000} s`);
      const tick = new Promise<undefined>((r) => setTimeout(() => r(undefined), Math.min(left, 1000)));
      const got = await Promise.race([this.offer, this.failed, tick]);
      if (got !== undefined) return got;
    }
  }

  /** `p`, unless the session fails first or `ms` pass (0: no limit). */
  race<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    const all: Array<Promise<T>> = [p, this.failed];
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (ms > 0) {
      all.push(
        new Promise<never>((_, rej) => {
          timer = setTimeout(() => rej(new RequestError('ERR_CONNECT_TIMEOUT', what)), ms);
        }),
      );
    }
    return Promise.race(all).finally(() => clearTimeout(timer));
  }

  close(): void {
    this.#unlisten();
  }
}

/**
 * Answers the provider's offer and resolves with its data channel, open. Rejects with ERR_ICE_FAILED /
 * ERR_CONNECT_TIMEOUT when none opens within `connectMs` (then `auto` tries the relay).
 */
async function openP2P(
  api: Api,
  events: SessionEvents,
  sessionId: string,
  sdp: string,
  iceServers: IceServerWire[],
  connectMs: number,
  signal: AbortSignal | undefined,
): Promise<{ pc: RTCPeerConnection; channel: Channel }> {
  const servers: RTCIceServer[] = iceServers.map((s) => ({
    urls: s.urls,
    ...(s.username !== undefined ? { username: s.username } : {}),
    ...(s.credential !== undefined ? { credential: s.credential } : {}),
  }));
  const pc = new RTCPeerConnection({ iceServers: servers });
  const opened = new Promise<RTCDataChannel>((resolve, reject) => {
    pc.ondatachannel = (ev) => {
      const dc = ev.channel;
      dc.binaryType = 'arraybuffer';
      if (dc.readyState === 'open') resolve(dc);
      else dc.addEventListener('open', () => resolve(dc), { once: true });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed')
        reject(new RequestError('ERR_ICE_FAILED', 'direct connection failed (ICE)'));
    };
  });
  pc.onicecandidate = (ev) => {
    if (ev.candidate === null || ev.candidate.candidate === '') return;
    const c = ev.candidate.toJSON();
    api
      .signal(sessionId, 'candidate', {
        candidate: c.candidate,
        sdpMid: c.sdpMid ?? null,
        sdpMLineIndex: c.sdpMLineIndex ?? null,
      })
      .catch(() => undefined);
  };
  let remoteSet = false;
  const queued: RTCIceCandidateInit[] = [];
  const addRemote = (c: RTCIceCandidateInit) => {
    if (!remoteSet) queued.push(c);
    else pc.addIceCandidate(c).catch(() => undefined);
  };
  events.takeCandidates((sig) => {
    const d = parseJson(sig.signal_data);
    if (!candidateCheck.check(d)) return;
    // libdatachannel's own form is the SDP line's `a=candidate:…`
    const candidate = d.candidate.startsWith('a=') ? d.candidate.slice(2) : d.candidate;
    addRemote({ candidate, sdpMid: d.sdpMid ?? '0', sdpMLineIndex: d.sdpMLineIndex ?? 0 });
  });
  try {
    // the agents trickle every candidate as a signal: those inside the SDP are left out (webrtc.ts)
    await pc.setRemoteDescription({ type: 'offer', sdp: withoutCandidates(sdp) });
    remoteSet = true;
    for (const c of queued.splice(0)) pc.addIceCandidate(c).catch(() => undefined);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await api.signal(sessionId, 'answer', { type: 'answer', sdp: answer.sdp ?? '' });
  } catch (err) {
    pc.close();
    if (err instanceof ApiError) throw new RequestError(err.code, err.message);
    throw new RequestError(
      'ERR_SIGNAL_INVALID',
      `the provider’s offer was refused by the browser: ${String(err)}`,
    );
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => pc.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const dc = await events.race(
      Promise.race([
        opened,
        new Promise<never>((_, rej) => {
          timer = setTimeout(
            () =>
              rej(new RequestError('ERR_CONNECT_TIMEOUT', `no direct data channel within ${connectMs} ms`)),
            connectMs,
          );
        }),
      ]),
      0,
      'channel',
    );
    return { pc, channel: dc as unknown as Channel };
  } catch (err) {
    pc.close();
    // a timeout or ICE failure is the path's; `auto` goes on to the relay (not a RequestError then)
    if (
      err instanceof RequestError &&
      (err.code === 'ERR_CONNECT_TIMEOUT' || err.code === 'ERR_ICE_FAILED')
    ) {
      throw new Error(err.message);
    }
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

function withoutCandidates(sdp: string): string {
  return sdp
    .split(/\r?\n/)
    .filter((l) => !l.startsWith('a=candidate:') && !l.startsWith('a=end-of-candidates'))
    .join('\r\n');
}

/** The selected candidate pair as docs/api.md §3 `path` (`host-host/udp`), from the browser's stats. */
async function candidatePath(pc: RTCPeerConnection): Promise<string | undefined> {
  try {
    const stats = await pc.getStats();
    let pairId: string | undefined;
    stats.forEach((s: { type: string; selectedCandidatePairId?: string }) => {
      if (s.type === 'transport' && s.selectedCandidatePairId !== undefined)
        pairId = s.selectedCandidatePairId;
    });
    const pair = (pairId !== undefined ? stats.get(pairId) : undefined) as
      { localCandidateId: string; remoteCandidateId: string } | undefined;
    if (pair === undefined) return undefined;
    const local = stats.get(pair.localCandidateId) as
      { candidateType?: string; protocol?: string } | undefined;
    const remote = stats.get(pair.remoteCandidateId) as { candidateType?: string } | undefined;
    const p = `${local?.candidateType}-${remote?.candidateType}/${local?.protocol}`;
    return /^(host|srflx|prflx|relay)-(host|srflx|prflx|relay)\/(udp|tcp)$/.test(p) ? p : undefined;
  } catch {
    return undefined;
  }
}
