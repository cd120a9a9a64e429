import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { packageVersion } from './version.js';

test("the version is package.json's", () => {
  const root = new URL(import.meta.url.endsWith('.ts') ? '../../' : '../../../', import.meta.url);
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
  assert.equal(packageVersion(), pkg.version);
});

test('it is the nearest sdrlink package.json above, skipping others', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdrlink-version-'));
  try {
    await mkdir(join(dir, 'dist', 'src', 'cli'), { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'sdrlink', version: '9.8.7' }));
    await writeFile(join(dir, 'dist', 'package.json'), JSON.stringify({ type: 'module' }));
    assert.equal(packageVersion(pathToFileURL(join(dir, 'dist', 'src', 'cli') + '/')), '9.8.7');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
