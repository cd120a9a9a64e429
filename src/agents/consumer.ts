/**
 * The consumer (the seed's Type2): asks the signaling server for data, answers the provider's offer,
 * receives the file over the data channel (or the relay), verifies every chunk and the whole, and only then
 * moves it into place. A transfer lost midway keeps its verified prefix; asking again resumes from it.
 */
import { resolve } from 'node:path';
import { receiveFile, type ReceiveResult } from '../protocol/receiver.js';
import { offerSummary } from '../wire/index.js';
import { AgentError } from './errors.js';
import { channelsWithFaults } from './faults.js';
import {
  DEFAULT_MAX_SIZE,
  createSha256,
  crc32,
  openDiskTarget,
  prepareOutDir,
  type DiskTarget,
} from './files.js';
import { ClaimSupersededError, SessionSignals, SignalRouter } from './session-signals.js';
import { SignalingClient, type IceSession } from './signaling-client.js';
import { ServerPool, parseServerList } from './server-list.js';
import { tlsFailureOf, type ServerTrust } from './server-trust.js';
import { TransferError } from '../protocol/errors.js';
import { ERROR_CODE_PATTERN } from '../wire/index.js';
import {
  channelPath,
  connectWithFallback,
  consumerCapabilities,
  directFailure,
  pathRoute,
  runWithFailover,
  type ChannelFactory,
  type Connected,
  type OpenedChannel,
  type SessionLink,
  type TransportChoice,
  type TransportKind,
} from './transport.js';

/** A stable error code (src/wire: ERROR_CODE_PATTERN). */
const ERROR_CODE_RE = new RegExp(ERROR_CODE_PATTERN);

export interface RequestOptions {
  server: string;
  token: string;
  /** How an `https://` server's certificate is trusted (`--ca`, `--pin`). */
  trust?: ServerTrust | undefined;
  /** The request type, e.g. `spectrum`. */
  type: string;
  params: Record<string, unknown>;
  /** Folder the verified file is saved in. */
  outDir: string;
  /** A provider's user name or id; any provider serving the type when omitted. */
  provider?: string;
  transport?: TransportChoice;
  /** How long to wait for a provider to pick the request up (default 60 s). */
  waitMs?: number;
  /** Overrides the server's `relay_after_ms`. */
  connectTimeoutMs?: number;
  /** No progress for this long fails the transfer (default 30 s). */
  idleTimeoutMs?: number;
  /**
   * A provider that advertised keepalive and sends nothing for this long is gone: ERR_PEER_GONE, the
   * verified prefix kept (docs/protocol.md §3.7; default 5 s).
   */
  peerTimeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (p: {
    received: number;
    total: number;
    startOffset: number;
    transport: TransportKind;
  }) => void;
  onEvent?: (e: { event: string; [k: string]: unknown }) => void;
  /** Where the session's channels come from (default: WebRTC and the server's relay). */
  channels?: ChannelFactory;
  /** Test faults; they apply to the default channels only. */
  faults?: { withholdCandidates?: boolean };
  /**
   * Accept a file sent in the seed's unverified format (no sha256, raw chunks), as a seed-style provider
   * sends it. Off by default: such a transfer is refused with `ERR_UNVERIFIED` before a byte is written
   * (docs/protocol.md §3.1); when on, the result, the summary and the transfer report say "unverified".
   */
  allowUnverified?: boolean;
  /**
   * The largest file accepted, in bytes (default {@link DEFAULT_MAX_SIZE}, 16 GiB): a larger announced
   * size is refused with `ERR_TOO_LARGE` before a byte is written.
   */
  maxSize?: number;
  /**
   * How many times a transfer whose provider died midway (ERR_PEER_GONE, ERR_CHANNEL_CLOSED) is asked
   * again, as a new session that resumes from the verified prefix — with any able provider, the same one
   * included (default 0 here; `sdrlink request --retries`, default 2). A retry that finds no provider
   * (ERR_NO_PROVIDER) ends the request with the first failure.
   */
  retries?: number;
}

export interface RequestResult {
  path: string;
  size: number;
  sha256: string;
  /** False when the provider sent no checksum (a seed provider): the file was saved unverified. */
  verified: boolean;
  transport: TransportKind;
  /**
   * Which path carried the bytes (the last channel's, after a failover): the selected ICE candidate pair
   * `<local>-<remote>/<udp|tcp>` or `ws-relay`; absent when unknown.
   */
  network_path?: string;
  /** The same in words: `direct`, `TURN`, `WebSocket relay` (or `p2p` when the pair is unknown). */
  route?: string;
  session_id: string;
  /** From the start of the request to the verified file in place. */
  duration_ms: number;
  /** From the open channel to the verified file (transfer only). */
  transfer_ms: number;
  /** Bytes received in this request (less than `size` after a resume). */
  bytes_received: number;
  /** Where this request started in the file (> 0 after a resume). */
  resumed_from: number;
  /** Bytes per second, from the first data byte to the verified file. */
  rate: number;
  /** From the start of the request to the first data byte (setup latency, generation included). */
  first_byte_ms: number;
  provider_id: string;
  /**
   * True when `path` was already in the folder with the same size and sha256 (the provider's own, checked
   * against its `file-complete`): nothing was received or saved (docs/protocol.md §4).
   */
  already_present?: boolean;
}

/**
 * Requests a dataset and saves it, verified. Rejects with AgentError / TransferError carrying a `code`.
 * A provider that dies midway is retried `opts.retries` times (a `retry` event each), resuming from the
 * verified prefix.
 */
export async function requestFile(opts: RequestOptions): Promise<RequestResult> {
  const retries = opts.retries ?? 0;
  // one pool for every retry: a retry goes to the instance that answered last (`--server A,B`)
  const pool = new ServerPool(parseServerList(opts.server));
  let failovers = 0;
  const offFailover = pool.onFailover(() => failovers++);
  let first: unknown;
  let settling = 0;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        return await requestOnce(opts, pool);
      } catch (err) {
        if (first !== undefined && codeOf(err) === 'ERR_NO_PROVIDER') {
          // `--server A,B`: the instance died under the transfer, and the providers have not all subscribed
          // on the next one yet (each after its own backoff): ask again for a while before giving up
          if (failovers > 0 && settling < NO_PROVIDER_SETTLE_TRIES && opts.signal?.aborted !== true) {
            settling++;
            opts.onEvent?.({
              event: 'log',
              message: `no provider on ${pool.current} yet after the failover; asking again (${settling} of ${NO_PROVIDER_SETTLE_TRIES})`,
            });
            await new Promise((r) => setTimeout(r, NO_PROVIDER_SETTLE_MS));
            attempt--;
            continue;
          }
          throw first;
        }
        if (attempt >= retries || opts.signal?.aborted === true || !providerDied(err)) throw err;
        first ??= err;
        opts.onEvent?.({
          event: 'retry',
          attempt: attempt + 1,
          of: retries,
          code: codeOf(err),
          message: (err as Error).message,
        });
      }
    }
  } finally {
    offFailover();
  }
}

/** After a failover, how often and how far apart a retry that found no provider is asked again. */
const NO_PROVIDER_SETTLE_TRIES = 10;
const NO_PROVIDER_SETTLE_MS = 1000;

/** The provider's side went away midway (killed, its host gone): asking again may resume elsewhere. */
function providerDied(err: unknown): boolean {
  return err instanceof TransferError && (err.code === 'ERR_PEER_GONE' || err.code === 'ERR_CHANNEL_CLOSED');
}

function codeOf(err: unknown): string | undefined {
  return (err as { code?: unknown }).code as string | undefined;
}

async function requestOnce(opts: RequestOptions, pool: ServerPool): Promise<RequestResult> {
  const request = new ConsumerRequest(opts, pool);
  try {
    return await request.run();
  } catch (err) {
    await request.settleFailure(err);
    throw err;
  } finally {
    await request.close();
  }
}

/** A received file, with what the result reports about how it came. */
interface Received {
  file: ReceiveResult;
  opened: OpenedChannel;
  transferStart: number;
  /** When the first data byte arrived (0: none did, the whole file was already held). */
  firstByteAt: number;
}

/** One request's state, from `initiate` to the verified file and the report. */
class ConsumerRequest {
  readonly #opts: RequestOptions;
  readonly #started = Date.now();
  readonly #client: SignalingClient;
  readonly #router: SignalRouter;
  readonly #emit: NonNullable<RequestOptions['onEvent']>;
  readonly #outDir: string;
  readonly #choice: TransportChoice;
  readonly #channels: ChannelFactory;
  #session: IceSession | undefined;
  #link: SessionLink | undefined;
  #signals: SessionSignals | undefined;
  #opened: OpenedChannel | undefined;
  #target: DiskTarget | undefined;
  #finished = false;
  /** The first byte arrived: a `preparing` signal still in flight is stale and not passed on. */
  #receiving = false;
  /** How the bytes go (docs/api.md §3 `path`), read while the channel is open. */
  #path: string | undefined;
  /** How long the server lets a claim take before it releases it (docs/api.md §3); 0: it never does. */
  #claimTimeoutMs = 0;
  /** The `connected` report, awaited before the final one so the two arrive in order. */
  #connectedReport: Promise<void> = Promise.resolve();

  constructor(opts: RequestOptions, pool: ServerPool) {
    this.#opts = opts;
    this.#client = new SignalingClient(pool, opts.token, { trust: opts.trust });
    this.#router = new SignalRouter(this.#client, 1000);
    this.#emit = opts.onEvent ?? (() => undefined);
    // `--server A,B`: the instance in use died; the calls go on at the next one
    this.#client.onFailover((e) =>
      this.#emit({ event: 'server-failover', from: e.from, to: e.to, reason: e.reason }),
    );
    this.#outDir = resolve(opts.outDir);
    this.#choice = opts.transport ?? 'auto';
    this.#channels = opts.channels ?? channelsWithFaults(opts.faults);
  }

  async run(): Promise<RequestResult> {
    // Checked before the server is asked: a provider must not generate a file we cannot save.
    await prepareOutDir(this.#outDir);
    const { link, session } = await this.#initiate();
    const { opened, fallback } = await this.#connect(link);
    this.#opened = opened;
    this.#path = channelPath(opened);
    // The channel is open: say so at once, which ends the claim's clock on the server (docs/api.md §3).
    this.#connectedReport = this.#client
      .reportTransfer(link.sessionId, {
        status: 'connected',
        transport: opened.kind,
        ...(this.#path !== undefined ? { path: this.#path } : {}),
      })
      .then(
        () => undefined,
        (err: unknown) =>
          this.#emit({ event: 'log', message: `connected report not stored: ${(err as Error).message}` }),
      );
    this.#emit({
      event: 'connected',
      session_id: link.sessionId,
      transport: opened.kind,
      ...(fallback !== undefined ? { fallback: fallback.reason } : {}),
      ...(this.#path !== undefined ? { path: this.#path } : {}),
    });
    const received = await this.#receive(link, opened);
    const out = this.#result(link, session, received);
    this.#path = channelPath(received.opened) ?? this.#path;
    this.#finished = true;
    // The file is in place: close now, before reporting. A sender that waits for the receiver's close (a
    // seed-style one in a browser, aiortc, node-datachannel) then ends with the transfer, not after it.
    received.opened.close();
    await this.#reportCompleted(link.sessionId, received, out.duration_ms);
    return out;
  }

  /**
   * Connects to the provider whose offer comes. When the server releases that claim (docs/api.md §3 "Claim
   * timeout": the session back to `pending`, or a newer claim's offer), drops the attempt's connection —
   * its peer, its relay wait — and connects to the next offer. A direct path that fails while the claim may
   * still be released waits for that (or the provider's own word) before it gives up.
   */
  async #connect(link: SessionLink): Promise<Connected> {
    const outer = link.signal;
    for (;;) {
      const superseded = link.signals.superseded;
      const ac = new AbortController();
      const onAbort = () => ac.abort(outer?.reason);
      if (outer?.aborted === true) ac.abort(outer.reason);
      outer?.addEventListener('abort', onAbort);
      link.signal = ac.signal;
      const attempt = connectWithFallback(link, {
        choice: this.#choice,
        role: 'answerer',
        channels: this.#channels,
      });
      attempt.catch(() => undefined);
      let offerAt = 0;
      void link.signals.offer.then(() => (offerAt = Date.now()));
      try {
        // the user's abort stays wired to `link.signal` for the transfer that follows
        return await Promise.race([attempt, superseded]);
      } catch (err) {
        let why = err;
        if (!(err instanceof ClaimSupersededError)) why = await this.#releasedAfter(err, superseded, offerAt);
        if (!(why instanceof ClaimSupersededError)) {
          outer?.removeEventListener('abort', onAbort);
          throw why;
        }
        outer?.removeEventListener('abort', onAbort);
        ac.abort(why);
        await attempt.catch(() => undefined); // its peer closed, its relay wait left
        this.#emit({
          event: 'claim-released',
          session_id: link.sessionId,
          attempt: why.attempt,
          ...(link.providerId !== undefined ? { provider_id: link.providerId } : {}),
          message: why.message,
        });
        delete link.providerId;
        delete link.peerRelays;
      }
    }
  }

  /**
   * After a failed connect attempt: when no channel opened and the server may still release the claim
   * (docs/api.md §3), waits for that release (resolves with the ClaimSupersededError), for the provider's
   * or the server's own word, or for the claim timeout and a margin to pass; then resolves with the error
   * to throw.
   */
  async #releasedAfter(err: unknown, superseded: Promise<never>, offerAt: number): Promise<unknown> {
    // no path, nobody at the relay, or an offer our WebRTC stack cannot take: all a stalled claim may cause
    const pathFailed =
      directFailure(err) !== undefined ||
      (err instanceof AgentError &&
        ((err.code === 'ERR_CONNECT_TIMEOUT' && err.waitingFor === 'relay') ||
          err.code === 'ERR_SIGNAL_INVALID'));
    // A provider that declared no relay capability (a seed Type1) is told at once and the session ends,
    // as before (docs/api.md §2): waiting for a release would leave the seed polling a session not its own.
    if (
      !pathFailed ||
      this.#claimTimeoutMs === 0 ||
      offerAt === 0 ||
      this.#link?.peerRelays === false ||
      this.#opts.signal?.aborted === true
    )
      return err;
    // the server looks for stalled claims at most every 5 s (a quarter of the timeout when shorter)
    const until = offerAt + this.#claimTimeoutMs + Math.min(5000, this.#claimTimeoutMs / 4) + 1000;
    const left = until - Date.now();
    if (left <= 0) return err;
    this.#emit({
      event: 'log',
      message: `no channel (${(err as Error).message}); waiting up to ${Math.ceil(left / 1000)} s for the server to offer the request to another provider`,
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        superseded,
        this.#signals?.failed,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(err), left);
        }),
      ]);
    } catch (e) {
      if (e instanceof ClaimSupersededError) return e;
      // the server failed the session (no provider left): that is the answer; otherwise the path's own
      if (e instanceof AgentError && e.code === 'ERR_NO_PROVIDER') return e;
      return err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Opens the push channel, asks for the data, and returns the session and its link. */
  async #initiate(): Promise<{ link: SessionLink; session: IceSession }> {
    try {
      await this.#client.connectPush({
        onSignal: (sig) => this.#router.deliver(sig),
        onSessionStatus: (id, status) => this.#router.deliverStatus(id, status),
        // subscribed again (another instance, or after a drop): read back the signals and statuses missed
        onResubscribed: () => void this.#router.catchUp(() => this.#client.listSessions()),
      });
    } catch (err) {
      // an untrusted certificate or a wrong pin: polling would meet the same refusal
      if (tlsFailureOf(err) !== undefined) throw err;
      this.#emit({
        event: 'log',
        message: `push channel unavailable, polling instead: ${(err as Error).message}`,
      });
    }
    const config = await this.#client.iceConfig();
    const connectTimeoutMs = this.#opts.connectTimeoutMs ?? config.relay_after_ms ?? 5000;
    const init: Parameters<SignalingClient['initiate']>[0] = {
      request_type: this.#opts.type,
      parameters: this.#opts.params,
      capabilities: consumerCapabilities(this.#choice),
    };
    if (this.#opts.provider !== undefined) init.target = this.#opts.provider;
    const session = await this.#client.initiate(init);
    this.#session = session;
    this.#claimTimeoutMs = session.claim_timeout_ms ?? 0;
    this.#emit({ event: 'session', session_id: session.session_id });
    if (this.#opts.provider === undefined && session.providers_able === 0) {
      // nobody online can serve it (docs/api.md §12): say so now, with what is on offer, not after --wait
      let message = session.no_provider;
      if (message === undefined) {
        const providers = await this.#client.listProviders().catch(() => undefined);
        message =
          `no provider online can serve this ${this.#opts.type} request ${JSON.stringify(this.#opts.params)}; ` +
          `on offer: ${providers === undefined ? 'unknown (the provider list could not be read)' : offerSummary(providers)}`;
      }
      throw new AgentError('ERR_NO_PROVIDER', message, { serverCode: 'ERR_NO_PROVIDER' });
    }
    this.#signals = new SessionSignals(this.#router, session.session_id, 'provider');
    this.#signals.onProgress = (p) => {
      if (p.phase === 'queued') {
        // A live capture waits for the provider's device (docs/api.md §2).
        this.#emit({ event: 'queued', session_id: session.session_id, position: p.position ?? 1 });
        return;
      }
      // the provider's signals travel through the server, the bytes do not: a late one must not
      // follow the data (or the final progress) in what the caller sees
      if (this.#receiving || this.#finished) return;
      this.#emit({ event: 'preparing', session_id: session.session_id, bytes: p.bytes, total: p.total });
    };
    this.#signals.onStale = (sig) =>
      this.#emit({
        event: 'log',
        message: `dropped a ${sig.signal_type} of released claim ${sig.attempt ?? 0} (signal ${sig.id})`,
      });
    const link: SessionLink = {
      client: this.#client,
      sessionId: session.session_id,
      token: this.#opts.token,
      signals: this.#signals,
      iceServers: config.ice_servers ?? [],
      connectTimeoutMs,
      offerTimeoutMs: this.#opts.waitMs ?? 60_000,
      relayTimeoutMs: Math.max(10_000, connectTimeoutMs * 2),
      log: (message) => this.#emit({ event: 'log', message }),
    };
    if (this.#opts.signal !== undefined) link.signal = this.#opts.signal;
    this.#link = link;
    return { link, session };
  }

  /** Receives the file, continuing over the relay when a direct channel dies midway (`auto`). */
  async #receive(link: SessionLink, opened: OpenedChannel): Promise<Received> {
    const transferStart = Date.now();
    let firstByteAt = 0;
    let current = opened;
    const file = await runWithFailover(
      opened,
      {
        link,
        channels: this.#channels,
        choice: this.#choice,
        resumable: true,
        onRelay: (relay, why) => {
          this.#opened = current = relay;
          this.#path = channelPath(relay);
          this.#emit({
            event: 'connected',
            session_id: link.sessionId,
            transport: 'relay',
            ...(this.#path !== undefined ? { path: this.#path } : {}),
            fallback: why.reason,
          });
        },
      },
      (o) =>
        this.#receiveOver(o, link.signals, () => {
          if (firstByteAt === 0) firstByteAt = Date.now();
          this.#receiving = true;
        }),
    );
    return { file, opened: current, transferStart, firstByteAt };
  }

  #receiveOver(o: OpenedChannel, signals: SessionSignals, onFirstByte: () => void): Promise<ReceiveResult> {
    const opts = this.#opts;
    const ro: Parameters<typeof receiveFile>[1] = {
      crc32,
      createHash: createSha256,
      open: async (meta) => {
        if (meta.mode === 'seed' && opts.allowUnverified !== true) {
          // We declared sdrlink/1: bytes without a checksum are not what was asked for (issue 16, class 2).
          throw new TransferError(
            'ERR_UNVERIFIED',
            `the provider sent ${JSON.stringify(meta.filename.slice(0, 80))} in the seed's unverified format ` +
              '(no sha256, no per-chunk CRC); refused: pass --allow-unverified to accept it from a seed-style provider',
          );
        }
        this.#target = await openDiskTarget(this.#outDir, meta);
        return this.#target;
      },
      idleTimeoutMs: opts.idleTimeoutMs ?? 30_000,
      maxSize: opts.maxSize ?? DEFAULT_MAX_SIZE,
    };
    if (opts.peerTimeoutMs !== undefined) ro.peerTimeoutMs = opts.peerTimeoutMs;
    if (opts.signal !== undefined) ro.signal = opts.signal;
    const onProgress = opts.onProgress;
    ro.onProgress = (p) => {
      if (p.received > p.startOffset) onFirstByte();
      onProgress?.({ received: p.received, total: p.total, startOffset: p.startOffset, transport: o.kind });
    };
    return Promise.race([receiveFile(o.channel, ro), signals.failed]);
  }

  #result(link: SessionLink, session: IceSession, r: Received): RequestResult {
    const now = Date.now();
    const firstByteAt = r.firstByteAt === 0 ? now : r.firstByteAt;
    const received = r.file.size - r.file.startOffset;
    const netPath = channelPath(r.opened) ?? this.#path;
    return {
      path: r.file.path,
      size: r.file.size,
      sha256: r.file.sha256,
      verified: r.file.verified,
      transport: r.opened.kind,
      ...(netPath === undefined ? {} : { network_path: netPath }),
      route: pathRoute(netPath, r.opened.kind),
      session_id: link.sessionId,
      duration_ms: now - this.#started,
      transfer_ms: Math.max(1, now - r.transferStart),
      bytes_received: received,
      resumed_from: r.file.startOffset,
      rate: (received / Math.max(1, now - firstByteAt)) * 1000,
      first_byte_ms: firstByteAt - this.#started,
      provider_id: link.providerId ?? session.target_user_id,
      already_present: this.#target?.existing !== undefined,
    };
  }

  async #reportCompleted(sessionId: string, r: Received, durationMs: number): Promise<void> {
    await this.#connectedReport;
    await this.#client
      .reportTransfer(sessionId, {
        status: 'completed',
        file_name: r.file.path.split('/').pop() ?? '',
        file_size: r.file.size,
        bytes: r.file.size - r.file.startOffset,
        sha256: r.file.sha256,
        transport: r.opened.kind,
        duration_ms: durationMs,
        verified: r.file.verified,
        ...(this.#path !== undefined ? { path: this.#path } : {}),
      })
      .catch((err: unknown) =>
        this.#emit({ event: 'log', message: `transfer report not stored: ${(err as Error).message}` }),
      );
  }

  /**
   * After a failure: a request no provider took up (or no channel opened for) is cancelled; another is
   * reported failed, unless the provider refused it (it said so itself).
   */
  async settleFailure(err: unknown): Promise<void> {
    const sessionId = this.#session?.session_id;
    if (sessionId === undefined || this.#finished) return;
    const e = err as { code?: string; message: string };
    const code = e.code ?? 'ERR_TRANSFER';
    const stop = this.#opts.signal;
    if (stop?.aborted === true) {
      // The user stopped the request (Ctrl-C): the session is cancelled by the consumer, whatever the
      // abort made of the transfer meanwhile (docs/api.md §3 "Outcome").
      const why = stop.reason instanceof Error ? stop.reason.message : 'cancelled by the consumer';
      await this.#client
        .cancel(sessionId, { code: 'ERR_CANCELLED', message: why.slice(0, 1024) })
        .catch(() => undefined);
      return;
    }
    if (this.#link?.peerRelays === false && directFailure(err) !== undefined) {
      // A provider that cannot come to the relay (a seed Type1) took the session and no direct path
      // opened: the session ends here, and the provider is told why (docs/api.md §2, `error`).
      await this.#client
        .sendSignal(sessionId, 'error', { code, message: e.message.slice(0, 2000) })
        .catch(() => undefined);
    } else if (
      err instanceof AgentError &&
      (err.code === 'ERR_CONNECT_TIMEOUT' || err.code === 'ERR_NO_PROVIDER') &&
      this.#opened === undefined
    ) {
      await this.#client
        .cancel(sessionId, { code, message: e.message.slice(0, 1024) })
        .catch(() => undefined);
    } else if (!(err instanceof AgentError && err.code === 'ERR_PROVIDER')) {
      await this.#client
        .reportTransfer(sessionId, {
          status: 'failed',
          error: `${code}: ${e.message}`.slice(0, 500),
          ...(ERROR_CODE_RE.test(code) ? { error_code: code } : {}),
          ...(providerAtFault(err) ? { failed_side: 'provider' as const } : {}),
          ...(this.#opened !== undefined ? { transport: this.#opened.kind } : {}),
          ...(this.#path !== undefined ? { path: this.#path } : {}),
        })
        .catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.#signals?.close();
    // After a failure our `error` (docs/protocol.md §3.6) may still sit in the channel's buffer: closing
    // at once can discard it, and the provider would take a dead link for the reason. Let it leave first.
    // Handed to SCTP is not yet delivered: closing the peer connection aborts the association and can drop
    // it still (seen under CPU load). The peer closes its side once it has read our error — wait for
    // that, a second at most.
    if (this.#opened !== undefined && !this.#finished) {
      await drained(this.#opened.channel, 250);
      await closedByPeer(this.#opened.channel, 1000);
    }
    this.#opened?.close();
    this.#router.close();
    this.#client.close();
  }
}

/**
 * Failures the consumer sees but the provider caused: the channel died or went quiet on the sending side
 * (a provider killed midway), the provider sent bad bytes or its own `error` (docs/errors.md).
 */
function providerAtFault(err: unknown): boolean {
  if (err instanceof TransferError) {
    return [
      'ERR_CHANNEL_CLOSED',
      'ERR_TIMEOUT',
      'ERR_PEER_GONE',
      'ERR_PEER',
      'ERR_HASH_MISMATCH',
      'ERR_SIZE_MISMATCH',
      'ERR_UNVERIFIED',
    ].includes(err.code);
  }
  return err instanceof AgentError && err.code === 'ERR_TRANSFER' && err.serverCode !== undefined;
}

/** Resolves once the peer has closed `channel` (it is no longer open), or after `maxMs`. */
async function closedByPeer(channel: OpenedChannel['channel'], maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until && channel.readyState === 'open') await new Promise((r) => setTimeout(r, 10));
}

/** Resolves once `channel` has nothing buffered, or after `maxMs`. */
async function drained(channel: OpenedChannel['channel'], maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    let buffered = 0;
    try {
      buffered = channel.readyState === 'open' ? channel.bufferedAmount : 0;
    } catch {
      buffered = 0;
    }
    if (buffered === 0) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}
