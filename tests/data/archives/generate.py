"""Archives written by the real tools, for tests/archives.rs (issue 13).

    python tests/data/archives/generate.py     # needs pandas, py7zr, zstandard, torch

- pandas `DataFrame.to_pickle` with each compression it picks from the file name
  (`frame.pkl.<ext>`); pandas 3.1.1 as pinned in fixtures/requirements-numpy2.txt.
- `payload.7z`: py7zr of a directory holding a code-exec pickle (`model/evil.pkl`,
  running `echo pwned` when loaded: never load it) and a text file.

- `legacy.pth.tar`: torch's legacy tar checkpoint (torch < 0.4), which no torch we can
  install writes any more: written here byte for byte as torch 0.3's `_save` wrote it
  (members `sys_info`, `pickle`, `tensors`, `storages`; pickle protocol 2; records as
  `_write_metadata` and `_write_file` laid them out), and read back with today's
  `torch.load(weights_only=False)`, which still reads the format (`legacy_load`). The
  tar headers carry a fixed time and owner, so a rerun gives the same bytes.
- `legacy_views.pth.tar`: the same format with storages shared by several tensors, a
  transposed view, storage offsets, a storage view, float16/bfloat16/bool/uint8/float64;
  `legacy_module.pth.tar` a whole `nn.Sequential` (with a non-persistent buffer) and
  `legacy_ckpt.pth.tar` a `{"state_dict", "epoch"}` checkpoint in it;
  `legacy_tar.truth.json` records what `torch.load` gives for the legacy tars (per key:
  safetensors dtype, shape, sha256 of the contiguous bytes) for tests/extract_legacy_tar.rs.

- `payload.zip` (Python's `zipfile`, deflated): a code-exec pickle under `model/`, one under
  a zip-slip name, a nested zip holding a third, and a text file.
- `payload.tar` (Python's `tarfile`, GNU format): a protocol 0 code-exec pickle named
  `checkpoint.pth.tar` inside, and a text file.
- `legacy_zf.pkl`: joblib's legacy `ZF` format (joblib < 0.10), written with the pinned
  joblib's own `numpy_pickle_compat.write_zfile` around a code-exec pickle; read back with
  its `read_zfile` (never unpickled).
- `wrapped.pkl` + `wrapped.pkl_01.npy`: joblib <= 0.9's uncompressed format, an
  `NDArrayWrapper` (pickled under joblib 0.9's name `joblib.numpy_pickle`) naming the side
  file `np.load(allow_pickle=True)` reads, here an object array (a pickle after the
  `.npy` header); read back with the pinned `joblib.load`.

- `stringdtype.joblib`: `joblib.dump` of a numpy 2 `StringDType` array (joblib writes it as a
  nested pickle, as for object arrays).

Every file is read back with the tool's own reader before it is kept. A rerun changes the
bytes of the gzip, zip and 7z files (they carry the time of writing), not what they hold.
`fixtures/generate.py --env numpy2 --groups archives` runs this script.
"""
import io
import os
import pickle
import struct
import sys
import tarfile
import zipfile

import pandas as pd
import py7zr
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
EVIL = b"\x80\x02cposix\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."


def legacy_tar_save(obj, path):
    """torch 0.3 `torch.save(obj, path)`: `_save` with tarfile (PAX format)."""
    tensors = {}
    storages = {}

    def persistent_id(o):
        # Old torch keyed tensors and storages by their C pointer (`_cdata`); any
        # distinct integers do.
        if isinstance(o, torch.Tensor):
            key = 1000 + len(tensors)
            tensors[key] = o
            return str(key)
        return None

    def save_sys_info(f):
        info = dict(protocol_version=1001, little_endian=sys.byteorder == "little",
                    type_sizes=dict(short=2, int=4, long=4))
        pickle.dump(info, f, protocol=2)

    def pickle_objects(f):
        p = pickle.Pickler(f, protocol=2)
        p.persistent_id = persistent_id
        p.dump(obj)

    def save_tensors(f):
        pickle.dump(len(tensors), f, protocol=2)
        for key, t in tensors.items():
            storage_id = 2000 + len(storages)
            storages[storage_id] = t
            pickle.dump((key, storage_id, torch.Tensor), f, protocol=2)
            # `_write_metadata`: ndim as 8 bytes, sizes, strides, storage offset.
            f.write(struct.pack("<q", t.dim()))
            f.write(struct.pack(f"<{t.dim()}q", *t.size()))
            f.write(struct.pack(f"<{t.dim()}q", *t.stride()))
            f.write(struct.pack("<q", 0))

    def save_storages(f):
        pickle.dump(len(storages), f, protocol=2)
        for key, t in storages.items():
            storage_type = {torch.float32: torch.FloatStorage,
                            torch.int64: torch.LongStorage}[t.dtype]
            pickle.dump((key, "cpu", storage_type), f, protocol=2)
            # `_write_file`: the element count, then the elements, little-endian.
            f.write(struct.pack("<q", t.numel()))
            f.write(t.detach().contiguous().numpy().tobytes())
        pickle.dump([], f, protocol=2)

    with tarfile.open(path, "w:", format=tarfile.PAX_FORMAT) as tar:
        # The order `_save` adds them in; tensors before storages.
        for name, fn in [("sys_info", save_sys_info), ("pickle", pickle_objects),
                         ("tensors", save_tensors), ("storages", save_storages)]:
            buf = io.BytesIO()
            fn(buf)
            info = tarfile.TarInfo(name)
            info.size = len(buf.getvalue())
            info.mtime = 1_500_000_000
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(buf.getvalue()))


def gen_legacy_tar():
    path = os.path.join(HERE, "legacy.pth.tar")
    state = {"w": torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "n": torch.tensor([7, 8, 9])}
    legacy_tar_save(state, path)
    back = torch.load(path, weights_only=False)
    assert back["w"].tolist() == [[1.0, 2.0], [3.0, 4.0]], back
    assert back["n"].tolist() == [7, 8, 9], back
    print(f"legacy tar read back by torch {torch.__version__}")


def legacy_tar_save_views(tensors, views, path):
    """torch 0.3 `torch.save` of a dict of tensors that share storages: each storage once
    (keyed by its data pointer, as torch 0.3 keyed them by `_cdata`), each tensor with its
    real sizes, strides and storage offset, and `views` ({name: (root name, offset, numel)})
    written as torch 0.3's storage views: a slice of another tensor's storage."""
    storage_keys, storages, records, view_records = {}, [], [], []
    for name, t in tensors.items():
        if name in views:
            continue
        ptr = t.untyped_storage().data_ptr()
        if ptr not in storage_keys:
            storage_keys[ptr] = 2000 + len(storage_keys)
            whole = torch.empty(0, dtype=t.dtype).set_(t.untyped_storage())
            storages.append((storage_keys[ptr], whole))
        records.append((3000 + len(records), storage_keys[ptr], t, name))
    for name, (root, offset, numel) in views.items():
        key = 2500 + len(view_records)
        root_key = storage_keys[tensors[root].untyped_storage().data_ptr()]
        view_records.append((key, root_key, offset, numel))
        records.append((3000 + len(records), key, tensors[name], name))
    classes = {torch.float32: torch.FloatStorage, torch.int64: torch.LongStorage,
               torch.float16: torch.HalfStorage, torch.bfloat16: torch.BFloat16Storage,
               torch.uint8: torch.ByteStorage, torch.bool: torch.BoolStorage,
               torch.float64: torch.DoubleStorage}

    def raw(t):
        if t.dtype == torch.bfloat16:
            return t.view(torch.int16).numpy().tobytes()
        return t.numpy().tobytes()

    members = {}
    members["sys_info"] = pickle.dumps(dict(protocol_version=1001, little_endian=True,
                                            type_sizes=dict(short=2, int=4, long=4)), protocol=2)
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=2)
    by_name = {name: key for key, _, _, name in records}

    class Ref:
        def __init__(self, name):
            self.name = name

    p.persistent_id = lambda o: str(by_name[o.name]) if isinstance(o, Ref) else None
    p.dump({name: Ref(name) for name in tensors})
    members["pickle"] = buf.getvalue()
    buf = io.BytesIO()
    pickle.dump(len(records), buf, protocol=2)
    for key, storage_key, t, _ in records:
        pickle.dump((key, storage_key, torch.Tensor), buf, protocol=2)
        buf.write(struct.pack("<i", t.dim()) + b"\0" * 4)
        buf.write(struct.pack(f"<{t.dim()}q", *t.size()))
        buf.write(struct.pack(f"<{t.dim()}q", *t.stride()))
        # A tensor on a storage view starts at the view's first element.
        on_view = any(r[0] == storage_key for r in view_records)
        buf.write(struct.pack("<q", 0 if on_view else t.storage_offset()))
    members["tensors"] = buf.getvalue()
    buf = io.BytesIO()
    pickle.dump(len(storages), buf, protocol=2)
    for key, whole in storages:
        pickle.dump((key, "cpu", classes[whole.dtype]), buf, protocol=2)
        buf.write(struct.pack("<q", whole.numel()))
        buf.write(raw(whole))
    pickle.dump(view_records, buf, protocol=2)
    members["storages"] = buf.getvalue()
    with tarfile.open(path, "w:", format=tarfile.PAX_FORMAT) as tar:
        for name in ["sys_info", "pickle", "tensors", "storages"]:
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            info.mtime = 1_500_000_000
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(members[name]))


def gen_legacy_tar_views():
    """`legacy_views.pth.tar`: shared storages, a transposed view, a storage offset, a
    storage view, float16/bfloat16/bool/uint8/float64; and `legacy_tar.truth.json`: what
    torch.load gives for it and for `legacy.pth.tar` (safetensors dtype, shape, sha256 of
    the contiguous bytes per key), in the format of tests/data/safetensors/truth.json."""
    import hashlib
    import json

    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    half = torch.linspace(-2, 2, 6, dtype=torch.float16)
    tensors = {
        "base": base,
        "base_t": base.t(),  # shares base's storage, strides (1, 4)
        "row1": base[1],  # storage offset 4
        "col2": base[:, 2],  # offset 2, stride 4
        "half": half,
        "bf16": torch.tensor([1.5, -3.25, 1e10], dtype=torch.bfloat16),
        "mask": torch.tensor([True, False, True]),
        "bytes": torch.arange(5, dtype=torch.uint8),
        "f64": torch.tensor([[0.1, 0.2]], dtype=torch.float64),
        "empty": torch.zeros(0, 3),
        "scalar": torch.tensor(7, dtype=torch.int64),
        # A storage view of half's storage: elements 2..5, seen as a 1-d tensor.
        "half_view": half[2:5],
    }
    views = {"half_view": ("half", 2, 3)}
    path = os.path.join(HERE, "legacy_views.pth.tar")
    legacy_tar_save_views(tensors, views, path)
    names = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16",
             torch.bfloat16: "BF16", torch.bool: "BOOL", torch.uint8: "U8", torch.float64: "F64"}

    # A whole module (state_dict keys from its tree; a non-persistent buffer left out) and
    # a checkpoint dict (its state_dict entry; the epoch as metadata), torch 0.3 style.
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    module[0].register_buffer("scratch", torch.ones(2), persistent=False)
    module.requires_grad_(False)
    legacy_tar_save(module, os.path.join(HERE, "legacy_module.pth.tar"))
    legacy_tar_save({"state_dict": module.state_dict(), "epoch": 3},
                    os.path.join(HERE, "legacy_ckpt.pth.tar"))

    def truth_of(file):
        back = torch.load(os.path.join(HERE, file), weights_only=False)
        if isinstance(back, torch.nn.Module):
            back = back.state_dict()
        elif "state_dict" in back:
            back = back["state_dict"]
        out = {}
        for name, t in back.items():
            c = t.contiguous()
            data = (c.view(torch.int16) if c.dtype == torch.bfloat16 else c).numpy().tobytes()
            out[name] = {"dtype": names[t.dtype], "shape": list(t.shape),
                         "sha256": hashlib.sha256(data).hexdigest()}
        return out

    back = torch.load(path, weights_only=False)
    for name, t in tensors.items():
        assert torch.equal(back[name], t), name
    files = {f"tests/data/archives/{f}": {"metadata_keys": ["epoch"] if "ckpt" in f else [],
                                          "tensors": truth_of(f)}
             for f in ["legacy.pth.tar", "legacy_views.pth.tar", "legacy_module.pth.tar",
                       "legacy_ckpt.pth.tar"]}
    with open(os.path.join(HERE, "legacy_tar.truth.json"), "w") as f:
        json.dump({"torch": torch.__version__, "files": files}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"legacy tar with views read back by torch {torch.__version__}")


def gen_python_archives():
    path = os.path.join(HERE, "payload.zip")
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("deep/evil.pkl", EVIL)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model/weights.pkl", EVIL)
        z.writestr("../../evil.pkl", EVIL)
        z.writestr("inner.zip", inner.getvalue())
        z.writestr("notes.txt", "trained on Tuesday\n")
    with zipfile.ZipFile(path) as z:
        assert z.read("model/weights.pkl") == EVIL
    path = os.path.join(HERE, "payload.tar")
    proto0 = b"cposix\nsystem\n(S'echo pwned'\ntR."
    with tarfile.open(path, "w:", format=tarfile.GNU_FORMAT) as t:
        for name, data in [("release/checkpoint.pth.tar", proto0), ("release/README", b"hello\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_500_000_000
            t.addfile(info, io.BytesIO(data))
    with tarfile.open(path) as t:
        assert t.extractfile("release/checkpoint.pth.tar").read() == proto0


def gen_joblib_legacy():
    from joblib import numpy_pickle_compat as compat
    import joblib
    import numpy as np

    path = os.path.join(HERE, "legacy_zf.pkl")
    with open(path, "wb") as f:
        compat.write_zfile(f, EVIL, compress=3)
    with open(path, "rb") as f:
        assert compat.read_zfile(f) == EVIL
    path = os.path.join(HERE, "wrapped.pkl")
    side = np.array(["a", 1, None], dtype=object)
    np.save(path + "_01.npy", side, allow_pickle=True)
    wrapper = compat.NDArrayWrapper("wrapped.pkl_01.npy", np.ndarray)
    old_module = compat.NDArrayWrapper.__module__
    compat.NDArrayWrapper.__module__ = "joblib.numpy_pickle"
    try:
        with open(path, "wb") as f:
            pickle.dump({"x": wrapper}, f, protocol=2)
    finally:
        compat.NDArrayWrapper.__module__ = old_module
    back = joblib.load(path)
    assert back["x"].tolist() == ["a", 1, None], back
    print(f"joblib {joblib.__version__}")


def gen_joblib_stringdtype():
    import joblib
    import numpy as np
    from numpy.dtypes import StringDType

    path = os.path.join(HERE, "stringdtype.joblib")
    a = np.array(["a", "bcd", "x" * 40], dtype=StringDType())
    joblib.dump({"s": a}, path)
    assert joblib.load(path)["s"].tolist() == a.tolist()


def main():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    for ext in ["zip", "tar", "tar.gz", "zst", "gz", "bz2", "xz"]:
        path = os.path.join(HERE, f"frame.pkl.{ext}")
        frame.to_pickle(path)
        assert pd.read_pickle(path).equals(frame), path
    path = os.path.join(HERE, "payload.7z")
    with py7zr.SevenZipFile(path, "w") as z:
        z.writef(io.BytesIO(EVIL), "model/evil.pkl")
        z.writef(io.BytesIO(b"trained on Tuesday\n"), "notes.txt")
    with py7zr.SevenZipFile(path, "r") as z:
        assert z.getnames() == ["model/evil.pkl", "notes.txt"], z.getnames()
    print(f"pandas {pd.__version__}, py7zr {py7zr.__version__}")
    gen_legacy_tar()
    gen_legacy_tar_views()
    gen_python_archives()
    gen_joblib_legacy()
    gen_joblib_stringdtype()


if __name__ == "__main__":
    main()
