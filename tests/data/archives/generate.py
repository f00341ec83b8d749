"""Archives written by the real tools, for tests/archives.rs (issue 13).

    python tests/data/archives/generate.py     # needs pandas, py7zr, zstandard

- pandas `DataFrame.to_pickle` with each compression it picks from the file name
  (`frame.pkl.<ext>`); pandas 3.1.1 as pinned in fixtures/requirements-numpy2.txt.
- `payload.7z`: py7zr of a directory holding a code-exec pickle (`model/evil.pkl`,
  running `echo pwned` when loaded: never load it) and a text file.

Every file is read back with the tool's own reader before it is kept. A rerun changes the
bytes of the gzip, zip and 7z files (they carry the time of writing), not what they hold.
`fixtures/generate.py --env numpy2 --groups archives` runs this script.
"""
import io
import os
import pickle

import pandas as pd
import py7zr

HERE = os.path.dirname(os.path.abspath(__file__))
EVIL = b"\x80\x02cposix\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."


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


if __name__ == "__main__":
    main()
