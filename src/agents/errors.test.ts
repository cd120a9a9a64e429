import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { AGENT_ERROR_CODES } from './errors.js';

describe('agent error codes', () => {
  it('are each listed in docs/errors.md "Agents", and nothing else is', async () => {
    // From dist/src/agents or src/agents.
    const doc = await readFile(new URL('../../../docs/errors.md', import.meta.url), 'utf8').catch(() =>
      readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8'),
    );
    const start = doc.indexOf('## Agents');
    assert.ok(start >= 0, 'docs/errors.md has no "Agents" section');
    const next = doc.indexOf('\n## ', start + 1);
    const section = doc.slice(start, next < 0 ? undefined : next);
    const listed = section
      .split('\n')
      .filter((l) => l.startsWith('|'))
      .map((l) => /^\|\s*`(ERR_\w+)`/.exec(l)?.[1])
      .filter((c): c is string => c !== undefined);
    assert.deepEqual([...listed].sort(), [...AGENT_ERROR_CODES].sort());
  });
});
