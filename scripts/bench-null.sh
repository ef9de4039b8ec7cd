#!/usr/bin/env bash
# Cost of the permutation null (docs/methods.md) against a whole compare, measured in one run:
# a generated 1.1 GB (per model) MoE pair is compared under `mpirun -np 2` alternately with
# `--null-permutations 0` (no tests) and the default, R times each; prints every time and the
# null's share of the compare's wall time. Never part of the test suite.
# Usage: scripts/bench-null.sh [REPEATS] [WORK_DIR]
set -euo pipefail
source "$(dirname "$0")/bench-common.bash" "$@"
if [ ! -d "$work/base" ]; then
  "$lineage" synth --scenario base --out "$work/base" --set hidden_size=1024 --set num_experts=20 \
    --set moe_intermediate_size=1024 --set shared_expert_intermediate_size=1024 --set num_hidden_layers=8 >/dev/null
  "$lineage" synth --scenario finetune --base "$work/base" --out "$work/finetune" >/dev/null
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); models $(du -sh "$work/base" | cut -f1) each"
declare -a without with
for i in $(seq 1 "$repeats"); do
  for k in 0 100; do
    rm -rf "$work/run.h5" "$work/run.h5.journal"
    start=$(date +%s.%N)
    mpirun --oversubscribe -np 2 "$lineage" compare "$work/finetune" "$work/base" --out "$work/run.h5" -q \
      --null-permutations $k >/dev/null
    t=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
    echo "run $i, --null-permutations $k: $t s"
    if [ $k -eq 0 ]; then without+=("$t"); else with+=("$t"); fi
  done
done
python3 - "${without[*]}" "${with[*]}" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"median without the null {ma:.2f} s, with {mb:.2f} s: the null is {100 * (mb - ma) / mb:.0f}% of the compare's wall time")
PY
