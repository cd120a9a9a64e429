/**
 * `GET /api/openapi.json` (docs/api.md §11): a valid OpenAPI document, generated from the routes' own
 * schemas, that says what the routes really take and answer — the seed's four calls with their JSON types,
 * auth, transfers, ICE config, health, the WebSocket routes — and that every served route is in it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { testApp, type TestApp } from '../../test/helpers/server-app.js';

type Json = any;

describe('GET /api/openapi.json', () => {
  let t: TestApp;
  let doc: Json;
  before(async () => {
    t = await testApp();
    const r = await t.call('GET', '/api/openapi.json');
    assert.equal(r.status, 200, 'served without a token');
    doc = r.body;
  });
  after(() => t.close());

  const schemaOf = (path: string, method: string, status: string): Json =>
    doc.paths[path]?.[method]?.responses?.[status]?.content?.['application/json']?.schema;

  it('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const result = await new Validator().validate(doc);
    assert.equal(result.valid, true, JSON.stringify(result.errors));
    const broken = { ...doc, info: { title: 'no version' } };
    assert.equal((await new Validator().validate(broken)).valid, false, 'the validator does refuse');
  });

  it('lists exactly the routes the server serves (but itself), with Fastify’s :param as {param}', () => {
    const expected = [
      'GET /healthz',
      'GET /metrics',
      'GET /api/ws',
      'GET /api/relay/:session_id',
      'POST /api/auth/register',
      'POST /api/auth/login',
      'GET /api/me',
      'PUT /api/me/request-types',
      'POST /api/ice/initiate',
      'POST /api/ice/signal',
      'GET /api/ice/signals/:session_id',
      'GET /api/ice/signals',
      'GET /api/ice/sessions',
      'GET /api/ice/sessions/:session_id',
      'POST /api/ice/sessions/:session_id/cancel',
      'POST /api/ice/sessions/:session_id/decline',
      'PUT /api/providers/me/catalog',
      'GET /api/providers',
      'GET /api/ice/config',
      'POST /api/transfers/:session_id',
      'GET /api/transfers',
      'POST /api/keys',
      'GET /api/keys',
      'DELETE /api/keys/:id',
    ];
    const documented: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths as Record<string, object>))
      for (const method of Object.keys(ops))
        documented.push(`${method.toUpperCase()} ${path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1')}`);
    assert.deepEqual(documented.sort(), [...expected].sort());
    for (const route of expected) {
      const [method, url] = route.split(' ') as ['GET', string];
      assert.ok(t.app.hasRoute({ method, url }), `${route} is served`);
    }
  });

  it('gives the seed’s four calls their statuses and JSON types (ids and parameters are strings)', () => {
    const session = schemaOf('/api/ice/initiate', 'post', '201');
    assert.ok(session !== undefined, 'initiate answers 201 with a session');
    for (const field of ['session_id', 'initiator_user_id', 'target_user_id', 'parameters', 'status'])
      assert.equal(session.properties[field].type, 'string', `session.${field}`);
    const body = doc.paths['/api/ice/initiate'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(body.required, ['request_type']);
    const signal = schemaOf('/api/ice/signal', 'post', '200');
    assert.equal(signal.properties.id.type, 'integer');
    assert.equal(signal.properties.signal_data.type, 'string');
    assert.equal(signal.properties.from_client_id.type, 'string');
    assert.equal(schemaOf('/api/ice/signals/{session_id}', 'get', '200').type, 'array');
    const params = doc.paths['/api/ice/signals/{session_id}'].get.parameters as Json[];
    assert.ok(params.some((p) => p.in === 'path' && p.name === 'session_id' && p.required === true));
    assert.equal(schemaOf('/api/ice/sessions', 'get', '200').items.properties.parameters.type, 'string');
  });

  it('says which routes need a bearer token', () => {
    assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
    assert.deepEqual(doc.paths['/api/ice/initiate'].post.security, [{ bearer: [] }]);
    assert.deepEqual(doc.paths['/api/transfers/{session_id}'].post.security, [{ bearer: [] }]);
    assert.deepEqual(doc.paths['/api/auth/login'].post.security, []);
    assert.deepEqual(doc.paths['/healthz'].get.security, []);
    assert.equal(schemaOf('/api/auth/login', 'post', '200').properties.token.type, 'string');
  });

  it('describes errors, transfers, ICE config, health and the WebSocket routes', () => {
    const error = schemaOf('/api/ice/signal', 'post', 'default');
    assert.deepEqual(error.properties.error.required, ['code', 'message']);
    const transfer = doc.paths['/api/transfers/{session_id}'].post.requestBody.content['application/json'];
    assert.deepEqual(transfer.schema.properties.transport.enum, ['p2p', 'relay']);
    assert.equal(schemaOf('/api/ice/config', 'get', '200').properties.ice_servers.type, 'array');
    assert.deepEqual(schemaOf('/healthz', 'get', '200').properties.status.enum, ['ok']);
    for (const path of ['/api/ws', '/api/relay/{session_id}']) {
      const op = doc.paths[path].get;
      assert.match(op.description, /WebSocket/);
      assert.ok(op.responses['101'] !== undefined && op.responses['426'] !== undefined, path);
    }
  });
});
