#!/usr/bin/env bash
# Times `pklinspect dis` against `python3 -m pickletools` on an opcode-dense pickle.
#
#   scripts/bench_dis.sh [N_DICTS]     (default 2,000,000 small dicts, about 100 MB)
#
# Prints wall time and peak memory (max RSS) of each, and the speed-up. Needs python3;
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

# Peak RSS in KiB and wall seconds of a command, from /proc via python3's resource module.
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
start = time.perf_counter()
with open("/dev/null", "wb") as devnull:
    code = subprocess.call(sys.argv[1:], stdout=devnull)
wall = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("%.3f %d %d" % (wall, rss, code))
PY
}

read -r rs_wall rs_rss rs_code < <(measure "$bin" dis "$work/dense.pkl")
read -r py_wall py_rss py_code < <(measure python3 -m pickletools "$work/dense.pkl")
lines_rs=$("$bin" dis "$work/dense.pkl" | wc -l)
if ! cmp -s <("$bin" dis "$work/dense.pkl") <(python3 -m pickletools "$work/dense.pkl"); then
  echo "WARNING: outputs differ"
fi
printf 'pklinspect dis:      %8.3f s  %8d KiB max RSS  (exit %s, %s lines)\n' "$rs_wall" "$rs_rss" "$rs_code" "$lines_rs"
printf 'python3 pickletools: %8.3f s  %8d KiB max RSS  (exit %s)\n' "$py_wall" "$py_rss" "$py_code"
python3 -c "print('speed-up: %.1fx' % ($py_wall / $rs_wall))"
