"""Runs a command and reports its wall time, CPU time (user, system), peak anonymous memory
(heap) and peak RSS.

RSS counts the file-backed pages of a memory map, which are page cache, not memory the
program allocated; RssAnon is what it allocated (sampled every 5 ms), VmHWM the kernel's
exact peak RSS. CPU time comes from the child's rusage, so it is not skewed by other
processes on a busy machine the way wall time is.

    peak_memory.py [--runs N] CMD [ARGS...]

With --runs N the command runs N times and each figure is the median (stdout goes to
/dev/null).
"""
import os
import statistics
import subprocess
import sys
import time


def field(status, name):
    for line in status.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def run_once(cmd):
    with open("/dev/null", "wb") as devnull:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=devnull)
        peak_anon = peak_rss = 0
        while True:
            try:
                with open("/proc/%d/status" % proc.pid) as f:
                    status = f.read()
                peak_anon = max(peak_anon, field(status, "RssAnon"))
                peak_rss = max(peak_rss, field(status, "VmHWM"))
            except OSError:
                pass
            pid, code, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.005)
        wall = time.perf_counter() - start
    peak_rss = max(peak_rss, usage.ru_maxrss)
    return wall, usage.ru_utime, usage.ru_stime, peak_anon, peak_rss, os.waitstatus_to_exitcode(code)


args = sys.argv[1:]
runs = 1
if args[:1] == ["--runs"]:
    runs, args = int(args[1]), args[2:]
results = [run_once(args) for _ in range(runs)]
med = [statistics.median(r[i] for r in results) for i in range(5)]
print("%.3f s wall, %.3f s user, %.3f s sys, peak heap (RssAnon) %d KiB, peak RSS %d KiB, exit %d"
      % (med[0], med[1], med[2], med[3], med[4], results[-1][5]))
