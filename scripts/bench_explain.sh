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

python3 scripts/big_array_pickle.py "$work/big_array.pkl"
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
