/**
 * Signaling load: K concurrent virtual clients against a server over keep-alive HTTP, the load generator
 * in its own process. Each virtual client loops over one whole signaling exchange (docs/api.md §2, §3),
 * eight HTTP calls, each counted as one operation:
 *
 * 1. consumer `POST /api/ice/initiate` (targeted at one provider)
 * 2. provider `POST /api/ice/signal` offer (claims the session)
 * 3. provider `POST /api/ice/signal` candidate
 * 4. consumer `GET /api/ice/signals/{id}` (offer + candidate)
 * 5. consumer `POST /api/ice/signal` answer
 * 6. consumer `POST /api/ice/signal` candidate
 * 7. provider `GET /api/ice/signals/{id}` (answer + candidate)
 * 8. consumer `POST /api/ice/sessions/{id}/cancel` (closes it: a consumer may hold only so many open
 *    sessions, `maxOpenSessionsPerUser`, 100 by default — so clients are spread over several users)
 *
 * The baseline is a bare `node:http` server, in its own process, answering every request with one fixed
 * JSON after reading its body, driven by the same generator with the same calls: the ratio is our
 * overhead over the HTTP floor on this machine. Bounded in time (warm-up + measured window per level) and
 * loopback only. Latency is per call, request written (paced: due) → response body read; an op completing
 * inside the measured window counts. The generator shares the machine's two cores with the server, so
 * its own CPU is part of the floor both figures stand on.
 *
 * Run as a child: `node dist/bench/signaling-load.js generator|bare-server`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Child, isMain, serveParent, siblingScript, toParent } from './child.js';
import { Histogram } from './stats.js';

/** Users for one virtual client: a consumer and the provider it targets. */
export interface LoadPair {
  consumerToken: string;
  providerToken: string;
  providerName: string;
}

export interface LoadLevelOptions {
  url: string;
  /**
   * Where the providers' calls go (default `url`): another instance of the same cluster, so that every
   * exchange crosses instances (consumer on one, provider on the other).
   */
  providerUrl?: string;
  clients: number;
  warmupMs: number;
  durationMs: number;
  pairs: LoadPair[];
  requestType: string;
  /**
   * Paced (open-loop) mode: the clients together start this many ops per second, each on a fixed
   * schedule; latency is measured from the scheduled start, so a server that falls behind shows it
   * (no coordinated omission). Without it, each client starts its next call as soon as the last ends
   * (closed loop: the most the server can do, with latency ≈ clients ÷ throughput by Little's law).
   */
  ratePerSec?: number;
}

export interface LoadLevelResult {
  clients: number;
  ops: number;
  ops_s: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  errors: number;
  /** The first few errors, verbatim. */
  error_samples: string[];
  /** Whole exchanges (eight calls) completed in the window. */
  sessions: number;
  /** Paced mode: the rate offered. */
  offered_ops_s?: number;
}

// ---------------------------------------------------------------- generator process

interface Reply {
  status: number;
  body: string;
}

function call(
  agent: http.Agent,
  base: URL,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
    };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const req = http.request(
      { agent, host: base.hostname, port: base.port, method, path, headers },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function runLevel(o: LoadLevelOptions): Promise<LoadLevelResult> {
  const base = new URL(o.url);
  const providerBase = new URL(o.providerUrl ?? o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.clients, maxFreeSockets: o.clients });
  const hist = new Histogram();
  const errorSamples: string[] = [];
  let errors = 0;
  let ops = 0;
  let sessions = 0;
  const t0 = performance.now();
  const windowStart = t0 + o.warmupMs;
  const windowEnd = windowStart + o.durationMs;

  // Paced mode: client i's k-th op is due at t0 + (i / clients + k) × period.
  const period = o.ratePerSec === undefined ? 0 : (o.clients / o.ratePerSec) * 1000;
  const due: number[] = Array.from({ length: o.clients }, (_, i) => t0 + (i / o.clients) * period);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const opAt = async (
    client: number,
    method: string,
    path: string,
    token: string,
    body?: unknown,
    ok = 200,
  ): Promise<unknown> => {
    let start = performance.now();
    if (period > 0) {
      const at = due[client] as number;
      due[client] = at + period;
      if (at > start) await sleep(at - start);
      start = at;
    }
    let reply: Reply;
    try {
      reply = await call(
        agent,
        token === providerToken(client) ? providerBase : base,
        method,
        path,
        token,
        body,
      );
    } catch (err) {
      errors++;
      if (errorSamples.length < 5) errorSamples.push(`${method} ${path}: ${(err as Error).message}`);
      throw err;
    }
    const end = performance.now();
    // An op counts when it completes inside the window (its latency runs from its start, or due time).
    if (end >= windowStart && end <= windowEnd) {
      ops++;
      hist.record(end - start);
    }
    if (reply.status !== ok && !(ok === 201 && reply.status === 200)) {
      errors++;
      if (errorSamples.length < 5)
        errorSamples.push(`${method} ${path}: HTTP ${reply.status} ${reply.body.slice(0, 200)}`);
      throw new Error(`HTTP ${reply.status}`);
    }
    return JSON.parse(reply.body) as unknown;
  };

  const sdp = (kind: string) =>
    JSON.stringify({ type: kind, sdp: `v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=${kind}\r\n` });
  const cand = JSON.stringify({
    candidate: 'candidate:1 1 UDP 2122317823 127.0.0.1 50000 typ host',
    sdpMid: '0',
    sdpMLineIndex: 0,
  });

  const providerToken = (i: number) => (o.pairs[i % o.pairs.length] as LoadPair).providerToken;
  const client = async (i: number) => {
    const pair = o.pairs[i % o.pairs.length] as LoadPair;
    const op = (method: string, path: string, token: string, body?: unknown, ok = 200) =>
      opAt(i, method, path, token, body, ok);
    while (performance.now() < windowEnd) {
      try {
        const s = (await op(
          'POST',
          '/api/ice/initiate',
          pair.consumerToken,
          {
            request_type: o.requestType,
            parameters: JSON.stringify({ bytes: 1024 }),
            target: pair.providerName,
            capabilities: ['sdrlink/1'],
          },
          201,
        )) as { session_id?: unknown };
        const sid = String(s.session_id);
        await op('POST', '/api/ice/signal', pair.providerToken, {
          session_id: sid,
          signal_type: 'offer',
          signal_data: sdp('offer'),
        });
        await op('POST', '/api/ice/signal', pair.providerToken, {
          session_id: sid,
          signal_type: 'candidate',
          signal_data: cand,
        });
        await op('GET', `/api/ice/signals/${encodeURIComponent(sid)}`, pair.consumerToken);
        await op('POST', '/api/ice/signal', pair.consumerToken, {
          session_id: sid,
          signal_type: 'answer',
          signal_data: sdp('answer'),
        });
        await op('POST', '/api/ice/signal', pair.consumerToken, {
          session_id: sid,
          signal_type: 'candidate',
          signal_data: cand,
        });
        await op('GET', `/api/ice/signals/${encodeURIComponent(sid)}`, pair.providerToken);
        await op('POST', `/api/ice/sessions/${encodeURIComponent(sid)}/cancel`, pair.consumerToken);
        if (performance.now() <= windowEnd) sessions++;
      } catch {
        // counted in `errors`; a failing server must not spin the generator
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };

  await Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));
  agent.destroy();
  const secs = o.durationMs / 1000;
  const out: LoadLevelResult = {
    clients: o.clients,
    ops,
    ops_s: ops / secs,
    p50_ms: hist.percentile(50),
    p99_ms: hist.percentile(99),
    max_ms: hist.maxMs,
    errors,
    error_samples: errorSamples,
    sessions,
  };
  if (o.ratePerSec !== undefined) out.offered_ops_s = o.ratePerSec;
  return out;
}

function runGenerator() {
  serveParent(async (m) => {
    if (m.type !== 'run') throw new Error(`generator: unknown message ${m.type}`);
    const r = await runLevel(m['options'] as LoadLevelOptions);
    toParent({ type: 'result', result: r });
  });
  toParent({ type: 'ready' });
}

// ---------------------------------------------------------------- bare HTTP server process

const FIXED = JSON.stringify({
  session_id: '6f1c1a52-5d0e-4a53-9d53-9b2e9e0f4c11',
  initiator_user_id: '2',
  target_user_id: '1',
  request_type: 'spectrum',
  parameters: '{"bytes":1024}',
  status: 'pending',
  capabilities: ['sdrlink/1'],
  created_at: '2024-01-01T00:00:00.000Z',
  updated_at: '2024-01-01T00:00:00.000Z',
});

function runBareServer() {
  const server = http.createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(FIXED),
      });
      res.end(FIXED);
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () =>
    toParent({ type: 'ready', port: (server.address() as AddressInfo).port }),
  );
  serveParent(
    (m) => {
      throw new Error(`bare server: unknown message ${m.type}`);
    },
    () => server.close(),
  );
}

// ---------------------------------------------------------------- orchestrator side

/** The load generator process: one per benchmark run, levels run one after another. */
export class LoadGenerator {
  #child: Child;

  private constructor(child: Child) {
    this.#child = child;
  }

  static async start(): Promise<LoadGenerator> {
    const child = new Child('load generator', siblingScript(import.meta.url, 'signaling-load'), [
      'generator',
    ]);
    await child.next('ready', 15_000);
    return new LoadGenerator(child);
  }

  async level(o: LoadLevelOptions): Promise<LoadLevelResult> {
    this.#child.send({ type: 'run', options: o as unknown as Record<string, unknown> });
    const m = await this.#child.next('result', o.warmupMs + o.durationMs + 60_000);
    return m['result'] as LoadLevelResult;
  }

  stop(): Promise<void> {
    return this.#child.stop();
  }
}

/** Starts the bare HTTP server in its own process; resolves with its URL and a stop function. */
export async function startBareHttpServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = new Child('bare http server', siblingScript(import.meta.url, 'signaling-load'), [
    'bare-server',
  ]);
  try {
    const m = await child.next('ready', 15_000);
    return { url: `http://127.0.0.1:${Number(m['port'])}`, stop: () => child.stop() };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

if (isMain(import.meta.url)) {
  const role = process.argv[2];
  if (role === 'generator') runGenerator();
  else if (role === 'bare-server') runBareServer();
  else {
    process.stderr.write('usage: signaling-load.js generator|bare-server (started by bench/run.js)\n');
    process.exitCode = 2;
  }
}
