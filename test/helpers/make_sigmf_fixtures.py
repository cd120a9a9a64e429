"""Writes the committed SigMF recordings in test/fixtures/sigmf/ (run once; outputs are committed).

    python3 test/helpers/make_sigmf_fixtures.py test/fixtures/sigmf

rtl-cu8       : cu8 (RTL-SDR style), 1.024 MS/s at 100 MHz, a tone at +200 kHz, 8192 samples
two-tones-ci16: ci16_le, 2 MS/s at 433.9 MHz, tones at -300 kHz and +600 kHz, 8192 samples
retune-cf32   : cf32_le, 1 MS/s, two captures (915 MHz from sample 0, 916 MHz from 4096), 8192 samples
"""
import json
import os
import sys

import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(1)


def write(name, datatype, data, sample_rate, captures, description):
    data.tofile(os.path.join(out, name + '.sigmf-data'))
    meta = {
        'global': {
            'core:datatype': datatype,
            'core:sample_rate': sample_rate,
            'core:version': '1.2.0',
            'core:description': description,
            'core:recorder': 'numpy ' + np.__version__,
        },
        'captures': captures,
        'annotations': [],
    }
    with open(os.path.join(out, name + '.sigmf-meta'), 'w') as f:
        json.dump(meta, f, indent=2)


n = np.arange(8192)
noise = lambda s: s * (rng.standard_normal(n.size) + 1j * rng.standard_normal(n.size))

x = 0.5 * np.exp(2j * np.pi * 200e3 * n / 1.024e6) + noise(0.02)
u8 = np.empty(2 * n.size, dtype=np.uint8)
u8[0::2] = np.clip(np.round(x.real * 128 + 128), 0, 255)
u8[1::2] = np.clip(np.round(x.imag * 128 + 128), 0, 255)
write('rtl-cu8', 'cu8', u8, 1.024e6,
      [{'core:sample_start': 0, 'core:frequency': 100e6, 'core:datetime': '2024-05-01T12:00:00Z'}],
      'tone at +200 kHz, RTL-SDR style unsigned 8-bit')

x = 0.3 * np.exp(2j * np.pi * -300e3 * n / 2e6) + 0.3 * np.exp(2j * np.pi * 600e3 * n / 2e6) + noise(0.001)
i16 = np.empty(2 * n.size, dtype='<i2')
i16[0::2] = np.round(x.real * 32767)
i16[1::2] = np.round(x.imag * 32767)
write('two-tones-ci16', 'ci16_le', i16, 2e6,
      [{'core:sample_start': 0, 'core:frequency': 433.9e6, 'core:datetime': '2024-05-01T12:00:00.500Z'}],
      'tones at -300 kHz and +600 kHz, signed 16-bit')

x = (0.25 * np.exp(2j * np.pi * 100e3 * n / 1e6) + noise(0.01)).astype('<c8')
write('retune-cf32', 'cf32_le', x, 1e6,
      [{'core:sample_start': 0, 'core:frequency': 915e6}, {'core:sample_start': 4096, 'core:frequency': 916e6}],
      'two captures: 915 MHz then 916 MHz')
print(np.__version__)
