import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dispatchControl, encodeControl, parseControl, utf8Length } from './codec.js';
import type { ControlMessage } from './codec.js';
import { TransferError } from './errors.js';
import { checkFileName } from './file-name.js';
import { MAX_CONTROL_BYTES } from './frames.js';

const H = 'ab'.repeat(32);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TransferError, `expected a TransferError, got ${String(err)}`);
    return err.code;
  }
  return 'no error';
}

// Golden text for each message of docs/protocol.md §3, as encodeControl writes it.
const golden: [ControlMessage, string][] = [
  [
    {
      type: 'file-metadata',
      filename: 'spectrum_1.npz',
      size: 1048576,
      protocol: 'sdrlink/1',
      sha256: H,
      chunk_size: 65472,
    },
    `{"type":"file-metadata","filename":"spectrum_1.npz","size":1048576,"protocol":"sdrlink/1","sha256":"${H}","chunk_size":65472}`,
  ],
  [
    { type: 'file-metadata', filename: 'a.npz', size: 7 },
    '{"type":"file-metadata","filename":"a.npz","size":7}',
  ],
  [{ type: 'resume', offset: 0 }, '{"type":"resume","offset":0}'],
  [
    { type: 'resume', offset: 1048576, prefix_sha256: H },
    `{"type":"resume","offset":1048576,"prefix_sha256":"${H}"}`,
  ],
  [{ type: 'start', offset: 1048576 }, '{"type":"start","offset":1048576}'],
  [
    { type: 'file-complete', size: 1048576, sha256: H, frames: 16 },
    `{"type":"file-complete","size":1048576,"sha256":"${H}","frames":16}`,
  ],
  [{ type: 'ack', sha256: H, size: 1048576 }, `{"type":"ack","sha256":"${H}","size":1048576}`],
  [
    {
      type: 'error',
      code: 'ERR_FRAME_CRC',
      message: 'frame at offset 65536: crc32 0x00000000 != 0x3610a686',
    },
    '{"type":"error","code":"ERR_FRAME_CRC","message":"frame at offset 65536: crc32 0x00000000 != 0x3610a686"}',
  ],
  // §3.7: keepalive advertised in the handshake, and the message itself
  [
    {
      type: 'file-metadata',
      filename: 'spectrum_1.npz',
      size: 1048576,
      protocol: 'sdrlink/1',
      sha256: H,
      chunk_size: 65472,
      keepalive_ms: 1000,
    },
    `{"type":"file-metadata","filename":"spectrum_1.npz","size":1048576,"protocol":"sdrlink/1","sha256":"${H}","chunk_size":65472,"keepalive_ms":1000}`,
  ],
  [{ type: 'resume', offset: 0, keepalive_ms: 1000 }, '{"type":"resume","offset":0,"keepalive_ms":1000}'],
  [
    { type: 'resume', offset: 1048576, prefix_sha256: H, keepalive_ms: 60000 },
    `{"type":"resume","offset":1048576,"prefix_sha256":"${H}","keepalive_ms":60000}`,
  ],
  [{ type: 'keepalive' }, '{"type":"keepalive"}'],
];

describe('control messages (docs/protocol.md §3)', () => {
  for (const [msg, text] of golden) {
    it(`encodes and parses ${msg.type}${msg.type === 'file-metadata' && msg.protocol === undefined ? ' (seed fields only)' : ''}`, () => {
      assert.equal(encodeControl(msg), text);
      assert.deepEqual(parseControl(text), msg);
    });
  }

  it('parses the seed Go sender’s metadata (keys in map order)', () => {
    assert.deepEqual(parseControl('{"filename":"signal_data.npz","size":123,"type":"file-metadata"}'), {
      type: 'file-metadata',
      filename: 'signal_data.npz',
      size: 123,
    });
  });

  it('ignores and drops unknown fields (§3)', () => {
    assert.deepEqual(parseControl('{"type":"start","offset":5,"extra":{"x":1}}'), {
      type: 'start',
      offset: 5,
    });
    assert.equal(
      encodeControl({ type: 'start', offset: 5, extra: 1 } as ControlMessage),
      '{"type":"start","offset":5}',
    );
  });

  it('accepts upper-case hex and normalises it to lower case', () => {
    const m = parseControl(`{"type":"ack","sha256":"${H.toUpperCase()}","size":1}`);
    assert.deepEqual(m, { type: 'ack', sha256: H, size: 1 });
  });

  it('a keepalive carries nothing: extra fields are dropped (§3.7)', () => {
    assert.deepEqual(parseControl('{"type":"keepalive","seq":7,"keepalive_ms":"x"}'), { type: 'keepalive' });
  });

  it('ignores keepalive_ms on seed-style metadata (no protocol): keepalive is sdrlink/1 only', () => {
    assert.deepEqual(parseControl('{"type":"file-metadata","filename":"a","size":1,"keepalive_ms":1000}'), {
      type: 'file-metadata',
      filename: 'a',
      size: 1,
    });
  });

  it('ignores prefix_sha256 on a resume from 0', () => {
    assert.deepEqual(parseControl(`{"type":"resume","offset":0,"prefix_sha256":"junk"}`), {
      type: 'resume',
      offset: 0,
    });
  });

  describe('refuses', () => {
    const cases: [string, string, string][] = [
      ['not JSON', '{"type":', 'ERR_MESSAGE_INVALID'],
      ['a JSON array', '[1,2]', 'ERR_MESSAGE_INVALID'],
      ['a JSON string', '"file-metadata"', 'ERR_MESSAGE_INVALID'],
      ['null', 'null', 'ERR_MESSAGE_INVALID'],
      ['no type', '{"offset":1}', 'ERR_MESSAGE_INVALID'],
      ['a numeric type', '{"type":1}', 'ERR_MESSAGE_INVALID'],
      ['an unknown type', '{"type":"chunk"}', 'ERR_MESSAGE_TYPE'],
      ['a prototype key as type', '{"type":"constructor"}', 'ERR_MESSAGE_TYPE'],
      // file-metadata
      ['metadata without filename', '{"type":"file-metadata","size":1}', 'ERR_MESSAGE_INVALID'],
      [
        'metadata with numeric filename',
        '{"type":"file-metadata","filename":5,"size":1}',
        'ERR_MESSAGE_INVALID',
      ],
      ['metadata without size', '{"type":"file-metadata","filename":"a"}', 'ERR_MESSAGE_INVALID'],
      [
        'metadata with string size',
        '{"type":"file-metadata","filename":"a","size":"1"}',
        'ERR_MESSAGE_INVALID',
      ],
      [
        'metadata with negative size',
        '{"type":"file-metadata","filename":"a","size":-1}',
        'ERR_MESSAGE_INVALID',
      ],
      [
        'metadata with fractional size',
        '{"type":"file-metadata","filename":"a","size":1.5}',
        'ERR_MESSAGE_INVALID',
      ],
      [
        'metadata with size 2^53',
        '{"type":"file-metadata","filename":"a","size":9007199254740992}',
        'ERR_MESSAGE_INVALID',
      ],
      [
        'metadata with another protocol',
        `{"type":"file-metadata","filename":"a","size":1,"protocol":"sdrlink/2","sha256":"${H}","chunk_size":10}`,
        'ERR_MESSAGE_INVALID',
      ],
      [
        'metadata with numeric protocol',
        `{"type":"file-metadata","filename":"a","size":1,"protocol":1,"sha256":"${H}","chunk_size":10}`,
        'ERR_MESSAGE_INVALID',
      ],
      [
        'sdrlink metadata without sha256',
        '{"type":"file-metadata","filename":"a","size":1,"protocol":"sdrlink/1","chunk_size":10}',
        'ERR_MESSAGE_INVALID',
      ],
      [
        'sdrlink metadata with short sha256',
        `{"type":"file-metadata","filename":"a","size":1,"protocol":"sdrlink/1","sha256":"${H.slice(1)}","chunk_size":10}`,
        'ERR_MESSAGE_INVALID',
      ],
      [
        'sdrlink metadata with non-hex sha256',
        `{"type":"file-metadata","filename":"a","size":1,"protocol":"sdrlink/1","sha256":"${'zz'.repeat(32)}","chunk_size":10}`,
        'ERR_MESSAGE_INVALID',
      ],
      [
        'sdrlink metadata without chunk_size',
        `{"type":"file-metadata","filename":"a","size":1,"protocol":"sdrlink/1","sha256":"${H}"}`,
        'ERR_MESSAGE_INVALID',
      ],
      [
        'sdrlink metadata with chunk_size 0',
        `{"type":"file-metadata","filename":"a","size":1,"protocol":"sdrlink/1","sha256":"${H}","chunk_size":0}`,
        'ERR_MESSAGE_INVALID',
      ],
      [
        'sdrlink metadata with chunk_size 2 MiB',
        `{"type":"file-metadata","filename":"a","size":1,"protocol":"sdrlink/1","sha256":"${H}","chunk_size":2097152}`,
        'ERR_MESSAGE_INVALID',
      ],
      // resume
      ['resume without offset', '{"type":"resume"}', 'ERR_MESSAGE_INVALID'],
      ['resume with string offset', '{"type":"resume","offset":"0"}', 'ERR_MESSAGE_INVALID'],
      ['resume with negative offset', '{"type":"resume","offset":-5}', 'ERR_MESSAGE_INVALID'],
      ['resume from 5 without prefix_sha256', '{"type":"resume","offset":5}', 'ERR_MESSAGE_INVALID'],
      [
        'resume from 5 with a bad prefix_sha256',
        '{"type":"resume","offset":5,"prefix_sha256":"abc"}',
        'ERR_MESSAGE_INVALID',
      ],
      // start
      ['start without offset', '{"type":"start"}', 'ERR_MESSAGE_INVALID'],
      ['start with null offset', '{"type":"start","offset":null}', 'ERR_MESSAGE_INVALID'],
      ['start with fractional offset', '{"type":"start","offset":0.5}', 'ERR_MESSAGE_INVALID'],
      // file-complete
      [
        'file-complete without size',
        `{"type":"file-complete","sha256":"${H}","frames":1}`,
        'ERR_MESSAGE_INVALID',
      ],
      ['file-complete without sha256', '{"type":"file-complete","size":1,"frames":1}', 'ERR_MESSAGE_INVALID'],
      [
        'file-complete with bad sha256',
        `{"type":"file-complete","size":1,"sha256":"${H}0","frames":1}`,
        'ERR_MESSAGE_INVALID',
      ],
      [
        'file-complete without frames',
        `{"type":"file-complete","size":1,"sha256":"${H}"}`,
        'ERR_MESSAGE_INVALID',
      ],
      [
        'file-complete with negative frames',
        `{"type":"file-complete","size":1,"sha256":"${H}","frames":-1}`,
        'ERR_MESSAGE_INVALID',
      ],
      // ack
      ['ack without sha256', '{"type":"ack","size":1}', 'ERR_MESSAGE_INVALID'],
      ['ack with boolean size', `{"type":"ack","sha256":"${H}","size":true}`, 'ERR_MESSAGE_INVALID'],
      // error
      ['error without code', '{"type":"error","message":"x"}', 'ERR_MESSAGE_INVALID'],
      ['error with empty code', '{"type":"error","code":"","message":"x"}', 'ERR_MESSAGE_INVALID'],
      [
        'error with a 65-character code',
        `{"type":"error","code":"${'E'.repeat(65)}","message":"x"}`,
        'ERR_MESSAGE_INVALID',
      ],
      ['error without message', '{"type":"error","code":"ERR_IO"}', 'ERR_MESSAGE_INVALID'],
      ['error with object message', '{"type":"error","code":"ERR_IO","message":{}}', 'ERR_MESSAGE_INVALID'],
      // keepalive_ms (§3.7)
      ...(
        [
          ['0', '0'],
          ['-1', '-1'],
          ['fractional', '1.5'],
          ['a string', '"1000"'],
          ['null', 'null'],
          ['above 60000', '60001'],
          ['2^53', '9007199254740992'],
        ] as const
      ).flatMap(([what, v]): [string, string, string][] => [
        [
          `sdrlink metadata with keepalive_ms ${what}`,
          `{"type":"file-metadata","filename":"a","size":1,"protocol":"sdrlink/1","sha256":"${H}","chunk_size":10,"keepalive_ms":${v}}`,
          'ERR_MESSAGE_INVALID',
        ],
        [
          `resume with keepalive_ms ${what}`,
          `{"type":"resume","offset":0,"keepalive_ms":${v}}`,
          'ERR_MESSAGE_INVALID',
        ],
      ]),
      ['keepalive spelled in capitals', '{"type":"KEEPALIVE"}', 'ERR_MESSAGE_TYPE'],
      ['keepalive with a trailing comma', '{"type":"keepalive",}', 'ERR_MESSAGE_INVALID'],
      ['keepalive cut short', '{"type":"keepal', 'ERR_MESSAGE_INVALID'],
      ['ping (not a type of §3)', '{"type":"ping"}', 'ERR_MESSAGE_TYPE'],
    ];
    for (const [name, text, code] of cases) {
      it(`${name} → ${code}`, () =>
        assert.equal(
          codeOf(() => parseControl(text)),
          code,
        ));
    }

    it(`a message over ${MAX_CONTROL_BYTES} bytes → ERR_MESSAGE_INVALID`, () => {
      const pad = (n: number, ch: string): string => `{"type":"start","offset":1,"p":"${ch.repeat(n)}"}`;
      const base = pad(0, 'x').length;
      assert.equal(
        codeOf(() => parseControl(pad(MAX_CONTROL_BYTES - base, 'x'))),
        'no error',
      );
      assert.equal(
        codeOf(() => parseControl(pad(MAX_CONTROL_BYTES - base + 1, 'x'))),
        'ERR_MESSAGE_INVALID',
      );
      // Counted in UTF-8 bytes, not characters: 3 bytes each.
      const n3 = Math.floor((MAX_CONTROL_BYTES - base) / 3);
      assert.equal(
        codeOf(() => parseControl(pad(n3, '€'))),
        'no error',
      );
      assert.equal(
        codeOf(() => parseControl(pad(n3 + 1, '€'))),
        'ERR_MESSAGE_INVALID',
      );
    });
  });

  it('cuts a long error message so the text stays well under the limit', () => {
    const text = encodeControl({ type: 'error', code: 'ERR_IO', message: 'x'.repeat(100_000) });
    assert.ok(text.length < 2100);
    const back = parseControl(text);
    assert.equal(back.type, 'error');
  });

  it('dispatches to the handler of the type', () => {
    const seen: string[] = [];
    for (const [msg] of golden) {
      dispatchControl<void>(msg, {
        'file-metadata': (m) => void seen.push(`meta ${m.filename}`),
        resume: (m) => void seen.push(`resume ${m.offset}`),
        start: (m) => void seen.push(`start ${m.offset}`),
        'file-complete': (m) => void seen.push(`complete ${m.frames}`),
        ack: (m) => void seen.push(`ack ${m.size}`),
        error: (m) => void seen.push(`error ${m.code}`),
        keepalive: () => void seen.push('keepalive'),
      });
    }
    assert.deepEqual(seen, [
      'meta spectrum_1.npz',
      'meta a.npz',
      'resume 0',
      'resume 1048576',
      'start 1048576',
      'complete 16',
      'ack 1048576',
      'error ERR_FRAME_CRC',
      'meta spectrum_1.npz',
      'resume 0',
      'resume 1048576',
      'keepalive',
    ]);
  });

  it('counts UTF-8 bytes like TextEncoder', () => {
    for (const s of ['', 'abc', 'é', '€', '😀', 'a😀b€é', '\ud800', '\udc00x', 'x\ud800']) {
      assert.equal(utf8Length(s), new TextEncoder().encode(s).length, JSON.stringify(s));
    }
  });
});

describe('file names (docs/protocol.md §5 ERR_FILENAME)', () => {
  it('accepts plain base names', () => {
    for (const n of [
      'spectrum_1.npz',
      'a',
      '.hidden',
      'name with spaces.npz',
      'ünïcödé-€.bin',
      'x'.repeat(255),
    ]) {
      assert.equal(checkFileName(n), n);
    }
  });

  it('refuses traversal, separators, control characters and long names', () => {
    for (const n of [
      '',
      '.',
      '..',
      '../etc/passwd',
      'a/b',
      'a\\b',
      '/abs',
      'a\u0000b',
      'line\nbreak',
      'del\u007f',
      'c1\u0085',
      'x'.repeat(256),
      '€'.repeat(86),
    ]) {
      assert.equal(
        codeOf(() => checkFileName(n)),
        'ERR_FILENAME',
        JSON.stringify(n),
      );
    }
  });
});
