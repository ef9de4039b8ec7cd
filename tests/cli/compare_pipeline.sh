#!/usr/bin/env bash
# lineage compare under mpirun on generated scenarios: 1, 2 and 3 ranks give bit-identical
# statistics; verdicts match the known provenance; h5py reads the store; bad input is one clear
# error with the documented exit code and leaves nothing half-written.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"

"$lineage" synth --suite "$tmp/s" >/dev/null || fail "synth"
s="$tmp/s"

# Determinism across rank counts: identical statistics, bit for bit.
for np in 1 2 3; do
  $mpi -np $np "$lineage" compare "$s/finetune" "$s/base" --out "$tmp/ft$np.h5" -q >/dev/null 2>"$tmp/err$np" \
    || fail "np $np: $(cat "$tmp/err$np")"
  $dump "$tmp/ft$np.h5" > "$tmp/ft$np.txt" || fail "dump np $np"
done
cmp -s "$tmp/ft1.txt" "$tmp/ft2.txt" || fail "np 1 and 2 differ"
cmp -s "$tmp/ft1.txt" "$tmp/ft3.txt" || fail "np 1 and 3 differ"
# One process started without a launcher never starts MPI (docs/cli.md): the same statistics.
env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_RANK -u PMI_SIZE "$lineage" compare "$s/finetune" "$s/base" \
  --out "$tmp/ft0.h5" -q >/dev/null 2>"$tmp/err0" || fail "without mpirun: $(cat "$tmp/err0")"
$dump "$tmp/ft0.h5" > "$tmp/ft0.txt" || fail "dump without mpirun"
cmp -s "$tmp/ft1.txt" "$tmp/ft0.txt" || fail "np 1 and one process without mpirun differ"
head -1 "$tmp/ft1.txt" | grep -q "status complete" || fail "store not complete: $(head -1 "$tmp/ft1.txt")"

# Verdicts on scenarios with known provenance (parent in the second column).
expect() {  # scenario parent pattern
  out=$($mpi -np 2 "$lineage" compare "$s/$1" "$s/$2" --out "$tmp/$1.h5" -q 2>&1) || fail "$1: $out"
  line=$(grep "overall:" <<<"$out")
  grep -qE "$3" <<<"$line" || fail "$1 vs $2: expected /$3/, got: $line"
  echo "$1: $line"
}
expect identical base "overall: identical"
expect finetune base "overall: derived \(finetune"
expect continued_pretrain base "overall: derived \(continued_pretrain"
expect independent base "overall: independent"
expect partial_reuse base "overall: partial_reuse .*attention.*embeddings"
expect vocab_extended base "overall: derived \(vocab_extended"
# Rearranged, pruned, repeated and upcycled copies: derived, with their kind.
for sc in permuted:base:permuted upcycled:dense_parent:upcycled upcycled_permuted:dense_parent:upcycled \
  expert_pruned:base:expert_pruned depth_upscaled:base:depth_upscaled; do
  IFS=: read -r name parent kind <<<"$sc"
  out=$($mpi -np 2 "$lineage" compare "$s/$name" "$s/$parent" --out "$tmp/$name.h5" -q 2>&1) || fail "$sc: $out"
  line=$(grep "overall:" <<<"$out")
  grep -qE "overall: derived \($kind\)" <<<"$line" || fail "$sc: expected derived ($kind), got: $line"
  echo "$name: $line"
done
# Experts upcycled with their neurons shuffled: every expert matches the dense MLP of its layer
# neuron by neuron (gate, up and down agreeing), shuffled; the plain upcycled experts in place.
for name in upcycled upcycled_permuted; do
  "$lineage" verdict --json "$tmp/$name.h5" | $py -c '
import json, sys
shuffled = sys.argv[1] == "upcycled_permuted"
pair = json.load(sys.stdin)["pairs"][0]
up = pair["upcycling_neuron_matching"]
assert up and all(m["matched"] and m["role"] == "routed_expert" for m in up), up
assert all(m["permuted"] == shuffled for m in up), [m["in_place_share"] for m in up]
assert not pair["neuron_matching"] or not any(m["role"] == "routed_expert" for m in pair["neuron_matching"])
kind = [k for k in pair["kinds"] if k["kind"] == "upcycled"][0]
assert "neuron by neuron, %d of %d experts" % (len(up), len(up)) in kind["evidence"], kind' "$name" \
    || fail "$name: upcycling neuron evidence"
done
# The depth map is the one the generator recorded, and each kind carries its evidence.
"$lineage" verdict --json "$tmp/depth_upscaled.h5" | $py -c '
import json, sys
truth = json.load(open(sys.argv[1]))["layer_source"]
pair = json.load(sys.stdin)["pairs"][0]
assert pair["layer_map"]["suspect_to_other"] == truth, (pair["layer_map"], truth)
assert [k["kind"] for k in pair["kinds"]] == ["depth_upscaled"] and pair["kinds"][0]["evidence"], pair["kinds"]
assert 0 < pair["kinds"][0]["p_value"] < 1 and "layer-shuffle p" in pair["kinds"][0]["evidence"], pair["kinds"]' \
  "$s/depth_upscaled/provenance.json" || fail "depth map"
# The monotone layer map (runs with repeats and gaps) of the norms is the generator's too, and
# the kind rests on it; the unrelated model aligns nowhere.
"$lineage" verdict --json "$tmp/depth_upscaled.h5" | $py -c '
import json, sys
truth = json.load(open(sys.argv[1]))["layer_source"]
pair = json.load(sys.stdin)["pairs"][0]
norms = [f for f in pair["layer_alignment"] if f["family"] == "norms"][0]
c = norms["centred"]
assert c["layer_map"] == truth and c["segments"] == 2, (c, truth)
assert norms["suspect_layers"] == len(truth) and c["stored_cells"] + c["missing_cells"] == len(truth) * 4, norms
# (the kind p is the map p unless byte-identical layers elsewhere prove more)
assert pair["kinds"][0]["p_value"] <= c["map_p"] and "<- old [" + ",".join(map(str, truth)) + "], 2 runs" in pair["kinds"][0]["evidence"], pair["kinds"]
att = [f for f in pair["layer_alignment"] if f["family"] == "attention"][0]["centred"]
assert att["missing_cells"] > 0 and "stored" in att, att' \
  "$s/depth_upscaled/provenance.json" || fail "layer alignment of the depth-upscaled model"
# The matrix roles' full layer x layer matrices from the pass's sketches: every cell across the
# pair (the layers the parent lacks come from layer_sketch units), each suspect layer's best match
# is its source, and within the suspect each repeated layer's best match is its copy.
"$lineage" verdict --json "$tmp/depth_upscaled.h5" | $py -c '
import json, sys
truth = json.load(open(sys.argv[1]))["layer_source"]
pair = json.load(sys.stdin)["pairs"][0]
fams = {f["family"]: f["sketches"] for f in pair["layer_alignment"] if "sketches" in f}
assert {"attention", "routers", "shared_experts"} <= set(fams), list(fams)
for name, s in fams.items():
    c = s["centred"]
    assert c["missing_cells"] == 0 and len(c["matrix"]) == len(truth) and len(c["matrix"][0]) == 4, (name, c)
    assert c["best_match"] == truth and c["null_sd"] > 0, (name, c["best_match"], truth)
    w = s["within_suspect"]
    assert all(w["matrix"][i][i] is None for i in range(len(truth))), (name, "diagonal compared")
    for i, j in enumerate(truth):
        if truth.count(j) > 1:
            assert truth[w["best_match"][i]] == j and w["margin_sds"][i] > 3, (name, i, w["best_match"], w["margin_sds"])
    assert len(s["within_other"]["matrix"]) == 4, name
# The norms within each model, from the within units: each repeated layer finds its copy.
norms = [f for f in pair["layer_alignment"] if f["family"] == "norms"][0]
w = norms["within_suspect"]
assert len(w["matrix"]) == len(truth) and all(w["matrix"][i][i] is None for i in range(len(truth))), w
for i, j in enumerate(truth):
    if truth.count(j) > 1:
        assert truth[w["best_match"][i]] == j, ("norms", i, w["best_match"], truth)
assert len(norms["within_other"]["matrix"]) == 4, norms["within_other"]
# Raw beside centred: the raw cosine of two norm vectors is near 1 for any two layers (the weights
# start at 1), so its cells sit far above the centred ones and say nothing about which is which.
def cells(m):
    return sorted(x for row in m["matrix"] for x in row if x is not None)
for side in ("within_suspect", "within_other"):
    raw, centred = cells(norms[side + "_raw"]), cells(norms[side])
    assert len(raw) == len(centred) > 0, side
    assert raw[len(raw) // 2] > 0.9 and raw[len(raw) // 2] > centred[len(centred) // 2] + 0.1, (side, raw, centred)
for name, s in fams.items():
    assert len(s["within_suspect_raw"]["matrix"]) == len(truth) and len(s["within_other_raw"]["matrix"]) == 4, name' \
  "$s/depth_upscaled/provenance.json" || fail "layer sketch matrices of the depth-upscaled model"
# Expert matching by router rows recovers the generator's permutation and the kept experts.
"$lineage" verdict --json "$tmp/permuted.h5" | $py -c '
import json, sys
truth = {l["layer"]: l["expert_permutation"] for l in json.load(open(sys.argv[1]))["layers"]}
got = {m["layer"]: m["suspect_to_other"] for m in json.load(sys.stdin)["pairs"][0]["expert_matching"]}
assert got == truth, (got, truth)' "$s/permuted/provenance.json" || fail "expert matching of the permuted model"
"$lineage" verdict --json "$tmp/expert_pruned.h5" | $py -c '
import json, sys
kept = json.load(open(sys.argv[1]))["kept_experts"]
pair = json.load(sys.stdin)["pairs"][0]
ms = pair["expert_matching"]
assert ms and all(m["suspect_to_other"] == kept and m["unmatched_other"] == 8 - len(kept) and m["p_value"] < 1e-6 for m in ms), ms
kind = [k for k in pair["kinds"] if k["kind"] == "expert_pruned"]
assert kind and kind[0]["p_value"] < 1e-6 and "expert matching" in kind[0]["evidence"], kind' \
  "$s/expert_pruned/provenance.json" || fail "expert matching of the pruned model"
"$lineage" verdict --json "$tmp/independent.h5" | $py -c '
import json, sys
ms = json.load(sys.stdin)["pairs"][0]["expert_matching"]
assert ms and all(m["p_value"] > 1e-3 for m in ms), ms' || fail "expert matching of an independent model"
"$lineage" verdict --json "$tmp/independent.h5" | $py -c '
import json, sys
fs = json.load(sys.stdin)["pairs"][0]["layer_alignment"]
assert fs and not any(f["centred"]["claimed"] or f["raw"]["claimed"] for f in fs), fs
sk = [f["sketches"] for f in fs if "sketches" in f]
assert sk and not any(s[m]["claimed"] for s in sk for m in ("raw", "centred")), sk' \
  || fail "layer alignment of an independent model"

# Controls are compared the same way: one verdict per pair.
$mpi -np 2 "$lineage" compare "$s/finetune" "$s/base" --control "$s/independent" --out "$tmp/ctl.h5" -q >/dev/null 2>&1 \
  || fail "compare with control"
"$lineage" verdict --json "$tmp/ctl.h5" | $py -c '
import json,sys
pairs = json.load(sys.stdin)["pairs"]
p = {x["other_label"]: x["overall"] for x in pairs}
assert p == {"parent": "derived", "control1": "independent"}, p
parent = next(x for x in pairs if x["other_label"] == "parent")
c = parent["controls"]
assert c["stands_out"] and c["best_control"] == "control1" and c["margin_sds"] > 10, c
assert parent["p_value"] < 1e-6 and all(k["p_value"] is not None for k in parent["components"])' || fail "control verdicts"

# The same run from a YAML run file (paths relative to the file).
cat > "$s/run.yaml" <<YAML
suspect: finetune
parent: base
out: ../fromyaml.h5
quiet: true
YAML
"$lineage" compare --run "$s/run.yaml" >/dev/null 2>&1 || fail "run file"
"$lineage" verdict "$tmp/fromyaml.h5" | grep -q "overall: derived (finetune" || fail "run file verdict"
printf 'suspect: finetune\nparnet: base\n' > "$s/bad.yaml"
"$lineage" compare --run "$s/bad.yaml" >/dev/null 2>"$tmp/e"; code=$?
[ $code -eq 4 ] || fail "bad run file: exit $code"
grep -q "bad.yaml:parnet: unknown key" "$tmp/e" || fail "run file message: $(cat "$tmp/e")"

# A failing rank fails the whole job with each failing rank's message; the store stays resumable.
$mpi -np 2 "$lineage" compare "$s/finetune" "$s/base" --out "$tmp/fail.h5" -q --inject-failure-at-unit 5 \
  >/dev/null 2>"$tmp/e"; code=$?
[ $code -eq 3 ] || fail "failing rank: exit $code ($(cat "$tmp/e"))"
grep -q "rank [0-9]: .*injected failure at unit 5" "$tmp/e" || fail "failing rank message: $(cat "$tmp/e")"
grep -q "rerun with --resume" "$tmp/e" || fail "no resume hint: $(cat "$tmp/e")"
$mpi -np 3 "$lineage" compare "$s/finetune" "$s/base" --out "$tmp/fail.h5" -q --resume >/dev/null 2>&1 || fail "resume after failure"
$dump "$tmp/fail.h5" > "$tmp/fail.txt"
cmp -s "$tmp/ft1.txt" "$tmp/fail.txt" || fail "statistics after a failed rank + resume differ"

# lineage verdict reads the store again, in text and JSON.
"$lineage" verdict "$tmp/finetune.h5" | grep -q "overall: derived" || fail "verdict text"
"$lineage" verdict --json "$tmp/independent.h5" | $py -c 'import json,sys; j=json.load(sys.stdin); assert j["pairs"][0]["overall"]=="independent", j' \
  || fail "verdict json"

# The norm trap is visible in the store: independent norms have raw cosine near 1, Pearson near 0.
$py - "$tmp/independent.h5" <<'PY' || fail "norm trap numbers"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
names = [n.decode() for n in f["results/stat_names"][()]]
ids = f["results/unit_id"][()]
st = f["results/stats"][()]
role = [r.decode() for r in f["units/role"][()]]
kind = [k.decode() for k in f["units/kind"][()]]
rows = [i for i, u in enumerate(ids) if role[u] in ("attn_norm", "mlp_norm") and kind[u] == "same_key"]
raw = st[rows, names.index("cosine")]
pear = st[rows, names.index("pearson")]
assert raw.min() > 0.95, raw
assert np.abs(pear).max() < 0.5, pear
assert abs(np.median(pear)) < 0.2, pear
PY

# Per-role summaries: per-layer curves for routers, experts, attention, norms and embeddings.
$py - "$tmp/finetune.h5" <<'PY' || fail "summaries"
import json, sys, h5py
s = json.loads(h5py.File(sys.argv[1], "r")["summaries/json"][0])["parent"]
for key in ("text/router", "text/routed_expert/gate", "text/attn_q", "text/attn_norm", "text/embedding",
            "text/shared_expert/up"):
    assert key in s, (key, sorted(s))
    g = s[key]
    assert len(g["pearson"]) == len(g["layers"]) >= 1, g
    assert g["pearson_summary"]["mean"] > 0.99, (key, g["pearson_summary"])
assert len(s["text/router"]["layers"]) == 4
assert abs(s["text/attn_q"]["null_pearson"]["mean"]) < 0.2
PY

# Bad input: one error line, documented exit codes, nothing half-written.
$mpi -np 2 "$lineage" compare "$s/finetune" "$s/base" --out "$tmp/ft2.h5" -q >/dev/null 2>"$tmp/e"; code=$?
[ $code -eq 5 ] || fail "existing store without --resume: exit $code"
grep -q "already exists; pass --resume" "$tmp/e" || fail "message: $(cat "$tmp/e")"
"$lineage" compare "$s/finetune" "$s/base" --out "$tmp/no/such/dir/run.h5" -q >/dev/null 2>"$tmp/e"; code=$?
[ $code -eq 5 ] || fail "unwritable path: exit $code"
[ "$(wc -l < "$tmp/e")" -eq 1 ] || fail "more than one error line: $(cat "$tmp/e")"
mkdir "$tmp/broken" && printf 'garbage' > "$tmp/broken/model.safetensors"
"$lineage" compare "$tmp/broken" "$s/base" --out "$tmp/b.h5" -q >/dev/null 2>"$tmp/e"; code=$?
[ $code -eq 3 ] || fail "broken model: exit $code"
grep -q "broken/model.safetensors" "$tmp/e" || fail "message names the file: $(cat "$tmp/e")"
[ ! -e "$tmp/b.h5" ] || fail "store left behind for a failed run"
# Nothing comparable: a vision tower only (keys vision/...) against a text model.
$py - "$tmp/tower" <<'PY'
import json, os, struct, sys
d = sys.argv[1]; os.makedirs(d)
hdr = json.dumps({"vision_tower.vision_model.post_layernorm.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
hdr += b" " * ((8 - len(hdr) % 8) % 8)
open(os.path.join(d, "model.safetensors"), "wb").write(struct.pack("<Q", len(hdr)) + hdr + bytes(16))
PY
"$lineage" compare "$s/base" "$tmp/tower" --out "$tmp/t.h5" -q >/dev/null 2>"$tmp/e"; code=$?
[ $code -eq 3 ] || fail "nothing comparable: exit $code ($(cat "$tmp/e"))"
grep -q "nothing comparable" "$tmp/e" || fail "message: $(cat "$tmp/e")"
[ ! -e "$tmp/t.h5" ] || fail "store left behind"
# lineage report reads every store this test made (each scenario's kinds, layer maps, expert
# matchings, controls): a well-formed page, one per store.
for h5 in "$tmp"/*.h5; do
  name=$(basename "$h5" .h5)
  "$lineage" report "$h5" --out "$tmp/report-$name" >/dev/null 2>"$tmp/e" || fail "report of $name: $(cat "$tmp/e")"
  $py -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' "$tmp/report-$name/index.html" \
    || fail "report of $name is not well-formed"
done
echo "compare pipeline: ok"
