#!/usr/bin/env bash
# Expert matching from the experts' sketches (issue 10): on generated pairs, verdict --json's
# expert_sketch_matching recovers the permuted model's expert permutation (its neurons are
# permuted too, so only a neuron-permutation-invariant sketch can see it) and the pruned model's
# kept experts, and finds no matching for an independent model. The store holds the sketches.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"

s="$tmp/s"
"$lineage" synth --scenario base --out "$s/base" --seed 1 >/dev/null || fail "synth base"
for sc in permuted:3 expert_pruned:4 independent:5; do
  "$lineage" synth --scenario "${sc%%:*}" --base "$s/base" --out "$s/${sc%%:*}" --seed "${sc##*:}" >/dev/null \
    || fail "synth ${sc%%:*}"
  out=$($mpi -np 2 "$lineage" compare "$s/${sc%%:*}" "$s/base" --out "$tmp/${sc%%:*}.h5" -q 2>&1) \
    || fail "compare ${sc%%:*}: $out"
done

"$lineage" verdict --json "$tmp/permuted.h5" | $py -c '
import json, sys
prov = json.load(open(sys.argv[1]))
truth = {l["layer"]: l["expert_permutation"] for l in prov["layers"]}
assert prov["parameters"]["neurons_permuted"]
ms = json.load(sys.stdin)["pairs"][0]["expert_sketch_matching"]
got = {m["layer"]: m["suspect_to_other"] for m in ms}
assert got == truth, (got, truth)
for m in ms:
    assert m["p_value"] < 1e-3 and m["unmatched_other"] == [] and m["projections"] == ["gate", "up", "down"], m
    assert all(x > 0 for x in m["margin"]), m
    r = m["router"]
    assert r["agreement"] == len(truth[m["layer"]]) and r["agreement_p"] < 1e-3, r
    assert r["mean_corr_reordered"] > 0.99 and r["mean_corr_in_place"] < 0.5, r' "$s/permuted/provenance.json" \
  || fail "sketch matching of the permuted model"

"$lineage" verdict --json "$tmp/expert_pruned.h5" | $py -c '
import json, sys
kept = json.load(open(sys.argv[1]))["kept_experts"]
ms = json.load(sys.stdin)["pairs"][0]["expert_sketch_matching"]
assert ms, ms
for m in ms:
    assert m["suspect_to_other"] == kept, (m, kept)
    assert m["unmatched_other"] == [e for e in range(8) if e not in kept], m
    assert m["p_value"] < 1e-3, m' "$s/expert_pruned/provenance.json" || fail "sketch matching of the pruned model"

"$lineage" verdict --json "$tmp/independent.h5" | $py -c '
import json, sys
ms = json.load(sys.stdin)["pairs"][0]["expert_sketch_matching"]
assert ms and all(m["p_value"] > 1e-3 for m in ms), ms' || fail "sketch matching of an independent model"

# The store holds one 136-wide sketch per side for every routed-expert projection of both models:
# the pruned pair has sketch-only units for the parent experts the suspect lacks.
$py - "$tmp/expert_pruned.h5" <<'PY' || fail "sketches in the store"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
ids = f["sketches/unit_id"][()]
assert f["sketches/a"].shape == (len(ids), 136) and f["sketches/b"].shape == (len(ids), 136)
kinds = [k.decode() for k in f["units/kind"][()]]
sketch_only = [i for i, k in enumerate(kinds) if k == "expert_sketch"]
assert sketch_only and set(sketch_only) <= set(ids.tolist()), sketch_only
PY
"$lineage" verdict "$tmp/permuted.h5" | grep -q "(sketches)" || fail "text verdict shows the sketch matching"
echo PASS
