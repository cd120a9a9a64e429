/**
 * The provider (the seed's Type1): learns of sessions it may serve (push, polling as fallback), checks the
 * request, claims the session with its offer, produces the file through the dataset registry, connects
 * (WebRTC, or the relay), sends it with `sdrlink/1` — or the seed's plain format to a seed consumer —,
 * reports the outcome, and serves several consumers at once. A bad request gets an `error` signal back;
 * the provider keeps running.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DatasetError, type DatasetRegistry } from '../datasets/types.js';
import type { Channel } from '../protocol/channel.js';
import { TransferError } from '../protocol/errors.js';
import { sendFile } from '../protocol/sender.js';
import { cleanupWebRtc } from './channel/webrtc.js';
import { DatasetCache, type CacheEvent, type PreparedFile } from './dataset-cache.js';
import { AgentError } from './errors.js';
import { crc32, openFileSource, sha256File } from './files.js';
import { SignalRouter } from './session-signals.js';
import { SignalingClient, type IceSession, type IceServerConfig } from './signaling-client.js';
import {
  openP2P,
  openRelay,
  SessionSignals,
  withAbort,
  type OpenedChannel,
  type SessionLink,
  type TransportChoice,
} from './transport.js';

export const SDRLINK_PROTOCOL = 'sdrlink/1';

export interface ProviderFaults {
  /** Flip one payload byte of the n-th data frame (1-based) sent, once per provider: tests CRC detection. */
  corruptFrame?: number;
  /** Withhold ICE candidates so no direct path forms: tests the relay fallback. */
  withholdCandidates?: boolean;
  /** Close the direct channel after this many payload bytes: tests mid-transfer failover. */
  dropChannelAfterBytes?: number;
  /** Kill this process (SIGKILL) after this many bytes sent: tests a provider dying mid-transfer. */
  killAfterBytes?: number;
  /** Announce these file names instead of the real one, one per session in turn: tests hostile names. */
  fileNames?: string[];
}

export interface ProviderOptions {
  server: string;
  token: string;
  datasets: DatasetRegistry;
  /** Where generated files are cached (under `cache/`). */
  dataDir: string;
  /** Bound of the cache in bytes, least recently used evicted first (default 10 GiB); 0: keep no file after serving it. */
  cacheMaxBytes?: number;
  transport?: TransportChoice;
  /** Sessions served at once; more wait in line (default 4). */
  maxConcurrent?: number;
  /** Largest file the provider will produce (default 4 GiB). */
  maxOutputBytes?: number;
  /** Poll interval while the push channel is down (default 2 s). */
  pollIntervalMs?: number;
  /** Overrides the server's `relay_after_ms`. */
  connectTimeoutMs?: number;
  log?: (event: ProviderEvent) => void;
  faults?: ProviderFaults;
}

export type ProviderEvent =
  | { event: 'ready'; user_id: string; types: string[]; push: boolean }
  | { event: 'session'; session_id: string; request_type: string }
  | { event: 'refused'; session_id: string; code: string; message: string }
  | { event: 'claimed'; session_id: string }
  | { event: 'lost-claim'; session_id: string; message: string }
  | { event: 'connected'; session_id: string; transport: 'p2p' | 'relay' }
  | { event: 'progress'; session_id: string; sent: number; total: number }
  | {
      event: 'sent';
      session_id: string;
      bytes: number;
      sha256: string;
      transport: 'p2p' | 'relay';
      duration_ms: number;
      acked: boolean;
      start_offset: number;
    }
  | { event: 'failed'; session_id: string; code: string; message: string }
  | { event: 'log'; session_id?: string; message: string }
  | CacheEvent;

export interface Provider {
  /** Sessions being served right now. */
  readonly active: number;
  /** Stops taking sessions, aborts those in progress, closes connections. */
  close(): Promise<void>;
}

/** Starts a provider and resolves once it is registered and listening for sessions. */
export async function startProvider(opts: ProviderOptions): Promise<Provider> {
  const client = new SignalingClient(opts.server, opts.token);
  const emit = opts.log ?? (() => undefined);
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true });
  // Opening the cache removes a crash's leftovers and evicts down to the bound.
  const cache = await DatasetCache.open(dataDir, {
    ...(opts.cacheMaxBytes !== undefined ? { maxBytes: opts.cacheMaxBytes } : {}),
    onEvent: emit,
  });
  const maxConcurrent = opts.maxConcurrent ?? 4;
  const maxOutputBytes = opts.maxOutputBytes ?? 4 * 1024 ** 3;
  const choice = opts.transport ?? 'auto';
  const faults: ProviderFaults = { ...opts.faults };

  const me = await client.me();
  if (me.client_type !== 1) {
    throw new AgentError(
      'ERR_CONFIG',
      `user ${me.username} is a consumer (client_type ${me.client_type}); a provider needs a client_type 1 token`,
    );
  }
  const types = opts.datasets.types();
  await client.setRequestTypes(types);
  const config = await client.iceConfig();
  const iceServers: IceServerConfig[] = config.ice_servers ?? [];
  const connectTimeoutMs = opts.connectTimeoutMs ?? config.relay_after_ms ?? 5000;

  const router = new SignalRouter(client, opts.pollIntervalMs ?? 2000);
  const seen = new Set<string>();
  const queue: IceSession[] = [];
  const controllers = new Set<AbortController>();
  const running = new Set<Promise<void>>();
  let active = 0;
  let closed = false;

  const consider = (s: IceSession) => {
    if (closed || seen.has(s.session_id) || s.status !== 'pending') return;
    seen.add(s.session_id);
    queue.push(s);
    pump();
  };

  const pump = () => {
    while (!closed && active < maxConcurrent && queue.length > 0) {
      const s = queue.shift() as IceSession;
      active++;
      const ac = new AbortController();
      controllers.add(ac);
      const p = serve(s, ac.signal)
        .catch((err: unknown) =>
          emit({ event: 'log', session_id: s.session_id, message: `unexpected: ${String(err)}` }),
        )
        .finally(() => {
          active--;
          controllers.delete(ac);
          running.delete(p);
          pump();
        });
      running.add(p);
    }
  };

  const refuse = async (s: IceSession, code: string, message: string) => {
    emit({ event: 'refused', session_id: s.session_id, code, message });
    await client.sendSignal(s.session_id, 'error', { code, message }).catch(() => undefined);
  };

  async function serve(s: IceSession, signal: AbortSignal): Promise<void> {
    emit({ event: 'session', session_id: s.session_id, request_type: s.request_type });
    // 1. Check the request before claiming anything: a bad one is refused through the session.
    const dataset = opts.datasets.get(s.request_type);
    if (dataset === undefined) {
      return refuse(
        s,
        'ERR_REQUEST_TYPE',
        `request type ${JSON.stringify(s.request_type)} is not served here (serves: ${types.join(', ')})`,
      );
    }
    let params: unknown;
    try {
      params = dataset.validate(JSON.parse(s.parameters === '' ? '{}' : s.parameters));
    } catch (err) {
      if (err instanceof SyntaxError)
        return refuse(s, 'ERR_PARAMS', `parameters: not valid JSON (${err.message})`);
      if (err instanceof DatasetError) return refuse(s, err.code, err.message);
      return refuse(s, 'ERR_PARAMS', (err as Error).message);
    }
    const estimate = dataset.estimateBytes(params);
    if (estimate > maxOutputBytes) {
      return refuse(
        s,
        'ERR_TOO_LARGE',
        `the file would be ~${estimate} bytes; this provider's limit is ${maxOutputBytes}`,
      );
    }

    // 2. Produce the file (in parallel with connecting).
    const prepared = cache.prepare(dataset, params, signal);
    prepared.catch(() => undefined);

    const started = Date.now();
    const signals = new SessionSignals(router, s.session_id, 'consumer');
    const log = (message: string) => emit({ event: 'log', session_id: s.session_id, message });
    const link: SessionLink = {
      client,
      sessionId: s.session_id,
      token: opts.token,
      signals,
      iceServers,
      connectTimeoutMs,
      offerTimeoutMs: connectTimeoutMs,
      relayTimeoutMs: Math.max(10_000, connectTimeoutMs * 2),
      signal,
      log,
    };
    if (faults.withholdCandidates === true) link.withholdCandidates = true;
    const sdrlink = (s.capabilities ?? []).includes(SDRLINK_PROTOCOL);
    let opened: OpenedChannel | undefined;
    let file: PreparedFile | undefined;
    let claimed = false;
    let bytesSent = 0;
    let lastError: Error | undefined;
    try {
      // 3. Claim with the offer (or, relay only, with a bare claim offer), and connect.
      const claim = async (offer: string) => {
        try {
          await client.sendSignal(s.session_id, 'offer', offer);
          claimed = true;
          emit({ event: 'claimed', session_id: s.session_id });
        } catch (err) {
          const e = err as AgentError;
          if (e.status === 409 || e.status === 403 || e.serverCode === 'ERR_SESSION_CLAIMED') {
            throw new AgentError('ERR_SERVER', `session taken by another provider: ${e.message}`, {
              serverCode: 'LOST_CLAIM',
            });
          }
          throw err;
        }
      };
      opened = await connect(link, choice, claim);
      emit({ event: 'connected', session_id: s.session_id, transport: opened.kind });
      report(s.session_id, { status: 'connected', transport: opened.kind });

      file = await withAbort(Promise.race([prepared, signals.failed]), 15 * 60_000, 'file not ready', signal);
      report(s.session_id, {
        status: 'transferring',
        transport: opened.kind,
        file_name: file.filename,
        file_size: file.size,
        sha256: file.sha256,
      });

      // 4. Send; on a dead direct channel (auto), carry on over the relay from where the consumer is.
      for (let attempt = 0; ; attempt++) {
        try {
          const r = await sendOver(opened, file, sdrlink, s.session_id, signal);
          bytesSent += r.bytesSent;
          const duration = Date.now() - started;
          emit({
            event: 'sent',
            session_id: s.session_id,
            bytes: bytesSent,
            sha256: file.sha256,
            transport: opened.kind,
            duration_ms: duration,
            acked: r.acked,
            start_offset: r.startOffset,
          });
          report(s.session_id, {
            status: 'completed',
            transport: opened.kind,
            bytes: bytesSent,
            sha256: file.sha256,
            file_name: file.filename,
            file_size: file.size,
            duration_ms: duration,
            verified: r.acked,
          });
          return;
        } catch (err) {
          const te = err as TransferError;
          const channelDied =
            te instanceof TransferError && (te.code === 'ERR_CHANNEL_CLOSED' || te.code === 'ERR_TIMEOUT');
          if (!(
            channelDied &&
            choice === 'auto' &&
            opened.kind === 'p2p' &&
            attempt === 0 &&
            sdrlink &&
            !signal.aborted
          ))
            throw err;
          log(`direct channel lost midway (${te.message}); continuing over the relay`);
          opened.close();
          opened = await openRelay(link);
          emit({ event: 'connected', session_id: s.session_id, transport: 'relay' });
        }
      }
    } catch (err) {
      lastError = err as Error;
      const e = err as Error & { code?: unknown };
      if (err instanceof AgentError && err.serverCode === 'LOST_CLAIM') {
        emit({ event: 'lost-claim', session_id: s.session_id, message: e.message });
        return;
      }
      const code = typeof e.code === 'string' ? e.code : 'ERR_TRANSFER';
      if (err instanceof DatasetError) {
        await refuse(s, err.code, `could not produce the file: ${err.message}`);
      } else if (claimed && !fromPeer(err)) {
        await client.sendSignal(s.session_id, 'error', { code, message: e.message }).catch(() => undefined);
      }
      emit({ event: 'failed', session_id: s.session_id, code, message: e.message });
      if (claimed) {
        report(s.session_id, {
          status: 'failed',
          bytes: bytesSent,
          error: `${code}: ${e.message}`.slice(0, 500),
          duration_ms: Date.now() - started,
          ...(opened !== undefined ? { transport: opened.kind } : {}),
        });
      }
    } finally {
      // The cache holds the file until this session is done with it, whatever the outcome.
      void prepared.then(
        (f) => f.release(),
        () => undefined,
      );
      signals.close();
      if (opened !== undefined) {
        const o = opened;
        // A seed receiver never acknowledges and may still be draining: let it close first (DESIGN.md).
        if (!sdrlink && lastError === undefined) setTimeout(() => o.close(), 5000).unref();
        else o.close();
      }
    }
  }

  async function sendOver(
    o: OpenedChannel,
    file: PreparedFile,
    sdrlink: boolean,
    sessionId: string,
    signal: AbortSignal,
  ) {
    const source = await openFileSource(file.path);
    try {
      const channel = wrapFaults(o, faults);
      const filename =
        faults.fileNames !== undefined && faults.fileNames.length > 0
          ? (faults.fileNames.shift() as string)
          : file.filename;
      return await sendFile(channel, {
        filename,
        source,
        sha256: file.sha256,
        mode: sdrlink ? 'sdrlink' : 'seed',
        crc32,
        prefixSha256: (length: number) => sha256File(file.path, length),
        idleTimeoutMs: 30_000,
        signal,
        onProgress: throttle((p: { sent: number; total: number }) =>
          emit({ event: 'progress', session_id: sessionId, sent: p.sent, total: p.total }),
        ),
      });
    } finally {
      await source.close();
    }
  }

  function report(sessionId: string, r: Parameters<SignalingClient['reportTransfer']>[1]) {
    client.reportTransfer(sessionId, r).catch((err: unknown) => {
      emit({
        event: 'log',
        session_id: sessionId,
        message: `transfer report not stored: ${(err as Error).message}`,
      });
    });
  }

  let push = false;
  try {
    await client.connectPush({
      onSession: consider,
      onSignal: (sig) => router.deliver(sig),
    });
    push = true;
  } catch (err) {
    emit({ event: 'log', message: `push channel unavailable, polling instead: ${(err as Error).message}` });
  }
  // Sessions listed now (push sends them too; `seen` keeps each once), then a poll while push is down.
  const pollSessions = async () => {
    if (closed || client.pushUp) return;
    try {
      for (const s of await client.listSessions()) consider(s);
    } catch (err) {
      emit({ event: 'log', message: `session poll failed: ${(err as Error).message}` });
    }
  };
  if (!push) await pollSessions();
  const pollTimer = setInterval(() => void pollSessions(), opts.pollIntervalMs ?? 2000);
  emit({ event: 'ready', user_id: me.user_id, types, push });

  return {
    get active() {
      return active;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(pollTimer);
      for (const ac of controllers) ac.abort();
      await Promise.allSettled([...running]);
      await cache.close();
      router.close();
      client.close();
    },
  };
}

async function connect(
  link: SessionLink,
  choice: TransportChoice,
  claim: (offer: string) => Promise<void>,
): Promise<OpenedChannel> {
  if (choice === 'relay') {
    // Claim with a real offer all the same: seed clients and the server's claim rule expect one.
    await claim(JSON.stringify({ type: 'offer', sdp: 'v=0\r\n' }));
    return openRelay(link);
  }
  try {
    return await openP2P(link, 'offerer', claim);
  } catch (err) {
    const e = err as AgentError;
    const retryable = e.code === 'ERR_ICE_FAILED' || e.code === 'ERR_CONNECT_TIMEOUT';
    if (choice === 'p2p' || !retryable || link.signal?.aborted === true) throw err;
    link.log?.(`no direct path (${e.message}); using the relay`);
    return openRelay(link);
  }
}

/** True when the failure was the peer's own word (its `error` message or signal): no need to echo it. */
function fromPeer(err: unknown): boolean {
  if (err instanceof TransferError) return err.code === 'ERR_PEER';
  return err instanceof AgentError && err.code === 'ERR_TRANSFER' && err.serverCode !== undefined;
}

/** Applies test faults to the channel the protocol sees. */
function wrapFaults(o: OpenedChannel, faults: ProviderFaults): Channel {
  const ch = o.channel;
  const corruptAt = faults.corruptFrame;
  const dropAfter = o.kind === 'p2p' ? faults.dropChannelAfterBytes : undefined;
  const killAfter = faults.killAfterBytes;
  if (corruptAt === undefined && dropAfter === undefined && killAfter === undefined) return ch;
  let frames = 0;
  let bytes = 0;
  let dropping = false;
  return new Proxy(ch, {
    get(target, prop) {
      if (prop === 'send') {
        return (data: string | ArrayBuffer | ArrayBufferView) => {
          if (dropping) return; // the link is "dead": nothing more goes out
          if (typeof data !== 'string') {
            frames++;
            const view = ArrayBuffer.isView(data)
              ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
              : new Uint8Array(data);
            bytes += view.byteLength;
            if (corruptAt !== undefined && frames === corruptAt && faults.corruptFrame !== undefined) {
              delete faults.corruptFrame; // once per provider
              const copy = view.slice();
              const i = copy.byteLength - 1;
              copy[i] = (copy[i] as number) ^ 0xff;
              target.send(copy);
              return;
            }
            if (killAfter !== undefined && bytes > killAfter) process.kill(process.pid, 'SIGKILL');
            if (dropAfter !== undefined && bytes > dropAfter && faults.dropChannelAfterBytes !== undefined) {
              delete faults.dropChannelAfterBytes; // once per provider
              // The link dies once what was sent has left: closing at once would discard up to the
              // high-water mark still buffered here, and the consumer might have received nothing.
              dropping = true;
              const started = Date.now();
              const poll = setInterval(() => {
                if (target.bufferedAmount > 0 && Date.now() - started < 5000) return;
                clearInterval(poll);
                setTimeout(() => o.close(), 100);
              }, 10);
              return;
            }
          }
          target.send(data);
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
    set(target, prop, value) {
      return Reflect.set(target, prop, value, target);
    },
  });
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

export { cleanupWebRtc };
