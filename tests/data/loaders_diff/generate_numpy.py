"""Variations of .npy and .npz files for the numpy.load(allow_pickle=False) differential test
(tests/loaders_differential.rs runs the real numpy on them, and on every .npy/.npz of
fixtures/ and tests/data/). Run with numpy 2:

    python tests/data/loaders_diff/generate_numpy.py

Object arrays here hold only ints and strings (their pickles import nothing that runs
code); the test never loads them with allow_pickle=True.
"""

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "numpy"


def arrays():
    return {
        "f4_c": np.arange(6, dtype="<f4").reshape(2, 3),
        "f8_fortran": np.asfortranarray(np.arange(6, dtype="<f8").reshape(2, 3)),
        "i8_bigendian": np.arange(3, dtype=">i8"),
        "bool": np.array([True, False]),
        "complex": np.array([1 + 2j], dtype="<c16"),
        "zero_d": np.array(3.5),
        "empty": np.zeros((0, 3), dtype="<i2"),
        "unicode": np.array(["ab", "cde"]),
        "bytes": np.array([b"ab", b"c"]),
        "datetime": np.array(["2024-01-01"], dtype="datetime64[D]"),
        "timedelta": np.array([5], dtype="timedelta64[s]"),
        "structured": np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8", (2,))]),
        "structured_nested": np.zeros(2, dtype=[("a", [("x", "<u1"), ("y", "<f2")]), ("s", "U3")]),
        "structured_aligned": np.zeros(2, dtype=np.dtype([("a", "u1"), ("b", "<i8")], align=True)),
        "void": np.zeros(2, dtype="V4"),
        "subarray_dtype": np.zeros(2, dtype=("<i4", (3,))),
        "object": np.array([1, "a"], dtype=object),
        "object_empty": np.empty(0, dtype=object),
        "structured_with_object": np.zeros(2, dtype=[("a", "<i4"), ("o", "O")]),
        "nested_object_field": np.zeros(1, dtype=[("a", [("o", "O")])]),
        "float16": np.arange(3, dtype="<f2"),
        "longdouble": np.arange(2, dtype=np.longdouble),
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    a = arrays()
    for name, arr in a.items():
        np.save(OUT / f"{name}.npy", arr, allow_pickle=True)
    np.save(OUT / "version2.npy", np.zeros(2, dtype=[("a" * 70000, "<i4")]))
    np.savez(OUT / "plain.npz", x=a["f4_c"], y=a["structured"])
    np.savez_compressed(OUT / "plain_compressed.npz", x=a["f8_fortran"])
    np.savez(OUT / "with_object.npz", x=a["f4_c"], o=a["object"])
    np.savez(OUT / "with_structured_object.npz", s=a["structured_with_object"])
    np.savez(OUT / "empty.npz")
    # An npz holding a pickle that is not a .npy member: numpy hands back its bytes.
    for name, payload in [("pickle_member.npz", pickle.dumps({"a": 1}, protocol=2))]:
        buf = io.BytesIO()
        np.save(buf, a["f4_c"])
        with zipfile.ZipFile(OUT / name, "w") as z:
            z.writestr("x.npy", buf.getvalue())
            z.writestr("extra.pkl", payload)
    # A member named .npy holding a pickle (numpy reads it as a pickle: refused).
    with zipfile.ZipFile(OUT / "pickle_named_npy.npz", "w") as z:
        z.writestr("p.npy", pickle.dumps([1, 2], protocol=2))
    # A plain pickle saved as .npy (np.load sees no magic: refused without pickle).
    (OUT / "plain_pickle.npy").write_bytes(pickle.dumps([1, 2], protocol=2))


if __name__ == "__main__":
    main()
