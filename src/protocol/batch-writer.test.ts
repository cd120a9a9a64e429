import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchWriter } from './batch-writer.js';

test('pressure: on past half the queue bound, off once drained under a quarter', async () => {
  const events: boolean[] = [];
  let release: () => void = () => undefined;
  let gate = new Promise<void>((r) => (release = r));
  const written: number[] = [];
  const w = new BatchWriter(
    {
      async write(offset, data) {
        await gate;
        written.push(offset + data.length);
      },
    },
    0,
    1024,
    8 * 1024,
    () => assert.fail('no error expected'),
    (high) => events.push(high),
  );
  for (let i = 0; i < 5; i++) w.append(new Uint8Array(1024)); // 5 KiB queued > 4 KiB (half)
  assert.deepEqual(events, [true]);
  release();
  gate = Promise.resolve();
  await w.flush();
  assert.deepEqual(events, [true, false]);
  assert.equal(written.at(-1), 5 * 1024);
});
