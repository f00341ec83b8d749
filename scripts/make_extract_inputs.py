"""Makes extract's benchmark inputs with the real libraries (random data, so nothing is sparse):

    python scripts/make_extract_inputs.py DIR      (a python with numpy and torch)

DIR/array512.pkl   numpy.ndarray of 512 MiB float32, pickled with protocol 4
DIR/torch1g.pt     torch.save of a state_dict of 1 GiB (16 float32 tensors of 64 MiB)
Files already there are kept.
"""
import os
import pickle
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
path = os.path.join(out, "array512.pkl")
if not os.path.exists(path):
    array = rng.random((1 << 27,), dtype=np.float32).reshape(1 << 14, 1 << 13)
    with open(path + ".tmp", "wb") as f:
        pickle.dump(array, f, protocol=4)
    os.rename(path + ".tmp", path)
path = os.path.join(out, "torch1g.pt")
if not os.path.exists(path):
    import torch
    state = {
        "layer%d.weight" % i: torch.from_numpy(rng.random((4096, 4096), dtype=np.float32))
        for i in range(16)
    }
    torch.save(state, path + ".tmp")
    os.rename(path + ".tmp", path)
