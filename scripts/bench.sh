#!/usr/bin/env bash
# Benchmarks (never part of the test suite). Results belong in docs/benchmarks.md with the
# machine and this command.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build" -DLINEAGE_BUILD_BENCH=ON >/dev/null
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
for b in "$root"/build/bench/bench_*; do
  # bench_read_bandwidth and bench_screen_pass read given files: scripts/bench-compare.sh runs
  # them on a generated pair.
  case "$(basename "$b")" in bench_read_bandwidth | bench_screen_pass) continue ;; esac
  echo "== $(basename "$b")"
  if [ "$(basename "$b")" = bench_chunked_pass ]; then  # writes 2 GiB of input: in a folder of its own
    work=$(mktemp -d)
    "$b" "$work"
    rm -rf "$work"
    continue
  fi
  "$b"
done
