/**
 * Getting a channel for a session: a direct WebRTC data channel, or the server's WebSocket relay when no
 * direct path opens in time, when ICE fails, or when the direct channel dies midway (`--transport auto`).
 * Shared by the provider (offerer) and the consumer (answerer). The channels come from a
 * {@link ChannelFactory}: WebRTC and the relay in production, an in-memory pair in unit tests.
 */
import type { Channel } from '../protocol/channel.js';
import { PROTOCOL_NAME } from '../protocol/codec.js';
import { TransferError } from '../protocol/errors.js';
import { openRelayChannel, RelayClosedError } from './channel/relay.js';
import {
  parseCandidate,
  parseDescription,
  SCTP_STALL_MS,
  OpenTimeoutError,
  SctpStallError,
  WebRtcPeer,
} from './channel/webrtc.js';
import { probeUdp, type UdpReach } from './channel/udp-probe.js';
import { AgentError, type AgentWait } from './errors.js';
import type { SessionSignals } from './session-signals.js';
import type { IceServerConfig, IceSignal, SignalingClient } from './signaling-client.js';

export type TransportChoice = 'auto' | 'p2p' | 'relay';
export type TransportKind = 'p2p' | 'relay';

export function parseTransportChoice(v: string): TransportChoice {
  if (v === 'auto' || v === 'p2p' || v === 'relay') return v;
  throw new AgentError('ERR_CONFIG', `--transport must be auto, p2p or relay, got ${JSON.stringify(v)}`);
}

/**
 * The capability token of a peer that joins the server's relay (docs/api.md §2, §6). Our consumer declares
 * it on `initiate`, our provider in its offer's `signal_data`; seed clients declare nothing.
 */
export const RELAY_CAPABILITY = 'relay';

/** What our agents declare: the data-channel protocol and the relay. */
export const AGENT_CAPABILITIES: readonly string[] = [PROTOCOL_NAME, RELAY_CAPABILITY];

/**
 * The capability token of a consumer that will not try a direct path (`--transport relay`, docs/api.md
 * §2): a provider that sees it joins the relay at once instead of waiting for an answer that never comes.
 */
export const RELAY_ONLY_CAPABILITY = 'relay-only';

/** What our consumer declares on `initiate` for its transport choice. */
export function consumerCapabilities(choice: TransportChoice): string[] {
  return choice === 'relay' ? [...AGENT_CAPABILITIES, RELAY_ONLY_CAPABILITY] : [...AGENT_CAPABILITIES];
}

/**
 * True when a peer that declared `capabilities` can meet us at the relay: it declared `relay`, or
 * `sdrlink/1` (every agent of ours that speaks it has joined the relay, before `relay` was declared).
 */
export function peerJoinsRelay(capabilities: readonly unknown[]): boolean {
  return capabilities.includes(RELAY_CAPABILITY) || capabilities.includes(PROTOCOL_NAME);
}

/** The `capabilities` a session description's `signal_data` carries (an additive field; none: `[]`). */
export function offerCapabilities(signalData: string): string[] {
  try {
    const v = (JSON.parse(signalData) as { capabilities?: unknown } | null)?.capabilities;
    return Array.isArray(v) ? v.filter((c): c is string => typeof c === 'string') : [];
  } catch {
    return [];
  }
}

export interface OpenedChannel {
  channel: Channel;
  kind: TransportKind;
  close(): void;
  /** How the bytes go (docs/api.md §3 `path`): WebRTC's selected candidate pair, when known. */
  path?(): string | undefined;
}

/** The `path` to report for a channel: `ws-relay` for the relay, else what the channel knows. */
export function channelPath(o: OpenedChannel | undefined): string | undefined {
  if (o === undefined) return undefined;
  return o.kind === 'relay' ? 'ws-relay' : o.path?.();
}

/**
 * `<local>-<remote>/<proto>` from the selected candidate pair (host, srflx, prflx, relay; udp, tcp), or
 * `ws-relay` for the server's WebSocket relay — the transfer report's `path` (docs/api.md §3).
 */
export type TransferPath = string;

/** `{ path }` when the channel's path is known ({@link channelPath}), else `{}`: spread into events. */
export function pathField(o: OpenedChannel): { path?: TransferPath } {
  const path = channelPath(o);
  return path === undefined ? {} : { path };
}

/** What carried the bytes, in words: `direct` (no relay on either side), `TURN`, or `WebSocket relay`. */
export function pathRoute(
  path: TransferPath | undefined,
  kind: TransportKind,
): 'direct' | 'TURN' | 'WebSocket relay' | 'p2p' {
  if (path === 'ws-relay' || kind === 'relay') return 'WebSocket relay';
  if (path === undefined) return 'p2p';
  return path.includes('relay') ? 'TURN' : 'direct';
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
  log?(line: string): void;
  /** Set by the answerer: the user id of the provider whose offer it took. */
  providerId?: string;
  /**
   * Whether the other side can join the relay ({@link peerJoinsRelay}): the provider knows it from the
   * session, the answerer from the offer. False: a failed direct path ends the session, there is no relay
   * to wait at (a seed client never comes).
   */
  peerRelays?: boolean;
}

/**
 * Where a session's channels come from. The agents take one as an option, so provider and consumer run
 * over an in-memory pair in unit tests exactly as they run over WebRTC and the relay.
 */
export interface ChannelFactory {
  /**
   * Opens a direct channel as `role`. The offerer hands its offer to `postOffer` (the provider claims the
   * session with it); the answerer first waits for the offer ({@link awaitOffer}). Rejects with
   * `ERR_ICE_FAILED` or `ERR_CONNECT_TIMEOUT` when no direct path opens.
   */
  openP2P(
    link: SessionLink,
    role: 'offerer' | 'answerer',
    postOffer?: (offer: string) => Promise<void>,
  ): Promise<OpenedChannel>;
  /** Joins the session's relay and resolves once the other participant is there too. */
  openRelay(link: SessionLink): Promise<OpenedChannel>;
}

export interface WebRtcFactoryOptions {
  /** Test fault: withhold ICE candidates so no direct path can form (relay fallback tests). */
  withholdCandidates?: boolean;
  /** Skip the UDP reachability probe (channel/udp-probe.ts); default: probe. */
  udpProbe?: boolean;
}

/**
 * Where UDP to the STUN/TURN servers is blocked on either side, how long ICE may take (after the answer)
 * before the relay: only host-to-host LAN paths are left, which connect within tens of milliseconds.
 */
export const LAN_WINDOW_MS = 500;

/** The field a description's `signal_data` carries (additive) when its sender's UDP is blocked. */
export const UDP_BLOCKED = { udp: 'blocked' } as const;

/** True when a description's `signal_data` says its sender's UDP is blocked ({@link UDP_BLOCKED}). */
export function declaresUdpBlocked(signalData: string): boolean {
  try {
    return (JSON.parse(signalData) as { udp?: unknown } | null)?.udp === 'blocked';
  } catch {
    return false;
  }
}

/** The production {@link ChannelFactory}: node-datachannel for direct channels, the server's relay. */
export function createChannelFactory(opts: WebRtcFactoryOptions = {}): ChannelFactory {
  return {
    openP2P: (link, role, postOffer) => openP2P(link, role, postOffer, opts),
    openRelay,
  };
}

/** Why a session's bytes go over the relay although `auto` would have taken a direct channel. */
export type FallbackReason = 'ice-failed' | 'connect-timeout' | 'channel-lost';

export interface RelayFallback {
  kind: 'relay';
  reason: FallbackReason;
  /** The failure's own message, for logs. */
  message: string;
}

export interface Connected {
  opened: OpenedChannel;
  /** Set when `auto` fell back to the relay; absent when the chosen transport opened. */
  fallback?: RelayFallback;
}

/**
 * Classifies a failed direct attempt: the reason the relay may be tried instead, or `undefined` when
 * the failure is not about the path (no provider answered, the peer refused, a bad description, abort).
 */
export function directFailure(err: unknown): 'ice-failed' | 'connect-timeout' | undefined {
  if (!(err instanceof AgentError)) return undefined;
  if (err.code === 'ERR_ICE_FAILED') return 'ice-failed';
  if (err.code === 'ERR_CONNECT_TIMEOUT' && err.waitingFor !== 'offer') return 'connect-timeout';
  return undefined;
}

export interface ConnectOptions {
  choice: TransportChoice;
  role: 'offerer' | 'answerer';
  channels: ChannelFactory;
  /** The offerer's claim: posts its offer (a bare one when it goes straight to the relay). */
  claim?: (offer: string) => Promise<void>;
}

/**
 * Opens the session's first channel: the relay for `relay`, a direct channel for `p2p`, and for `auto` a
 * direct channel or, when the path fails (ICE, connect timeout), the relay — with the typed reason.
 *
 * @example
 * const { opened, fallback } = await connectWithFallback(link, { choice: 'auto', role: 'answerer', channels });
 * if (fallback) log(`relay: ${fallback.reason}`);
 */
export async function connectWithFallback(link: SessionLink, o: ConnectOptions): Promise<Connected> {
  if (o.choice === 'relay') return { opened: await joinRelayFirst(link, o) };
  try {
    return { opened: await o.channels.openP2P(link, o.role, o.claim) };
  } catch (err) {
    const reason = directFailure(err);
    if (o.choice === 'p2p' || reason === undefined || link.signal?.aborted === true) throw err;
    const message = (err as Error).message;
    if (link.peerRelays === false) {
      link.log?.(`no direct path (${message}); the peer declared no relay capability, so none is tried`);
      throw err;
    }
    link.log?.(`no direct path (${message}); using the relay`);
    return { opened: await o.channels.openRelay(link), fallback: { kind: 'relay', reason, message } };
  }
}

/** `--transport relay`: the session is still claimed and answered through signals, then met at the relay. */
async function joinRelayFirst(link: SessionLink, o: ConnectOptions): Promise<OpenedChannel> {
  if (o.role === 'offerer') {
    if (o.claim === undefined) throw new Error('the offerer needs a claim');
    // Claim with a real offer all the same: seed clients and the server's claim rule expect one.
    await o.claim(JSON.stringify({ type: 'offer', sdp: 'v=0\r\n' }));
  } else {
    await awaitOffer(link);
  }
  return o.channels.openRelay(link);
}

/**
 * How long a side that lost its direct channel midway waits at the relay for the other: the other side may
 * notice the dead path only at its idle timeout (the provider's is 30 s). Not when the channel was lost to
 * the peer's silence (`ERR_PEER_GONE`, docs/protocol.md §3.7): the peer advertised keepalive, so it times
 * this side out as fast, and the relay wait is the link's own (`relayTimeoutMs`).
 */
export const FAILOVER_RELAY_WAIT_MS = 45_000;

export interface FailoverOptions {
  link: SessionLink;
  channels: ChannelFactory;
  choice: TransportChoice;
  /** False when the peer cannot resume (a seed consumer): a dead channel then fails the transfer. */
  resumable: boolean;
  /** Called with the relay channel that replaces the dead direct one, before `run` starts on it. */
  onRelay(opened: OpenedChannel, fallback: RelayFallback): void;
}

/**
 * Runs one transfer leg (`run`: send or receive) over `opened`. When a direct channel dies midway under
 * `auto`, closes it, joins the relay, and runs again there once; the protocol resumes from the receiver's
 * verified offset (docs/protocol.md §4).
 */
export async function runWithFailover<T>(
  opened: OpenedChannel,
  o: FailoverOptions,
  run: (opened: OpenedChannel) => Promise<T>,
): Promise<T> {
  try {
    return await run(opened);
  } catch (err) {
    if (!mayFailOver(err, opened, o)) throw err;
    const message = (err as Error).message;
    o.link.log?.(`direct channel lost midway (${message}); continuing over the relay`);
    opened.close();
    // The peer may not know yet: over a dead path nothing tells it, and it notices only when its own
    // channel times out (the provider's send idle timeout, 30 s). Wait at the relay long enough for that —
    // unless it keeps alive (§3.7), and then notices within its peer timeout, as this side did.
    const peerGone = err instanceof TransferError && err.code === 'ERR_PEER_GONE';
    const link = peerGone
      ? o.link
      : { ...o.link, relayTimeoutMs: Math.max(o.link.relayTimeoutMs, FAILOVER_RELAY_WAIT_MS) };
    let relay: OpenedChannel;
    try {
      relay = await o.channels.openRelay(link);
    } catch (relayErr) {
      // Nobody came: the peer is gone for good (killed, not just its path). Its silence is the cause.
      if (!peerGone || (relayErr instanceof AgentError && relayErr.code === 'ERR_AUTH')) throw relayErr;
      throw new TransferError(
        'ERR_PEER_GONE',
        `${message}; it did not come to the relay either (${(relayErr as Error).message})`,
        { cause: relayErr },
      );
    }
    o.onRelay(relay, { kind: 'relay', reason: 'channel-lost', message });
    return run(relay);
  }
}

function mayFailOver(err: unknown, opened: OpenedChannel, o: FailoverOptions): boolean {
  const channelDied =
    err instanceof TransferError &&
    (err.code === 'ERR_CHANNEL_CLOSED' || err.code === 'ERR_TIMEOUT' || err.code === 'ERR_PEER_GONE');
  return (
    channelDied &&
    o.choice === 'auto' &&
    opened.kind === 'p2p' &&
    o.resumable &&
    o.link.peerRelays !== false &&
    o.link.signal?.aborted !== true
  );
}

export interface WaitOptions {
  /** Gives up after this long (`ERR_CONNECT_TIMEOUT`). */
  ms: number;
  /** What is awaited, for the message: `${what} within ${ms} ms`. */
  what: string;
  /** The same, typed, carried by the timeout error. */
  waitingFor?: AgentWait;
  signal?: AbortSignal | undefined;
}

/** Resolves with `p`, or rejects after `o.ms` (`ERR_CONNECT_TIMEOUT`) or on abort (`ERR_TRANSFER`). */
export function withAbort<T>(p: Promise<T>, o: WaitOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new AgentError(
          'ERR_CONNECT_TIMEOUT',
          `${o.what} within ${o.ms} ms`,
          o.waitingFor === undefined ? {} : { waitingFor: o.waitingFor },
        ),
      );
    }, o.ms);
    const onAbort = () => {
      cleanup();
      reject(new AgentError('ERR_TRANSFER', `${o.what}: aborted`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
    };
    o.signal?.addEventListener('abort', onAbort);
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

/** Waits for `p`, but gives up on timeout, abort, or the peer's `error` signal. */
export function waitFor<T>(link: SessionLink, p: Promise<T>, o: Omit<WaitOptions, 'signal'>): Promise<T> {
  return withAbort(Promise.race([p, link.signals.failed]), { ...o, signal: link.signal });
}

/**
 * The answerer's first wait: a provider claiming the session with its offer. Records the provider's id.
 * Times out with `waitingFor: 'offer'`, which is never a reason to try the relay.
 */
export async function awaitOffer(link: SessionLink): Promise<IceSignal> {
  const offer = await waitFor(link, link.signals.offer, {
    ms: link.offerTimeoutMs,
    what: 'no provider answered',
    waitingFor: 'offer',
  });
  link.providerId = offer.from_client_id;
  link.peerRelays = peerJoinsRelay(offerCapabilities(offer.signal_data));
  return offer;
}

/**
 * Runs the WebRTC exchange for one session as `role` and resolves with an open data channel
 * ({@link ChannelFactory.openP2P}).
 */
async function openP2P(
  link: SessionLink,
  role: 'offerer' | 'answerer',
  postOffer: ((offer: string) => Promise<void>) | undefined,
  opts: WebRtcFactoryOptions,
): Promise<OpenedChannel> {
  await refreshExpiredCredentials(link);
  const peer = createPeer(link, opts);
  // Bounded by UDP_PROBE_MS; answered within a round trip wherever UDP gets through.
  const probe: Promise<UdpReach> =
    opts.udpProbe === false ? Promise.resolve('unknown') : probeUdp(link.iceServers);
  let blocked: string | undefined;
  try {
    let ownBlocked: boolean;
    let peerBlocked: boolean;
    if (role === 'offerer') {
      const offer = await peer.createOffer();
      if (postOffer === undefined) throw new Error('offerer needs postOffer');
      ownBlocked = (await probe) === 'blocked';
      await postOffer(JSON.stringify(ownBlocked ? { ...offer, ...UDP_BLOCKED } : offer));
      const answer = await waitFor(link, link.signals.answer, {
        ms: link.connectTimeoutMs,
        what: 'no answer from the consumer',
        waitingFor: 'answer',
      });
      peerBlocked = declaresUdpBlocked(answer.signal_data);
      await peer.acceptAnswer(parseDescriptionOrThrow(answer.signal_data, 'answer'));
    } else {
      const offer = await awaitOffer(link);
      peerBlocked = declaresUdpBlocked(offer.signal_data);
      const answer = await peer.acceptOffer(parseDescriptionOrThrow(offer.signal_data, 'offer'));
      ownBlocked = (await probe) === 'blocked';
      await link.client.sendSignal(
        link.sessionId,
        'answer',
        ownBlocked ? { ...answer, ...UDP_BLOCKED } : answer,
      );
    }
    // The outcome is known early where UDP is blocked: only a LAN path can still connect (LAN_WINDOW_MS).
    let windowMs = link.connectTimeoutMs;
    if ((ownBlocked || peerBlocked) && link.connectTimeoutMs > LAN_WINDOW_MS) {
      windowMs = LAN_WINDOW_MS;
      const whose = ownBlocked && peerBlocked ? 'both sides' : ownBlocked ? 'this side' : "the peer's side";
      blocked = `UDP to the STUN/TURN servers is blocked on ${whose}, so neither a server-reflexive nor a TURN path can form, and no LAN path connected within ${windowMs} ms`;
      link.log?.(
        `UDP to the STUN/TURN servers is blocked on ${whose}: only a LAN path can connect, trying it for ${windowMs} ms`,
      );
    }
    // Once DTLS is up, openChannel gives SCTP its own SCTP_STALL_MS past the connect timeout; once ICE is
    // connected within a short window, DTLS gets the rest of the connect timeout.
    const channel = await waitFor(
      link,
      peer.openChannel(windowMs, link.signal, SCTP_STALL_MS, link.connectTimeoutMs - windowMs),
      {
        ms: link.connectTimeoutMs + SCTP_STALL_MS + 1000,
        what: 'no open data channel',
        waitingFor: 'channel',
      },
    );
    return { channel, kind: 'p2p', close: () => peer.close(), path: () => peer.candidatePath() };
  } catch (err) {
    link.signals.onCandidate = undefined;
    peer.close();
    if (err instanceof AgentError) throw err;
    if (err instanceof SctpStallError) throw stallFailure(err);
    const why = blocked !== undefined && err instanceof OpenTimeoutError ? blocked : (err as Error).message;
    throw new AgentError('ERR_ICE_FAILED', `direct connection failed: ${why}`, { cause: err });
  }
}

/**
 * TURN credentials expire (`EXPIRY:USERID`, docs/api.md §4), and a provider runs for days on the
 * configuration it fetched at start: when one is within a minute of its expiry, fetch the servers again.
 * A failed fetch keeps the old list (the direct and relay paths do not need TURN).
 */
export async function refreshExpiredCredentials(link: SessionLink, nowMs = Date.now()): Promise<void> {
  const stale = link.iceServers.some((s) => {
    const m = /^(\d{9,11}):/.exec(s.username ?? '');
    return m !== null && Number(m[1]) * 1000 < nowMs + 60_000;
  });
  if (!stale) return;
  try {
    const config = await link.client.iceConfig();
    link.iceServers = config.ice_servers ?? [];
    link.log?.('TURN credentials near their expiry: fetched the ICE servers again');
  } catch (err) {
    link.log?.(
      `TURN credentials near their expiry, and the ICE servers could not be fetched again: ${(err as Error).message}`,
    );
  }
}

/**
 * DTLS up, SCTP never (src/agents/channel/webrtc.ts, "the SCTP stall"). Toward a peer on another stack
 * (pion before v3.2.24 refusing libdatachannel's zero-checksum INIT) that is `ERR_SCTP_STALLED`, final:
 * the relay cannot help a seed-style peer, which has no relay client, and the message names the cause and
 * the fix. Toward libdatachannel (our own agents) zero checksum is not the cause, so it stays what it was,
 * a direct path that did not open in time, for which `auto` tries the relay.
 */
function stallFailure(err: SctpStallError): AgentError {
  if (err.peerStack === 'libdatachannel') {
    return new AgentError('ERR_CONNECT_TIMEOUT', err.message, { cause: err, waitingFor: 'channel' });
  }
  return new AgentError('ERR_SCTP_STALLED', err.message, { cause: err });
}

/** A peer whose local candidates go out as signals and which takes the session's remote candidates. */
function createPeer(link: SessionLink, opts: WebRtcFactoryOptions): WebRtcPeer {
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
  if (opts.withholdCandidates === true) peerOpts.withholdCandidates = true;
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
  return peer;
}

function parseDescriptionOrThrow(data: string, kind: 'offer' | 'answer') {
  try {
    return parseDescription(data, kind);
  } catch (err) {
    throw new AgentError('ERR_SIGNAL_INVALID', (err as Error).message);
  }
}

/** Joins the relay for the session ({@link ChannelFactory.openRelay}). */
async function openRelay(link: SessionLink): Promise<OpenedChannel> {
  try {
    const opts: Parameters<typeof openRelayChannel>[0] = {
      server: link.client.server,
      token: link.token,
      sessionId: link.sessionId,
      timeoutMs: link.relayTimeoutMs,
      agent: link.client.wsAgent,
    };
    if (link.signal !== undefined) opts.signal = link.signal;
    const channel = await openRelayChannel(opts);
    return { channel, kind: 'relay', close: () => channel.close() };
  } catch (err) {
    // The server closes a side waiting at the relay with `ERR_SESSION_STATE: <status>` when the session
    // went final meanwhile (docs/api.md §6): nobody will join, so say so instead of timing out.
    if (err instanceof RelayClosedError && err.serverCode === 'ERR_SESSION_STATE') {
      throw new AgentError(
        'ERR_SESSION_ENDED',
        `relay: the session is ${err.detail ?? 'over'} (the other side ended it), so nobody will join`,
        { cause: err, serverCode: 'ERR_SESSION_STATE' },
      );
    }
    // A refused token is not a missing peer: no fallback helps, the user has to log in again.
    if (err instanceof AgentError && err.code === 'ERR_AUTH') throw err;
    // Nor is a server whose certificate fails the check: no retry makes it trusted.
    if (err instanceof AgentError && (err.code === 'ERR_TLS' || err.code === 'ERR_TLS_PIN')) throw err;
    throw new AgentError('ERR_CONNECT_TIMEOUT', (err as Error).message, { cause: err, waitingFor: 'relay' });
  }
}
