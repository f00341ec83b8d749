#!/usr/bin/env bash
# extract --to npy against `cp` of the same file, side by side, with wall time, peak heap and
# peak RSS of each (scripts/peak_memory.py): a 512 MiB numpy array pickle and a 1 GiB torch
# checkpoint (state_dict), both random data, made once by scripts/make_extract_inputs.py.
#
#   scripts/bench_extract.sh [PYTHON_WITH_NUMPY_AND_TORCH] [INPUT_DIR] [ROUNDS]
#
# Defaults: /work/venvs/torch/bin/python, /work/bench-big, 3 rounds. The page cache is warm
# for both (each input is read once first). Nothing is asserted: figures go in notes.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-/work/venvs/torch/bin/python}
inputs=${2:-/work/bench-big}
rounds=${3:-3}
"$python" scripts/make_extract_inputs.py "$inputs"
cargo build --release --quiet
bin=$PWD/target/release/pklinspect
work=$(mktemp -d "$inputs/bench-extract.XXXXXX")
trap 'rm -rf "$work"' EXIT

wall() { sed -n 's/^\([0-9.]*\) s wall.*/\1/p'; }
for input in "$inputs/array512.pkl" "$inputs/torch1g.pt"; do
  size=$(stat -c %s "$input")
  cat "$input" > /dev/null
  echo "== $(basename "$input"): $size bytes"
  for round in $(seq "$rounds"); do
    cp_line=$(python3 scripts/peak_memory.py cp "$input" "$work/copy")
    rm -f "$work/copy"
    ex_line=$(python3 scripts/peak_memory.py "$bin" extract "$input" --to npy -q -o "$work/out")
    rm -rf "$work/out"
    cp_s=$(echo "$cp_line" | wall)
    ex_s=$(echo "$ex_line" | wall)
    echo "round $round  cp:      $cp_line"
    echo "round $round  extract: $ex_line"
    python3 -c "import sys; s=$size/2**20; c=float(sys.argv[1]); e=float(sys.argv[2]); print('         cp %.0f MiB/s, extract %.0f MiB/s: %.2fx cp' % (s/c, s/e, c/e))" "$cp_s" "$ex_s"
  done
done
