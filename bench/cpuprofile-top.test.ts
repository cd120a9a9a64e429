import assert from 'node:assert/strict';
import { test } from 'node:test';
import { moduleOf, summarizeProfile } from './cpuprofile-top.js';

const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0, columnNumber: 0 });

test('self and inclusive time are attributed from samples and time deltas', () => {
  // root → a (src/server/app.js) → b (node_modules/fastify/lib/x.js); plus (idle).
  const p = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 4] },
      { id: 2, callFrame: frame('a', 'file:///w/dist/src/server/app.js'), children: [3] },
      { id: 3, callFrame: frame('b', 'file:///w/node_modules/fastify/lib/x.js') },
      { id: 4, callFrame: frame('(idle)') },
    ],
    // sample i's time is timeDeltas[i + 1] µs
    samples: [2, 3, 3, 4],
    timeDeltas: [0, 1000, 2000, 3000, 4000],
    startTime: 0,
    endTime: 10_000,
  };
  const s = summarizeProfile(p);
  assert.equal(s.busyMs, 6); // a 1 ms + b 5 ms
  assert.equal(s.idleMs, 4);
  assert.deepEqual(
    s.byModule.map((e) => [e.name, e.ms]),
    [
      ['fastify', 5],
      ['src/server/app', 1],
    ],
  );
  assert.equal(s.selfTop[0]?.name, 'b fastify:1');
  assert.equal(s.inclusiveTop[0]?.name, 'a src/server/app:1');
  assert.equal(s.inclusiveTop[0]?.ms, 6);
  assert.equal(s.inclusiveTop[0]?.share, 100);
});

test('moduleOf groups by package, by our file, by Node internals', () => {
  assert.equal(moduleOf('file:///w/node_modules/@fastify/websocket/index.js', 'f'), '@fastify/websocket');
  assert.equal(moduleOf('file:///w/dist/src/agents/consumer.js', 'f'), 'src/agents/consumer');
  assert.equal(moduleOf('node:internal/streams/readable', 'f'), 'node:internal');
  assert.equal(moduleOf('node:events', 'f'), 'node:events');
  assert.equal(moduleOf('', '(garbage collector)'), '(garbage collector)');
  assert.equal(moduleOf('', 'writev'), '(native)');
});
