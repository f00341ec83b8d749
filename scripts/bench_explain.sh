#!/usr/bin/env bash
# explain against CPython, on the two shapes that matter:
#  1. a 1 GiB single-array pickle: explain must not read the payload (a few ms, ~no memory);
#  2. an opcode-dense pickle of N small dicts (default 2,000,000, about 90 MB): explain
#     against CPython's C `pickle.load` of the same file, time and peak heap.
#
#   scripts/bench_explain.sh [N_DICTS]
# Needs python3 (standard library only). Figures go in notes, nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet
bin=target/release/pklinspect

python3 - "$work/big_array.pkl" <<'PY'
import struct, sys
# numpy 2's protocol-4 pickle of a 1 GiB float64 array, written (sparse) without numpy.
n = (1 << 30) // 8
head = (b'\x80\x04\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94\x8c\x05numpy\x94'
        b'\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01J' + struct.pack('<i', n) +
        b'\x85\x94h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02f8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01<\x94NNN'
        b'J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89\x8e' + struct.pack('<Q', n * 8))
with open(sys.argv[1], 'wb') as f:
    f.write(head)
    f.truncate(len(head) + n * 8)
    f.seek(len(head) + n * 8)
    f.write(b'\x94t\x94b.')
PY
echo "1 GiB single-array pickle:"
python3 scripts/peak_memory.py "$bin" explain "$work/big_array.pkl"

python3 - "$n" "$work/dense.pkl" <<'PY'
import pickle, sys
n, path = int(sys.argv[1]), sys.argv[2]
data = [{"id": i, "name": "item%d" % i, "score": i * 0.5, "tags": ("a", i % 7)} for i in range(n)]
with open(path, "wb") as f:
    pickle.dump(data, f, protocol=4)
PY
echo "opcode-dense pickle, $n dicts, $(stat -c %s "$work/dense.pkl") bytes:"
echo "  pklinspect explain:"
python3 scripts/peak_memory.py "$bin" explain "$work/dense.pkl"
echo "  python3 pickle.load (C unpickler):"
python3 scripts/peak_memory.py python3 -c "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))" "$work/dense.pkl"
