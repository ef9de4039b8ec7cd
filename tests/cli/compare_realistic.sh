#!/usr/bin/env bash
# Calibration on trained-like weights (lineage synth --realistic): two independent models whose
# embeddings the analytic 1/sqrt(n) null would call derived (element-wise Pearson far outside
# it) are independent under the permutation null; a fine-tune, a permuted copy and a partial
# reuse keep their verdicts.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"

"$lineage" synth --suite "$tmp/s" --realistic --set vocab_size=4096 >/dev/null || fail "synth --realistic"
s="$tmp/s"
expect() {  # scenario pattern
  out=$($mpi -np 2 "$lineage" compare "$s/$1" "$s/base" --out "$tmp/$1.h5" -q 2>&1) || fail "$1: $out"
  line=$(grep "overall:" <<<"$out")
  grep -qE "$2" <<<"$line" || fail "$1 vs base: expected /$2/, got: $line"
  echo "$1: $line"
}
expect independent "overall: independent"
expect finetune "overall: derived \(finetune"
expect permuted "overall: derived"
expect partial_reuse "overall: partial_reuse .*attention.*embeddings"

# The test can fail: the analytic rule (z = Pearson * sqrt(n) against 1/sqrt(n)) would have
# called the independent pair's embeddings derived, and the p-values are in the store.
$py - "$tmp/independent.h5" <<'PY' || fail "analytic-null check"
import h5py, json, math, sys
f = h5py.File(sys.argv[1], "r")
names = [n.decode() for n in f["results/stat_names"][()]]
stats = f["results/stats"][()]
ids = list(f["results/unit_id"][()])
kind = [k.decode() for k in f["units/kind"][()]]
key = [k.decode() for k in f["units/key_a"][()]]
worst = 0
for name in ("text/embedding", "text/lm_head"):
    row = ids.index(next(u for u in range(len(kind)) if kind[u] == "same_key" and key[u] == name))
    r, n, p = (stats[row, names.index(c)] for c in ("pearson", "n", "null_p"))
    z = abs(r) * math.sqrt(n)
    print(f"{name}: Pearson {r:.4f} over {int(n)} elements: analytic z {z:.1f}; permutation p {p:.3g}")
    assert p > 1e-3, p
    worst = max(worst, z)
assert worst > 6, worst
v = json.loads(f["verdict/json"][()][0])
pair = v["pairs"][0]
assert pair["overall"] == "independent", pair["overall"]
assert pair["p_value"] is not None and all("p_value" in c for c in pair["components"])
# The store's verdict carries the layer alignment; independent models align nowhere.
assert pair["layer_alignment"] and not any(f["centred"]["claimed"] for f in pair["layer_alignment"]), pair["layer_alignment"]
# Effect sizes beside the p-values: centred similarity, rel_l2 and the ratio to the null's spread.
for c in pair["components"]:
    for field in ("effect", "median_hidden_corr", "median_pearson", "median_rel_l2", "null_sd", "z", "powered"):
        assert field in c, (c["component"], field)
PY
echo "realistic: ok"
