/**
 * `sdrlink dataset generate | recordings` (src/cli/commands/dataset.ts), run as a child process: the
 * compiled CLI under `npm test`, the TypeScript source through tsx when the tests run from source.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoPath } from '../../test/helpers/numpy.js';

const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
const CLI = fromSource ? repoPath('src/cli/main.ts') : repoPath('dist/src/cli/main.js');
const PRE = fromSource ? ['--import', repoPath('node_modules/tsx/dist/esm/index.mjs')] : [];

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdrlink-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...PRE, CLI, ...args], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test(
  'dataset generate writes the file and reports its size and SHA-256',
  { skip: !existsSync(CLI) && 'CLI not built' },
  async () => {
    const r = await run([
      'dataset',
      'generate',
      'signal',
      '-p',
      'frequency=1e6',
      '-p',
      'sample_rate=48000',
      '-p',
      'duration=0.25',
      '-p',
      'modulation=fm',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { path: string; bytes: number; sha256: string };
    assert.match(out.path, /signal_1000000_48000_0\.25_[0-9a-f]{8}\.npz$/);
    const bytes = await readFile(out.path);
    assert.equal(out.bytes, bytes.length);
    assert.equal(out.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.part')),
      [],
    );
  },
);

test(
  'dataset generate: a bad parameter exits 1 with the code and message, and leaves no file',
  { skip: !existsSync(CLI) && 'CLI not built' },
  async () => {
    const r = await run([
      'dataset',
      'generate',
      'spectrum',
      '--params',
      '{"frequency_start":2e6,"frequency_end":1e6,"sample_rate":1e6}',
      '-o',
      'x.npz',
    ]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      'sdrlink: ERR_PARAMS: parameters.frequency_end: must be greater than frequency_start (2000000), got 1000000',
    );
    assert.equal(existsSync(join(dir, 'x.npz')), false);
    const u = await run(['dataset', 'generate', 'waterfall']);
    assert.equal(u.code, 1);
    assert.match(u.stderr, /unknown type "waterfall" \(known: spectrum, signal, spectrogram\)/);
  },
);

test('dataset recordings lists a folder', { skip: !existsSync(CLI) && 'CLI not built' }, async () => {
  const r = await run(['dataset', 'recordings', repoPath('test/fixtures/sigmf'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { recordings } = JSON.parse(r.stdout) as { recordings: Array<{ name: string; datatype: string }> };
  assert.deepEqual(
    recordings.map((x) => `${x.name}:${x.datatype}`),
    ['retune-cf32:cf32_le', 'rtl-cu8:cu8', 'two-tones-ci16:ci16_le'],
  );
  const text = await run(['dataset', 'recordings', repoPath('test/fixtures/sigmf')]);
  assert.match(
    text.stdout,
    /^name +datatype +sample rate \(Hz\) +center \(Hz\) +duration \(s\) +size \(bytes\)\n/,
  );
  assert.match(text.stdout, /\nrtl-cu8 +cu8 +1024000 +100000000 +0\.00800000 +16384\n/);
});
