/** `sdrlink request` implementation: see commands/request.ts. */
import { dirname } from 'node:path';
import {
  AgentError,
  cleanupWebRtc,
  parseTransportChoice,
  requestFile,
  type RequestOptions,
  type RequestResult,
} from '../agents/index.js';
import { parseByteSize } from '../agents/dataset-cache.js';
import { DEFAULT_MAX_SIZE } from '../agents/files.js';
import { extractSigmfArchive, type ExtractedPair } from '../datasets/sigmf-out.js';
import { EXIT_AUTH, EXIT_CONFIG } from './account.js';
import { CredentialError, resolveTarget } from './credentials.js';
import { failoverLine, formatBytes, formatRate, jsonLine, parseParams } from './format.js';
import { createProgress } from './progress.js';
import { trustFlags } from './trust-flags.js';

export async function runRequest(type: string, o: Record<string, unknown>): Promise<number> {
  const json = o['json'] === true;
  const quiet = o['quiet'] === true || json;
  let progress: ReturnType<typeof createProgress> | undefined;
  // Ctrl-C (or a SIGTERM) stops the request and cancels its session, recorded as cancelled by the
  // consumer (docs/api.md §3 "Outcome"); a second one exits at once.
  const stop = new AbortController();
  const interrupted = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) process.exit(130);
    stop.abort(new Error(`interrupted by ${sig} (the consumer stopped the request)`));
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);
  try {
    const target = resolveTarget({
      server: typeof o['server'] === 'string' ? o['server'] : undefined,
      token: typeof o['token'] === 'string' ? o['token'] : undefined,
      ...trustFlags(o),
    });
    const opts: RequestOptions = {
      server: target.server,
      token: target.token,
      trust: target.trust,
      type,
      params: withFormat(parseParams((o['param'] as string[] | undefined) ?? []), o['format']),
      outDir: String(o['out'] ?? '.'),
      transport: parseTransportChoice(String(o['transport'] ?? 'auto')),
      waitMs: positiveInt(o['wait'], '--wait'),
      idleTimeoutMs: positiveInt(o['idleTimeout'] ?? '30000', '--idle-timeout'),
      peerTimeoutMs: positiveInt(o['peerTimeout'] ?? '5000', '--peer-timeout'),
      signal: stop.signal,
      maxSize: maxSize(o['maxSize']),
      retries: retriesOf(o['retries']),
    };
    const extract = o['extract'] === true;
    if (extract && opts.params['format'] !== 'sigmf')
      throw new AgentError('ERR_CONFIG', '--extract writes the pair of a SigMF Archive: give --format sigmf');
    if (o['allowUnverified'] === true) opts.allowUnverified = true;
    if (typeof o['provider'] === 'string') opts.provider = o['provider'];
    if (o['connectTimeout'] !== undefined)
      opts.connectTimeoutMs = positiveInt(o['connectTimeout'], '--connect-timeout');
    if (process.env['SDRLINK_FAULT_WITHHOLD_CANDIDATES'] === '1') opts.faults = { withholdCandidates: true };
    if (!quiet) {
      const p = createProgress('receiving');
      progress = p;
      const preparing = preparingNotes();
      opts.onProgress = (e) => p.update(e.received, e.total, e.transport);
      opts.onEvent = (e) => {
        if (e.event === 'session') p.note(`session ${String(e['session_id'])}: waiting for a provider`);
        else if (e.event === 'connected')
          p.note(
            `connected (${String(e['transport'])}${typeof e['path'] === 'string' ? `, ${e['path']}` : ''})`,
          );
        else if (e.event === 'preparing') preparing(p, Number(e['bytes']), Number(e['total']));
        else if (e.event === 'queued')
          p.note(`queued: position ${Number(e['position'])} for the provider's device`);
        else if (e.event === 'retry')
          p.note(
            `${String(e['code'])}: ${String(e['message'])}; asking again (${Number(e['attempt'])} of ${Number(e['of'])}), resuming`,
          );
        else if (e.event === 'claim-released')
          p.note('the provider did not connect in time; the server offers the request to another provider');
        else if (e.event === 'server-failover') p.note(failoverLine(failoverOf(e)).trimEnd());
        else if (e.event === 'log') p.note(String(e['message']));
      };
    } else if (json) {
      // --json: the provider's `preparing` progress, its queue position and each claim the server released
      // (docs/api.md §3 "Claim timeout") as event lines before the result line; with --events
      // also the session, the connection and the bytes received (at most one `progress` line per 250 ms,
      // and the last one)
      const events = o['events'] === true;
      let sessionId: unknown;
      opts.onEvent = (e) => {
        if (e.event === 'claim-released' || e.event === 'retry') {
          process.stdout.write(jsonLine(e));
          return;
        }
        if (e.event === 'server-failover') {
          // `--server A,B`: the event line, and the human line on stderr
          const f = failoverOf(e);
          process.stdout.write(jsonLine({ event: 'server-failover', ...f }));
          process.stderr.write(failoverLine(f));
          return;
        }
        if (e.event === 'queued') {
          process.stdout.write(
            jsonLine({ event: 'queued', session_id: e['session_id'], position: Number(e['position']) }),
          );
          return;
        }
        if (e.event === 'session') sessionId = e['session_id'];
        if (e.event === 'preparing') {
          const bytes = Number(e['bytes']);
          const total = Number(e['total']);
          process.stdout.write(
            jsonLine({
              event: 'preparing',
              session_id: e['session_id'],
              bytes,
              total,
              percent: percentOf(bytes, total),
            }),
          );
        } else if (events && (e.event === 'session' || e.event === 'connected')) {
          const { event, ...rest } = e;
          process.stdout.write(jsonLine({ event, ...rest }));
        }
      };
      if (events) {
        let last = 0;
        opts.onProgress = (p) => {
          const now = Date.now();
          if (p.received < p.total && now - last < 250) return;
          last = now;
          process.stdout.write(
            jsonLine({
              event: 'progress',
              session_id: sessionId,
              received: p.received,
              total: p.total,
              percent: percentOf(p.received, p.total),
              transport: p.transport,
            }),
          );
        };
      }
    }
    killAfterReceivedFault(opts);
    const r = await requestFile(opts);
    progress?.stop();
    // The pair is written from the archive only once it is verified (SHA-256, as every file), and the
    // archive's own checks (layout, names, core:sha512) run again on it: it came from a peer.
    const pair =
      extract && r.path.endsWith('.sigmf') ? await extractSigmfArchive(r.path, dirname(r.path)) : undefined;
    printResult(r, json, pair);
    return 0;
  } catch (err) {
    progress?.stop();
    const e = err as Error & { code?: string };
    // cause_code: the server's or the provider's own code behind ours (ERR_PARAMS behind ERR_PROVIDER)
    const cause = err instanceof AgentError && err.serverCode !== err.code ? err.serverCode : undefined;
    if (json)
      process.stdout.write(
        jsonLine({
          ok: false,
          code: e.code ?? 'ERR_UNKNOWN',
          message: e.message,
          ...(cause !== undefined ? { cause_code: cause } : {}),
        }),
      );
    else process.stderr.write(`sdrlink request: ${e.code !== undefined ? `${e.code}: ` : ''}${e.message}\n`);
    if (err instanceof CredentialError) return EXIT_CONFIG;
    if (err instanceof AgentError && err.code === 'ERR_AUTH') return EXIT_AUTH;
    return err instanceof AgentError && err.code === 'ERR_CONFIG' ? EXIT_CONFIG : 1;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    cleanupWebRtc();
  }
}

/**
 * Test fault (end-to-end tests only, like the provider's SDRLINK_FAULT_* in provide.ts): the consumer
 * process kills itself (SIGKILL) once it holds more than SDRLINK_FAULT_KILL_AFTER_RECEIVED bytes — a
 * consumer dying mid-transfer, with nothing closed behind it.
 */
function killAfterReceivedFault(opts: RequestOptions): void {
  const v = process.env['SDRLINK_FAULT_KILL_AFTER_RECEIVED'];
  if (v === undefined || v === '') return;
  const limit = Number(v);
  const inner = opts.onProgress;
  opts.onProgress = (p) => {
    if (p.received > limit) process.kill(process.pid, 'SIGKILL');
    inner?.(p);
  };
}

/** A `server-failover` event's fields. */
function failoverOf(e: Record<string, unknown>): { from: string; to: string; reason: string } {
  return { from: String(e['from']), to: String(e['to']), reason: String(e['reason']) };
}

/** `--format` as the `format` parameter; a different `-p format=…` beside it is a contradiction. */
function withFormat(params: Record<string, unknown>, format: unknown): Record<string, unknown> {
  if (typeof format !== 'string') return params;
  if (params['format'] !== undefined && params['format'] !== format)
    throw new AgentError(
      'ERR_CONFIG',
      `--format ${format} contradicts -p format=${JSON.stringify(params['format'])}; give one`,
    );
  return { ...params, format };
}

/** `--retries`: an integer 0 … 100 (default 2). */
function retriesOf(v: unknown): number {
  const n = Number(v ?? '2');
  if (!Number.isInteger(n) || n < 0 || n > 100 || String(v ?? '2').trim() === '')
    throw new AgentError(
      'ERR_CONFIG',
      `--retries must be an integer from 0 to 100, got ${JSON.stringify(v)}`,
    );
  return n;
}

/** Whole percent of `bytes` in `total` (0 without an estimate), at most 100. */
function percentOf(bytes: number, total: number): number {
  return total > 0 ? Math.min(100, Math.floor((bytes / total) * 100)) : 0;
}

/** Shows "preparing 40%…" while the provider produces the file (off a terminal, a line every 2 s at most). */
function preparingNotes(): (p: ReturnType<typeof createProgress>, bytes: number, total: number) => void {
  let last = 0;
  return (p, bytes, total) => {
    const line = `preparing ${percentOf(bytes, total)}%… (${formatBytes(bytes)} of ~${formatBytes(total)} written by the provider)`;
    if (!process.stderr.isTTY) {
      if (Date.now() - last < 2000) return;
      last = Date.now();
    }
    p.status(line);
  };
}

/** What the summary and `--json` say of a file saved without a checksum (`--allow-unverified`). */
const UNVERIFIED_NOTE =
  'unverified: the provider sent no checksum (seed format), saved because of --allow-unverified';

function printResult(r: RequestResult, json: boolean, pair?: ExtractedPair) {
  if (json) {
    process.stdout.write(
      jsonLine({
        ok: true,
        ...r,
        ...(pair === undefined ? {} : { sigmf_meta: pair.metaPath, sigmf_data: pair.dataPath }),
        ...(r.verified ? {} : { warning: UNVERIFIED_NOTE }),
      }),
    );
    return;
  }
  const lines = [
    r.already_present === true
      ? `present    ${r.path}  (already here with the same sha256: nothing received, nothing saved)`
      : `saved      ${r.path}`,
    `size       ${r.size} bytes (${formatBytes(r.size)})`,
    `sha256     ${r.sha256}${r.verified ? '  (verified)' : `  (${UNVERIFIED_NOTE.replace('unverified', 'UNVERIFIED')})`}`,
    `path       ${r.route ?? r.transport}${r.network_path !== undefined && r.network_path !== 'ws-relay' ? ` (${r.network_path})` : ''}`,
    r.already_present === true
      ? `checked    in ${r.duration_ms} ms, the provider's sha256 against the file in place`
      : `throughput ${formatRate(r.rate)}; first byte after ${r.first_byte_ms} ms, verified file after ${r.duration_ms} ms${r.resumed_from > 0 ? `; resumed at byte ${r.resumed_from}` : ''}`,
    `session    ${r.session_id}`,
    ...(pair === undefined ? [] : [`pair       ${pair.metaPath}\n           ${pair.dataPath}`]),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `--max-size`: bytes, or a size with a K/M/G/T suffix; {@link DEFAULT_MAX_SIZE} when absent. */
function maxSize(v: unknown): number {
  if (v === undefined) return DEFAULT_MAX_SIZE;
  const n = parseByteSize(String(v), '--max-size');
  if (n <= 0)
    throw new AgentError('ERR_CONFIG', `--max-size must be more than 0 bytes, got ${JSON.stringify(v)}`);
  return n;
}

function positiveInt(v: unknown, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new AgentError('ERR_CONFIG', `${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}
