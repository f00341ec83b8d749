#!/usr/bin/env bash
# explain against its references, one comparison per command (issue 16):
#
#   scripts/bench_explain.sh dense [N_DICTS]   opcode-dense pickle of N small dicts (default
#                                              2,000,000, ~90 MB, protocol 4) against CPython's
#                                              C `pickle.load` with GC off: wall, CPU, peak heap
#                                              and peak RSS (target: 3x faster, 0.5x RSS)
#   scripts/bench_explain.sh latin1 [MIB]      protocol-2 pickle of MIB MiB of random bytes
#                                              (default 256: `_codecs.encode(str, 'latin1')`,
#                                              one BINUNICODE of ~1.5x that) against `cat` of
#                                              the same file (target: within 2x)
#   scripts/bench_explain.sh array             1 GiB single-array pickle: explain must not read
#                                              the payload (a few ms, ~no memory)
#   scripts/bench_explain.sh                   all three
#
# Every figure is the median of RUNS runs (default 5), the two commands of a comparison
# interleaved. CPU time (user + sys, from rusage) is the fair figure on a busy machine; wall
# time is printed too. Inputs go to BENCH_DIR (default: a temporary directory), and are
# reused when already there. Needs python3 (standard library only). Nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
runs=${RUNS:-5}
work=${BENCH_DIR:-}
if [ -z "$work" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
cargo build --release --quiet
bin=$PWD/target/release/pklinspect

compare() { # compare LABEL_A CMD_A... -- LABEL_B CMD_B...
    python3 - "$runs" "$@" <<'PY'
import os, statistics, subprocess, sys, time
runs = int(sys.argv[1]); rest = sys.argv[2:]
cut = rest.index("--")
cmds = [(rest[0], rest[1:cut]), (rest[cut + 1], rest[cut + 2:])]

def once(cmd):
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(cmd, stdout=null)
        _, status, usage = os.wait4(proc.pid, 0)
    return (time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
            os.waitstatus_to_exitcode(status))

for _, cmd in cmds:
    once(cmd)  # warm the page cache
res = {label: [] for label, _ in cmds}
for _ in range(runs):
    for label, cmd in cmds:
        res[label].append(once(cmd))
(a, _), (b, _) = cmds
med = {k: [statistics.median(r[i] for r in v) for i in range(3)] for k, v in res.items()}
for label in (a, b):
    wall, cpu, rss = med[label]
    print("  %-34s %7.3f s wall  %7.3f s CPU  peak RSS %8d KiB" % (label, wall, cpu, rss))
print("  %s / %s: %.2fx CPU, %.2fx wall, %.2fx peak RSS"
      % (b, a, med[b][1] / med[a][1], med[b][0] / med[a][0], med[b][2] / med[a][2]))
PY
}

if [ "$what" = dense ] || [ "$what" = all ]; then
    n=${2:-2000000}
    [ "$what" = all ] && n=2000000
    dense=$work/dense_$n.pkl
    [ -f "$dense" ] || python3 - "$n" "$dense" <<'PY'
import pickle, sys
n, path = int(sys.argv[1]), sys.argv[2]
data = [{"id": i, "name": "item%d" % i, "score": i * 0.5, "tags": ("a", i % 7)} for i in range(n)]
with open(path, "wb") as f:
    pickle.dump(data, f, protocol=4)
PY
    echo "opcode-dense pickle, $n dicts, $(stat -L -c %s "$dense") bytes (runs: $runs):"
    compare "pklinspect explain" "$bin" explain "$dense" \
        -- "pickle.load (C, gc off)" python3 -c \
        "import gc, pickle, sys; gc.disable(); pickle.load(open(sys.argv[1], 'rb'))" "$dense"
    echo "  peak heap of each (RssAnon, sampled):"
    python3 scripts/peak_memory.py "$bin" explain "$dense" | sed 's/^/    explain: /'
fi

if [ "$what" = latin1 ] || [ "$what" = all ]; then
    mib=${2:-256}
    [ "$what" = all ] && mib=256
    latin1=$work/p2_random_${mib}m.pkl
    [ -f "$latin1" ] || python3 - "$mib" "$latin1" <<'PY'
import os, pickle, sys
mib, path = int(sys.argv[1]), sys.argv[2]
with open(path, "wb") as f:
    pickle.dump(os.urandom(mib << 20), f, protocol=2)
PY
    echo "protocol-2 pickle of $mib MiB of random bytes, $(stat -L -c %s "$latin1") bytes (runs: $runs):"
    compare "cat" cat "$latin1" -- "pklinspect explain" "$bin" explain "$latin1"
fi

if [ "$what" = array ] || [ "$what" = all ]; then
    python3 scripts/big_array_pickle.py "$work/big_array.pkl"
    echo "1 GiB single-array pickle:"
    python3 scripts/peak_memory.py --runs "$runs" "$bin" explain "$work/big_array.pkl" | sed 's/^/  /'
fi
