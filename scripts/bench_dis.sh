#!/usr/bin/env bash
# Times `pklinspect dis` against `python3 -m pickletools` on an opcode-dense pickle.
#
#   scripts/bench_dis.sh [N_DICTS]     (default 2,000,000 small dicts, about 100 MB)
#
# Prints wall time, peak heap and peak RSS of each (RSS includes the file's mapped pages). Needs python3;
# builds pklinspect in release mode. Nothing here is asserted: figures go in notes.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
bin=target/release/pklinspect

python3 - "$n" "$work/dense.pkl" <<'PY'
import pickle, sys
n, path = int(sys.argv[1]), sys.argv[2]
data = [{"id": i, "name": "item%d" % i, "score": i * 0.5, "tags": ("a", i % 7)} for i in range(n)]
with open(path, "wb") as f:
    pickle.dump(data, f, protocol=4)
PY
size=$(stat -c %s "$work/dense.pkl")
echo "input: $n dicts, $size bytes"

echo "pklinspect dis:"
python3 scripts/peak_memory.py "$bin" dis "$work/dense.pkl"
echo "python3 -m pickletools:"
python3 scripts/peak_memory.py python3 -m pickletools "$work/dense.pkl"
if cmp -s <("$bin" dis "$work/dense.pkl") <(python3 -m pickletools "$work/dense.pkl"); then
  echo "outputs identical"
else
  echo "WARNING: outputs differ"
fi
