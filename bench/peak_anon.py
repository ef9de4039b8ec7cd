#!/usr/bin/python3
"""Runs a command and reports its wall time and the peak anonymous memory of each process of its
tree (RssAnon from /proc/PID/status, sampled every 20 ms): heap and stacks, not the file-backed
pages of mapped checkpoints, which the kernel reclaims at will. For mpirun that is per rank.
Used by scripts/bench-compare.sh; never part of the test suite.

Usage: peak_anon.py NAME CMD...   (NAME: the process name whose peak is reported, e.g. lineage)
Prints to stderr after the command's own output:
  "wall=<s> cpu=<user+system s of the whole tree> peak_anon_mb=<max over the NAME processes>
   procs=<how many NAME processes were seen>"
Exits with the command's exit code.
"""
import os
import resource
import subprocess
import sys
import time


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            kids.setdefault(int(fields[1]), []).append(int(d))
        except OSError:
            pass
    return kids


def tree(root):
    kids = children_map()
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def status(pid):
    name, anon = None, 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Name:"):
                    name = line.split()[1]
                elif line.startswith("RssAnon:"):
                    anon = int(line.split()[1])
    except OSError:
        pass
    return name, anon


def main():
    name, cmd = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    peak = {}
    last_tree = 0.0
    pids = [proc.pid]
    while proc.poll() is None:
        now = time.perf_counter()
        if now - last_tree > 0.5:  # new ranks appear in the first second; rescan now and then
            pids = tree(proc.pid)
            last_tree = now
        for p in pids:
            n, anon = status(p)
            if n is not None and n.startswith(name):
                peak[p] = max(peak.get(p, 0), anon)
        time.sleep(0.02)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the whole tree, once it is reaped
    mb = max(peak.values()) / 1024 if peak else float("nan")
    print(f"wall={wall:.3f} cpu={usage.ru_utime + usage.ru_stime:.3f} peak_anon_mb={mb:.0f} procs={len(peak)}",
          file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
