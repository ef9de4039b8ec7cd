#!/usr/bin/env bash
# Cost of the per-expert sketches (stages/execute/expert_sketch.hpp) against the compare pass, and
# of the expert matching from them at verdict time, on the shape issue 10 names: a generated
# qwen2_moe pair with 128 routed experts x 48 layers (hidden 512, expert width 136: about 2.6 GB
# per model in BF16). Each expert matrix has more than 2^16 elements: below that the pair stage
# keeps every tensor's values whole in the journal and the store (for norm vectors), which is
# gigabytes at this expert count and not how real experts are handled. The pair is a permuted model against its base (experts and neurons
# reordered), so the matching has something to find. compare runs under `mpirun -np 2`,
# alternating three modes R times each (below); then `lineage verdict --json` times the whole
# verdict, which includes the sketch matching of every layer. Extra compare options (e.g. --no-baselines) follow the work folder. Never part of
# the test suite. Usage: scripts/bench-sketch.sh [REPEATS] [WORK_DIR] [COMPARE OPTIONS...]
# Environment: SKETCHES=layer measures the layer matrices' sketches (attention, router, shared
# expert, dense MLP: --no-layer-sketches) instead of the experts'; LAYERS and EXPERTS change the
# pair's 48 layers and 128 experts (a smaller pair for a loaded machine); SCENARIO names the
# suspect's synth scenario (default permuted; e.g. finetune, whose experts stay in place, so no
# matched_expert unit is planned).
set -euo pipefail
source "$(dirname "$0")/bench-common.bash" "$@"
layers=${LAYERS:-48}
experts=${EXPERTS:-128}
sketches=${SKETCHES:-expert}
scenario=${SCENARIO:-permuted}
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
if [ ! -d "$work/$scenario" ]; then
  "$lineage" synth --scenario "$scenario" --base "$work/base" --out "$work/$scenario" --seed 3 >/dev/null
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg); models $(du -shL "$work/base" | cut -f1) each"
echo "command: mpirun -np 2 lineage compare $scenario base $* [$off_flag] (LAYERS=$layers EXPERTS=$experts SKETCHES=$sketches)"
# Three modes, alternated: without the sketches; with them but without matched units (hidden aid
# --no-matched-experts: the sketches in the pass and the matching rank 0 computes at the verdict,
# which is what the matching itself costs); and every default, which adds the down projections'
# sketches and the matching before the pass, and compares each moved expert at its match instead
# of at its own index (on this permuted pair, nearly every expert; their same-key units are
# superseded, so no expert is read twice). The layer sketches have no matched units: their middle
# mode equals the last.
declare -A wall_of cpu_of
modes=(without sketches with)
[ "$sketches" = layer ] && modes=(without with)
for i in $(seq 1 "$repeats"); do
  for mode in "${modes[@]}"; do
    rm -rf "$work/run.h5" "$work/run.h5.journal"
    flag=()
    [ $mode = without ] && flag=("$off_flag")
    [ $mode = sketches ] && flag=(--no-matched-experts)
    # Wall and CPU seconds (user + system of mpirun and its ranks): on a shared machine the CPU
    # time is the steadier of the two.
    # LINEAGE_STEP_CPU: each rank's CPU per step of compare, to set the matching's own steps
    # against the whole run within one run (docs/cli.md).
    LINEAGE_STEP_CPU=1 /usr/bin/time -f "%e %U %S" -o "$work/time.txt" mpirun --oversubscribe -np 2 \
      -x LINEAGE_STEP_CPU "$lineage" compare "$work/$scenario" "$work/base" --out "$work/run.h5" -q "${flag[@]}" "$@" \
      >/dev/null 2>"$work/steps-$mode-$i.txt"
    read -r wall user sys < "$work/time.txt"
    cpu=$(python3 -c "print(round($user + $sys, 2))")
    steps=$(python3 -c '
import collections, sys
cpu = collections.OrderedDict()
for line in open(sys.argv[1]):
    w = line.split()
    if len(w) == 6 and w[:2] == ["lineage:", "step-cpu"]:
        cpu[w[4]] = cpu.get(w[4], 0.0) + float(w[5])
total = sum(cpu.values())
print(", ".join("%s %.2f" % kv for kv in cpu.items()) + "; total %.2f" % total
      + "; moves before and after the pass %.1f%%" % (100 * (cpu.get("moves-before-pass", 0) + cpu.get("moves-after-pass", 0)) / total))' \
      "$work/steps-$mode-$i.txt")
    echo "run $i, $mode: $wall s wall, $cpu s CPU; CPU s by step, both ranks: $steps"
    wall_of[$mode]+="$wall "
    cpu_of[$mode]+="$cpu "
  done
done
start=$(date +%s.%N)
"$lineage" verdict --json "$work/run.h5" > "$work/verdict.json"
tv=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
/usr/bin/python3 - "${wall_of[without]}" "${wall_of[sketches]:-}" "${wall_of[with]}" "$tv" "$work/verdict.json" "$work/$scenario/provenance.json" "$work/run.h5" "$sketches" "${cpu_of[without]}" "${cpu_of[sketches]:-}" "${cpu_of[with]}" <<'PY'
import json, statistics, sys, h5py
def median(text):
    return statistics.median(float(x) for x in text.split()) if text.split() else None
kind = sys.argv[8]
for what, first in (("wall", 1), ("CPU", 9)):
    base, sketched, full = (median(sys.argv[first + k]) for k in range(3))
    line = f"compare {what}: median without the {kind} sketches {base:.2f} s"
    if sketched is not None:
        line += f"; with them and the matching, no matched units {sketched:.2f} s ({100 * (sketched - base) / base:+.1f}%)"
    line += f"; every default {full:.2f} s ({100 * (full - base) / base:+.1f}%)"
    print(line)
ms = json.load(open(sys.argv[5]))["pairs"][0]["expert_sketch_matching"]
# Experts a scenario did not move (no expert_permutation in its provenance) stay in place.
truth = {l["layer"]: l["expert_permutation"] for l in json.load(open(sys.argv[6])).get("layers", [])
         if "expert_permutation" in l}
right = sum(m["suspect_to_other"] == truth.get(m["layer"], list(range(len(m["suspect_to_other"])))) for m in ms)
f = h5py.File(sys.argv[7], "r")
n = len(f["sketches/unit_id"])
size = (f["sketches/a"].id.get_storage_size() + f["sketches/b"].id.get_storage_size()) / 1e6
kinds = f["units/kind"][:]
matched = sum(1 for k in kinds if (k.decode() if isinstance(k, bytes) else k) == "matched_expert")
superseded = len(f["units/superseded_ids"]) if "units/superseded_ids" in f else 0
print(f"verdict --json (all of it, incl. the sketch matching of {len(ms)} layers): {float(sys.argv[4]):.2f} s; "
      f"{right}/{len(ms)} layers matched exactly; {n} sketched units, {size:.1f} MB of sketches in the store; "
      f"{matched} matched_expert units, {superseded} same-key units superseded")
PY
