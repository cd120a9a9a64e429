/**
 * The HTTP fuzzer: every route of the server's own OpenAPI document (`GET /api/openapi.json`), over a
 * real socket, with generated bad input — bodies near the schema with one field wrong, dropped or added,
 * arbitrary JSON, text that is not JSON, huge strings, oversized bodies, wrong content types; path
 * parameters that are foreign, unknown, over-long, badly percent-encoded or not UTF-8; query strings of
 * the wrong type; absent, malformed, forged and foreign tokens; an oversized header. For every answer:
 * never a 5xx; every error in the one shape `{"error":{"code","message"}}` with a code docs/errors.md
 * lists (and its status); 401 first when a token-only route gets no token; and a refused request changed
 * no row of any table (a read-only connection to the same SQLite file snapshots them all).
 * Runs: test/fuzz/fuzz.ts (`SDRLINK_FUZZ_RUNS` × 0.1 requests per route, `SDRLINK_FUZZ_SEED`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { fuzzParams, hostileJson } from './fuzz.js';
import {
  assertErrorShape,
  documentedServerCodes,
  startFuzzServer,
  type FuzzServer,
} from './server-fixture.js';

type Schema = Record<string, any>;

interface Route {
  method: string;
  path: string;
  pathParams: string[];
  query: Array<{ name: string; schema: Schema }>;
  body: Schema | undefined;
  needsToken: boolean;
}

/** A value the schema (as the OpenAPI document states it) accepts or nearly accepts. */
function fromSchema(s: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (s === undefined || depth > 4) return hostileJson();
  if (s['const'] !== undefined) return fc.constant(s['const']);
  if (Array.isArray(s['enum'])) return fc.constantFrom(...(s['enum'] as unknown[]));
  const alts = (s['anyOf'] ?? s['oneOf']) as Schema[] | undefined;
  if (Array.isArray(alts)) return fc.oneof(...alts.map((a) => fromSchema(a, depth + 1)));
  if (Array.isArray(s['allOf'])) return fromSchema(Object.assign({}, ...(s['allOf'] as Schema[])), depth + 1);
  const types: string[] = Array.isArray(s['type']) ? s['type'] : [s['type'] ?? 'object'];
  return fc.oneof(
    ...types.map((t): fc.Arbitrary<unknown> => {
      switch (t) {
        case 'string': {
          const maxLength = Math.min(Number(s['maxLength'] ?? 40), 80);
          const minLength = Math.min(Number(s['minLength'] ?? 0), maxLength);
          // (no filter on a pattern's strings: a filter that rarely passes spins forever)
          if (typeof s['pattern'] === 'string') return fc.stringMatching(new RegExp(s['pattern'] as string));
          return fc.string({ minLength, maxLength });
        }
        case 'integer':
          return fc.integer({
            min: Math.max(Number(s['minimum'] ?? -1000), -1e9),
            max: Math.min(Number(s['maximum'] ?? 1e6), 1e9),
          });
        case 'number':
          return fc.double({
            min: Number(s['minimum'] ?? -1e6),
            max: Number(s['maximum'] ?? 1e9),
            noNaN: true,
          });
        case 'boolean':
          return fc.boolean();
        case 'null':
          return fc.constant(null);
        case 'array':
          return fc.array(fromSchema(s['items'] as Schema, depth + 1), {
            maxLength: Math.min(Number(s['maxItems'] ?? 3), 3),
          });
        default: {
          const props = (s['properties'] ?? {}) as Record<string, Schema>;
          const names = Object.keys(props);
          if (names.length === 0)
            return fc.dictionary(fc.string({ maxLength: 8 }), hostileJson(), { maxKeys: 3 });
          return fc.record(Object.fromEntries(names.map((n) => [n, fromSchema(props[n], depth + 1)])), {
            requiredKeys: ((s['required'] ?? []) as string[]).filter((n) => names.includes(n)),
          });
        }
      }
    }),
  );
}

/** A body: near the schema with one field changed, or anything at all. */
function bodyArb(
  route: Route,
  bodyLimit: number,
): fc.Arbitrary<{ text: string | undefined; type: string | undefined }> {
  const names = Object.keys((route.body?.['properties'] ?? {}) as object);
  const near = fromSchema(route.body);
  const mutated = fc
    .tuple(
      near,
      fc.constantFrom(...names, 'extra_field', '__proto__', 'constructor'),
      hostileJson(names),
      fc.constantFrom('drop', 'set', 'huge', 'keep'),
    )
    .map(([v, k, x, how]) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return JSON.stringify(v);
      const o: Record<string, unknown> = { ...v };
      if (how === 'drop') delete o[k];
      else if (how === 'set') o[k] = x;
      else if (how === 'huge') o[k] = 'x'.repeat(70_000);
      // '__proto__' as a real key (an own property in the text), as an attacker would send it
      return JSON.stringify(o).replace(
        '"constructor":',
        k === '__proto__' ? '"__proto__":' : '"constructor":',
      );
    });
  const text = fc.oneof(
    { weight: 4, arbitrary: mutated },
    { weight: 2, arbitrary: hostileJson(names).map((v) => JSON.stringify(v) ?? '') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', ' ', '{', '{"a":', 'null', '[]', '"x"', '1e999', '{"a":1}{}', '\u0000'),
    },
    // over the body limit
    { weight: 1, arbitrary: fc.constant(JSON.stringify({ pad: 'x'.repeat(bodyLimit + 10) })) },
  );
  const type = fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        undefined,
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset=utf-16',
        'application/JSON',
        'application/json-patch+json',
        ';;;',
        'application/octet-stream',
      ),
    },
  );
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant({ text: undefined, type: undefined }) },
    { weight: 8, arbitrary: fc.record({ text, type }) },
  );
}

/** One generated request (see requestArb). */
interface FuzzRequest {
  token: string | undefined;
  params: string[];
  query: Array<[string, string]>;
  body: { text: string | undefined; type: string | undefined };
  bigHeader: boolean;
  method: string;
}

/** A URL-safe rendering of any string (Node refuses to send some bytes raw in a request path). */
function pathSafe(s: string): string {
  // '%' stays: the raw parameters carry bad percent-encodings on purpose
  return s.replace(/[^\u0021-\u00ff]|[?#]/g, (c) => encodeURIComponent(c));
}

describe('fuzz: HTTP routes (OpenAPI document, real socket)', () => {
  let srv: FuzzServer;
  let routes: Route[] = [];
  const documented = documentedServerCodes();
  const bodyLimit = 256 * 1024;

  before(async () => {
    srv = await startFuzzServer();
    const doc = JSON.parse((await srv.send({ method: 'GET', path: '/api/openapi.json' })).text) as Schema;
    for (const [path, ops] of Object.entries(doc['paths'] as Record<string, Record<string, Schema>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const params = (op['parameters'] ?? []) as Array<{ in: string; name: string; schema: Schema }>;
        routes.push({
          method: method.toUpperCase(),
          path,
          pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
          query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema })),
          body: op['requestBody']?.content?.['application/json']?.schema as Schema | undefined,
          needsToken: Array.isArray(op['security']) && op['security'].length > 0,
        });
      }
    }
    routes.push({
      method: 'GET',
      path: '/api/openapi.json',
      pathParams: [],
      query: [],
      body: undefined,
      needsToken: false,
    });
    routes = routes.sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
  });
  after(async () => {
    await srv?.close();
  });

  it('found the routes in the OpenAPI document', () => {
    assert.ok(routes.length >= 20, `only ${routes.length} routes`);
  });

  /** One generated request against `route` (or a path no route has). */
  function requestArb(route: Route): fc.Arbitrary<FuzzRequest> {
    const token = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('consumer', 'provider', 'other', 'key') },
      {
        weight: 2,
        arbitrary: fc.oneof(
          fc.constant(undefined),
          fc.constant(''),
          fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => `raw:${s}`),
          // JWT-shaped, with a forged or absent signature
          fc
            .tuple(hostileJson(['sub', 'exp', 'iat', 'typ', 'alg']), fc.constantFrom('', 'c2ln', 'AAAA'))
            .map(
              ([claims, sig]) =>
                `jwt:${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims) ?? '').toString('base64url')}.${sig}`,
            ),
          fc.constantFrom(
            'sdrk_1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
            'sdrk_',
            'scheme:Basic Zm9vOmJhcg==',
            'scheme:Bearer',
            'scheme:Bearer  x y',
            'query',
          ),
        ),
      },
    );
    const param = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('open', 'claimed', 'keyid') },
      { weight: 2, arbitrary: fc.uuid().map((u) => `raw:${u}`) },
      { weight: 2, arbitrary: fc.string({ maxLength: 40 }).map((s) => `raw:${encodeURIComponent(s)}`) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          'raw:%ff%fe',
          'raw:%',
          'raw:%zz',
          'raw:%c0%af',
          'raw:%ed%a0%80',
          'raw:\u00ff\u00fe',
          'raw:..%2f..%2fetc',
          'raw:%00',
          `raw:${'a'.repeat(600)}`,
          `raw:${'9'.repeat(20_000)}`,
        ),
      },
    );
    const query = fc.array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom(...route.query.map((q) => q.name), 'token', 'extra'),
          fc.string({ maxLength: 6 }),
        ),
        fc.oneof(
          fc.string({ maxLength: 20 }),
          fc.integer().map(String),
          fc.constantFrom('', '-1', '1.5', '1e3', '%ff', 'null', '9'.repeat(40)),
        ),
      ),
      { maxLength: 3 },
    );
    return fc.record({
      token,
      params: fc.array(param, { minLength: route.pathParams.length, maxLength: route.pathParams.length }),
      query,
      body: bodyArb(route, bodyLimit),
      bigHeader: fc.oneof(
        { weight: 30, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
      method: fc.oneof(
        { weight: 12, arbitrary: fc.constant(route.method) },
        // (not HEAD: a request Node's parser refuses gets its 400 with a body, which a HEAD client cannot
        // read — the server does not know the method then; harmless, and left alone)
        { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
      ),
    });
  }

  async function attack(route: Route, c: FuzzRequest): Promise<void> {
    const tok = c.token as string | undefined;
    const headers: Record<string, string> = {};
    let queryToken: string | undefined;
    const bearer: Record<string, string> = {
      consumer: srv.consumer.token,
      provider: srv.provider.token,
      other: srv.other.token,
      key: srv.apiKey.key,
    };
    if (tok === 'query') queryToken = srv.consumer.token;
    else if (tok !== undefined && tok in bearer) headers['authorization'] = `Bearer ${bearer[tok]}`;
    else if (tok?.startsWith('scheme:') === true) headers['authorization'] = tok.slice(7);
    else if (tok !== undefined) headers['authorization'] = `Bearer ${tok.replace(/^(raw|jwt):/, '')}`;
    // any Authorization header is a token given (a malformed one is ERR_TOKEN_INVALID, not MISSING)
    const sendsToken = headers['authorization'] !== undefined;

    const values: Record<string, string> = {
      open: srv.openSession,
      claimed: srv.claimedSession,
      keyid: srv.apiKey.id,
    };
    let i = 0;
    let path = route.path.replace(/\{[^}]+\}/g, () => {
      const p = (c.params as string[])[i++] as string;
      return p in values ? (values[p] as string) : pathSafe(p.slice(4));
    });
    const q = (c.query as Array<[string, string]>).map(([k, v]) => `${pathSafe(k)}=${pathSafe(v)}`);
    if (queryToken !== undefined) q.push(`token=${queryToken}`);
    if (q.length > 0) path += `?${q.join('&')}`;
    if (c.bigHeader === true) headers['x-fuzz'] = 'h'.repeat(70_000);
    const body = c.body as { text: string | undefined; type: string | undefined };
    if (body.type !== undefined) headers['content-type'] = body.type;
    const method = c.method as string;

    const before = await srv.snapshot();
    const a = await srv.send({
      method,
      path,
      headers,
      ...(body.text === undefined ? {} : { body: body.text }),
    });
    const what = `${method} ${path.slice(0, 120)} (${route.method} ${route.path}) → ${a.status} ${a.text.slice(0, 200)}`;
    assert.ok(a.status < 500, `5xx: ${what}`);
    if (a.status < 400) return;
    const code = assertErrorShape(a, documented, what);
    assert.equal(await srv.snapshot(), before, `a refused request changed rows: ${what}`);
    // 401 before anything else on a token-only route, unless the URL or the request itself was refused
    // before any route was chosen
    if (route.needsToken && !sendsToken && queryToken === undefined && method === route.method) {
      const early = [
        'ERR_BAD_URL',
        'ERR_URL_TOO_LONG',
        'ERR_HEADERS_TOO_LARGE',
        'ERR_BAD_REQUEST',
        'ERR_NOT_FOUND',
        // a WebSocket route answers a plain request 426 without reading anything of it (docs/errors.md)
        'ERR_UPGRADE_REQUIRED',
      ];
      assert.ok(code === 'ERR_TOKEN_MISSING' || early.includes(code), `not 401 first: ${what}`);
    }
  }

  it('answers every generated request to every route without a 5xx, in the one error shape, changing no row when refusing', async () => {
    for (const route of routes) {
      try {
        await fc.assert(
          fc.asyncProperty(requestArb(route), (c) => attack(route, c)),
          fuzzParams(40, 0.1),
        );
      } catch (err) {
        if (err instanceof Error) err.message = `route ${route.method} ${route.path}: ${err.message}`;
        throw err;
      }
    }
  });

  it('answers paths no route has with 404 (or 400 for bad encoding) in the one error shape', async () => {
    const segment = fc.oneof(
      fc.string({ maxLength: 12 }).map(encodeURIComponent),
      fc.constantFrom('api', 'ice', '%ff', '..', '', 'sessions', '%2e%2e'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(segment, { minLength: 1, maxLength: 5 }),
        fc.constantFrom('GET', 'POST', 'DELETE'),
        async (segs, method) => {
          const path = `/${segs.join('/')}`;
          const before = await srv.snapshot();
          const a = await srv.send({
            method,
            path,
            headers: { authorization: `Bearer ${srv.consumer.token}` },
          });
          assert.ok(a.status < 500, `${method} ${path} → ${a.status}`);
          if (a.status >= 400) {
            assertErrorShape(a, documented, `${method} ${path}`);
            assert.equal(await srv.snapshot(), before);
          }
        },
      ),
      fuzzParams(100, 0.1),
    );
  });

  it('still serves after the fuzzing', async () => {
    const a = await srv.send({ method: 'GET', path: '/healthz' });
    assert.equal(a.status, 200);
    const me = await srv.send({
      method: 'GET',
      path: '/api/me',
      headers: { authorization: `Bearer ${srv.provider.token}` },
    });
    assert.equal(me.status, 200);
  });
});
