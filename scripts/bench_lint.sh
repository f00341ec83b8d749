#!/usr/bin/env bash
# `pklinspect lint` on a tree of N small mixed pickles (default 10,000: copies of the
# fixtures up to 64 KiB, in 100 folders), against:
#  - picklescan (PyPI), installed into a venv under /tmp (never into the repository);
#  - `cat` of every file (`find … -exec cat {} + > /dev/null`): the file system's floor;
# then the same tree with a 1 GiB array pickle added (a sparse file, written without numpy),
# which must add milliseconds, not seconds.
#
#   scripts/bench_lint.sh [N_FILES]
#
# With BASELINE_BIN=path (an earlier pklinspect), first a paired comparison: the two binaries
# run interleaved RUNS times (default 25) on the same tree, median user and system CPU and
# wall time of each, and the ratios (issue 11: lint within 10% of the pre-round binary).
#
# Warm cache: each command runs once untimed, then the median of 5 runs (3 for picklescan)
# is reported. The malformed fixtures are left out of the tree: picklescan 1.0.5 stops the
# whole run with an unhandled OSError on some of them. Needs python3 and network access to
# PyPI for the first run (PICKLESCAN_VENV to reuse a venv). Figures go in notes.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet
bin=$PWD/target/release/pklinspect
venv=${PICKLESCAN_VENV:-/tmp/pklinspect-bench-picklescan}
if [ ! -x "$venv/bin/picklescan" ]; then
    python3 -m venv "$venv"
    # numpy: picklescan imports it to read .npy/.npz files.
    "$venv/bin/pip" install --quiet picklescan numpy
fi

python3 - "$n" "$work/tree" fixtures <<'PY'
import json, os, shutil, sys
n, tree, fixtures = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sources = []
for group in sorted(os.listdir(fixtures)):
    folder = os.path.join(fixtures, group)
    if not os.path.isdir(folder):
        continue
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        truth = path + ".truth.json"
        if not os.path.exists(truth) or os.path.getsize(path) > 64 * 1024:
            continue
        if json.load(open(truth))["status"] == "malformed":
            continue
        sources.append(path)
for i in range(n):
    src = sources[i % len(sources)]
    folder = os.path.join(tree, "d%03d" % (i * 100 // n))
    os.makedirs(folder, exist_ok=True)
    shutil.copyfile(src, os.path.join(folder, "f%05d_%s" % (i, os.path.basename(src))))
print("tree: %d files from %d fixtures" % (n, len(sources)))
PY
du -sh --apparent-size "$work/tree" | sed 's/^/tree size: /'

if [ -n "${BASELINE_BIN:-}" ]; then
    python3 - "${RUNS:-25}" "$work/tree" "$BASELINE_BIN" "$bin" <<'PY'
import os, statistics, subprocess, sys, time
runs, tree, bins = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def once(b):
    t = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen([b, "lint", "--no-config", tree], stdout=null, stderr=null)
        _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t, usage.ru_utime, usage.ru_stime
for b in bins:
    once(b)
res = {b: [] for b in bins}
for _ in range(runs):
    for b in bins:
        res[b].append(once(b))
med = {b: [statistics.median(r[i] for r in v) for i in range(3)] for b, v in res.items()}
base = med[bins[0]]
print("paired lint, %d interleaved runs:" % runs)
for b in bins:
    wall, user, sys_ = med[b]
    print("  %-40s wall %.3f s (%.3fx)  user %.3f s (%.3fx)  sys %.3f s"
          % (b, wall, wall / base[0], user, user / base[1], sys_))
PY
fi

python3 - "$bin" "$venv/bin/picklescan" "$work" "$n" <<'PY'
import json, os, resource, statistics, struct, subprocess, sys, time
pkl, picklescan, work, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tree = os.path.join(work, "tree")
quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def median_seconds(cmd, runs=5, env=None, shell=False):
    """Median wall-clock seconds and median CPU seconds (user + system, children)."""
    subprocess.run(cmd, env=env, shell=shell, **quiet)
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, env=env, shell=shell, **quiet)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)

def env(**extra):
    e = dict(os.environ)
    e.update(extra)
    return e

lint = [pkl, "lint", "--no-config", "--quiet", "--format", "json", tree]
results = {}
results["pklinspect lint (2 threads)"] = median_seconds(lint)
results["pklinspect lint (1 thread)"] = median_seconds(lint, env=env(RAYON_NUM_THREADS="1"))
results["cat of every file"] = median_seconds(
    "find '%s' -type f -exec cat {} + > /dev/null" % tree, shell=True)
results["picklescan"] = median_seconds([picklescan, "-p", tree], runs=3)
print("%-30s %9s %12s %9s" % ("", "wall", "files/s", "CPU"))
for name, (wall, cpu) in results.items():
    print("%-30s %7.3f s %12.0f %7.3f s" % (name, wall, n / wall, cpu))
base, base_cpu = results["pklinspect lint (2 threads)"]
scan, scan_cpu = results["picklescan"]
cat, cat_cpu = results["cat of every file"]
print("picklescan / lint: %.1fx wall, %.1fx CPU    lint / cat: %.2fx wall, %.2fx CPU"
      % (scan / base, scan_cpu / base_cpu, base / cat, base_cpu / cat_cpu))

# What each found, for the record.
out = subprocess.run(lint, capture_output=True, text=True)
summary = json.loads(out.stdout)["summary"]
print("lint: %d files, %s" % (summary["files"], summary["findings"]))
out = subprocess.run([picklescan, "-p", tree], capture_output=True, text=True)
print("picklescan: " + " ".join(l for l in out.stdout.splitlines() if ":" in l and "files" in l.lower()))

# A 1 GiB single-array pickle (numpy 2, protocol 4), sparse, added to the tree.
big = os.path.join(tree, "big", "big_array.pkl")
os.makedirs(os.path.dirname(big))
subprocess.run([sys.executable, "scripts/big_array_pickle.py", big], check=True)
with_big, with_big_cpu = median_seconds(lint)
alone, _ = median_seconds([pkl, "lint", "--no-config", "--quiet", big])
print("with a 1 GiB array pickle added: %.3f s wall (%+.1f ms), %.3f s CPU (%+.1f ms); "
      "that file alone: %.1f ms" % (with_big, (with_big - base) * 1000, with_big_cpu,
                                     (with_big_cpu - base_cpu) * 1000, alone * 1000))
PY
