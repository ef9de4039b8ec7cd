#!/usr/bin/env bash
# The main job on bundled demo data, from a fresh Debian 12 machine: installs dependencies,
# builds, generates the demo checkpoints (models with known provenance, a few MB each, in
# seconds) and runs the pipeline on them. Output goes to demo-out/ (or $1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/demo-out}
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build" >/dev/null
lineage="$root/build/lineage"

echo "== generating demo checkpoints with known provenance into $out/models"
rm -rf "$out/models"
mkdir -p "$out"
"$lineage" synth --suite "$out/models"

echo
echo "== inventory: what every tensor is (headers only), one model in full"
"$lineage" inventory "$out/models/base" --strict
printf '\n%-20s %-12s %9s %12s  %s\n' model family tensors parameters "every tensor accounted for"
for model in "$out"/models/*/; do
  name=$(basename "$model")
  "$lineage" inventory "$model" --strict --json | /usr/bin/python3 -c '
import json,sys
j=json.load(sys.stdin)
ok = not (j["unclaimed"] or j["required_missing"] or j["shape_mismatches"])
print("%-20s %-12s %9d %12d  %s" % (sys.argv[1], j["family"], j["tensors"], j["total_params"], "yes" if ok else "NO"))' "$name"
done

echo
echo "== compare under mpirun (2 ranks): each suspect against its parent, verdicts vs known provenance"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$out/runs"
printf '%-20s %-14s %-34s %s\n' suspect parent "known provenance" "lineage verdict"
for pair in identical:base finetune:base continued_pretrain:base independent:base partial_reuse:base \
            vocab_extended:base permuted:base upcycled:dense_parent expert_pruned:base depth_upscaled:base; do
  suspect=${pair%%:*}; parent=${pair##*:}
  rm -rf "$out/runs/$suspect.h5" "$out/runs/$suspect.h5.journal"
  verdict=$(mpirun --oversubscribe -np 2 "$lineage" compare "$out/models/$suspect" "$out/models/$parent" \
              --out "$out/runs/$suspect.h5" --quiet | sed -n 's/^  overall: //p' | cut -c1-70)
  known=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["expected_class"][:33])' \
            "$out/models/$suspect/provenance.json")
  printf '%-20s %-14s %-34s %s\n' "$suspect" "$parent" "$known" "$verdict"
done
echo
echo "== trained-like weights (synth --realistic): independent models whose element-wise Pearson an"
echo "   analytic 1/sqrt(n) null would call derived; the permutation nulls do not"
rm -rf "$out/realistic" "$out/runs/realistic_"*
"$lineage" synth --suite "$out/realistic" --realistic --set vocab_size=4096 >/dev/null
for suspect in independent permuted; do
  mpirun --oversubscribe -np 2 "$lineage" compare "$out/realistic/$suspect" "$out/realistic/base" \
    --out "$out/runs/realistic_$suspect.h5" --quiet >/dev/null
done
/usr/bin/python3 - "$out/runs/realistic_independent.h5" "$out/runs/realistic_permuted.h5" <<'PY'
import h5py, json, math, sys
for path in sys.argv[1:]:
    f = h5py.File(path, "r")
    pair = json.loads(f["verdict/json"][()][0])["pairs"][0]
    names = [n.decode() for n in f["results/stat_names"][()]]
    stats, ids = f["results/stats"][()], list(f["results/unit_id"][()])
    keys, kinds = [k.decode() for k in f["units/key_a"][()]], [k.decode() for k in f["units/kind"][()]]
    u = next(i for i in range(len(keys)) if keys[i] == "text/lm_head" and kinds[i] == "same_key")
    r, n, p = (stats[ids.index(u), names.index(c)] for c in ("pearson", "n", "null_p"))
    kind = f" ({pair['kind']})" if pair["kind"] else ""
    print(f"{pair['suspect'].split('/')[-1]:12s} vs base: {pair['overall']}{kind}, p {pair['p_value']:.2g}; lm_head Pearson "
          f"{r:.4f} over {int(n)} elements: analytic z {abs(r) * math.sqrt(n):.0f}, permutation p {p:.2g}")
PY
echo
echo "== full evidence for one pair (lineage verdict $out/runs/finetune.h5)"
"$lineage" verdict "$out/runs/finetune.h5"
echo
echo "== inventory of a real 25B-parameter MoE from its weight map alone (no weights downloaded)"
real="$root/tests/data/real"
if [ -d "$real/bryce-hoehn__Qwen3.5-25B-REAP-A3B-Coding" ]; then
  "$lineage" inventory --index-only "$real/bryce-hoehn__Qwen3.5-25B-REAP-A3B-Coding"
fi
echo
echo "== a report people can look at: the fine-tune against its parent and an independent control,"
echo "   with plots (lineage report; open the page in a browser, or read report.md beside it)"
rm -rf "$out/runs/report.h5" "$out/runs/report.h5.journal" "$out/report"
mpirun --oversubscribe -np 2 "$lineage" compare "$out/models/finetune" "$out/models/base" \
  --control "$out/models/independent" --out "$out/runs/report.h5" --quiet >/dev/null
"$lineage" tokenizer "$out/models/finetune" "$out/models/base" --out "$out/runs/report.h5" >/dev/null
report=$("$lineage" report "$out/runs/report.h5" --out "$out/report")
echo "report: $report"
