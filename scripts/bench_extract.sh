#!/usr/bin/env bash
# extract's streaming: a 1 GiB float64 array pickle (sparse, written without numpy) to .npy,
# with time and peak heap, against numpy's own pickle.load + np.save when a numpy is given.
#
#   scripts/bench_extract.sh [PYTHON_WITH_NUMPY]
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet
bin=target/release/pklinspect
python3 - "$work/big_array.pkl" <<'PY'
import struct, sys
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
echo "pklinspect extract --to npy (1 GiB array):"
python3 scripts/peak_memory.py "$bin" extract "$work/big_array.pkl" --to npy -q -o "$work/out"
if [ $# -ge 1 ]; then
  echo "numpy: pickle.load + np.save:"
  python3 scripts/peak_memory.py "$1" -c "import pickle, numpy, sys; numpy.save(sys.argv[2], pickle.load(open(sys.argv[1], 'rb')))" "$work/big_array.pkl" "$work/numpy.npy"
  cmp "$work/out/root.npy" "$work/numpy.npy" && echo "outputs identical"
fi
