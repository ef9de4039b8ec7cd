#!/usr/bin/env bash
# Cost of the per-expert sketches (stages/execute/expert_sketch.hpp) against the compare pass, and
# of the expert matching from them at verdict time, on the shape issue 10 names: a generated
# qwen2_moe pair with 128 routed experts x 48 layers (hidden 512, expert width 136: about 2.6 GB
# per model in BF16). Each expert matrix has more than 2^16 elements: below that the pair stage
# keeps every tensor's values whole in the journal and the store (for norm vectors), which is
# gigabytes at this expert count and not how real experts are handled. The pair is a permuted model against its base (experts and neurons
# reordered), so the matching has something to find. compare runs under `mpirun -np 2`
# alternately with the hidden benchmark aid --no-expert-sketches and without it, R times each;
# then `lineage verdict --json` times the whole verdict, which includes the sketch matching of
# every layer. Extra compare options (e.g. --no-baselines) follow the work folder. Never part of
# the test suite. Usage: scripts/bench-sketch.sh [REPEATS] [WORK_DIR] [COMPARE OPTIONS...]
# Environment: SKETCHES=layer measures the layer matrices' sketches (attention, router, shared
# expert, dense MLP: --no-layer-sketches) instead of the experts'; LAYERS and EXPERTS change the
# pair's 48 layers and 128 experts (a smaller pair for a loaded machine).
set -euo pipefail
source "$(dirname "$0")/bench-common.bash" "$@"
layers=${LAYERS:-48}
experts=${EXPERTS:-128}
sketches=${SKETCHES:-expert}
case $sketches in
  expert) off_flag=--no-expert-sketches ;;
  layer) off_flag=--no-layer-sketches ;;
  *) echo "bench-sketch: SKETCHES is expert or layer" >&2; exit 2 ;;
esac
shift $(($# < 2 ? $# : 2))
if [ ! -d "$work/base" ]; then
  "$lineage" synth --scenario base --out "$work/base" --set hidden_size=512 --set num_experts=$experts \
    --set moe_intermediate_size=136 --set shared_expert_intermediate_size=136 --set intermediate_size=512 \
    --set num_hidden_layers=$layers --set num_experts_per_tok=8 >/dev/null
fi
if [ ! -d "$work/permuted" ]; then
  "$lineage" synth --scenario permuted --base "$work/base" --out "$work/permuted" --seed 3 >/dev/null
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg); models $(du -sh "$work/base" | cut -f1) each"
echo "command: mpirun -np 2 lineage compare permuted base $* [$off_flag] (LAYERS=$layers EXPERTS=$experts SKETCHES=$sketches)"
declare -a without with cpu_without cpu_with
for i in $(seq 1 "$repeats"); do
  for mode in without with; do
    rm -rf "$work/run.h5" "$work/run.h5.journal"
    flag=()
    [ $mode = without ] && flag=("$off_flag")
    # Wall and CPU seconds (user + system of mpirun and its ranks): on a shared machine the CPU
    # time is the steadier of the two.
    /usr/bin/time -f "%e %U %S" -o "$work/time.txt" mpirun --oversubscribe -np 2 "$lineage" compare \
      "$work/permuted" "$work/base" --out "$work/run.h5" -q "${flag[@]}" "$@" >/dev/null
    read -r wall user sys < "$work/time.txt"
    cpu=$(python3 -c "print(round($user + $sys, 2))")
    echo "run $i, $mode sketches: $wall s wall, $cpu s CPU"
    if [ $mode = without ]; then without+=("$wall"); cpu_without+=("$cpu"); else with+=("$wall"); cpu_with+=("$cpu"); fi
  done
done
start=$(date +%s.%N)
"$lineage" verdict --json "$work/run.h5" > "$work/verdict.json"
tv=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
/usr/bin/python3 - "${without[*]}" "${with[*]}" "$tv" "$work/verdict.json" "$work/permuted/provenance.json" "$work/run.h5" "$sketches" "${cpu_without[*]}" "${cpu_with[*]}" <<'PY'
import json, statistics, sys, h5py
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"compare: median without the {sys.argv[7]} sketches {ma:.2f} s, with {mb:.2f} s: the sketches add {100 * (mb - ma) / ma:.1f}% to the pass")
ca = statistics.median(float(x) for x in sys.argv[8].split())
cb = statistics.median(float(x) for x in sys.argv[9].split())
print(f"compare CPU: median without {ca:.2f} s, with {cb:.2f} s: ratio {cb / ca:.3f} ({100 * (cb - ca) / ca:+.1f}%)")
ms = json.load(open(sys.argv[4]))["pairs"][0]["expert_sketch_matching"]
truth = {l["layer"]: l["expert_permutation"] for l in json.load(open(sys.argv[5]))["layers"]}
right = sum(m["suspect_to_other"] == truth.get(m["layer"]) for m in ms)
f = h5py.File(sys.argv[6], "r")
n = len(f["sketches/unit_id"])
size = (f["sketches/a"].id.get_storage_size() + f["sketches/b"].id.get_storage_size()) / 1e6
print(f"verdict --json (all of it, incl. the sketch matching of {len(ms)} layers): {float(sys.argv[3]):.2f} s; "
      f"{right}/{len(ms)} layers matched exactly; {n} sketched units, {size:.1f} MB of sketches in the store")
PY
