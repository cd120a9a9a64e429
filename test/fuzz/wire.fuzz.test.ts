/**
 * Property-based tests of the wire contract (src/wire) and the STUN codec (src/server/stun/codec.ts) on
 * arbitrary input: every schema's checker never throws and agrees with ajv (the server's validator) on
 * every value, every text decoder never throws, and the STUN codec ignores every datagram that is not a
 * well-formed Binding request — corrupted, truncated or arbitrary — and answers every one that is.
 * Runs: test/fuzz/fuzz.ts (`SDRLINK_FUZZ_RUNS`, `SDRLINK_FUZZ_SEED`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { Kind, type TSchema } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import {
  ATTR,
  BINDING_REQUEST,
  BINDING_SUCCESS,
  BINDING_ERROR,
  HEADER_BYTES,
  MAGIC_COOKIE,
  answerBinding,
  decodeBindingRequest,
} from '../../src/server/stun/codec.js';
import * as wire from '../../src/wire/index.js';
import { fuzzParams, hostileJson, mutatedText } from './fuzz.js';

/** Every schema the wire module exports, by its export name. */
const SCHEMAS: Array<[string, TSchema]> = (Object.entries(wire) as Array<[string, unknown]>).filter(
  (e): e is [string, TSchema] => typeof e[1] === 'object' && e[1] !== null && Kind in e[1],
);

/** Field names of every schema, so generated objects hit real fields. */
function fieldNames(schema: unknown, out = new Set<string>()): Set<string> {
  if (typeof schema !== 'object' || schema === null) return out;
  const s = schema as Record<string, unknown>;
  if (typeof s['properties'] === 'object' && s['properties'] !== null)
    for (const k of Object.keys(s['properties'])) out.add(k);
  for (const v of Object.values(s)) fieldNames(v, out);
  return out;
}
const NAMES = [...fieldNames(SCHEMAS.map(([, s]) => s))];

/** An example value the schema accepts, built from its own description (for mutation). */
function example(schema: unknown): unknown {
  const s = schema as Record<string, any>;
  if (s['const'] !== undefined) return s['const'];
  if (Array.isArray(s['enum'])) return s['enum'][0];
  if (Array.isArray(s['anyOf'])) return example(s['anyOf'][0]);
  const type = Array.isArray(s['type']) ? s['type'][0] : s['type'];
  switch (type) {
    case 'object':
      return Object.fromEntries(
        ((s['required'] as string[] | undefined) ?? []).map((k) => [k, example(s['properties']?.[k] ?? {})]),
      );
    case 'array':
      return [];
    case 'string':
      return 'a'.repeat(Math.max(1, s['minLength'] ?? 1));
    case 'integer':
    case 'number':
      return Math.max(1, s['minimum'] ?? 1);
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return null;
  }
}

/** The server's ajv, with the options of src/server/app.ts. */
function serverAjv(): Ajv {
  const ajv = new Ajv({
    coerceTypes: false,
    allErrors: false,
    allowUnionTypes: true,
    strict: false,
    validateFormats: false,
  });
  ajv.addKeyword('errorMessage');
  return ajv;
}

describe('fuzz: wire schemas (src/wire)', () => {
  it(`checks arbitrary and mutated JSON against every schema (${SCHEMAS.length}) without throwing, as ajv does`, () => {
    const ajv = serverAjv();
    const cases = SCHEMAS.map(([name, schema]) => ({
      name,
      checker: wire.createChecker(schema),
      ajv: ajv.compile(JSON.parse(JSON.stringify(schema)) as object),
      example: example(schema),
    }));
    const value = fc.oneof(
      hostileJson(NAMES),
      fc.jsonValue(),
      // an accepted value with one field replaced, dropped or added
      fc
        .tuple(fc.nat(), fc.constantFrom(...NAMES), hostileJson(NAMES), fc.boolean())
        .map(([i, k, v, drop]) => {
          const base = cases[i % cases.length]?.example;
          if (typeof base !== 'object' || base === null || Array.isArray(base)) return base;
          const o: Record<string, unknown> = { ...base };
          if (drop) delete o[k];
          else o[k] = v;
          return o;
        }),
    );
    fc.assert(
      fc.property(value, (raw) => {
        // values reach the checkers as parsed JSON
        const v = JSON.parse(JSON.stringify(raw) ?? 'null') as unknown;
        for (const c of cases) {
          const ok = c.checker.check(v);
          if (!ok) assert.equal(typeof c.checker.explain(v), 'string');
          assert.equal(
            ok,
            c.ajv(v),
            `${c.name}: TypeBox says ${ok}, ajv says ${!ok} for ${JSON.stringify(v)}`,
          );
        }
      }),
      fuzzParams(500),
    );
  });

  it('decodes arbitrary and mutated push, relay and close-reason text without throwing', () => {
    const valid = fc.constantFrom(
      '{"type":"hello","user_id":"1","client_type":1}',
      '{"type":"pong","ref":1}',
      '{"type":"result","ref":"a","ok":false,"error":{"code":"ERR_JSON","message":"x"}}',
      '{"type":"relay-ready"}',
      'ERR_SESSION_STATE: completed',
    );
    const text = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      hostileJson(['type', 'ref', 'ok', 'error', 'session', 'signal']).map((v) => JSON.stringify(v) ?? ''),
      mutatedText(valid),
    );
    fc.assert(
      fc.property(text, (t) => {
        const d = wire.decodePushServerMessage(t);
        if (d.ok) assert.equal(typeof d.value.type, 'string');
        else assert.equal(typeof d.error, 'string');
        const r = wire.parseRelayControl(t);
        if (r !== undefined) assert.ok((wire.RELAY_CONTROL_TYPES as readonly string[]).includes(r.type));
        const c = wire.parseCloseReason(t);
        if (c !== undefined) assert.ok(t.startsWith(c.code));
      }),
      fuzzParams(2000),
    );
  });
});

const FINGERPRINT_XOR = 0x5354554e;

/** A Binding request with `attrs`, optionally ending with a FINGERPRINT (RFC 8489 §14.7). */
function bindingRequest(txid: Uint8Array, attrs: Array<[number, Uint8Array]>, fingerprint: boolean): Buffer {
  const body = Buffer.concat(
    attrs.map(([t, v]) => {
      const a = Buffer.alloc(4 + v.length + ((4 - (v.length % 4)) % 4));
      a.writeUInt16BE(t, 0);
      a.writeUInt16BE(v.length, 2);
      a.set(v, 4);
      return a;
    }),
  );
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt16BE(BINDING_REQUEST, 0);
  h.writeUInt16BE(body.length + (fingerprint ? 8 : 0), 2);
  h.writeUInt32BE(MAGIC_COOKIE, 4);
  h.set(txid, 8);
  const msg = Buffer.concat([h, body]);
  if (!fingerprint) return msg;
  const fp = Buffer.alloc(8);
  fp.writeUInt16BE(ATTR.FINGERPRINT, 0);
  fp.writeUInt16BE(4, 2);
  fp.writeUInt32BE((crc32(msg) ^ FINGERPRINT_XOR) >>> 0, 4);
  return Buffer.concat([msg, fp]);
}

describe('fuzz: STUN Binding codec (server/stun/codec.ts)', () => {
  const attrType = fc.oneof(
    fc.constantFrom(...Object.values(ATTR).filter((t) => t !== ATTR.FINGERPRINT)),
    fc.integer({ min: 0, max: 0xffff }).filter((t) => t !== ATTR.FINGERPRINT),
  );
  const request = fc.record({
    txid: fc.uint8Array({ minLength: 12, maxLength: 12 }),
    attrs: fc.array(fc.tuple(attrType, fc.uint8Array({ maxLength: 40 })), { maxLength: 6 }),
    fingerprint: fc.boolean(),
  });

  it('decodes every well-formed Binding request and answers it (success, or 420 listing the unknown required attributes)', () => {
    fc.assert(
      fc.property(request, ({ txid, attrs, fingerprint }) => {
        const msg = bindingRequest(txid, attrs, fingerprint);
        const req = decodeBindingRequest(msg);
        assert.ok(req !== undefined);
        assert.deepEqual(new Uint8Array(req.transactionId), txid);
        const known = new Set<number>(Object.values(ATTR));
        const unknown = [...new Set(attrs.map(([t]) => t).filter((t) => t < 0x8000 && !known.has(t)))];
        assert.deepEqual(req.unknown, unknown);
        const answer = answerBinding(msg, '192.0.2.1', 3478);
        assert.ok(answer !== undefined);
        assert.equal(answer.readUInt16BE(0), unknown.length > 0 ? BINDING_ERROR : BINDING_SUCCESS);
        assert.equal(answer.readUInt16BE(2) + HEADER_BYTES, answer.length);
        assert.deepEqual(new Uint8Array(answer.subarray(8, 20)), txid);
      }),
      fuzzParams(1000),
    );
  });

  it('ignores a fingerprinted request with any byte changed outside the attribute framing, and any truncated request', () => {
    fc.assert(
      fc.property(request, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), (r, p, x, cut) => {
        const msg = bindingRequest(r.txid, r.attrs, true);
        const bad = Buffer.from(msg);
        if (cut) {
          assert.equal(decodeBindingRequest(bad.subarray(0, p % msg.length)), undefined);
          return;
        }
        const at = p % msg.length;
        bad[at] = (bad[at] as number) ^ x;
        const req = decodeBindingRequest(bad);
        // An attribute's type and length bytes frame the attributes after them: changed, they can turn the
        // FINGERPRINT into another attribute or swallow it in a longer value, and the datagram is then a
        // well-formed request without a fingerprint (RFC 8489 does not require one). Any other byte is
        // covered by the header checks or the fingerprint's CRC.
        const framing = new Set<number>();
        let off = HEADER_BYTES;
        for (const [, v] of [...r.attrs, [0, new Uint8Array(4)] as const]) {
          for (let k = 0; k < 4; k++) framing.add(off + k);
          off += 4 + v.length + ((4 - (v.length % 4)) % 4);
        }
        if (framing.has(at)) {
          if (req !== undefined) assert.deepEqual(new Uint8Array(req.transactionId), r.txid);
          return;
        }
        assert.equal(req, undefined, `byte ${at} changed, still decoded`);
        assert.equal(answerBinding(bad, '192.0.2.1', 3478), undefined);
      }),
      fuzzParams(1000),
    );
  });

  it('never throws on arbitrary datagrams, and decodes only Binding requests', () => {
    const datagram = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      // a plausible header before arbitrary bytes reaches the attribute walk
      fc
        .tuple(
          fc.uint8Array({ minLength: 12, maxLength: 12 }),
          fc.uint8Array({ maxLength: 120 }),
          fc.boolean(),
        )
        .map(([txid, rest, exactLen]) => {
          const h = Buffer.alloc(HEADER_BYTES);
          h.writeUInt16BE(BINDING_REQUEST, 0);
          h.writeUInt16BE(exactLen ? rest.length : (rest.length + 4) & ~3, 2);
          h.writeUInt32BE(MAGIC_COOKIE, 4);
          h.set(txid, 8);
          return Buffer.concat([h, rest]);
        }),
    );
    fc.assert(
      fc.property(datagram, (d) => {
        const buf = Buffer.from(d);
        const req = decodeBindingRequest(buf);
        if (req !== undefined) {
          assert.equal(buf.readUInt16BE(0), BINDING_REQUEST);
          assert.equal(buf.readUInt16BE(2) + HEADER_BYTES, buf.length);
        }
        answerBinding(buf, '2001:db8::1', 65535);
      }),
      fuzzParams(2000),
    );
  });
});
