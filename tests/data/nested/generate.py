"""Torch tensors written by plain pickle and by joblib, for tests/nested.rs (issue 12).

    python tests/data/nested/generate.py     # needs torch and joblib

`Tensor.__reduce_ex__` pickles each storage as `torch.storage._load_from_bytes(b)`, where
`b` is a whole `torch.save` stream (the legacy, non-zip layout) of that storage: a nested
payload. Protocol 2 writes those bytes as `_codecs.encode(str, 'latin1')`. torch 2.15.0 and
joblib 1.6.0 as pinned in fixtures/requirements-numpy2.txt; Python 3.11.

- `tensor_p2.pkl`, `tensor_p4.pkl`: `pickle.dumps` of a (2, 3) float32 tensor.
- `state_dict_p4.pkl`: `pickle.dumps` of `nn.Linear(3, 2).state_dict()`.
- `module_p4.pkl`: `pickle.dumps` of a whole `nn.Linear(2, 1)`.
- `state_dict_joblib.pkl`: `joblib.dump` of the same state_dict (joblib pickles tensors as
  plain pickle does).

Every file is loaded back with the real loader and compared before it is kept. A rerun
changes the bytes: the nested legacy stream names its storage after a memory address.
`fixtures/generate.py --env numpy2 --groups nested` runs this script.
"""
import os
import pickle

import joblib
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


def same(a, b):
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, nn.Module):
        return same(a.state_dict(), b.state_dict())
    return a == b


def main():
    torch.manual_seed(0)
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    sd = nn.Linear(3, 2).state_dict()
    for name, obj, proto in [
        ("tensor_p2", t, 2),
        ("tensor_p4", t, 4),
        ("state_dict_p4", sd, 4),
        ("module_p4", nn.Linear(2, 1), 4),
    ]:
        path = os.path.join(HERE, f"{name}.pkl")
        with open(path, "wb") as f:
            f.write(pickle.dumps(obj, protocol=proto))
        with open(path, "rb") as f:
            assert same(obj, pickle.load(f)), path
    path = os.path.join(HERE, "state_dict_joblib.pkl")
    joblib.dump(sd, path)
    assert same(sd, joblib.load(path)), path
    print(f"torch {torch.__version__}, joblib {joblib.__version__}")


if __name__ == "__main__":
    main()
