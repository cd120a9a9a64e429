/**
 * The consumer (the seed's Type2): asks the signaling server for data, answers the provider's offer,
 * receives the file over the data channel (or the relay), verifies every chunk and the whole, and only then
 * moves it into place. A transfer lost midway keeps its verified prefix; asking again resumes from it.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TransferError } from '../protocol/errors.js';
import { receiveFile, type ReceiveResult } from '../protocol/receiver.js';
import { AgentError } from './errors.js';
import { createSha256, crc32, openDiskTarget } from './files.js';
import { SDRLINK_PROTOCOL } from './provider.js';
import { SignalRouter } from './session-signals.js';
import { SignalingClient } from './signaling-client.js';
import {
  openP2P,
  openRelay,
  SessionSignals,
  withAbort,
  type OpenedChannel,
  type SessionLink,
  type TransportChoice,
  type TransportKind,
} from './transport.js';

export interface RequestOptions {
  server: string;
  token: string;
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
  signal?: AbortSignal;
  onProgress?: (p: {
    received: number;
    total: number;
    startOffset: number;
    transport: TransportKind;
  }) => void;
  onEvent?: (e: { event: string; [k: string]: unknown }) => void;
  /** Test faults. */
  faults?: { withholdCandidates?: boolean };
}

export interface RequestResult {
  path: string;
  size: number;
  sha256: string;
  /** False when the provider sent no checksum (a seed provider): the file was saved unverified. */
  verified: boolean;
  transport: TransportKind;
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
}

/** Requests a dataset and saves it, verified. Rejects with AgentError / TransferError carrying a `code`. */
export async function requestFile(opts: RequestOptions): Promise<RequestResult> {
  const started = Date.now();
  const client = new SignalingClient(opts.server, opts.token);
  const router = new SignalRouter(client, 1000);
  const emit = opts.onEvent ?? (() => undefined);
  const outDir = resolve(opts.outDir);
  const choice = opts.transport ?? 'auto';
  let sessionId: string | undefined;
  let signals: SessionSignals | undefined;
  let opened: OpenedChannel | undefined;
  let finished = false;
  try {
    await mkdir(outDir, { recursive: true });
    try {
      await client.connectPush({ onSignal: (sig) => router.deliver(sig) });
    } catch (err) {
      emit({ event: 'log', message: `push channel unavailable, polling instead: ${(err as Error).message}` });
    }
    const config = await client.iceConfig();
    const connectTimeoutMs = opts.connectTimeoutMs ?? config.relay_after_ms ?? 5000;
    const init: Parameters<SignalingClient['initiate']>[0] = {
      request_type: opts.type,
      parameters: opts.params,
      capabilities: [SDRLINK_PROTOCOL],
    };
    if (opts.provider !== undefined) init.target = opts.provider;
    const session = await client.initiate(init);
    sessionId = session.session_id;
    emit({ event: 'session', session_id: sessionId });
    signals = new SessionSignals(router, sessionId, 'provider');

    const link: SessionLink = {
      client,
      sessionId,
      token: opts.token,
      signals,
      iceServers: config.ice_servers ?? [],
      connectTimeoutMs,
      offerTimeoutMs: opts.waitMs ?? 60_000,
      relayTimeoutMs: Math.max(10_000, connectTimeoutMs * 2),
      log: (message) => emit({ event: 'log', message }),
    };
    if (opts.signal !== undefined) link.signal = opts.signal;
    if (opts.faults?.withholdCandidates === true) link.withholdCandidates = true;

    opened = await connect(link, choice);
    const transferStart = Date.now();
    emit({ event: 'connected', session_id: sessionId, transport: opened.kind });

    let firstByteAt = 0;
    const markFirstByte = () => {
      if (firstByteAt === 0) firstByteAt = Date.now();
    };
    let result: ReceiveResult | undefined;
    let firstStart = -1;
    let received = 0;
    for (let attempt = 0; result === undefined; attempt++) {
      const kind: TransportKind = opened.kind;
      try {
        const r = await receiveOver(opened.channel, outDir, opts, kind, signals, markFirstByte);
        result = r;
        if (firstStart < 0) firstStart = r.startOffset;
        received += r.size - r.startOffset;
      } catch (err) {
        const te = err as TransferError;
        const channelDied =
          te instanceof TransferError && (te.code === 'ERR_CHANNEL_CLOSED' || te.code === 'ERR_TIMEOUT');
        if (!(
          channelDied &&
          choice === 'auto' &&
          kind === 'p2p' &&
          attempt === 0 &&
          opts.signal?.aborted !== true
        )) {
          throw err;
        }
        emit({
          event: 'log',
          message: `direct channel lost midway (${te.message}); continuing over the relay`,
        });
        opened.close();
        opened = await openRelay(link);
        emit({ event: 'connected', session_id: sessionId, transport: 'relay' });
      }
    }
    const now = Date.now();
    const transferMs = Math.max(1, now - transferStart);
    if (firstByteAt === 0) firstByteAt = now;
    const out: RequestResult = {
      path: result.path,
      size: result.size,
      sha256: result.sha256,
      verified: result.verified,
      transport: opened.kind,
      session_id: sessionId,
      duration_ms: now - started,
      transfer_ms: transferMs,
      bytes_received: received,
      resumed_from: firstStart < 0 ? 0 : firstStart,
      rate: (received / Math.max(1, now - firstByteAt)) * 1000,
      first_byte_ms: firstByteAt - started,
      provider_id: link.providerId ?? session.target_user_id,
    };
    finished = true;
    await client
      .reportTransfer(sessionId, {
        status: 'completed',
        file_name: result.path.split('/').pop() ?? '',
        file_size: result.size,
        bytes: received,
        sha256: result.sha256,
        transport: opened.kind,
        duration_ms: out.duration_ms,
        verified: result.verified,
      })
      .catch((err: unknown) =>
        emit({ event: 'log', message: `transfer report not stored: ${(err as Error).message}` }),
      );
    return out;
  } catch (err) {
    if (sessionId !== undefined && !finished) {
      const e = err as { code?: string; message: string };
      const code = e.code ?? 'ERR_TRANSFER';
      if (err instanceof AgentError && err.code === 'ERR_CONNECT_TIMEOUT' && opened === undefined) {
        await client.cancel(sessionId).catch(() => undefined);
      } else if (!(err instanceof AgentError && err.code === 'ERR_PROVIDER')) {
        await client
          .reportTransfer(sessionId, { status: 'failed', error: `${code}: ${e.message}`.slice(0, 500) })
          .catch(() => undefined);
      }
    }
    throw err;
  } finally {
    signals?.close();
    // After a failure our `error` (docs/protocol.md §3.6) may still sit in the channel's buffer: closing
    // at once can discard it, and the provider would take a dead link for the reason. Let it leave first.
    if (opened !== undefined && !finished) await drained(opened.channel, 250);
    opened?.close();
    router.close();
    client.close();
  }
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

async function connect(link: SessionLink, choice: TransportChoice): Promise<OpenedChannel> {
  if (choice === 'relay') {
    // Wait until a provider has claimed the session (its offer), then meet it at the relay.
    const offer = await withAbort(
      Promise.race([link.signals.offer, link.signals.failed]),
      link.offerTimeoutMs,
      'no provider answered',
      link.signal,
    );
    link.providerId = offer.from_client_id;
    return openRelay(link);
  }
  try {
    return await openP2P(link, 'answerer');
  } catch (err) {
    const e = err as AgentError;
    const retryable =
      e.code === 'ERR_ICE_FAILED' ||
      (e.code === 'ERR_CONNECT_TIMEOUT' && !e.message.startsWith('no provider'));
    if (choice === 'p2p' || !retryable || link.signal?.aborted === true) throw err;
    link.log?.(`no direct path (${e.message}); using the relay`);
    return openRelay(link);
  }
}

function receiveOver(
  channel: OpenedChannel['channel'],
  outDir: string,
  opts: RequestOptions,
  kind: TransportKind,
  signals: SessionSignals,
  onFirstByte: () => void,
): Promise<ReceiveResult> {
  const ro: Parameters<typeof receiveFile>[1] = {
    crc32,
    createHash: createSha256,
    open: (meta) => openDiskTarget(outDir, meta),
    idleTimeoutMs: opts.idleTimeoutMs ?? 30_000,
  };
  if (opts.signal !== undefined) ro.signal = opts.signal;
  const onProgress = opts.onProgress;
  ro.onProgress = (p) => {
    if (p.received > p.startOffset) onFirstByte();
    onProgress?.({ received: p.received, total: p.total, startOffset: p.startOffset, transport: kind });
  };
  return Promise.race([receiveFile(channel, ro), signals.failed]);
}
