import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { formatValidationIssue, issueFromAjv, issueFromTypeBox, type ValidationIssue } from './validation.js';

describe('validation messages: one formatter, two styles', () => {
  it('words the same issue in the server style and in the services style', () => {
    const cases: Array<[ValidationIssue, string, string]> = [
      [
        { part: 'querystring', path: ['limit'], rule: 'maximum', limit: 100, value: 500 },
        'querystring.limit must be ≤ 100',
        'query.limit: must be ≤ 100, got 500',
      ],
      [
        { part: 'body', path: [], rule: 'required', property: 'password' },
        'body.password is required',
        'body.password: required',
      ],
      [
        { part: 'body', path: ['ids', '0'], rule: 'type', types: ['integer'], value: 'x' },
        'body.ids[0] must be an integer',
        'body.ids.0: must be an integer, got "x"',
      ],
      [
        { part: 'querystring', path: [], rule: 'additionalProperties', property: 'limt', allowed: ['limit'] },
        'querystring has an unknown property "limt"',
        'unknown query parameter "limt" (allowed: limit)',
      ],
    ];
    for (const [issue, api, service] of cases) {
      assert.equal(formatValidationIssue(issue, 'api'), api);
      assert.equal(formatValidationIssue(issue, 'service'), service);
    }
  });

  it('reads ajv and TypeBox errors into the same issue', () => {
    const fromAjv = issueFromAjv(
      { keyword: 'minimum', instancePath: '/offset', params: { limit: 0 } },
      'querystring',
    );
    assert.deepEqual([fromAjv.path, fromAjv.rule, fromAjv.limit], [['offset'], 'minimum', 0]);
    const check = TypeCompiler.Compile(Type.Object({ offset: Type.Integer({ minimum: 0 }) }));
    const first = check.Errors({ offset: -1 }).First();
    assert.ok(first !== undefined);
    const fromTypeBox = issueFromTypeBox('querystring', first);
    assert.deepEqual([fromTypeBox.path, fromTypeBox.rule, fromTypeBox.limit], [['offset'], 'minimum', 0]);
    assert.equal(formatValidationIssue(fromTypeBox, 'service'), 'query.offset: must be ≥ 0, got -1');
  });
});
