/**
 * Getting a channel for a session: a direct WebRTC data channel, or the server's WebSocket relay when no
 * direct path opens in time, when ICE fails, or when the direct channel dies midway (`--transport auto`).
 * Shared by the provider (offerer) and the consumer (answerer).
 */
import type { Channel } from '../protocol/channel.js';
import { openRelayChannel } from './channel/relay.js';
import { parseCandidate, parseDescription, WebRtcPeer } from './channel/webrtc.js';
import { AgentError } from './errors.js';
import type { SignalRouter } from './session-signals.js';
import type { IceServerConfig, IceSignal, SignalingClient } from './signaling-client.js';

export type TransportChoice = 'auto' | 'p2p' | 'relay';
export type TransportKind = 'p2p' | 'relay';

export function parseTransportChoice(v: string): TransportChoice {
  if (v === 'auto' || v === 'p2p' || v === 'relay') return v;
  throw new AgentError('ERR_CONFIG', `--transport must be auto, p2p or relay, got ${JSON.stringify(v)}`);
}

export interface OpenedChannel {
  channel: Channel;
  kind: TransportKind;
  close(): void;
}

export interface SessionLink {
  client: SignalingClient;
  sessionId: string;
  token: string;
  /** The session's signals, subscribed once for the whole session. */
  signals: SessionSignals;
  iceServers: IceServerConfig[];
  /** How long ICE may take to give an open channel before the relay is tried. */
  connectTimeoutMs: number;
  /** How long the answerer waits for an offer (a provider has to pick the session up first). */
  offerTimeoutMs: number;
  /** How long to wait at the relay for the other participant. */
  relayTimeoutMs: number;
  signal?: AbortSignal;
  /** Test fault: withhold ICE candidates so no direct path can form. */
  withholdCandidates?: boolean;
  log?(line: string): void;
  /** Set by the answerer: the user id of the provider whose offer it took. */
  providerId?: string;
}

/** Parses an `error` signal's data: `{"code","message"}` as a JSON string. */
export function parseErrorSignal(data: string): { code: string; message: string } {
  try {
    const v = JSON.parse(data) as Record<string, unknown>;
    return {
      code: typeof v['code'] === 'string' ? v['code'] : 'ERR_PEER',
      message: typeof v['message'] === 'string' ? v['message'] : data.slice(0, 200),
    };
  } catch {
    return { code: 'ERR_PEER', message: data.slice(0, 200) };
  }
}

/**
 * One session's incoming signals, sorted by kind: the offer and the answer as promises, candidates to
 * whichever peer is current, and the peer's `error` signal as a rejection of `failed`.
 */
export class SessionSignals {
  readonly offer: Promise<IceSignal>;
  readonly answer: Promise<IceSignal>;
  /** Rejects with ERR_PROVIDER/ERR_PEER when the other side posts an `error` signal; never resolves. */
  readonly failed: Promise<never>;
  onCandidate: ((sig: IceSignal) => void) | undefined;
  readonly #unsubscribe: () => void;

  constructor(router: SignalRouter, sessionId: string, peerRole: 'provider' | 'consumer') {
    let gotOffer: (s: IceSignal) => void = () => undefined;
    let gotAnswer: (s: IceSignal) => void = () => undefined;
    let fail: (e: Error) => void = () => undefined;
    this.offer = new Promise((r) => (gotOffer = r));
    this.answer = new Promise((r) => (gotAnswer = r));
    this.failed = new Promise<never>((_, rej) => (fail = rej));
    this.failed.catch(() => undefined); // observed by whoever races it
    this.#unsubscribe = router.subscribe(sessionId, (sig) => {
      switch (sig.signal_type) {
        case 'candidate':
          this.onCandidate?.(sig);
          break;
        case 'offer':
          gotOffer(sig);
          break;
        case 'answer':
          gotAnswer(sig);
          break;
        case 'error': {
          const e = parseErrorSignal(sig.signal_data);
          fail(
            new AgentError(
              peerRole === 'provider' ? 'ERR_PROVIDER' : 'ERR_TRANSFER',
              `${peerRole} refused: ${e.code}: ${e.message}`,
              { serverCode: e.code },
            ),
          );
          break;
        }
        default:
          break;
      }
    });
  }

  close(): void {
    this.#unsubscribe();
  }
}

/** Waits for `p`, but gives up on timeout, abort, or the peer's `error` signal. */
function waitFor<T>(link: SessionLink, p: Promise<T>, ms: number, what: string): Promise<T> {
  return withAbort(Promise.race([p, link.signals.failed]), ms, what, link.signal);
}

/**
 * Runs the WebRTC exchange for one session as `role` and resolves with an open data channel.
 * The offerer creates the offer and hands it to `postOffer` (the provider claims the session with it);
 * the answerer waits for the offer among the session's signals.
 */
export async function openP2P(
  link: SessionLink,
  role: 'offerer' | 'answerer',
  postOffer?: (offer: string) => Promise<void>,
): Promise<OpenedChannel> {
  const log = link.log ?? (() => undefined);
  const peerOpts: ConstructorParameters<typeof WebRtcPeer>[0] = {
    iceServers: link.iceServers,
    onCandidate: (c) => {
      link.client.sendSignal(link.sessionId, 'candidate', c).catch((err: unknown) => {
        log(`candidate not sent: ${(err as Error).message}`);
      });
    },
    onError: (err) => log(`webrtc: ${err instanceof Error ? err.message : String(err)}`),
    onStateChange: (state) => {
      if (state === 'failed') log('webrtc: connection failed');
    },
  };
  if (link.withholdCandidates === true) peerOpts.withholdCandidates = true;
  const peer = new WebRtcPeer(peerOpts);
  link.signals.onCandidate = (sig) => {
    try {
      peer.addRemoteCandidate(parseCandidate(sig.signal_data)).catch((err: unknown) => {
        log(`candidate refused: ${(err as Error).message}`);
      });
    } catch (err) {
      log(`bad candidate signal ${sig.id}: ${(err as Error).message}`);
    }
  };
  try {
    if (role === 'offerer') {
      const offer = await peer.createOffer();
      if (postOffer === undefined) throw new Error('offerer needs postOffer');
      await postOffer(JSON.stringify(offer));
      const answer = await waitFor(
        link,
        link.signals.answer,
        link.connectTimeoutMs,
        'no answer from the consumer',
      );
      await peer.acceptAnswer(parseDescriptionOrThrow(answer.signal_data, 'answer'));
    } else {
      const offer = await waitFor(link, link.signals.offer, link.offerTimeoutMs, 'no provider answered');
      link.providerId = offer.from_client_id;
      const answer = await peer.acceptOffer(parseDescriptionOrThrow(offer.signal_data, 'offer'));
      await link.client.sendSignal(link.sessionId, 'answer', answer);
    }
    const channel = await waitFor(
      link,
      peer.openChannel(link.connectTimeoutMs, link.signal),
      link.connectTimeoutMs + 1000,
      'no open data channel',
    );
    return { channel, kind: 'p2p', close: () => peer.close() };
  } catch (err) {
    link.signals.onCandidate = undefined;
    peer.close();
    if (err instanceof AgentError) throw err;
    throw new AgentError('ERR_ICE_FAILED', `direct connection failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function parseDescriptionOrThrow(data: string, kind: 'offer' | 'answer') {
  try {
    return parseDescription(data, kind);
  } catch (err) {
    throw new AgentError('ERR_SIGNAL_INVALID', (err as Error).message);
  }
}

/** Joins the relay for the session. */
export async function openRelay(link: SessionLink): Promise<OpenedChannel> {
  try {
    const opts: Parameters<typeof openRelayChannel>[0] = {
      server: link.client.server,
      token: link.token,
      sessionId: link.sessionId,
      timeoutMs: link.relayTimeoutMs,
    };
    if (link.signal !== undefined) opts.signal = link.signal;
    const channel = await openRelayChannel(opts);
    return { channel, kind: 'relay', close: () => channel.close() };
  } catch (err) {
    const message = (err as Error).message;
    // The server closes a waiting side when the session went final meanwhile (docs/api.md §6).
    const ended = /ERR_SESSION_STATE: (\w+)/.exec(message);
    if (ended !== null) {
      throw new AgentError(
        'ERR_SESSION_ENDED',
        `relay: the session is ${ended[1] ?? 'over'} (the other side ended it), so nobody will join`,
        { cause: err, serverCode: 'ERR_SESSION_STATE' },
      );
    }
    throw new AgentError('ERR_CONNECT_TIMEOUT', message, { cause: err });
  }
}

/** Resolves with `p`, or rejects after `ms` or on abort. */
export function withAbort<T>(p: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new AgentError('ERR_CONNECT_TIMEOUT', `${what} within ${ms} ms`));
    }, ms);
    const onAbort = () => {
      cleanup();
      reject(new AgentError('ERR_TRANSFER', `${what}: aborted`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort);
    p.then(
      (v) => {
        cleanup();
        resolve(v);
      },
      (e: unknown) => {
        cleanup();
        reject(e as Error);
      },
    );
  });
}
