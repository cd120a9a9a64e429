/**
 * One provider session, from claim to report: check the request, produce the file through the cache (while
 * connecting), claim the session with the offer, connect (WebRTC or the relay), send with `sdrlink/1` — or
 * the seed's plain format to a seed consumer —, carry on over the relay when a direct channel dies midway,
 * and report the outcome. A bad request is declined (docs/api.md §12); nothing is claimed.
 */
import { DatasetError, type Dataset, type DatasetRegistry } from '../datasets/types.js';
import { PROTOCOL_NAME } from '../protocol/codec.js';
import { ERROR_CODE_PATTERN } from '../wire/index.js';
import { TransferError } from '../protocol/errors.js';
import { sendFile, type SendResult } from '../protocol/sender.js';
import type { CacheLease, DatasetCache, PreparedFile } from './dataset-cache.js';
import { AgentError } from './errors.js';
import type { SendHooks } from './faults.js';
import { crc32, openFileSource, sha256File } from './files.js';
import type { ProviderEvent } from './provider.js';
import { SessionSignals, type SignalRouter } from './session-signals.js';
import type { IceServerConfig, IceSession, SignalingClient, TransferReport } from './signaling-client.js';
import {
  AGENT_CAPABILITIES,
  channelPath,
  connectWithFallback,
  peerJoinsRelay,
  RELAY_ONLY_CAPABILITY,
  runWithFailover,
  withAbort,
  type ChannelFactory,
  type OpenedChannel,
  type SessionLink,
  type TransportChoice,
} from './transport.js';

/** A stable error code (src/wire: ERROR_CODE_PATTERN). */
const ERROR_CODE_RE = new RegExp(ERROR_CODE_PATTERN);

/** What every session of one provider shares. */
export interface ProviderContext {
  client: SignalingClient;
  token: string;
  router: SignalRouter;
  datasets: DatasetRegistry;
  cache: DatasetCache;
  /** Largest file the provider will produce. */
  maxOutputBytes: number;
  choice: TransportChoice;
  iceServers: IceServerConfig[];
  connectTimeoutMs: number;
  channels: ChannelFactory;
  hooks: SendHooks;
  /** A consumer that advertised keepalive and is silent this long is gone (docs/protocol.md §3.7). */
  peerTimeoutMs?: number;
  /** Holds a seed consumer's channel open for `ms` so that it may close first (see {@link Lingering}). */
  linger(opened: OpenedChannel, ms: number): void;
  emit(event: ProviderEvent): void;
}

/** How long a claimed session may wait for its file to be produced. */
const FILE_READY_TIMEOUT_MS = 15 * 60_000;
/** No progress for this long fails a send. */
const SEND_IDLE_TIMEOUT_MS = 30_000;
/** At most one `progress` signal per this long while the file is produced (docs/api.md §2). */
const PROGRESS_INTERVAL_MS = 500;
/** A seed receiver never acknowledges and may still be draining: it gets this long to close first. */
const SEED_CLOSE_DELAY_MS = 5000;

/**
 * How serving a session ended: `lost-claim` when another provider had claimed it first (the server may
 * offer it again if that claim is released, docs/api.md §3), else `done`.
 */
export type ServeOutcome = 'done' | 'lost-claim';

/** The abort reason when the server released this provider's claim (push `claim-released`). */
export class ClaimReleasedAbort extends Error {
  override name = 'ClaimReleasedAbort';
}

/** Serves one session to its end; failures are reported through events and the session, never thrown. */
export async function serveSession(
  ctx: ProviderContext,
  s: IceSession,
  signal: AbortSignal,
): Promise<ServeOutcome> {
  ctx.emit({ event: 'session', session_id: s.session_id, request_type: s.request_type });
  // Checked before claiming anything: a bad request is refused through the session.
  const checked = checkRequest(ctx, s);
  if (!checked.ok) {
    await refuse(ctx, s.session_id, checked.code, checked.message);
    return 'done';
  }
  return new ProviderSession(ctx, s, checked, signal).run();
}

type CheckedRequest =
  | { ok: true; dataset: Dataset; params: unknown; estimate: number }
  | { ok: false; code: string; message: string };

/** The session's dataset and validated parameters, or the refusal to send. */
function checkRequest(ctx: ProviderContext, s: IceSession): CheckedRequest {
  const dataset = ctx.datasets.get(s.request_type);
  if (dataset === undefined) {
    const serves = ctx.datasets.types().join(', ');
    return {
      ok: false,
      code: 'ERR_REQUEST_TYPE',
      message: `request type ${JSON.stringify(s.request_type)} is not served here (serves: ${serves})`,
    };
  }
  let params: unknown;
  try {
    params = dataset.validate(JSON.parse(s.parameters === '' ? '{}' : s.parameters));
  } catch (err) {
    if (err instanceof SyntaxError)
      return { ok: false, code: 'ERR_PARAMS', message: `parameters: not valid JSON (${err.message})` };
    if (err instanceof DatasetError) return { ok: false, code: err.code, message: err.message };
    // A live source's refusal (ERR_DEVICE_RANGE, …) keeps its own code.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && ERROR_CODE_RE.test(code))
      return { ok: false, code, message: (err as Error).message };
    return { ok: false, code: 'ERR_PARAMS', message: (err as Error).message };
  }
  const estimate = dataset.estimateBytes(params);
  if (estimate > ctx.maxOutputBytes) {
    return {
      ok: false,
      code: 'ERR_TOO_LARGE',
      message: `the file would be ~${estimate} bytes; this provider's limit is ${ctx.maxOutputBytes}`,
    };
  }
  return { ok: true, dataset, params, estimate };
}

/**
 * Declines a session it will not serve (docs/api.md §12): the server offers it to the other providers, and
 * fails it only when none is left. A session already claimed (a file that could not be produced), or a
 * server without declines, gets the `error` signal instead, which fails it for the consumer.
 */
async function refuse(ctx: ProviderContext, sessionId: string, code: string, message: string) {
  ctx.emit({ event: 'refused', session_id: sessionId, code, message });
  try {
    await ctx.client.decline(sessionId, code, message);
    return;
  } catch (err) {
    const e = err as AgentError;
    if (e.status !== 404 && e.status !== 409) return; // gone, or not ours: nobody to tell
  }
  await ctx.client.sendSignal(sessionId, 'error', { code, message }).catch(() => undefined);
}

/**
 * The channels held open for seed consumers after a finished send (DESIGN.md: toward a peer that sends no
 * acknowledgement, let it close first). Each closes when the peer closes it, after the hold, or — all at
 * once — when the provider shuts down: a connection left to a timer would still be open when the process
 * frees node-datachannel, which then waits 10 s ("cleanup timeout (possible deadlock)").
 */
export class Lingering {
  readonly #held = new Set<() => void>();

  hold(o: OpenedChannel, ms: number): void {
    const ch = o.channel;
    const prev = ch.onclose;
    let done = false;
    const close = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.#held.delete(close);
      ch.onclose = prev;
      o.close();
    };
    const timer = setTimeout(close, ms);
    timer.unref();
    this.#held.add(close);
    if (ch.readyState === 'closing' || ch.readyState === 'closed') return close();
    ch.onclose = (ev) => {
      prev?.(ev);
      close();
    };
  }

  /** Closes every held channel now. */
  closeAll(): void {
    for (const close of [...this.#held]) close();
  }
}

/**
 * Another provider claimed the session first: not a failure of this one. An AgentError, so the direct
 * attempt passes it on as it is (not as an ICE failure) and no relay is tried for it.
 */
class LostClaimError extends AgentError {
  constructor(message: string) {
    super('ERR_SERVER', `session taken by another provider: ${message}`);
  }
}

/** One accepted session's state, from the claim to the report. */
class ProviderSession {
  readonly #ctx: ProviderContext;
  readonly #s: IceSession;
  readonly #signal: AbortSignal;
  readonly #started = Date.now();
  readonly #prepared: Promise<CacheLease>;
  readonly #signals: SessionSignals;
  readonly #link: SessionLink;
  /** The consumer speaks sdrlink/1 (else it is a seed consumer: plain format, no resume). */
  readonly #sdrlink: boolean;
  #opened: OpenedChannel | undefined;
  #claimed = false;
  #failed = false;
  readonly #estimate: number;
  #lastProgress = 0;
  #progressInFlight = false;
  /** Place in the device's line (live sources; 0: not waiting). */
  #queuePosition = 0;

  constructor(
    ctx: ProviderContext,
    s: IceSession,
    req: { dataset: Dataset; params: unknown; estimate: number },
    signal: AbortSignal,
  ) {
    this.#ctx = ctx;
    this.#s = s;
    this.#signal = signal;
    this.#estimate = req.estimate;
    // The file is produced while the session connects; the consumer hears how far (`progress` signals).
    this.#prepared = ctx.cache.prepare(
      req.dataset,
      req.params,
      signal,
      (b) => this.#preparing(b),
      (position) => this.#queued(position),
    );
    this.#prepared.catch(() => undefined);
    this.#signals = new SessionSignals(ctx.router, s.session_id, 'consumer');
    this.#link = {
      client: ctx.client,
      sessionId: s.session_id,
      token: ctx.token,
      signals: this.#signals,
      iceServers: ctx.iceServers,
      connectTimeoutMs: ctx.connectTimeoutMs,
      offerTimeoutMs: ctx.connectTimeoutMs,
      relayTimeoutMs: Math.max(10_000, ctx.connectTimeoutMs * 2),
      signal,
      log: (message) => ctx.emit({ event: 'log', session_id: s.session_id, message }),
      // A seed consumer declares nothing: it never comes to the relay, so none is waited at for it.
      peerRelays: peerJoinsRelay(s.capabilities ?? []),
    };
    this.#sdrlink = (s.capabilities ?? []).includes(PROTOCOL_NAME);
  }

  get #id(): string {
    return this.#s.session_id;
  }

  /**
   * Tells the consumer how much of the file is written (a `progress` signal, docs/api.md §2): once the
   * session is claimed, to a consumer of ours (a seed one would ignore it), at most every 500 ms, one at a time.
   */
  #preparing(bytes: number): void {
    const now = Date.now();
    if (!this.#claimed || !this.#sdrlink || this.#progressInFlight) return;
    if (now - this.#lastProgress < PROGRESS_INTERVAL_MS) return;
    this.#lastProgress = now;
    this.#progressInFlight = true;
    const data = { phase: 'preparing', bytes, total: Math.max(this.#estimate, bytes) };
    this.#ctx.emit({ event: 'preparing', session_id: this.#id, bytes, total: data.total });
    void this.#ctx.client
      .sendSignal(this.#id, 'progress', data)
      .catch(() => undefined)
      .finally(() => (this.#progressInFlight = false));
  }

  /**
   * The request waits for a device another capture holds (live sources): the consumer hears its place in
   * line (a `progress` signal of phase `queued`, docs/api.md §2) once the session is claimed, and again
   * whenever the line moves.
   */
  #queued(position: number): void {
    this.#queuePosition = position;
    if (position === 0) return;
    this.#ctx.emit({ event: 'queued', session_id: this.#id, position });
    this.#sendQueued();
  }

  #sendQueued(): void {
    const position = this.#queuePosition;
    if (!this.#claimed || !this.#sdrlink || position === 0) return;
    const data = { phase: 'queued', bytes: 0, total: this.#estimate, position };
    void this.#ctx.client.sendSignal(this.#id, 'progress', data).catch((err: unknown) =>
      this.#ctx.emit({
        event: 'log',
        session_id: this.#id,
        message: `queue position not told: ${(err as Error).message}`,
      }),
    );
  }

  async run(): Promise<ServeOutcome> {
    try {
      await this.#transfer();
      return 'done';
    } catch (err) {
      this.#failed = true;
      await this.#fail(err);
      return err instanceof LostClaimError ? 'lost-claim' : 'done';
    } finally {
      this.#close();
    }
  }

  async #transfer(): Promise<void> {
    // A consumer that goes straight to the relay answers no offer: meet it there now, not after a timeout.
    const relayOnly = (this.#s.capabilities ?? []).includes(RELAY_ONLY_CAPABILITY);
    const choice = relayOnly && this.#ctx.choice === 'auto' ? 'relay' : this.#ctx.choice;
    if (choice !== this.#ctx.choice) this.#link.log?.('the consumer asked for the relay: joining it at once');
    const { opened, fallback } = await connectWithFallback(this.#link, {
      choice,
      role: 'offerer',
      channels: this.#ctx.channels,
      claim: (offer) => this.#claim(offer),
    });
    this.#opened = opened;
    let current = opened;
    this.#ctx.emit({
      event: 'connected',
      session_id: this.#id,
      transport: opened.kind,
      ...pathOf(opened),
      ...(fallback !== undefined ? { fallback: fallback.reason } : {}),
    });
    this.#report({ status: 'connected', transport: opened.kind, ...pathOf(opened) });

    const file = await withAbort(Promise.race([this.#prepared, this.#signals.failed]), {
      ms: FILE_READY_TIMEOUT_MS,
      what: 'file not ready',
      waitingFor: 'file',
      signal: this.#signal,
    });
    this.#report({
      status: 'transferring',
      transport: opened.kind,
      file_name: file.filename,
      file_size: file.size,
      sha256: file.sha256,
    });
    const sent = await runWithFailover(
      opened,
      {
        link: this.#link,
        channels: this.#ctx.channels,
        choice: this.#ctx.choice,
        resumable: this.#sdrlink,
        onRelay: (relay, why) => {
          this.#opened = current = relay;
          this.#ctx.emit({
            event: 'connected',
            session_id: this.#id,
            transport: 'relay',
            ...pathOf(relay),
            fallback: why.reason,
          });
        },
      },
      (o) => this.#sendOver(o, file),
    );
    this.#completed(file, sent, current);
  }

  /**
   * Claims the session by posting the offer, with our capabilities beside `type` and `sdp` (additive: a
   * seed client and RTCSessionDescriptionInit ignore the field); losing the race to another provider is a
   * LostClaimError.
   */
  async #claim(offer: string): Promise<void> {
    const data = JSON.stringify({ ...(JSON.parse(offer) as object), capabilities: AGENT_CAPABILITIES });
    try {
      await this.#ctx.client.sendSignal(this.#id, 'offer', data);
      this.#claimed = true;
      this.#ctx.emit({ event: 'claimed', session_id: this.#id });
      this.#sendQueued();
    } catch (err) {
      const e = err as AgentError;
      if (e.status === 409 || e.status === 403 || e.serverCode === 'ERR_SESSION_CLAIMED') {
        throw new LostClaimError(e.message);
      }
      throw err;
    }
  }

  async #sendOver(o: OpenedChannel, file: PreparedFile): Promise<SendResult> {
    const source = await openFileSource(file.path);
    try {
      return await sendFile(this.#ctx.hooks.channel(o), {
        filename: this.#ctx.hooks.filename(file.filename),
        source,
        sha256: file.sha256,
        mode: this.#sdrlink ? 'sdrlink' : 'seed',
        crc32,
        prefixSha256: (length: number) => sha256File(file.path, length),
        idleTimeoutMs: SEND_IDLE_TIMEOUT_MS,
        ...(this.#ctx.peerTimeoutMs === undefined ? {} : { peerTimeoutMs: this.#ctx.peerTimeoutMs }),
        signal: this.#signal,
        onProgress: throttle((p: { sent: number; total: number }) =>
          this.#ctx.emit({ event: 'progress', session_id: this.#id, sent: p.sent, total: p.total }),
        ),
      });
    } finally {
      await source.close();
    }
  }

  #completed(file: PreparedFile, r: SendResult, over: OpenedChannel): void {
    const transport = over.kind;
    const duration = Date.now() - this.#started;
    this.#ctx.emit({
      event: 'sent',
      session_id: this.#id,
      bytes: r.bytesSent,
      sha256: file.sha256,
      transport,
      ...pathOf(over),
      duration_ms: duration,
      acked: r.acked,
      start_offset: r.startOffset,
    });
    this.#report({
      status: 'completed',
      transport,
      bytes: r.bytesSent,
      sha256: file.sha256,
      file_name: file.filename,
      file_size: file.size,
      duration_ms: duration,
      verified: r.acked,
      ...pathOf(over),
    });
  }

  /** Tells the consumer (unless the failure was its own word), the log and the server. */
  async #fail(err: unknown): Promise<void> {
    const e = err as Error & { code?: unknown };
    if (err instanceof LostClaimError) {
      this.#ctx.emit({ event: 'lost-claim', session_id: this.#id, message: e.message });
      return;
    }
    const reason: unknown = this.#signal.reason;
    if (this.#signal.aborted && reason instanceof ClaimReleasedAbort) {
      // not ours any more: the server offers it to others and refuses our signals and reports (409)
      this.#ctx.emit({ event: 'claim-released', session_id: this.#id, message: reason.message });
      return;
    }
    const code = typeof e.code === 'string' ? e.code : 'ERR_TRANSFER';
    if (err instanceof DatasetError) {
      await refuse(this.#ctx, this.#id, err.code, `could not produce the file: ${err.message}`);
    } else if (this.#claimed && !fromPeer(err) && !peerGone(err)) {
      await this.#ctx.client
        .sendSignal(this.#id, 'error', { code, message: e.message })
        .catch(() => undefined);
    }
    this.#ctx.emit({ event: 'failed', session_id: this.#id, code, message: e.message });
    if (!this.#claimed) return;
    this.#report({
      status: 'failed',
      // Bytes are counted from a finished send only; a failed one reports none.
      bytes: 0,
      error: `${code}: ${e.message}`.slice(0, 500),
      ...(ERROR_CODE_RE.test(code) ? { error_code: code } : {}),
      // The consumer went silent (killed, or its path died): its side failed, not ours.
      ...(peerGone(err) ? { failed_side: 'consumer' as const } : {}),
      duration_ms: Date.now() - this.#started,
      ...(this.#opened !== undefined ? { transport: this.#opened.kind, ...pathOf(this.#opened) } : {}),
    });
  }

  #close(): void {
    // The cache holds the file until this session is done with it, whatever the outcome.
    void this.#prepared.then(
      (f) => f.release(),
      () => undefined,
    );
    this.#signals.close();
    const o = this.#opened;
    if (o === undefined) return;
    // A seed receiver never acknowledges and may still be draining: let it close first (DESIGN.md).
    if (!this.#sdrlink && !this.#failed) this.#ctx.linger(o, SEED_CLOSE_DELAY_MS);
    else o.close();
  }

  #report(r: TransferReport): void {
    this.#ctx.client.reportTransfer(this.#id, r).catch((err: unknown) => {
      this.#ctx.emit({
        event: 'log',
        session_id: this.#id,
        message: `transfer report not stored: ${(err as Error).message}`,
      });
    });
  }
}

/** `{ path }` for a report, when the channel knows it (docs/api.md §3). */
function pathOf(o: OpenedChannel): { path?: string } {
  const path = channelPath(o);
  return path === undefined ? {} : { path };
}

/** True when the failure was the peer's own word (its `error` message or signal): no need to echo it. */
function fromPeer(err: unknown): boolean {
  if (err instanceof TransferError) return err.code === 'ERR_PEER';
  return err instanceof AgentError && err.code === 'ERR_TRANSFER' && err.serverCode !== undefined;
}

/**
 * True when the consumer went silent (docs/protocol.md §3.7): it is dead or cut off, so an `error` signal
 * would tell nobody — and, as the first final word on the session, would record the failure as this side's.
 */
function peerGone(err: unknown): boolean {
  return err instanceof TransferError && err.code === 'ERR_PEER_GONE';
}

function throttle<T>(fn: (v: T) => void, ms = 250): (v: T) => void {
  let last = 0;
  return (v: T) => {
    const now = Date.now();
    if (now - last >= ms) {
      last = now;
      fn(v);
    }
  };
}
