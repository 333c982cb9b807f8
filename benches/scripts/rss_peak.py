#!/usr/bin/env python3
"""Peak resident memory of a command, split as the kernel counts it.

    python3 benches/scripts/rss_peak.py parframe --memory-limit 64MiB sql "..." -o out.parquet

Samples /proc/<pid>/status every 2 ms while the command runs and prints
the largest RssAnon (heap and other anonymous memory: what a memory limit
is about), RssFile (file-backed pages: the binary, memory-mapped spill
files read back, page cache of mapped inputs; reclaimable) and VmRSS (their
sum) it saw, then the command's exit code. `/usr/bin/time -v` reports the
peak of VmRSS only, which counts the mapped spill files a spilling job
reads back; RssAnon is the figure to hold against a memory limit. A 2 ms
sample can miss a shorter spike.
"""
import subprocess
import sys
import time


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = {"RssAnon": 0, "RssFile": 0, "VmRSS": 0}
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    key = line.split(":", 1)[0]
                    if key in peak:
                        peak[key] = max(peak[key], int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        time.sleep(0.002)
    err = p.stderr.read().decode(errors="replace").strip() if p.stderr else ""
    print(" ".join(f"{k}={v / 1024:.0f}MiB" for k, v in peak.items()), f"rc={p.returncode}")
    if p.returncode != 0 and err:
        print(err[-2000:], file=sys.stderr)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
