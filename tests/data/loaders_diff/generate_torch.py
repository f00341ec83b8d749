"""What the real torch.load(weights_only=True) does with every torch-loadable file in the
corpus, for tests/loaders_differential.rs (CI has no torch, so the answers are committed).

Run with a Python that has torch (2.15.0 when the truths were last written):

    /work/venvs/torch/bin/python tests/data/loaders_diff/generate_torch.py

It (1) writes variations made with torch itself under tests/data/loaders_diff/torch/
(zip and legacy `torch.save` of many object kinds, and hand-made data.pkl streams in a
torch zip: hostile routes), then (2) runs `torch.load(f, weights_only=True)` on every file
of the corpus (fixtures/torch, fixtures/benign/torch, fixtures/hostile/torch_with_system.pt,
tests/data/loaders and the variations), allowing each refused global in turn while the
refused name is one this script knows to be harmless (never `builtins.eval`, `posix.*`,
`torch.storage._load_from_bytes`...), and (3) writes tests/data/loaders_diff/torch_truths.json.

Only torch.load(weights_only=True) runs on hostile files: torch's restricted unpickler is
safe by design. Nothing here calls pickle.load or weights_only=False on them.
"""

import argparse
import collections
import contextlib
import dataclasses
import importlib
import io
import json
import os
import pickle
import re
import struct
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.serialization as ts

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
OUT = HERE / "torch"


# Classes the variations pickle (they live in __main__, as a notebook's would) ---------

Point = collections.namedtuple("Point", ["x", "y"])


@dataclasses.dataclass
class Config:
    lr: float
    layers: int


class MyTensor(torch.Tensor):
    pass


class Scale(nn.Module):
    def forward(self, x):
        return x * 2


# Names the generator may allowlist to go on (harmless to construct with the file's args).
SAFE_PREFIXES = ("__main__.", "numpy.", "collections.", "argparse.", "torch.")
NEVER = {
    "torch.storage._load_from_bytes", "torch.load", "torch.jit.load", "torch._ops.ops",
    "numpy.load", "numpy.loads", "numpy.core.multiarray._reconstruct_from_pickle",
    "torch.hub.load", "torch.serialization.load",
}
SAFE_NAMES = {"builtins.slice", "builtins.frozenset", "builtins.range", "builtins.len", "builtins.print",
              "builtins.dict", "builtins.list", "builtins.tuple", "builtins.object", "builtins.int",
              "builtins.float", "builtins.str", "builtins.bytes", "builtins.Ellipsis",
              "copyreg._reconstructor", "argparse.Namespace", "enum.Enum"}


def harmless(name):
    if name in NEVER or "load" in name.rsplit(".", 1)[-1]:
        return False
    return name in SAFE_NAMES or name.startswith(SAFE_PREFIXES)


def resolve(full):
    parts = full.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(full)


def final_error(e):
    text = str(e)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    skip = ("Weights only load failed", "Check the documentation", "Please file", "(1)", "(2)",
            "In PyTorch 2.6", "WeightsUnpickler error")
    line = next((ln for ln in lines if not ln.startswith(skip)), lines[0] if lines else "")
    m = re.search(r"WeightsUnpickler error: \s*(\S[^\n]*)", text)
    if m:
        line = m.group(1).strip()
    return f"{type(e).__name__}: {line}"


def weights_only(path):
    """torch.load(weights_only=True), allowing each harmless refusal in turn."""
    refusals, allow = [], []
    first = None
    for _ in range(100):
        ts.clear_safe_globals()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with ts.safe_globals(allow):
                    torch.load(path, weights_only=True)
            outcome = "loads" if not refusals else "loads_after_allowing"
            return {"refusals": refusals, "outcome": outcome, "error": None, "first_error": first}
        except Exception as e:
            text = str(e)
            if first is None:
                first = final_error(e)
            g = re.search(r"GLOBAL (\S+) was not an allowed global by default", text)
            t = re.search(r"Can only build .* but got <class '([^']+)'>", text)
            if g:
                name = g.group(1) if "." in g.group(1) else "builtins." + g.group(1)
                refusals.append({"kind": "global", "name": name})
                if not harmless(name):
                    return {"refusals": refusals, "outcome": "unallowed", "error": None,
                            "first_error": first}
                try:
                    allow.append((resolve(name), name))
                except (ImportError, AttributeError):
                    return {"refusals": refusals, "outcome": "unresolvable", "error": None,
                            "first_error": first}
            elif t and "." in t.group(1):
                name = t.group(1)
                refusals.append({"kind": "type", "name": name})
                if not harmless(name):
                    return {"refusals": refusals, "outcome": "unallowed", "error": None,
                            "first_error": first}
                allow.append(resolve(name))
            else:
                return {"refusals": refusals, "outcome": "error", "error": final_error(e),
                        "first_error": first}
        finally:
            ts.clear_safe_globals()
    return {"refusals": refusals, "outcome": "error", "error": "too many refusals",
            "first_error": first}


# Variations written with torch.save ------------------------------------------------------

def dtype_tensors():
    out = {}
    for name in ["float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64",
                 "uint8", "uint16", "uint32", "uint64", "bool", "complex64", "complex128",
                 "complex32", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
                 "float8_e8m0fnu"]:
        dt = getattr(torch, name)
        try:
            out[f"dtype_{name}"] = torch.zeros(3, dtype=dt)
        except Exception:
            out[f"dtype_{name}"] = torch.zeros(3).to(dt)
    for name in ["float4_e2m1fn_x2", "bits8", "bits16"]:
        try:
            out[f"dtype_{name}"] = torch.zeros(3, dtype=torch.uint8).view(getattr(torch, name))
        except Exception as e:
            print("skip", name, e, file=sys.stderr)
    out["quint8"] = torch.quantize_per_tensor(torch.tensor([0.0, 1.0]), 0.1, 10, torch.quint8)
    out["qint8"] = torch.quantize_per_tensor(torch.tensor([0.0, 1.0]), 0.1, 0, torch.qint8)
    out["qint32"] = torch.quantize_per_tensor(torch.tensor([0.0, 1.0]), 0.1, 0, torch.qint32)
    out["quint4x2"] = torch.quantize_per_tensor(torch.tensor([0.0, 1.0]), 0.1, 0, torch.quint4x2)
    out["qint8_per_channel"] = torch.quantize_per_channel(
        torch.ones(2, 2), torch.tensor([0.1, 0.2]), torch.tensor([0, 0]), 0, torch.qint8)
    return out


def variations():
    torch.manual_seed(0)
    lin = nn.Linear(2, 2)
    opt = torch.optim.Adam(lin.parameters())
    lin(torch.ones(1, 2)).sum().backward()
    opt.step()
    hooked = torch.ones(2, requires_grad=True)
    hooked.register_hook(lambda g: g)
    param_mod = nn.Linear(2, 2)
    nn.utils.parametrize.register_parametrization(param_mod, "weight", Scale())
    v = dtype_tensors()
    v.update({
        "sparse_coo": torch.eye(3).to_sparse(),
        "sparse_csr": torch.eye(3).to_sparse_csr(),
        "sparse_csc": torch.eye(3).to_sparse_csc(),
        "sparse_bsr": torch.eye(4).to_sparse_bsr((2, 2)),
        "namedtuple": Point(torch.ones(1), 2),
        "ordered_dict": collections.OrderedDict(a=torch.ones(1), b=2),
        "counter": collections.Counter("abca"),
        "defaultdict": collections.defaultdict(list, a=[1]),
        "deque": collections.deque([1, 2]),
        "dataclass": Config(0.1, 3),
        "size": torch.Size([2, 3]),
        "device": torch.device("cpu"),
        "device_cuda": torch.device("cuda", 1),
        "dtype": torch.float16,
        "layout": {"l": torch.sparse_coo},
        "memory_format": torch.channels_last,
        "slice": slice(1, 5, 2),
        "set": {1, 2, 3},
        "frozenset": frozenset({1}),
        "bytes": b"\x00\xff",
        "bytearray": bytearray(b"ab"),
        "complex": 1 + 2j,
        "range": range(3),
        "big_int": 2 ** 100,
        "float_nan": float("nan"),
        "ellipsis": ...,
        "nested": {"a": [1, (2, 3), {"b": None, "c": True}], "s": "é"},
        "optimizer_state": opt.state_dict(),
        "module_whole": nn.Sequential(nn.Linear(2, 2), nn.ReLU()),
        "parameter_grad": nn.Parameter(torch.ones(2), requires_grad=True),
        "parameter_nograd": nn.Parameter(torch.ones(2), requires_grad=False),
        "tensor_requires_grad": torch.ones(2, requires_grad=True),
        "tensor_hooks": hooked,
        "tensor_attr": (lambda t: (setattr(t, "note", "x"), t)[1])(torch.ones(2)),
        "subclass": torch.ones(2).as_subclass(MyTensor),
        "parametrize_state": param_mod.state_dict(),
        "parametrize_module": param_mod,
        "numpy_array": np.arange(3, dtype=np.float32),
        "numpy_array_obj": np.array([1, "a"], dtype=object),
        "numpy_scalar_f8": np.float64(1.5),
        "numpy_scalar_i4": np.int32(7),
        "numpy_bool": np.bool_(True),
        "numpy_dtype": np.dtype("f4"),
        "numpy_structured": np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),
        "namespace": argparse.Namespace(lr=0.1),
        "meta_tensor": torch.empty(2, device="meta"),
        "view_shared": (lambda t: {"a": t, "b": t[1:]})(torch.arange(4)),
        "empty": {},
        "none": None,
        "generator_state": torch.Generator().get_state(),
        "rng_state": torch.random.get_rng_state(),
    })
    return v


def save_variations():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    made = []
    for name, obj in variations().items():
        for suffix, kwargs in [("", {}), ("_legacy", {"_use_new_zipfile_serialization": False})]:
            p = OUT / f"{name}{suffix}.pt"
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    torch.save(obj, p, **kwargs)
                made.append(p)
            except Exception as e:
                print(f"skip {p.name}: {type(e).__name__}: {e}", file=sys.stderr)
                if p.exists():
                    p.unlink()
    for proto in (3, 4, 5):
        p = OUT / f"state_dict_p{proto}.pt"
        torch.save(nn.Linear(2, 2).state_dict(), p, pickle_protocol=proto)
        made.append(p)
    return made


# Hand-made data.pkl streams in a torch zip ------------------------------------------------

def g(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def u(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def i(n):
    return b"J" + struct.pack("<i", n)


STORAGE = b"(" + u("storage") + g("torch", "FloatStorage") + u("0") + u("cpu") + i(4) + b"tQ"


def rebuild(args):
    """_rebuild_tensor_v2(<args>) where args are raw opcodes (pushed after MARK)."""
    return g("torch._utils", "_rebuild_tensor_v2") + b"(" + args + b"tR"


GOOD_ARGS = STORAGE + i(0) + i(4) + b"\x85" + i(1) + b"\x85" + b"\x89" + \
    g("collections", "OrderedDict") + b")R"
TENSOR = rebuild(GOOD_ARGS)

def extent(offset, size, stride):
    """_rebuild_tensor_v2 on the 4-element storage `0` with this offset, size and stride."""
    tup = lambda xs: b"(" + b"".join(i(x) for x in xs) + b"t"
    return rebuild(STORAGE + i(offset) + tup(size) + tup(stride) + b"\x89"
                   + g("collections", "OrderedDict") + b")R")


HOSTILE = {
    "extent_offset_end_fits": extent(3, [1], [1]),
    "extent_one_past": extent(1, [4], [1]),
    "extent_empty_far_offset": extent(100, [0], [1]),
    "extent_scalar": extent(0, [], []),
    "extent_scalar_past": extent(4, [], []),
    "extent_len_mismatch": extent(0, [4], []),
    "extent_negative_stride": extent(3, [2], [-1]),
    "extent_negative_offset": extent(-1, [1], [1]),
    "extent_2d_fits": extent(0, [2, 2], [2, 1]),
    "extent_2d_past": extent(0, [2, 2], [3, 1]),
    "extent_broadcast": extent(0, [10], [0]),
    "extent_huge_size": extent(0, [2 ** 31 - 1, 2 ** 31 - 1], [2 ** 31 - 1, 1]),
    "eval": g("builtins", "eval") + b"(" + u("1+1") + b"tR",
    "print": g("builtins", "print") + b"(" + u("hi") + b"tR",
    "len": g("builtins", "len") + b"(" + u("abc") + b"tR",
    "posix_system": g("posix", "system") + b"(" + u("true") + b"tR",
    "os_getcwd": g("os", "getcwd") + b")R",
    "nt_getcwd": g("nt", "getcwd") + b")R",
    "py2_builtin_len": g("__builtin__", "len") + b"(" + u("abc") + b"tR",
    "py2_xrange": g("__builtin__", "xrange") + b"(" + i(3) + b"tR",
    "load_from_bytes": g("torch.storage", "_load_from_bytes") + b"(" + b"C\x00" + b"tR",
    "dtensor": g("torch.distributed.tensor", "DTensor") + b")R",
    "tensor_ok": TENSOR,
    "rebuild_too_few_args": rebuild(STORAGE + i(0)),
    "rebuild_storage_is_str": rebuild(u("x") + i(0) + i(4) + b"\x85" + i(1) + b"\x85" + b"\x89"
                                      + g("collections", "OrderedDict") + b")R"),
    "rebuild_offset_out_of_range": rebuild(STORAGE + i(100) + i(4) + b"\x85" + i(1) + b"\x85"
                                           + b"\x89" + g("collections", "OrderedDict") + b")R"),
    "rebuild_hooks_dict": rebuild(STORAGE + i(0) + i(4) + b"\x85" + i(1) + b"\x85" + b"\x89"
                                  + b"}" + u("k") + i(1) + b"s"),
    "pid_int": i(0) + b"Q",
    "pid_empty_tuple": b")Q",
    "pid_not_storage": b"(" + u("module") + u("x") + b"tQ",
    "pid_short": b"(" + u("storage") + g("torch", "FloatStorage") + u("0") + b"tQ",
    "pid_long": b"(" + u("storage") + g("torch", "FloatStorage") + u("0") + u("cpu") + i(4)
                + b"N" + b"tQ",
    "pid_dtype_not_storage": b"(" + u("storage") + g("torch", "float32") + u("0") + u("cpu")
                             + i(4) + b"tQ",
    "pid_ordered_dict_type": b"(" + u("storage") + g("collections", "OrderedDict") + u("0")
                             + u("cpu") + i(4) + b"tQ",
    "pid_untyped": b"(" + u("storage") + g("torch", "UntypedStorage") + u("0") + u("cpu")
                   + i(16) + b"tQ",
    "pid_typed_storage_class": b"(" + u("storage") + g("torch.storage", "TypedStorage") + u("0")
                               + u("cpu") + i(4) + b"tQ",
    "pid_missing_key": b"(" + u("storage") + g("torch", "FloatStorage") + u("nokey") + u("cpu")
                       + i(4) + b"tQ",
    "pid_location_int": b"(" + u("storage") + g("torch", "FloatStorage") + u("0") + i(0)
                        + i(4) + b"tQ",
    "pid_location_bogus": b"(" + u("storage") + g("torch", "FloatStorage") + u("0") + u("bogus")
                          + i(4) + b"tQ",
    "pid_location_meta": b"(" + u("storage") + g("torch", "FloatStorage") + u("0") + u("meta")
                         + i(4) + b"tQ",
    "pid_key_int": b"(" + u("storage") + g("torch", "FloatStorage") + i(0) + u("cpu")
                   + i(4) + b"tQ",
    "pid_numel_str": b"(" + u("storage") + g("torch", "FloatStorage") + u("0") + u("cpu")
                     + u("4") + b"tQ",
    "pid_cuda_qint8_storage": b"(" + u("storage") + g("torch.cuda", "QInt8Storage") + u("0")
                              + u("cpu") + i(4) + b"tQ",
    "pid_bad_storage_name": b"(" + u("storage") + g("torch", "EvilStorage") + u("0") + u("cpu")
                            + i(4) + b"tQ",
    "ordered_dict_of_str": g("collections", "OrderedDict") + b"(" + u("ab") + b"tR",
    "ordered_dict_of_pairs": g("collections", "OrderedDict") + b"(" + b"]" + b"(" + u("a")
                             + i(1) + b"\x86" + b"e" + b"tR",
    "ordered_dict_build": g("collections", "OrderedDict") + b")R" + b"}" + u("k") + i(1) + b"sb",
    "ordered_dict_setitem": g("collections", "OrderedDict") + b")R" + u("k") + i(1) + b"s",
    "counter_setitem": g("collections", "Counter") + b")R" + u("k") + i(1) + b"s",
    "tensor_build_dict": TENSOR + b"}" + u("k") + i(1) + b"sb",
    "tensor_build_tuple": TENSOR + b"(" + STORAGE + i(0) + i(4) + b"\x85" + i(1) + b"\x85" + b"tb",
    "tensor_newobj_build": g("torch", "Tensor") + b")\x81" + b"(" + STORAGE + i(0) + i(4) + b"\x85"
                           + i(1) + b"\x85" + b"tb",
    "tensor_reduce_empty": g("torch", "Tensor") + b")R",
    "parameter_newobj": g("torch.nn.parameter", "Parameter") + b"(" + TENSOR + b"\x88tR",
    "parameter_of_str": g("torch._utils", "_rebuild_parameter") + b"(" + u("x") + b"\x88"
                        + g("collections", "OrderedDict") + b")R" + b"tR",
    "parameter_build_state": g("torch._utils", "_rebuild_parameter") + b"(" + TENSOR + b"\x88"
                             + g("collections", "OrderedDict") + b")R" + b"tR" + b"}" + u("a")
                             + i(1) + b"sb",
    "set_of_list": g("builtins", "set") + b"(" + b"]" + i(1) + b"a" + b"tR",
    "set_build": g("builtins", "set") + b")R" + b"}" + b"b",
    "codecs_encode": g("_codecs", "encode") + b"(" + u("abc") + u("latin1") + b"tR",
    "codecs_rot13": g("_codecs", "encode") + b"(" + u("abc") + u("rot13") + b"tR",
    "size_build": g("torch", "Size") + b"(" + b"]" + b"tR" + b"}" + b"b",
    "device_build": g("torch", "device") + b"(" + u("cpu") + b"tR" + b"}" + u("a") + i(1) + b"sb",
    "size_build_nonempty": g("torch", "Size") + b"(" + b"]" + b"tR" + b"}" + u("a") + i(1) + b"sb",
    "set_build_nonempty": g("builtins", "set") + b")R" + b"}" + u("a") + i(1) + b"sb",
    "complex_build_nonempty": g("builtins", "complex") + b")R" + b"}" + u("a") + i(1) + b"sb",
    "device_build_none": g("torch", "device") + b"(" + u("cpu") + b"tR" + b"Nb",
    "device_build_pair_empty": g("torch", "device") + b"(" + u("cpu") + b"tR" + b"N}\x86b",
    "device_build_pair_slots": g("torch", "device") + b"(" + u("cpu") + b"tR" + b"N}" + u("a")
                               + i(1) + b"s\x86b",
    "device_build_memo_filled": b"]" + b"}q\x05" + b"a" + b"h\x05" + u("a") + i(1) + b"s" + b"a"
                                + g("torch", "device") + b"(" + u("cpu") + b"tR" + b"h\x05b",
    "device_build_setitems_empty": g("torch", "device") + b"(" + u("cpu") + b"tR" + b"}(ub",
    "append_to_dict": b"}" + i(1) + b"a",
    "appends_to_tuple": b")(" + i(1) + b"e",
    "setitem_to_list": b"]" + i(1) + i(2) + b"s",
    "setitem_to_set": g("builtins", "set") + b")R" + i(1) + i(2) + b"s",
    "reduce_of_str": u("x") + b")R",
    "reduce_of_memo_global": g("builtins", "set") + b"q\x00" + b"0" + b"h\x00" + b")R",
    "newobj_of_tensor_result": TENSOR + b")\x81",
    "newobj_of_ordered_dict": g("collections", "OrderedDict") + b")\x81",
    "newobj_unallowed": g("argparse", "Namespace") + b")\x81",
    "newobj_device": g("torch", "device") + b"(" + u("cpu") + b"t\x81",
    "build_on_int": i(1) + b"}" + b"b",
    "build_on_list": b"]" + b"}" + b"b",
    "build_on_namespace": g("argparse", "Namespace") + b")R" + b"}" + u("a") + i(1) + b"sb",
    "build_on_global": g("torch", "Size") + b"}" + b"b",
    "numpy_dtype_build": g("numpy", "dtype") + b"(" + u("f8") + b"\x89\x88tR" + b"(" + i(3)
                         + u("<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffJ\x00\x00\x00\x00tb",
    "numpy_dtype_u1_build": g("numpy", "dtype") + b"(" + u("u1") + b"\x89\x88tR" + b"(" + i(3)
                            + u("|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffJ\x00\x00\x00\x00tb",
    "numpy_dtype_bad_str": g("numpy", "dtype") + b"(" + u("zz") + b"\x89\x88tR" + b"}" + b"b",
    "frame_opcode": b"\x95" + struct.pack("<Q", 2) + b"N.",
    "short_binunicode": b"\x8c\x01a",
    "memoize": b"N\x94",
    "binbytes": b"B" + struct.pack("<I", 1) + b"a",
    "stack_global": u("builtins") + u("len") + b"\x93",
    "inst": b"(ibuiltins\nlen\n",
    "obj": b"(" + g("builtins", "len") + b"o",
    "persid_text": b"P0\n",
    "ext1": b"\x82\x01",
    "list_opcode": b"(l",
    "dict_opcode": b"(d",
    "long_binput_get": b"N" + b"r" + struct.pack("<I", 5) + b"0" + b"j" + struct.pack("<I", 5),
    "get_missing_memo": b"h\x07",
    "pop_empty": b"0",
    "mark_tuple_empty": b"(t",
    "binstring_short": b"U\x02ab",
    "binstring_long": b"T" + struct.pack("<i", 2) + b"ab",
    "long1": b"\x8a\x02\x01\x02",
    "long4": b"\x8b" + struct.pack("<i", 1) + b"\x01",
    "float_text": b"F1.5\n",
    "binfloat": b"G" + struct.pack(">d", 1.5),
    "rebuild_from_type_v2": g("torch._tensor", "_rebuild_from_type_v2") + b"(" + g(
        "torch._utils", "_rebuild_tensor_v2") + g("torch", "Tensor") + b"(" + GOOD_ARGS + b"t}tR",
    "rebuild_from_type_v2_state": g("torch._tensor", "_rebuild_from_type_v2") + b"(" + g(
        "torch._utils", "_rebuild_tensor_v2") + g("torch", "Tensor") + b"(" + GOOD_ARGS + b"t}"
        + u("note") + i(1) + b"stR",
    "rebuild_from_type_v2_user_class": g("torch._tensor", "_rebuild_from_type_v2") + b"(" + g(
        "torch._utils", "_rebuild_tensor_v2") + g("__main__", "MyTensor") + b"(" + GOOD_ARGS
        + b"t}tR",
    "rebuild_from_type_eval": g("torch._tensor", "_rebuild_from_type_v2") + b"(" + g(
        "builtins", "eval") + g("torch", "Tensor") + b"(" + u("1") + b"t}tR",
    "wrapper_subclass_str": g("torch._utils", "_rebuild_wrapper_subclass") + b"(" + u("x") + b"tR",
    "get_layout": g("torch.serialization", "_get_layout") + b"(" + u("torch.strided") + b"tR",
    "get_layout_bad": g("torch.serialization", "_get_layout") + b"(" + u("os.system") + b"tR",
}


def torch_zip(stream, name):
    """A torch zip holding `stream` as data.pkl, with one 16-byte storage `0`."""
    base = io.BytesIO()
    torch.save(torch.zeros(4), base)
    base.seek(0)
    out = OUT / f"hostile_{name}.pt"
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            short = info.filename.split("/", 1)[1]
            if short == "data.pkl":
                data = stream
            dst.writestr(f"hostile_{name}/{short}", data)
    return out


def save_hostile():
    made = []
    for name, body in HOSTILE.items():
        made.append(torch_zip(b"\x80\x02" + body + b".", name))
    # A plain pickle of the benign kind torch reads as the legacy format's magic number.
    p = OUT / "plain_magic_number.pkl"
    p.write_bytes(pickle.dumps(119547037146038801333356, protocol=2))
    made.append(p)
    p = OUT / "plain_dict.pkl"
    p.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    made.append(p)
    return made


def full_load_is_safe(p):
    """Files made here or by the fixture generator from known, harmless objects: the only
    ones this script loads with weights_only=False (never a hand-made hostile_* stream,
    never fixtures/hostile)."""
    rel = str(p.relative_to(ROOT))
    made_here = rel.startswith("tests/data/loaders_diff/torch/") and not p.name.startswith("hostile_")
    benign = rel.startswith(("fixtures/torch/", "fixtures/benign/torch/"))
    return (made_here or benign) and p.suffix == ".pt"


def full_load(path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.load(path, weights_only=False)
        return "ok"
    except Exception as e:
        return final_error(e)


def corpus():
    files = []
    for d in ["fixtures/torch", "fixtures/benign/torch", "tests/data/loaders",
              "tests/data/loaders_diff/torch"]:
        for p in sorted((ROOT / d).iterdir()):
            if p.is_file() and not p.name.endswith((".json", ".py", ".txt", ".md")):
                files.append(p)
    files.append(ROOT / "fixtures/hostile/torch_with_system.pt")
    return files


def main():
    check = "--check" in sys.argv[1:]
    if not check:
        made = save_variations() + save_hostile()
        print(f"wrote {len(made)} variations", file=sys.stderr)
    truths = []
    for p in corpus():
        with contextlib.redirect_stdout(sys.stderr):  # a payload twin prints
            t = weights_only(p)
            if full_load_is_safe(p):
                t["full_load"] = full_load(p)
        t = {"file": str(p.relative_to(ROOT)), **t}
        truths.append(t)
    doc = {
        "about": "what torch.load(f, weights_only=True) did with each file "
                 "(tests/data/loaders_diff/generate_torch.py; allowing each harmless refusal in turn)",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "files": truths,
    }
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if check:
        sys.stdout.write(text)
    else:
        (HERE / "torch_truths.json").write_text(text)
    print(f"{len(truths)} files", file=sys.stderr)


if __name__ == "__main__":
    main()
