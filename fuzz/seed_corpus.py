#!/usr/bin/env python3
"""Builds the fuzz seed corpora from the repository's fixtures (standard library only).

    python3 fuzz/seed_corpus.py            # writes fuzz/corpus/<target>/

Every fixture file seeds `reader`, `explain` and `extract` as it is. `containers` takes a
selector byte first (see fuzz_targets/containers.rs): each fixture is filed under the
decoder its magic bytes name, and the members of zip fixtures (torch checkpoints, npz) are
added as `.npy` headers and raw pickles too. The corpora are not committed (.gitignore);
libFuzzer adds what it finds to them, so a later run starts where this one stopped.
"""

import hashlib
import io
import pathlib
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CORPUS = ROOT / "fuzz" / "corpus"
MAX_LEN = 1 << 17

# Selectors of fuzz_targets/containers.rs.
ZIP, GZIP, BZ2, XZ, LZMA, ZLIB, LZ4, NPY, LEGACY = range(9)


def fixture_files():
    for path in sorted(FIXTURES.rglob("*")):
        if not path.is_file() or path.parent == FIXTURES:
            continue
        if path.name.endswith((".truth.json", ".dis.txt")):
            continue
        yield path


def selector(data):
    if data.startswith(b"PK"):
        return ZIP
    if data.startswith(b"\x1f\x8b"):
        return GZIP
    if data.startswith(b"BZh"):
        return BZ2
    if data.startswith(b"\xfd7zXZ\x00"):
        return XZ
    if data.startswith(b"\x5d\x00\x00"):
        return LZMA
    if data[:1] == b"\x78":
        return ZLIB
    if data.startswith(b"\x04\x22\x4d\x18"):
        return LZ4
    if data.startswith(b"\x93NUMPY"):
        return NPY
    return LEGACY


def save(target, data):
    if len(data) > MAX_LEN:
        data = data[:MAX_LEN]
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main():
    counts = {}
    for path in fixture_files():
        data = path.read_bytes()
        for target in ("reader", "explain", "extract"):
            save(target, data)
        save("containers", bytes([selector(data)]) + data)
        if data.startswith(b"PK"):
            try:
                archive = zipfile.ZipFile(io.BytesIO(data))
                members = [archive.read(info) for info in archive.infolist()[:64]]
            except Exception:
                members = []
            for member in members:
                if member.startswith(b"\x93NUMPY"):
                    save("containers", bytes([NPY]) + member[:4096])
                    save("explain", member)
                elif member[:1] == b"\x80":
                    save("reader", member)
    for target in sorted(p.name for p in CORPUS.iterdir()):
        counts[target] = len(list((CORPUS / target).iterdir()))
    print("seed corpora:", ", ".join(f"{t} {n}" for t, n in counts.items()))


if __name__ == "__main__":
    main()
