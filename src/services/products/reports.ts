/**
 * Battery reports received from the batteries service over WebRTC: `POST /reports` asks for one through the
 * signaling server (the agents' `requestFile`, type `battery-report`), stores the verified file and its
 * metadata; `GET /reports`, `GET /reports/{id}`, `GET /reports/{id}/content` list and serve them;
 * `DELETE /reports/{id}` removes one (row and file).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AgentError } from '../../agents/errors.js';
import type { RequestOptions, RequestResult } from '../../agents/index.js';
import type { ReportRepository } from '../../storage/products/reports-repository.js';
import type { ReportRow } from '../../storage/products/schema.js';
import { ServiceError, UpstreamTransferError } from '../shared/errors.js';
import { getJson } from '../shared/http-client.js';
import { paginationProperties, parseSort, type Page } from '../shared/pagination.js';
import { BATTERY_REPORT_FORMAT, BATTERY_REPORT_TYPE } from '../shared/report-format.js';
import { parseReportParams, reportParamProperties } from '../shared/report-params.js';
import { IdParams, OneOf, Text } from '../shared/schemas.js';
import { nowIso } from '../shared/time.js';

/** The agents' `requestFile`, injectable. */
export type RequestFileFn = (opts: RequestOptions) => Promise<RequestResult>;

/** How the products service asks for reports. */
export interface ReportExchangeOptions {
  /** Signaling server URL. */
  server: string;
  /** A consumer (client_type 2) JWT. */
  token: string;
  transport?: 'auto' | 'p2p' | 'relay';
  /** How long to wait for a provider to pick the request up (default 60 s). */
  waitMs?: number;
  /** Defaults to the agents' own `requestFile` (loaded on first use). */
  requestFile?: RequestFileFn;
  /**
   * The batteries service whose provider makes the reports. When given, `POST /reports` first asks its
   * `GET /healthz`, and answers 503 at once when it is down or serves no reports, rather than waiting
   * `waitMs` for a provider that cannot come.
   */
  batteries?: BatteriesCheck;
}

/** Where the batteries service is, for the check before each report request. */
export interface BatteriesCheck {
  /** Base URL, e.g. `http://127.0.0.1:8082`. */
  url: string;
  /** Extra trusted CA for an HTTPS batteries service (its self-signed certificate). */
  ca?: string | Buffer;
  /** How long the health check may take (default 3 s). */
  timeoutMs?: number;
}

/** How long the batteries service's health check may take by default. */
const BATTERIES_CHECK_TIMEOUT_MS = 3000;

/**
 * Asks the batteries service's `GET /healthz`; throws 503 `ERR_UNAVAILABLE`, naming it, when it does not
 * answer, answers as something else, or runs without a provider.
 */
async function checkBatteries(b: BatteriesCheck): Promise<void> {
  const url = new URL('healthz', b.url.endsWith('/') ? b.url : `${b.url}/`);
  let res: { status: number; body: unknown };
  try {
    res = await getJson(url, {
      timeoutMs: b.timeoutMs ?? BATTERIES_CHECK_TIMEOUT_MS,
      ...(b.ca !== undefined ? { ca: b.ca } : {}),
    });
  } catch (err) {
    throw new ServiceError(
      'ERR_UNAVAILABLE',
      `the batteries service at ${b.url} is down, so no battery report can be made (${(err as Error).message})`,
      { cause: err },
    );
  }
  const h = res.body as { status?: unknown; service?: unknown; provider?: unknown } | null;
  if (res.status !== 200 || h?.status !== 'ok' || h.service !== 'batteries') {
    throw new ServiceError(
      'ERR_UNAVAILABLE',
      `the batteries service at ${b.url} is not available: GET ${url.pathname} answered HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`,
    );
  }
  if (h.provider === false) {
    throw new ServiceError(
      'ERR_UNAVAILABLE',
      `the batteries service at ${b.url} runs without a provider (started without --server and --provider-token), so it makes no battery reports`,
    );
  }
}

/** A stored report as the API shows it. */
export interface ReportInfo {
  id: number;
  session_id: string;
  file_name: string;
  size: number;
  sha256: string;
  transport: string;
  /** The provider's user id on the signaling server. */
  provider: string | null;
  params: Record<string, unknown>;
  duration_ms: number;
  received_at: string;
  content_url: string;
}

/** Fields `sort` accepts on `GET /reports`. */
export const REPORT_SORT_FIELDS = ['id', 'received_at', 'size'] as const;

/** Body of `POST /reports`: the report filters, plus which provider and transport to use. */
export const ReportRequestBody = Type.Object(
  {
    ...reportParamProperties,
    provider: Type.Optional(Text(64)),
    transport: Type.Optional(OneOf(['auto', 'p2p', 'relay'] as const)),
  },
  { additionalProperties: false },
);
type ReportRequestBody = Static<typeof ReportRequestBody>;

const ReportListQuery = Type.Object(paginationProperties(REPORT_SORT_FIELDS, '-id'), {
  additionalProperties: false,
});

/** The largest header line read when checking a received report. */
const MAX_HEADER_BYTES = 64 * 1024;

function toInfo(row: ReportRow): ReportInfo {
  return {
    id: row.id,
    session_id: row.session_id,
    file_name: row.file_name,
    size: row.size,
    sha256: row.sha256,
    transport: row.transport,
    provider: row.provider,
    params: JSON.parse(row.params) as Record<string, unknown>,
    duration_ms: row.duration_ms,
    received_at: row.received_at,
    content_url: `/reports/${row.id}/content`,
  };
}

/** Reads the first line of a received file and checks it is a battery report header. */
async function checkReportHeader(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await fh.read(buf, 0, MAX_HEADER_BYTES, 0);
    const text = buf.subarray(0, bytesRead).toString('utf8');
    const nl = text.indexOf('\n');
    let header: unknown;
    try {
      header = JSON.parse(nl < 0 ? text : text.slice(0, nl));
    } catch {
      header = undefined;
    }
    const h = header as { record?: unknown; format?: unknown } | undefined;
    if (h === undefined || h === null || h.record !== 'header' || h.format !== BATTERY_REPORT_FORMAT) {
      throw new ServiceError(
        'ERR_UPSTREAM',
        `the provider sent a file that is not a ${BATTERY_REPORT_FORMAT} report`,
      );
    }
  } finally {
    await fh.close();
  }
}

/**
 * What a failed exchange is answered with. The signaling server judges the `provider` named in the body
 * when the request is made (`POST /api/ice/initiate` with a `target`): its refusal is the client's
 * mistake, not a failed exchange, so it is answered 404 / 400 rather than 502. Every other failure is a
 * 502 carrying the transfer's own code.
 */
function exchangeError(err: unknown, provider: string | undefined): Error {
  if (provider !== undefined && err instanceof AgentError) {
    // ERR_TARGET: no user of that name or id, or a user who is not a provider — either way, no provider
    // by that name (the server answers both with the one code, so they cannot be told apart here).
    if (err.serverCode === 'ERR_TARGET') {
      return new ServiceError(
        'ERR_PROVIDER_NOT_FOUND',
        `body.provider: the signaling server has no provider ${JSON.stringify(provider)} (${err.message})`,
        { cause: err },
      );
    }
    // ERR_REQUEST_TYPE with a target: that provider does not serve battery reports.
    if (err.serverCode === 'ERR_REQUEST_TYPE') {
      return new ServiceError(
        'ERR_VALIDATION',
        `body.provider: ${JSON.stringify(provider)} cannot serve ${BATTERY_REPORT_TYPE} (${err.message})`,
        { cause: err },
      );
    }
  }
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' && /^ERR_[A-Z0-9_]+$/.test(e.code) ? e.code : 'ERR_UPSTREAM';
  return new UpstreamTransferError(code, `report exchange failed: ${String(e.message)}`, { cause: err });
}

/** Options of the report routes. */
export interface ReportRoutesOptions {
  reports: ReportRepository;
  auth: onRequestHookHandler;
  /** Folder holding received reports (one subfolder per report). */
  reportsDir: string | undefined;
  exchange: ReportExchangeOptions | undefined;
}

/** Registers `/reports` routes. */
export function registerReportRoutes(app: FastifyInstance, opts: ReportRoutesOptions): void {
  const { reports, auth, exchange } = opts;
  const reportsDir = opts.reportsDir === undefined ? undefined : resolve(opts.reportsDir);
  let requestFile: RequestFileFn | undefined = exchange?.requestFile;

  async function getRow(id: number): Promise<ReportRow> {
    const row = await reports.get(id);
    if (row === undefined) throw new ServiceError('ERR_NOT_FOUND', `report ${id} not found`);
    return row;
  }

  app.post('/reports', { onRequest: auth, schema: { body: ReportRequestBody } }, async (request, reply) => {
    const body = request.body as ReportRequestBody;
    const { provider, transport, ...filters } = body;
    const params = parseReportParams(filters, (m) => new ServiceError('ERR_VALIDATION', m), 'body');
    if (exchange === undefined || reportsDir === undefined) {
      throw new ServiceError(
        'ERR_UNAVAILABLE',
        'this products service was started without a signaling server (--server and --consumer-token), so it cannot request reports',
      );
    }
    if (exchange.batteries !== undefined) await checkBatteries(exchange.batteries);
    params.generated_at ??= nowIso();
    requestFile ??= (await import('../../agents/index.js')).requestFile;
    const folder = randomUUID();
    const outDir = join(reportsDir, folder);
    await mkdir(outDir, { recursive: true });
    const ro: RequestOptions = {
      server: exchange.server,
      token: exchange.token,
      type: BATTERY_REPORT_TYPE,
      params: params as Record<string, unknown>,
      outDir,
    };
    if (provider !== undefined) ro.provider = provider;
    const tr = transport ?? exchange.transport;
    if (tr !== undefined) ro.transport = tr;
    if (exchange.waitMs !== undefined) ro.waitMs = exchange.waitMs;
    let result: RequestResult;
    try {
      result = await requestFile(ro);
    } catch (err) {
      await rm(outDir, { recursive: true, force: true });
      const answer = exchangeError(err, provider);
      if (answer instanceof UpstreamTransferError) request.log.warn({ err }, 'report exchange failed');
      throw answer;
    }
    try {
      if (!result.verified) {
        throw new ServiceError(
          'ERR_REPORT_UNVERIFIED',
          `the report arrived without checksums (session ${result.session_id}); refused`,
        );
      }
      // The agent saves under outDir; anything else would be a bug worth refusing loudly.
      const rel = relative(reportsDir, result.path);
      if (rel.startsWith('..') || dirname(rel) !== folder || rel.includes(`..${sep}`)) {
        throw new ServiceError(
          'ERR_UPSTREAM',
          `received file landed outside the reports folder: ${result.path}`,
        );
      }
      await checkReportHeader(result.path);
      const row = await reports.create({
        session_id: result.session_id,
        file_name: basename(result.path),
        path: rel,
        size: result.size,
        sha256: result.sha256,
        transport: result.transport,
        provider: result.provider_id === '' ? (provider ?? null) : result.provider_id,
        params: JSON.stringify(params),
        duration_ms: result.duration_ms,
        received_at: nowIso(),
      });
      return await reply.status(201).header('location', `/reports/${row.id}`).send(toInfo(row));
    } catch (err) {
      await rm(outDir, { recursive: true, force: true });
      throw err;
    }
  });

  app.get(
    '/reports',
    { schema: { querystring: ReportListQuery } },
    async (request): Promise<Page<ReportInfo>> => {
      const q = request.query as { limit: number; offset: number; sort: string };
      const { field, direction } = parseSort<(typeof REPORT_SORT_FIELDS)[number]>(q.sort);
      const { rows, total } = await reports.list({
        sort: field,
        direction,
        limit: q.limit,
        offset: q.offset,
      });
      return { items: rows.map(toInfo), total, limit: q.limit, offset: q.offset };
    },
  );

  app.get('/reports/:id', { schema: { params: IdParams } }, async (request) => {
    const { id } = request.params as { id: number };
    return toInfo(await getRow(id));
  });

  app.delete('/reports/:id', { onRequest: auth, schema: { params: IdParams } }, async (request, reply) => {
    const { id } = request.params as { id: number };
    const row = await reports.delete(id);
    if (row === undefined) throw new ServiceError('ERR_NOT_FOUND', `report ${id} not found`);
    // The row goes first: a file left behind by a failed removal is an orphan nobody serves, whereas a
    // row whose file is gone would be listed and then answer 404 on its content.
    // Reports are stored as `<folder>/<file>`: the folder (the report's own) goes with the file.
    const folder = dirname(row.path);
    const target = folder === '.' ? row.path : folder;
    if (reportsDir !== undefined && !target.startsWith('..') && !isAbsolute(target)) {
      await rm(join(reportsDir, target), { recursive: true, force: true }).catch((err: unknown) =>
        request.log.warn({ err, report: id }, 'report file not removed'),
      );
    }
    return reply.status(204).send();
  });

  app.get('/reports/:id/content', { schema: { params: IdParams } }, async (request, reply) => {
    const { id } = request.params as { id: number };
    const row = await getRow(id);
    if (reportsDir === undefined)
      throw new ServiceError('ERR_NOT_FOUND', `report ${id}: no reports folder configured`);
    const path = join(reportsDir, row.path);
    try {
      await stat(path);
    } catch {
      throw new ServiceError(
        'ERR_NOT_FOUND',
        `report ${id}: file ${row.path} is missing from the reports folder`,
      );
    }
    return reply
      .header('content-type', 'application/x-ndjson; charset=utf-8')
      .header(
        'content-disposition',
        `attachment; filename="${row.file_name.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
      )
      .header('x-content-sha256', row.sha256)
      .send(createReadStream(path));
  });
}
