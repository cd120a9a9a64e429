"""Writes the committed NumPy fixtures in test/fixtures/npz/ (run once; the outputs are committed).

    python3 test/helpers/make_npz_fixtures.py test/fixtures/npz

basic.npz       : the arrays of src/datasets/npz-writer.test.ts, written by np.savez.
wide-header.npz : a structured array whose .npy header passes 65,535 bytes (format version 2.0).
The test writes the same arrays with our NpzWriter and compares the archives byte for byte.
Committed from NumPy 2.4.6 on CPython 3.11.7. Older CPython (3.11.2) writes the local headers' 32-bit size
fields and "version needed" differently (see docs/datasets.md); the .npy entries are the same.
"""
import os
import sys
import warnings

import numpy as np

out = sys.argv[1]
np.savez(
    os.path.join(out, 'basic.npz'),
    iq=np.array([1 + 2j, -0.5 + 0.25j, 3 - 4j], dtype='<c8'),
    ramp=np.arange(5, dtype='<f4'),
    grid=np.array([[1, 2, 3], [4, 5, 6]], dtype='<f8'),
    big=np.array([-1, 2**40], dtype='<i8'),
    small=np.array([7], dtype='<i4'),
    scalar=np.float64(2.5),
    empty=np.zeros((0,), dtype='<f4'),
    bytes=np.array([0, 255], dtype='|u1'),
    names=np.array(['a', 'h\u00e9', '\U0001F600x']),
    meta=np.array('{"core:datatype": "cf32_le"}'),
    blank=np.array(''),
)
fields = [('f%04d' % i, '<f4') for i in range(4000)]
with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    arr = np.zeros((1,), dtype=fields)
    for i in range(4000):
        arr['f%04d' % i] = i
    np.savez(os.path.join(out, 'wide-header.npz'), wide=arr)
print(np.__version__, sys.version.split()[0])
