"""Torch checkpoints and the state_dict torch.load gives for each, for
tests/extract_safetensors.rs (issue 17).

    /work/venvs/i17a/bin/python tests/data/safetensors/generate.py

Needs torch (2.15.0, fixtures/requirements-numpy2.txt); with `lightning` installed (2.6.6)
it also writes a real Lightning checkpoint from `Trainer.fit`. Python 3.11.

Writes, beside this script:
- `half.pt`: state_dict of a small model in float16, and `bf16.pt` in bfloat16;
- `shared.pt`: a dict of views of one storage (slices, a transpose, a column), with
  key names that need JSON escaping;
- `nested_module.pt`: a whole nn.Module with nested submodules (Sequential in Sequential,
  Conv2d, BatchNorm2d, an Embedding);
- `tied_module.pt`: a whole `__main__.TiedModel` with a tied weight (two keys, one
  Parameter) and a non-persistent buffer (not a key);
- `checkpoint.ckpt`: a Lightning-style dict written by torch.save: `state_dict`, `epoch`,
  `global_step`, `hyper_parameters` (an argparse.Namespace), `optimizer_states` (Adam
  moments: tensors outside the state_dict), `lr`;
- `float8_v3.pt`: tensors torch saves with `_rebuild_tensor_v3`: float8 (e4m3fn,
  e4m3fnuz, e5m2, e5m2fnuz) from 16 bit patterns each (their values in the truth), a
  strided float8 view, uint16/32/64;
- `refused_complex128.pt`: a complex128 tensor, which safetensors has no dtype for;
- `refused_same_name.pt`: `{"a.b": t, "a": {"b": u}}`, two tensors one key;
- `lightning.ckpt` (when lightning is installed): `Trainer.fit` of a tiny LightningModule
  with `save_hyperparameters()`, one epoch, checkpoint saved by the trainer.

`truth.json` maps each of those, and every `fixtures/torch/*.pt`, to what a torch user
would write with `safetensors.torch.save_file`: for each state_dict key the safetensors
dtype, the shape and the sha256 of the tensor's contiguous bytes; `metadata_keys` lists the
checkpoint entries besides the state_dict. The state_dict is `module.state_dict()` for a
module, `ckpt["state_dict"]` for a checkpoint, else the dict itself (nested dicts joined
with ".").
"""
import argparse
import glob
import hashlib
import json
import math
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))

ST_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL", torch.complex64: "C64",
    torch.uint16: "U16", torch.uint32: "U32", torch.uint64: "U64",
    torch.float8_e4m3fn: "F8_E4M3", torch.float8_e4m3fnuz: "F8_E4M3FNUZ", torch.float8_e5m2: "F8_E5M2",
    torch.float8_e5m2fnuz: "F8_E5M2FNUZ",
}
RAW_BYTES = {torch.uint16, torch.uint32, torch.uint64, torch.float8_e4m3fn, torch.float8_e4m3fnuz,
             torch.float8_e5m2, torch.float8_e5m2fnuz}


class TiedModel(nn.Module):
    """A language-model shape: the output layer shares the embedding's weight (one
    Parameter, pickled once, two state_dict keys) and a non-persistent buffer (pickled,
    not in the state_dict)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.body = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3))
        self.out = nn.Linear(3, 5, bias=False)
        self.out.weight = self.emb.weight
        self.register_buffer("inv_freq", torch.arange(3, dtype=torch.float32), persistent=False)
        self.register_buffer("steps", torch.tensor(4))


def tensor_truth(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        raw = t.view(torch.int16).numpy().tobytes()
    elif t.dtype in RAW_BYTES:
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes()
    else:
        raw = t.numpy().tobytes()
    truth = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "sha256": hashlib.sha256(raw).hexdigest()}
    if t.dtype.is_floating_point and t.dtype.itemsize == 1:
        # what each element is worth, as torch reads it (NaN and infinities as text)
        truth["values"] = [v if math.isfinite(v) else str(v) for v in t.float().reshape(-1).tolist()]
    return truth


def flatten(obj, prefix=""):
    out = {}
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}.{i}" if prefix else str(i)))
    return out


def truth_of(path):
    obj = torch.load(path, weights_only=False)
    metadata_keys = []
    if isinstance(obj, nn.Module):
        sd = obj.state_dict()
    elif isinstance(obj, dict) and "state_dict" in obj:
        sd = obj["state_dict"]
        metadata_keys = sorted(str(k) for k in obj if k != "state_dict")
    else:
        sd = flatten(obj)
    return {"tensors": {k: tensor_truth(v) for k, v in sd.items()}, "metadata_keys": metadata_keys}


def make_fixtures():
    torch.manual_seed(0)
    small = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    torch.save(small.half().state_dict(), os.path.join(HERE, "half.pt"))
    small = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    torch.save(small.to(torch.bfloat16).state_dict(), os.path.join(HERE, "bf16.pt"))

    t = torch.arange(20, dtype=torch.float32).reshape(4, 5)
    shared = {"base": t, "rows": t[1:3], "T": t.T, "column": t[:, 3], "quote\"and\\slash": t[2],
              "ünï.code": t.view(-1)[7:13]}
    torch.save(shared, os.path.join(HERE, "shared.pt"))

    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2),
        nn.Sequential(nn.Flatten(), nn.Linear(8, 3)),
        nn.Embedding(5, 2),
    )
    torch.save(model, os.path.join(HERE, "nested_module.pt"))
    torch.save(TiedModel(), os.path.join(HERE, "tied_module.pt"))

    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    ckpt = {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "2.6.6",
        "state_dict": {f"model.{k}": v for k, v in net.state_dict().items()},
        "hyper_parameters": argparse.Namespace(lr=1e-3, hidden=2, name="tiny", layers=[3, 2, 1]),
        "optimizer_states": [opt.state_dict()],
        "lr": 1e-3,
    }
    torch.save(ckpt, os.path.join(HERE, "checkpoint.ckpt"))

    # _rebuild_tensor_v3 (an UntypedStorage and a dtype argument): 8-bit floats with every
    # kind of value (zero, subnormals, the largest, NaN, infinity) from their bit patterns,
    # and the unsigned integers without a typed storage class; one float8 view of another.
    bits = torch.tensor([0x00, 0x01, 0x07, 0x08, 0x38, 0x3C, 0x7B, 0x7C, 0x7E, 0x7F, 0x80, 0x81, 0xB8, 0xFC, 0xFE, 0xFF],
                        dtype=torch.uint8)
    f8 = {name: bits.view(dtype) for name, dtype in [
        ("e4m3fn", torch.float8_e4m3fn), ("e4m3fnuz", torch.float8_e4m3fnuz),
        ("e5m2", torch.float8_e5m2), ("e5m2fnuz", torch.float8_e5m2fnuz)]}
    f8["e4m3fn_view"] = f8["e4m3fn"].reshape(4, 4)[1:, ::2]
    f8["uint16"] = torch.tensor([0, 1, 65535], dtype=torch.uint16)
    f8["uint32"] = torch.tensor([0, 2**32 - 1], dtype=torch.uint32)
    f8["uint64"] = torch.tensor([0, 2**64 - 1], dtype=torch.uint64)
    torch.save(f8, os.path.join(HERE, "float8_v3.pt"))

    # No safetensors dtype: refused, naming the tensor (not in truth.json).
    torch.save({"ok": torch.ones(2), "z": torch.tensor([1 + 2j], dtype=torch.complex128)},
               os.path.join(HERE, "refused_complex128.pt"))
    # Two tensors with one name ("a.b" and "a" → "b"): refused, naming both paths.
    torch.save({"a.b": torch.ones(2), "a": {"b": torch.zeros(2)}}, os.path.join(HERE, "refused_same_name.pt"))


def make_lightning():
    try:
        import lightning as L
    except ImportError:
        print("lightning not installed: no lightning.ckpt", file=sys.stderr)
        return
    from torch.utils.data import DataLoader, TensorDataset

    class Tiny(L.LightningModule):
        def __init__(self, hidden=4, lr=0.01):
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, 1))

        def training_step(self, batch, _):
            x, y = batch
            return nn.functional.mse_loss(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    torch.manual_seed(0)
    data = DataLoader(TensorDataset(torch.randn(8, 3), torch.randn(8, 1)), batch_size=4)
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir="/tmp/i17a-lightning")
    trainer.fit(Tiny(), data)
    trainer.save_checkpoint(os.path.join(HERE, "lightning.ckpt"))


def main():
    make_fixtures()
    make_lightning()
    truth = {}
    files = sorted(glob.glob(os.path.join(ROOT, "fixtures", "torch", "*.pt")))
    files += sorted(glob.glob(os.path.join(HERE, "*.pt")) + glob.glob(os.path.join(HERE, "*.ckpt")))
    for path in files:
        if os.path.basename(path).startswith("refused_"):
            continue
        truth[os.path.relpath(path, ROOT)] = truth_of(path)
    with open(os.path.join(HERE, "truth.json"), "w") as f:
        json.dump({"made_by": {"torch": torch.__version__}, "files": truth}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
