#!/usr/bin/python3
"""Self time per function of a `perf record` file, symbolised with addr2line (this machine's perf
6.1 does not find the symbols of lineage's binaries by build id). Used for the profiles in
docs/benchmarks.md; never part of the test suite.

Usage: perf_top.py PERF_DATA [TOP]   prints "percent  function (binary)" for the TOP functions.
"""
import collections
import re
import subprocess
import sys


def main():
    data = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    out = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym,dso"], capture_output=True, text=True).stdout
    samples = []  # (dso, ip, sym)
    for line in out.splitlines():
        m = re.match(r"\s*([0-9a-f]+)\s+(.*)\s+\(([^()]*)\)\s*$", line)
        if m:
            samples.append((m.group(3), int(m.group(1), 16), m.group(2)))
    # Where each binary's code was mapped: perf reports run-time addresses, addr2line wants the
    # file's (for a PIE binary, the offset in the file equals the address there).
    maps = {}
    events = subprocess.run(["perf", "script", "-i", data, "--show-mmap-events", "-F", "ip"], capture_output=True,
                            text=True).stdout
    for m in re.finditer(r"\[(0x[0-9a-f]+)\((0x[0-9a-f]+)\) @ (0x[0-9a-f]+) [^\]]*\]: r-xp (\S+)", events):
        maps.setdefault(m.group(4), (int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16)))
    unresolved = collections.defaultdict(set)
    for dso, ip, sym in samples:
        if sym.startswith("[unknown]") or sym == "":
            unresolved[dso].add(ip)
    names = {}
    for dso, ips in unresolved.items():
        if dso.startswith("["):
            continue
        ips = sorted(ips)
        # perf gives runtime addresses for PIE binaries; map them through the load base of the
        # executable segment when they are beyond the file.
        start, length, pgoff = maps.get(dso, (0, 0, 0))
        file_ips = [ip - start + pgoff if start <= ip < start + length else ip for ip in ips]
        res = subprocess.run(["addr2line", "-f", "-C", "-e", dso] + [hex(i) for i in file_ips], capture_output=True,
                             text=True).stdout.splitlines()
        for i, ip in enumerate(ips):
            if 2 * i < len(res):
                names[(dso, ip)] = res[2 * i]
    counts = collections.Counter()
    for dso, ip, sym in samples:
        name = names.get((dso, ip), sym) if (sym.startswith("[unknown]") or sym == "") else sym
        name = re.sub(r"\+0x[0-9a-f]+$", "", name)
        counts[(name, dso.rsplit("/", 1)[-1])] += 1
    total = sum(counts.values())
    for (name, dso), c in counts.most_common(top):
        print(f"{100 * c / total:6.2f}%  {name[:110]}  ({dso})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
