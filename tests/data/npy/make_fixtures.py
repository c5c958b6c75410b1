#!/usr/bin/env python3
"""Write the .npy/.npz fixtures for tests/npy_io.rs with numpy, plus expected.json.

Run from anywhere:  /tmp/peers-venv/bin/python tests/data/npy/make_fixtures.py
Check files written by recap load in numpy:  make_fixtures.py --check FILE...

Valid fixtures cover f16/f32/f64, little/big/native byte order, C and Fortran order, 1-D,
format versions 1-3, and .npz archives stored (np.savez) and deflated (np.savez_compressed).
Hostile fixtures each carry the NpyProblem variant the reader must report.
Golden files `golden_write_*.npy` are np.save output that recap's writer must match byte for byte.
"""
import io
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def p(name):
    return os.path.join(HERE, name)


def base(rows, cols, seed):
    rng = np.random.default_rng(seed)
    # Values exactly representable in f16 (multiples of 1/8 in [-16, 16)) plus a few wider
    # ones for f32/f64 so a wrong conversion cannot hide.
    return (rng.integers(-128, 128, size=(rows, cols)) / 8.0).astype(np.float64)


def values_of(a):
    a = np.asarray(a)
    m = a if a.ndim == 2 else a.reshape(-1, 1)
    return [[float(v) for v in row] for row in m.astype(np.float64)]


expected = {"valid": [], "hostile": [], "golden_write": []}


_seen_values = {}


def valid(spec, a):
    """Record a readable fixture; identical value sets are stored once and referenced."""
    a = np.asarray(a)
    vals = values_of(a)
    key = json.dumps(vals)
    entry = {
        "path": spec,
        "shape": list(a.shape),
        "dtype": {2: "float16", 4: "float32", 8: "float64"}[a.dtype.itemsize],
        "fortran_order": bool(a.ndim == 2 and a.flags.f_contiguous and not a.flags.c_contiguous),
        "big_endian": a.dtype.byteorder == ">",
    }
    if key in _seen_values and a.size > 0:
        entry["same_values_as"] = _seen_values[key]
    else:
        _seen_values[key] = spec
        entry["values"] = vals
    expected["valid"].append(entry)


def save(name, a, **kw):
    np.save(p(name), a, **kw)
    valid(name, a)


def main():
    m = base(5, 3, 1)
    m[0, 0] = 1.0 / 3.0  # not exact in f16/f32: checks rounding matches numpy's cast
    for dt, tag in [("<f4", "f32"), ("<f8", "f64"), ("<f2", "f16")]:
        save(f"c_{tag}_le.npy", m.astype(dt))
        save(f"c_{tag}_be.npy", m.astype(dt.replace("<", ">")))
        save(f"f_{tag}_le.npy", np.asfortranarray(m.astype(dt)))
    save("f_f64_be.npy", np.asfortranarray(m.astype(">f8")))
    save("vec_f32.npy", base(7, 1, 2)[:, 0].astype("<f4"))
    save("vec_f16_be.npy", base(4, 1, 3)[:, 0].astype(">f2"))
    save("empty_rows.npy", np.zeros((0, 4), dtype="<f4"))
    save("one_col_fortran.npy", np.asfortranarray(base(6, 1, 4).astype("<f4")))

    # '=' (native) byte order: numpy never writes it, so patch a '<' header in place.
    raw = open(p("c_f32_le.npy"), "rb").read().replace(b"'<f4'", b"'=f4'", 1)
    open(p("c_f32_native.npy"), "wb").write(raw)
    valid("c_f32_native.npy", m.astype("<f4"))

    for ver in [(2, 0), (3, 0)]:
        name = f"v{ver[0]}_f32.npy"
        with open(p(name), "wb") as f:
            np.lib.format.write_array(f, m.astype("<f4"), version=ver)
        valid(name, m.astype("<f4"))

    # Streaming-sized arrays (still small): odd sizes so chunks do not divide evenly.
    s = base(103, 17, 5)
    save("stream_c_f32.npy", s.astype("<f4"))
    save("stream_f_f64.npy", np.asfortranarray(s.astype("<f8")))
    save("stream_f_f16_be.npy", np.asfortranarray(s.astype(">f2")))

    members = {
        "images": m.astype("<f4"),
        "texts": np.asfortranarray(base(6, 3, 6).astype("<f8")),
        "vec": base(5, 1, 7)[:, 0].astype("<f2"),
        "big": m.astype(">f4"),
        "stream_c": s.astype("<f4"),
        "stream_f": np.asfortranarray(s.astype(">f4")),
    }
    np.savez(p("arrays.npz"), **members)
    np.savez_compressed(p("arrays_compressed.npz"), **members)
    for arch in ["arrays.npz", "arrays_compressed.npz"]:
        for k, v in members.items():
            valid(f"{arch}:{k}", v)
    np.savez(p("single.npz"), only=m.astype("<f4"))
    valid("single.npz", m.astype("<f4"))

    nf = m.astype("<f4").copy()
    nf[3, 1] = np.nan
    nf[4, 2] = np.inf
    np.save(p("nonfinite.npy"), nf)  # NaN at (3, 1), Inf at (4, 2); tested on its own

    hostile()
    golden()
    with open(p("expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


def npy_bytes(a, **kw):
    buf = io.BytesIO()
    np.save(buf, a, **kw)
    return buf.getvalue()


def header_file(dict_text, data=b""):
    """A v1.0 .npy with an arbitrary header dict, padded like numpy's."""
    h = dict_text.encode("latin1")
    total = 10 + len(h) + 1
    pad = (64 - total % 64) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data


def hostile_file(name, data, problem, read="f32"):
    open(p(name), "wb").write(data)
    expected["hostile"].append({"path": name, "problem": problem, "read": read})


def hostile():
    good = npy_bytes(base(4, 3, 8).astype("<f4"))
    hostile_file("h_empty.npy", b"", "EmptyFile")
    hostile_file("h_bad_magic.npy", b"PK\x03\x04" + good[4:], "BadMagic")
    hostile_file("h_version.npy", good[:6] + b"\x09\x00" + good[8:], "UnsupportedVersion")
    hostile_file("h_truncated_preamble.npy", good[:7], "Truncated")
    hostile_file("h_header_beyond_file.npy",
                 b"\x93NUMPY\x01\x00" + struct.pack("<H", 5000) + good[10:100],
                 "HeaderBeyondFile")
    hostile_file("h_malformed_header.npy",
                 header_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3) ", b"\0" * 48),
                 "MalformedHeader")
    hostile_file("h_eval_header.npy",
                 header_file("{'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': (1,)}",
                             b"\0" * 4),
                 "MalformedHeader")
    hostile_file("h_truncated_data.npy", good[:-5], "DataTooShort")
    hostile_file("h_trailing_data.npy", good + b"\0\0\0\0", "DataTooLong")
    hostile_file("h_huge_shape.npy",
                 header_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 1000000), }",
                             b"\0" * 16),
                 "DataTooShort")
    hostile_file("h_overflow_shape.npy",
                 header_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }",
                             b"\0" * 16),
                 "ShapeOverflow")
    hostile_file("h_int32.npy", npy_bytes(np.arange(6, dtype="<i4").reshape(2, 3)), "IntegerDtype")
    hostile_file("h_int64.npy", npy_bytes(np.arange(6, dtype="<i8").reshape(2, 3)), "IntegerDtype")
    hostile_file("h_bool.npy", npy_bytes(np.ones((2, 3), dtype=bool)), "IntegerDtype")
    hostile_file("h_complex.npy", npy_bytes(np.ones((2, 3), dtype="<c8")), "ComplexDtype")
    hostile_file("h_object.npy", npy_bytes(np.array([1, "a", None], dtype=object), allow_pickle=True),
                 "ObjectDtype")
    hostile_file("h_structured.npy",
                 npy_bytes(np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")])), "StructuredDtype")
    hostile_file("h_unicode.npy", npy_bytes(np.array(["ab", "cd"])), "UnsupportedDtype")
    hostile_file("h_3d.npy", npy_bytes(np.zeros((2, 3, 4), dtype="<f4")), "UnsupportedDims")
    hostile_file("h_scalar.npy", npy_bytes(np.float32(1.5)), "UnsupportedDims")
    hostile_file("h_not_zip.npz", b"this is not a zip archive at all" * 4, "BadNpz")
    # A .npz with a broken member inside: the member's header claims more data than stored.
    buf = io.BytesIO()
    import zipfile
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("x.npy", good[:-12])
    hostile_file("h_member_truncated.npz", buf.getvalue(), "DataTooShort")
    # The int64 fixture reads fine as i64 (index files).
    expected["int64"] = {"path": "h_int64.npy", "shape": [2, 3], "values": list(range(6))}


def golden():
    """np.save output for arrays recap can rebuild exactly: v = (i*cols + j) * 0.25 - 1.5."""
    for rows, cols in [(3, 4), (1, 1), (0, 5), (123, 2)]:
        v = np.arange(rows * cols, dtype=np.float64).reshape(rows, cols) * 0.25 - 1.5
        for dt, tag in [("<f4", "f32"), ("<f8", "f64")]:
            name = f"golden_write_{tag}_{rows}x{cols}.npy"
            np.save(p(name), v.astype(dt))
            expected["golden_write"].append({"path": name, "dtype": tag, "rows": rows, "cols": cols})
        name = f"golden_write_i64_{rows}x{cols}.npy"
        np.save(p(name), np.arange(rows * cols, dtype="<i8").reshape(rows, cols) - 3)
        expected["golden_write"].append({"path": name, "dtype": "i64", "rows": rows, "cols": cols})


def check(paths):
    """Load files written by recap with numpy and print what numpy sees."""
    for path in paths:
        obj = np.load(path, allow_pickle=False)
        if isinstance(obj, np.ndarray):
            print(path, obj.dtype.str, obj.shape, float(np.abs(obj).sum()))
            continue
        with obj:
            for k in obj.files:
                a = obj[k]
                print(f"{path}:{k}", a.dtype.str, a.shape, float(np.abs(a).sum()))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        check(sys.argv[2:])
    else:
        main()
