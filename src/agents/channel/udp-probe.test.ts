import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { startStunResponder } from '../../server/stun/responder.js';
import { probeUdp, udpTargets } from './udp-probe.js';

describe('UDP reachability probe', () => {
  it('takes stun:/turn: UDP targets (addresses and names), not TCP or TLS ones', () => {
    assert.deepEqual(
      udpTargets([
        { urls: ['stun:127.0.0.1:3478', 'stun:example.org:3478'] },
        { urls: 'turn:[::1]?transport=udp' },
        { urls: 'turn:10.0.0.1:3478?transport=tcp' },
        { urls: 'turns:10.0.0.1:5349' },
      ]),
      [
        { host: '127.0.0.1', port: 3478 },
        { host: 'example.org', port: 3478 },
        { host: '::1', port: 3478 },
      ],
    );
  });

  it('is reachable when a real STUN responder answers, blocked when a UDP port stays silent, unknown with nothing to ask', async () => {
    const stun = await startStunResponder('127.0.0.1', 0);
    const silent = createSocket('udp4'); // takes datagrams, never answers: a firewall that drops them
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    try {
      assert.equal(await probeUdp([{ urls: [`stun:127.0.0.1:${stun.port}`] }]), 'reachable');
      assert.equal(await probeUdp([{ urls: [`stun:127.0.0.1:${silent.address().port}`] }], 300), 'blocked');
      // A name that does not resolve (".invalid", RFC 6761) leaves nothing to probe.
      assert.equal(await probeUdp([{ urls: ['stun:stun.sdrlink.invalid'] }]), 'unknown');
      assert.equal(await probeUdp([{ urls: [`stun:localhost:${stun.port}`] }]), 'reachable');
      assert.equal(await probeUdp([]), 'unknown');
    } finally {
      silent.close();
      await stun.close();
    }
  });
});
