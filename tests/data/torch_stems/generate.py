"""Real `torch.save` files for every file-stem length from 1 to 64 characters (issue 13).

torch names the archive's folder after the file stem, so the stem's length sets the length
of every member name and with it the padding torch writes to align records to 64 bytes.
Run with a Python that has torch (fixtures/requirements-numpy2.txt pins the version):

    python tests/data/torch_stems/generate.py

Each file holds {"w": torch.tensor([1.0, 2.0])}; `tests/archives.rs` opens every one. A rerun
gives the same bytes. `fixtures/generate.py --env numpy2 --groups torch_stems` runs this script.
"""
import os
import string

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ALPHABET = string.ascii_lowercase + string.digits


def stem(n):
    return "".join(ALPHABET[i % len(ALPHABET)] for i in range(n))


def main():
    for old in os.listdir(HERE):
        if old.endswith(".pt"):
            os.remove(os.path.join(HERE, old))
    for n in range(1, 65):
        path = os.path.join(HERE, stem(n) + ".pt")
        torch.save({"w": torch.tensor([1.0, 2.0])}, path)
        back = torch.load(path, weights_only=True)
        assert back["w"].tolist() == [1.0, 2.0], path
    print(f"wrote 64 files with torch {torch.__version__}")


if __name__ == "__main__":
    main()
