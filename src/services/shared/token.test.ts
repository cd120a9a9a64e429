import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceError } from './errors.js';
import { loadOrCreateToken } from './token.js';

describe('service write token', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-token-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is generated into <db>.token with mode 0600 and reused', async () => {
    const file = join(dir, 'a.sqlite.token');
    const first = await loadOrCreateToken(file);
    assert.equal(first.source, 'generated');
    assert.match(first.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await readFile(file, 'utf8')).trim(), first.token);
    const again = await loadOrCreateToken(file);
    assert.deepEqual(again, { token: first.token, source: 'file' });
  });

  it('prefers an explicit token and checks its form', async () => {
    const file = join(dir, 'b.sqlite.token');
    assert.deepEqual(await loadOrCreateToken(file, 'explicit-token-0123456789'), {
      token: 'explicit-token-0123456789',
      source: 'explicit',
    });
    await assert.rejects(
      loadOrCreateToken(file, 'short'),
      (e: unknown) => e instanceof ServiceError && e.code === 'ERR_CONFIG',
    );
    await writeFile(file, 'bad token with spaces\n');
    await assert.rejects(
      loadOrCreateToken(file),
      (e: unknown) => e instanceof ServiceError && e.code === 'ERR_CONFIG',
    );
  });
});
