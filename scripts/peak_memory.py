"""Runs a command and reports its peak anonymous memory (heap) and peak RSS.

RSS counts the file-backed pages of a memory map, which are page cache, not memory the
program allocated; RssAnon is what it allocated. Usage: peak_memory.py CMD [ARGS...]
(stdout of the command goes to /dev/null).
"""
import subprocess
import sys
import time


def field(status, name):
    for line in status.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


with open("/dev/null", "wb") as devnull:
    start = time.perf_counter()
    proc = subprocess.Popen(sys.argv[1:], stdout=devnull)
    peak_anon = peak_rss = 0
    while proc.poll() is None:
        try:
            with open("/proc/%d/status" % proc.pid) as f:
                status = f.read()
            peak_anon = max(peak_anon, field(status, "RssAnon"))
            peak_rss = max(peak_rss, field(status, "VmHWM"))
        except OSError:
            break
        time.sleep(0.005)
    wall = time.perf_counter() - start
print("%.3f s wall, peak heap (RssAnon) %d KiB, peak RSS %d KiB, exit %d"
      % (wall, peak_anon, peak_rss, proc.returncode))
