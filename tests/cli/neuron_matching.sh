#!/usr/bin/env bash
# Neuron matching end to end on generated models (docs/synth.md): the permuted scenario moves
# experts and permutes each expert's neurons. Experts the permutation leaves in place are paired
# with themselves, moved ones with the parent expert the sketch matching finds (matched_expert
# units); the neurons of every one must be matched, found permuted in gate, up and down alike,
# and recovered as the generator recorded; the shared experts, left alone, match in place;
# verdict --json's permuted kind carries the evidence. A fine-tune has no permuted MLP and an
# independent model no matched one.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"

"$lineage" synth --scenario base --out "$tmp/base" --seed 1 >/dev/null || fail "synth base"
"$lineage" synth --scenario permuted --base "$tmp/base" --out "$tmp/perm" --seed 3 >/dev/null || fail "synth permuted"
"$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft" --seed 7 >/dev/null || fail "synth finetune"
"$lineage" synth --scenario independent --base "$tmp/base" --out "$tmp/ind" --seed 9 >/dev/null || fail "synth independent"
for m in perm ft ind; do
  $mpi -np 2 "$lineage" compare "$tmp/$m" "$tmp/base" --out "$tmp/$m.h5" -q >"$tmp/$m.out" 2>"$tmp/$m.err" \
    || fail "compare $m: $(cat "$tmp/$m.out" "$tmp/$m.err")"
done

"$lineage" verdict --json "$tmp/perm.h5" >"$tmp/perm.json" || fail "verdict perm"
$py - "$tmp/perm.json" "$tmp/perm/provenance.json" <<'PY' || fail "neuron matching of the permuted model"
import json, sys
pair = json.load(open(sys.argv[1]))["pairs"][0]
truth = json.load(open(sys.argv[2]))["layers"]
assert pair["overall"] == "derived", pair["overall"]
mlps = {(m["role"], m["layer"], m["expert"]): m for m in pair["neuron_matching"]}
experts = 0
for layer in truth:
    l = layer["layer"]
    for e, old in enumerate(layer["expert_permutation"]):
        # Moved experts are matched against the parent expert the sketch matching pairs them
        # with (matched_expert units); those in place against their own index.
        experts += 1
        m = mlps[("routed_expert", l, e)]
        sigma = layer["neuron_permutations"]["L%dE%d" % (l, e)]
        assert m["permuted"] and m["matched"], m
        assert m["p_value"] < 1e-6 and m["agreement_p"] < 1e-6, m
        assert sorted(p["projection"] for p in m["projections"]) == ["down", "gate", "up"], m["projections"]
        assert m["agree"] == m["sampled"] > 0, (m["agree"], m["sampled"])
        want = [sigma[j] for j in m["suspect_neurons"]]
        assert m["recovered"] == want, (l, e, m["recovered"], want)
assert experts > 0, "no routed expert"
moved = sum(old != e for layer in truth for e, old in enumerate(layer["expert_permutation"]))
assert 0 < moved < experts, "the seed moves no expert, or every one"
# Every permuted MLP is a routed expert (in place, or moved and judged against its matched
# expert); shared experts, left alone, match in place.
assert sum(m["permuted"] for m in mlps.values()) == experts, [k for k, m in mlps.items() if m["permuted"]]
shared = [m for (role, _, _), m in mlps.items() if role == "shared_expert"]
assert shared and all(m["matched"] and not m["permuted"] and m["in_place_share"] == 1 for m in shared), shared
kind = [k for k in pair["kinds"] if k["kind"] == "permuted"]
assert kind and "neurons permuted in %d of" % experts in kind[0]["evidence"], pair["kinds"]
assert "experts reordered in layers" in kind[0]["evidence"], kind
print("permuted: %d routed experts (%d moved), neurons recovered" % (experts, moved))
PY

"$lineage" verdict --json "$tmp/ft.h5" | $py -c '
import json, sys
pair = json.load(sys.stdin)["pairs"][0]
ms = pair["neuron_matching"]
assert ms and all(m["matched"] and not m["permuted"] for m in ms), [m for m in ms if m["permuted"] or not m["matched"]]
assert "permuted" not in pair["kind"], pair["kind"]' || fail "neuron matching of the fine-tune"
"$lineage" verdict --json "$tmp/ind.h5" | $py -c '
import json, sys
pair = json.load(sys.stdin)["pairs"][0]
assert pair["overall"] == "independent", pair["overall"]
ms = pair["neuron_matching"]
assert ms and not any(m["matched"] for m in ms), [m for m in ms if m["matched"]]' || fail "neuron matching of an independent model"
# The table says it too.
"$lineage" verdict "$tmp/perm.h5" | grep -q "MLPs matched, [1-9][0-9]* of them permuted" || fail "verdict table"
# compare writes the verdicts' text and table an MLP's neuron matching at a time
# (pipeline/verdict_report.hpp verdict_text): the same document and table as verdict makes from
# the whole JSON object.
for m in perm ft ind; do
  "$lineage" verdict --json "$tmp/$m.h5" >"$tmp/$m.verdict.json" || fail "verdict --json $m"
  $py - "$tmp/$m.h5" "$tmp/$m.verdict.json" <<'PY' || fail "the stored verdicts of $m"
import h5py, json, sys
stored = json.loads(h5py.File(sys.argv[1], "r")["verdict/json"][()][0])
made = json.load(open(sys.argv[2]))
assert stored["pairs"][0]["neuron_matching"], "no neuron matching to write"
assert stored == made, [k for k in made["pairs"][0] if stored["pairs"][0].get(k) != made["pairs"][0][k]]
PY
  "$lineage" verdict "$tmp/$m.h5" >"$tmp/$m.table" || fail "verdict $m"
  tail -n +2 "$tmp/$m.out" | diff - "$tmp/$m.table" >/dev/null || fail "compare's table of $m is not verdict's"
done
echo "ok"
