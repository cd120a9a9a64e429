import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientErrorReply, excerpt, frameworkErrorReply, MAX_EXCERPT } from './errors.js';

describe('error messages never echo raw input', () => {
  it('excerpt: short, escaped, marked when cut', () => {
    assert.equal(excerpt('/api/me'), '/api/me');
    const long = excerpt('a'.repeat(1000));
    assert.equal(long, `${'a'.repeat(MAX_EXCERPT)}…`);
    assert.equal(excerpt('x\u202ey\n"z"\u0000é'), 'x\\u202ey\\n\\"z\\"\\u0000\\u00e9');
    assert.doesNotMatch(excerpt('\u202e\u0007'.repeat(100)), /[^\x20-\x7e…]/);
  });

  it("frameworkErrorReply: the router's refusals as stable codes, others left to the area", () => {
    assert.equal(frameworkErrorReply('FST_ERR_BAD_URL')?.code, 'ERR_BAD_URL');
    assert.equal(frameworkErrorReply('FST_ERR_MAX_PARAM_LENGTH')?.status, 414);
    assert.equal(frameworkErrorReply('FST_ERR_ASYNC_CONSTRAINT'), undefined);
  });

  it("clientErrorReply: the parser's refusals as stable codes", () => {
    assert.deepEqual(
      [
        clientErrorReply('HPE_HEADER_OVERFLOW').code,
        clientErrorReply('ERR_HTTP_REQUEST_TIMEOUT').code,
        clientErrorReply('HPE_INVALID_METHOD').code,
        clientErrorReply(undefined).status,
      ],
      ['ERR_HEADERS_TOO_LARGE', 'ERR_REQUEST_TIMEOUT', 'ERR_BAD_REQUEST', 400],
    );
  });
});
