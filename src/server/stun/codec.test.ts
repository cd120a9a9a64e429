import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { answerBinding, decodeBindingRequest, encodeBindingSuccess, xorMappedAddress } from './codec.js';
import { startStunResponder } from './responder.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** RFC 5769 §2.1: the sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY, FINGERPRINT). */
const RFC5769_REQUEST = hex(`
  0001 0058 2112a442 b7e7a701 bc34d686 fa87dfae
  80220010 5354554e 20746573 7420636c 69656e74
  00240004 6e0001ff
  80290008 932ff9b1 51263b36
  00060009 6576746a 3a683676 59202020
  00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
  80280004 e57a3bcf`);
const TID = hex('b7e7a701 bc34d686 fa87dfae');

/** A bare Binding request: header only (what libjuice sends to a STUN server, plus maybe FINGERPRINT). */
const BARE_REQUEST = hex('0001 0000 2112a442 b7e7a701 bc34d686 fa87dfae');

describe('STUN codec (RFC 5389/8489, vectors from RFC 5769)', () => {
  it('decodes the RFC 5769 sample request and checks its FINGERPRINT', () => {
    const req = decodeBindingRequest(RFC5769_REQUEST);
    assert.ok(req);
    assert.deepEqual(req.transactionId, TID);
    assert.deepEqual(req.unknown, []);
  });

  it('writes XOR-MAPPED-ADDRESS as RFC 5769 §2.2 (IPv4) and §2.3 (IPv6) have it', () => {
    assert.deepEqual(xorMappedAddress('192.0.2.1', 32853, TID), hex('0001 a147 e112a643'));
    assert.deepEqual(
      xorMappedAddress('2001:db8:1234:5678:11:2233:4455:6677', 32853, TID),
      hex('0002 a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9'),
    );
  });

  it('answers a Binding request with the exact success response bytes', () => {
    // Header (0x0101, length 20, cookie, same transaction), XOR-MAPPED-ADDRESS, FINGERPRINT (CRC-32 ^ 0x5354554e,
    // computed independently with Python's binascii.crc32).
    const golden = hex(`
      0101 0014 2112a442 b7e7a701 bc34d686 fa87dfae
      00200008 0001a147 e112a643
      80280004 7d281f59`);
    assert.deepEqual(encodeBindingSuccess(TID, '192.0.2.1', 32853), golden);
    assert.deepEqual(answerBinding(BARE_REQUEST, '192.0.2.1', 32853), golden);
    assert.deepEqual(answerBinding(RFC5769_REQUEST, '192.0.2.1', 32853), golden);
  });

  it('answers 420 naming an unknown comprehension-required attribute', () => {
    const req = Buffer.concat([
      hex('0001 0008 2112a442 b7e7a701 bc34d686 fa87dfae'),
      hex('7777 0004 00000000'),
    ]);
    const res = answerBinding(req, '192.0.2.1', 1) as Buffer;
    assert.equal(res.readUInt16BE(0), 0x0111);
    // ERROR-CODE 420 "Unknown Attribute", then UNKNOWN-ATTRIBUTES [0x7777] (padded).
    assert.deepEqual(res.subarray(20, 28), hex('0009 0015 0000 0414'));
    assert.equal(res.subarray(28, 45).toString(), 'Unknown Attribute');
    assert.deepEqual(res.subarray(48, 56), hex('000a 0002 7777 0000'));
  });

  it('ignores truncated, corrupt and non-Binding datagrams', () => {
    const variants: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['header cut short', BARE_REQUEST.subarray(0, 19)],
      ['request cut inside an attribute', RFC5769_REQUEST.subarray(0, RFC5769_REQUEST.length - 4)],
      ['length field off by 4', Buffer.concat([hex('0001 0004'), BARE_REQUEST.subarray(4)])],
      ['length not a multiple of 4', Buffer.concat([hex('0001 0002 2112a442'), TID, hex('0000')])],
      ['wrong magic cookie', Buffer.concat([hex('0001 0000 2112a443'), TID])],
      ['top bits set (RTP/DTLS)', Buffer.concat([hex('c001 0000 2112a442'), TID])],
      ['a Binding response, not a request', Buffer.concat([hex('0101 0000 2112a442'), TID])],
      ['an Allocate request (TURN)', Buffer.concat([hex('0003 0000 2112a442'), TID])],
      [
        'an attribute longer than the message',
        Buffer.concat([hex('0001 0008 2112a442'), TID, hex('0006 0010 41414141')]),
      ],
      ['a FINGERPRINT that does not match', Buffer.concat([RFC5769_REQUEST.subarray(0, -1), hex('ce')])],
      ['one flipped bit in a covered byte', flip(RFC5769_REQUEST, 30)],
    ];
    for (const [what, msg] of variants) assert.equal(answerBinding(msg, '192.0.2.1', 1), undefined, what);
  });
});

function flip(b: Buffer, i: number): Buffer {
  const c = Buffer.from(b);
  c[i] = (c[i] as number) ^ 0x01;
  return c;
}

describe('STUN responder (real UDP socket)', () => {
  it('answers a Binding request from its own source address and ignores garbage', async () => {
    const stun = await startStunResponder('127.0.0.1', 0);
    const client = createSocket('udp4');
    try {
      await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
      const replies: Buffer[] = [];
      client.on('message', (m) => replies.push(m));
      client.send(hex('deadbeef'), stun.port, '127.0.0.1');
      client.send(BARE_REQUEST, stun.port, '127.0.0.1');
      while (replies.length === 0) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(replies.length, 1, 'the garbage datagram got no answer');
      assert.deepEqual(replies[0], encodeBindingSuccess(TID, '127.0.0.1', client.address().port));
      assert.equal(stun.answered, 1);
    } finally {
      client.close();
      await stun.close();
    }
  });
});
