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
python3 scripts/big_array_pickle.py "$work/big_array.pkl"
echo "pklinspect extract --to npy (1 GiB array):"
python3 scripts/peak_memory.py "$bin" extract "$work/big_array.pkl" --to npy -q -o "$work/out"
if [ $# -ge 1 ]; then
  echo "numpy: pickle.load + np.save:"
  python3 scripts/peak_memory.py "$1" -c "import pickle, numpy, sys; numpy.save(sys.argv[2], pickle.load(open(sys.argv[1], 'rb')))" "$work/big_array.pkl" "$work/numpy.npy"
  cmp "$work/out/root.npy" "$work/numpy.npy" && echo "outputs identical"
fi
