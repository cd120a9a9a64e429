import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { SERVICE_ERROR_STATUS } from './errors.js';

/** Start-up errors, printed by the CLI, never answered over HTTP. */
const STARTUP = new Set(['ERR_TLS', 'ERR_CONFIG']);

describe('service error codes', () => {
  it('are each listed, with their status, in docs/errors.md "Services"', async () => {
    const doc = await readFile(new URL('../../../../docs/errors.md', import.meta.url), 'utf8').catch(() =>
      readFile(new URL('../../../docs/errors.md', import.meta.url), 'utf8'),
    );
    const start = doc.indexOf('## Services');
    assert.ok(start >= 0, 'docs/errors.md has no "Services" section');
    const next = doc.indexOf('\n## ', start + 1);
    const section = doc.slice(start, next < 0 ? undefined : next);
    // Cells trimmed, so a table padded by Prettier still matches.
    const rows = section
      .split('\n')
      .filter((l) => l.startsWith('|'))
      .map((l) => l.split('|').map((c) => c.trim()));
    for (const [code, status] of Object.entries(SERVICE_ERROR_STATUS)) {
      const row = rows.find((cells) => cells[1] === `\`${code}\``);
      assert.ok(row !== undefined, `${code} is not listed`);
      const documented = row[2];
      assert.ok(
        documented === String(status) || (STARTUP.has(code) && documented === '—'),
        `${code}: status ${status}, documented ${documented ?? ''}`,
      );
    }
  });
});
