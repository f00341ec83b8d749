#!/usr/bin/env bash
# Times `pklinspect dis` against `python3 -m pickletools` on an opcode-dense pickle, side by
# side, and checks that the listings are byte-identical.
#
#   scripts/bench_dis.sh [PICKLE | N_DICTS]
#
# PICKLE: an existing file (e.g. /work/bench/dense.pkl); N_DICTS: make one of that many
# small dicts (default 2,000,000, about 90 MB). Prints wall, user and system time of each
# (pklinspect: best of 3), peak RSS, and the ratios. On a busy machine compare the CPU
# (user + system) ratio; wall time there measures the neighbours. Nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
arg=${1:-2000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
bin=target/release/pklinspect

if [ -f "$arg" ]; then
  input=$arg
else
  input=$work/dense.pkl
  python3 - "$arg" "$input" <<'PY'
import pickle, sys
n, path = int(sys.argv[1]), sys.argv[2]
data = [{"id": i, "name": "item%d" % i, "score": i * 0.5, "tags": ("a", i % 7)} for i in range(n)]
with open(path, "wb") as f:
    pickle.dump(data, f, protocol=4)
PY
fi
echo "input: $input, $(stat -c %s "$input") bytes"
cat "$input" > /dev/null

measure() {  # prints "wall user sys maxrss_kb"
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" > /dev/null
  cat "$work/time"
}
best=""
for _ in 1 2 3; do
  t=$(measure "$bin" dis "$input")
  echo "pklinspect dis:        $t  (wall s, user s, sys s, peak RSS KiB)"
  if [ -z "$best" ] || python3 -c "import sys; sys.exit(not float(sys.argv[1].split()[0]) < float(sys.argv[2].split()[0]))" "$t" "$best"; then
    best=$t
  fi
done
theirs=$(measure python3 -m pickletools "$input")
echo "python3 -m pickletools: $theirs"
python3 - "$best" "$theirs" <<'PY'
import sys
ours = [float(x) for x in sys.argv[1].split()]
theirs = [float(x) for x in sys.argv[2].split()]
print("pklinspect is %.0fx faster by wall time, %.0fx by CPU time (user + sys)"
      % (theirs[0] / ours[0], (theirs[1] + theirs[2]) / max(ours[1] + ours[2], 1e-9)))
PY
if cmp -s <("$bin" dis "$input") <(python3 -m pickletools "$input"); then
  echo "outputs identical"
else
  echo "WARNING: outputs differ"
fi
