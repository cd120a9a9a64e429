/**
 * The wire contract module: TypeBox checks agree with ajv (the server's validator) on the schemas written
 * as raw JSON Schema; relay control messages are recognised by parsing, not by their first bytes; push
 * messages are decoded by type; close reasons split into code and detail.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { Value } from '@sinclair/typebox/value';
import {
  ClientTypeSchema,
  InitiateBody,
  SIGNAL_DATA,
  RegisterBody,
  SignalBody,
  SignalWire,
  TransferBody,
  createChecker,
  decodePushServerMessage,
  parseCloseReason,
  parseRelayControl,
  relayControlText,
} from './index.js';

const SID = '0b8d0c7e-2f7c-4f8e-9a53-1f0e5a0e7c11';
const signal = {
  id: 17,
  session_id: SID,
  signal_type: 'offer',
  signal_data: '{"type":"offer","sdp":"v=0"}',
  from_client_id: '1',
  to_client_id: '2',
  created_at: '2026-12-03T09:00:00.000Z',
};

describe('wire schemas', () => {
  it('TypeBox checks what ajv checks, on the schemas written as raw JSON Schema', () => {
    const ajv = new Ajv({ strict: false });
    const cases: Array<[string, object, unknown[]]> = [
      ['client_type', ClientTypeSchema, [1, 2, '1', '2', 0, 3, '3', 1.5, null, true, [1]]],
      [
        'signal',
        SignalBody,
        [
          { session_id: SID, signal_type: 'offer', signal_data: '{}' },
          { session_id: SID, signal_type: 'error', signal_data: '{}' },
          { session_id: SID, signal_type: 'bogus', signal_data: '{}' },
          { session_id: SID, signal_type: 1, signal_data: '{}' },
          { session_id: 'x', signal_type: 'answer', signal_data: '{}' },
        ],
      ],
      [
        'initiate',
        InitiateBody,
        [
          { request_type: 'spectrum' },
          { request_type: 'spectrum', parameters: '{"a":1}', target: 'radio-1' },
          { request_type: 'spectrum', parameters: { a: 1 }, target: 7 },
          { request_type: 'spectrum', parameters: 5 },
          { request_type: 'spectrum', parameters: null },
          { request_type: 'spectrum', parameters: [] },
          { request_type: 'spectrum', target: '' },
          { request_type: 'spectrum', target: 'x'.repeat(64) },
          { request_type: 'spectrum', target: 'x'.repeat(65) },
          { request_type: 'spectrum', target: '😀'.repeat(64) },
          { request_type: 'spectrum', target: 0 },
          { request_type: 'spectrum', target: 1.5 },
          { request_type: 'spectrum', target: true },
        ],
      ],
      [
        'transfer',
        TransferBody,
        [
          { status: 'completed', transport: 'relay' },
          { status: 'done' },
          { status: 'failed', transport: 'tcp' },
        ],
      ],
      [
        'register',
        RegisterBody,
        [
          { username: 'alice', password: 'password-1', client_type: '2' },
          { username: 'alice', password: 'password-1', client_type: 2.0 },
          { username: 'alice', password: 'password-1', client_type: '01' },
        ],
      ],
    ];
    for (const [name, schema, values] of cases) {
      const validate = ajv.compile(schema);
      const checker = createChecker(schema as typeof SignalBody);
      for (const v of values) {
        const expected = validate(v);
        assert.equal(
          Value.Check(schema as typeof SignalBody, v),
          expected,
          `${name} Value ${JSON.stringify(v)}`,
        );
        assert.equal(checker.check(v), expected, `${name} compiled ${JSON.stringify(v)}`);
      }
    }
  });

  it('keeps the seed types: ids as strings, a signal id as a number', () => {
    const check = createChecker(SignalWire);
    assert.equal(check.check(signal), true);
    const numericUser = { ...signal, from_client_id: 1 };
    assert.equal(check.check(numericUser), false);
    assert.equal(check.explain(numericUser), '/from_client_id: Expected string');
    assert.equal(check.check({ ...signal, id: '17' }), false);
  });
});

describe('signal payloads', () => {
  it('have the shape of their signal type', () => {
    const ok: Array<[keyof typeof SIGNAL_DATA, unknown]> = [
      ['offer', { type: 'offer', sdp: 'v=0' }],
      ['offer', { sdp: 'v=0' }],
      ['answer', { type: 'answer', sdp: 'v=0' }],
      [
        'candidate',
        { candidate: 'candidate:1 1 UDP 1 10.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 },
      ],
      ['candidate', { candidate: '', sdpMid: null, sdpMLineIndex: null }],
      ['error', { code: 'ERR_PARAMS', message: 'bad' }],
      ['error', {}],
    ];
    const bad: Array<[keyof typeof SIGNAL_DATA, unknown]> = [
      ['offer', { type: 'answer', sdp: 'v=0' }],
      ['offer', { type: null, sdp: 'v=0' }],
      ['answer', { type: 'answer' }],
      ['candidate', { candidate: 5 }],
      ['candidate', { candidate: 'c', sdpMLineIndex: 65536 }],
      ['candidate', { candidate: 'c', sdpMLineIndex: 0.5 }],
      ['candidate', { candidate: 'c', sdpMid: 0 }],
      ['error', { code: 1 }],
      ['offer', ['v=0']],
    ];
    for (const [type, v] of ok)
      assert.equal(Value.Check(SIGNAL_DATA[type], v), true, `${type} ${JSON.stringify(v)}`);
    for (const [type, v] of bad)
      assert.equal(Value.Check(SIGNAL_DATA[type], v), false, `${type} ${JSON.stringify(v)}`);
  });
});

describe('relay control messages', () => {
  it('are JSON objects whose type is a relay-* control type, whatever the spacing or key order', () => {
    assert.deepEqual(parseRelayControl('{"type":"relay-ready"}'), { type: 'relay-ready' });
    assert.deepEqual(parseRelayControl(' { "type" : "relay-waiting" } '), { type: 'relay-waiting' });
    assert.equal(parseRelayControl('{"at":1,"type":"relay-peer-left"}')?.type, 'relay-peer-left');
    assert.equal(parseRelayControl('{"type":"relay-\\u0072eady"}')?.type, 'relay-ready');
  });

  it('leave every other text message to the peer', () => {
    for (const text of [
      '{"type":"file-metadata","filename":"a.npz","size":3}',
      '{"type":"file-complete","sha256":"00"}',
      '{"type":"relay-unknown"}',
      '{"type":"relay-ready"', // not JSON: a peer's text that merely starts like one
      '"relay-ready"',
      '["relay-ready"]',
      'null',
      '',
      'hello',
    ]) {
      assert.equal(parseRelayControl(text), undefined, text);
    }
  });

  it('are sent as the server always sent them', () => {
    assert.equal(relayControlText('relay-ready'), '{"type":"relay-ready"}');
    assert.equal(relayControlText('relay-peer-left'), '{"type":"relay-peer-left"}');
  });
});

describe('push messages', () => {
  it('decode by type and check the shape of each', () => {
    const ok = decodePushServerMessage(JSON.stringify({ type: 'signal', signal }));
    assert.equal(ok.ok, true);
    assert.deepEqual(ok.ok && ok.value, { type: 'signal', signal });

    const bad = decodePushServerMessage(JSON.stringify({ type: 'signal', signal: { ...signal, id: '17' } }));
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? '' : bad.error, /^signal message \/signal\/id: Expected integer/);

    const unknown = decodePushServerMessage('{"type":"surprise"}');
    assert.equal(unknown.ok, false);
    assert.match(unknown.ok ? '' : unknown.error, /unknown message type "surprise"/);
    assert.equal(decodePushServerMessage('{"type":"toString"}').ok, false);
    assert.equal(decodePushServerMessage('not json').ok, false);
    assert.equal(decodePushServerMessage('null').ok, false);
  });

  it('decode both kinds of result', () => {
    const good = decodePushServerMessage(JSON.stringify({ type: 'result', ref: 3, ok: true, signal }));
    assert.equal(good.ok && good.value.type === 'result' && good.value.ok, true);
    const refused = decodePushServerMessage(
      JSON.stringify({
        type: 'result',
        ref: 4,
        ok: false,
        error: { code: 'ERR_SESSION_CLAIMED', message: 'x' },
      }),
    );
    assert.equal(refused.ok, true);
    const shapeless = decodePushServerMessage(JSON.stringify({ type: 'result', ref: 5, ok: false }));
    assert.equal(shapeless.ok, false);
    assert.deepEqual(shapeless.ok ? undefined : shapeless.parsed, { type: 'result', ref: 5, ok: false });
  });
});

describe('close reasons', () => {
  it('split into the server code and its detail', () => {
    assert.deepEqual(parseCloseReason('ERR_SESSION_STATE: completed'), {
      code: 'ERR_SESSION_STATE',
      detail: 'completed',
    });
    assert.deepEqual(parseCloseReason('ERR_SESSION_NOT_FOUND'), {
      code: 'ERR_SESSION_NOT_FOUND',
      detail: '',
    });
    assert.deepEqual(parseCloseReason('ERR_TOKEN_INVALID: bad: signature'), {
      code: 'ERR_TOKEN_INVALID',
      detail: 'bad: signature',
    });
    assert.equal(parseCloseReason('peer left'), undefined);
    assert.equal(parseCloseReason(''), undefined);
  });
});
