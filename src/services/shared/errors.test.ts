import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { SERVICE_ERROR_STATUS } from './errors.js';

describe('service error codes', () => {
  it('are each listed, with their status, in docs/errors.md "Services"', async () => {
    const doc = await readFile(new URL('../../../../docs/errors.md', import.meta.url), 'utf8').catch(() =>
      readFile(new URL('../../../docs/errors.md', import.meta.url), 'utf8'),
    );
    const start = doc.indexOf('## Services');
    assert.ok(start >= 0, 'docs/errors.md has no "Services" section');
    const next = doc.indexOf('\n## ', start + 1);
    const section = doc.slice(start, next < 0 ? undefined : next);
    for (const [code, status] of Object.entries(SERVICE_ERROR_STATUS)) {
      const row = section.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      assert.ok(row !== undefined, `${code} is not listed`);
      if (status !== 500 || code === 'ERR_INTERNAL') assert.ok(row.includes(`| ${status} |`), `${code}: status ${status}`);
    }
  });
});
