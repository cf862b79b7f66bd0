#!/usr/bin/env python3
"""Writes MAT-file test fixtures with scipy.io.savemat, each beside the NumPy truth of what a
reader must return: NAME.mat and NAME.expected.npy (the chosen variable as complex64, C order,
converted by NumPy's own astype). Used by the Swift MAT-file reader tests (FormatTests).

    Tools/make_mat_fixtures.py OUT_DIR

Files (shape [4, 256, 128] like DeepSense's MATLAB radar cubes unless said otherwise):
    single_plain      complex64 'data', uncompressed            (MATLAB class single, complex)
    single_zlib       complex64 'data', miCOMPRESSED
    double_plain      complex128 'data', uncompressed           (class double: rounded to float32)
    double_zlib       complex128 'data', miCOMPRESSED
    int16_real        int16 real 'cube' [2, 3, 5] (the only numeric array; a char array beside it)
    uint8_zlib        complex uint8-valued double, compressed   (MATLAB stores small integers compactly)
    int64_real        int64 [3, 7] with values beyond float32's 24-bit mantissa
    named             two numeric arrays 'a' and 'b' (a reader needs a variable name)
    data_and_other    'data' beside another numeric array (the 'data' rule picks it)
    odd_shape         complex64 [3, 1, 5, 2] (a singleton inside)
"""
import os
import sys

import numpy as np
import scipy.io as sio


def write(out, name, variables, chosen, compress):
    path = os.path.join(out, name + ".mat")
    sio.savemat(path, variables, do_compression=compress)
    expected = np.ascontiguousarray(np.asarray(variables[chosen]).astype("<c8"))
    np.save(os.path.join(out, name + ".expected.npy"), expected)
    # What scipy reads back must be the array written (the fixture itself is sound).
    back = sio.loadmat(path)[chosen]
    assert back.shape == np.asarray(variables[chosen]).shape, (name, back.shape)
    assert np.array_equal(back.astype("<c8"), expected, equal_nan=True), name


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    shape = (4, 256, 128)
    c64 = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    c128 = rng.standard_normal(shape) * 1e3 + 1j * rng.standard_normal(shape) / 3.0
    write(out, "single_plain", {"data": c64}, "data", False)
    write(out, "single_zlib", {"data": c64}, "data", True)
    write(out, "double_plain", {"data": c128}, "data", False)
    write(out, "double_zlib", {"data": c128}, "data", True)
    write(out, "int16_real", {"cube": rng.integers(-30000, 30000, (2, 3, 5)).astype(np.int16), "note": "radar"}, "cube", False)
    small = (rng.integers(0, 200, (4, 8, 6)) + 1j * rng.integers(0, 200, (4, 8, 6))).astype(np.complex128)
    write(out, "uint8_zlib", {"data": small}, "data", True)
    write(out, "int64_real", {"data": rng.integers(-(1 << 40), 1 << 40, (3, 7)).astype(np.int64)}, "data", False)
    write(out, "named", {"a": np.arange(6.0).reshape(2, 3), "b": c64[:2, :3, :4]}, "b", True)
    write(out, "data_and_other", {"data": c64[:, :16, :8], "range_axis": np.linspace(0, 10, 16)}, "data", False)
    odd = (rng.standard_normal((3, 1, 5, 2)) + 1j * rng.standard_normal((3, 1, 5, 2))).astype(np.complex64)
    write(out, "odd_shape", {"data": odd}, "data", True)
    print("wrote MAT fixtures to", out)


if __name__ == "__main__":
    main()
