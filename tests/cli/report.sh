#!/usr/bin/env bash
# lineage report: the page of a suspect-parent-control run is well-formed, opens in headless
# Chromium without console messages, holds one layer heatmap pair per role and one curve per role
# and model (counted against the store by h5py), and does not render blank; deliberately broken
# pages fail the same check. The forensics sections (sketch and neuron matching, byte identity,
# outlier fingerprint, std curves, token map) show verdict --json's numbers, only with that
# evidence, on a fine-tune and on permuted, depth-upscaled and re-sorted-vocabulary pairs. Also: a merged multi-pair store (distance heatmap and tree), a store
# with evidence beside the weights, an evidence-only store, and the exit codes. The screenshot is
# left in the test's working folder (report-screenshot.png) for the README.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"
lineage=$(realpath "$lineage")
check="$py $repo/tests/cli/report_check.py"
shot_dir=$(pwd)
command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps.sh installs it)"
cd "$tmp"
"$lineage" synth --scenario base --out base >/dev/null || fail synth
"$lineage" synth --scenario finetune --base base --out ft >/dev/null || fail synth
"$lineage" synth --scenario independent --base base --seed 9 --out ind >/dev/null || fail synth
$mpi -np 2 "$lineage" compare ft base --control ind --out run.h5 -q >/dev/null 2>&1 || fail "compare"
"$lineage" tokenizer ft base --out run.h5 >/dev/null || fail "tokenizer evidence"

out=$("$lineage" report run.h5 --out rep) || fail "report: $out"
[ "$out" = "rep/index.html" ] || fail "prints the page's path: $out"
[ -s rep/index.html ] && [ -s rep/report.md ] || fail "index.html and report.md"
ls rep/figures/*.svg >/dev/null 2>&1 || fail "figures"
ls rep | grep -q tmp- && fail "temporary files left: $(ls rep)"

# What the page must hold, from the store itself: the role groups (keys without layer and
# expert) of the per-layer same-key units of each pair.
read -r groups_parent groups_control < <($py - run.h5 <<'PY'
import h5py, re, sys
f = h5py.File(sys.argv[1], "r")
keys = [k.decode() for k in f["units/key_a"][()]]
kind = [k.decode() for k in f["units/kind"][()]]
mb, la = f["units/model_b"][()], f["units/layer_a"][()]
def groups(b):
    return {re.sub(r"/E\d+", "", re.sub(r"/L\d+", "", k)) for k, t, m, l in zip(keys, kind, mb, la)
            if t in ("same_key", "submatrix") and m == b and l >= 0}
print(len(groups(1)), len(groups(2)))
PY
)
[ "${groups_parent:-0}" -ge 5 ] || fail "role groups from the store: $groups_parent"
[ "$groups_parent" = "$groups_control" ] || fail "parent and control role groups differ: $groups_parent $groups_control"
n=$groups_parent
counts=(--count "data-plot=heatmap&data-family=layers&data-pair=0-1&data-scale=raw" "$n"
        --count "data-plot=heatmap&data-family=layers&data-pair=0-1&data-scale=centred" "$n"
        --count "data-plot=heatmap&data-family=layers&data-pair=0-2&data-scale=centred" "$n"
        --count "data-plot=curves&data-suspect=0" "$n"
        --count "data-series=vs parent base" "$n"
        --count "data-series=vs control1 ind" "$n"
        --count "data-plot=strip&data-pair=0-1" "$($py -c '
import h5py, json, sys
p = json.loads(h5py.File(sys.argv[1], "r")["verdict/json"][()][0])["pairs"][0]
print(len(p["components"]))' run.h5)")
r=$($check rep/index.html shot.png "${counts[@]}") || fail "the report page: $r"
cp shot.png "$shot_dir/report-screenshot.png"
grep -q "^## Verdicts" rep/report.md && grep -q "](figures/" rep/report.md || fail "report.md: $(head -20 rep/report.md)"
grep -q "Tokenizer, architecture and behaviour evidence" rep/index.html || fail "evidence section"
for f in rep/figures/*.svg; do
  $py -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' "$f" || fail "figure $f"
done

# Forensics sections (docs/report.md): each shows the numbers of verdict --json and the store, and
# appears only when the pair has that evidence. The fine-tune shares no byte-identical tensor.
fcheck="$py $repo/tests/cli/report_forensics_check.py"
"$lineage" verdict --json run.h5 >run.json || fail "verdict --json"
r=$($fcheck rep/index.html run.h5 run.json --expect bytes=absent --expect sketches=present --expect neurons=present \
  --expect outliers=present --expect stdcurves=present --expect tokens=present --expect upcycling=absent) \
  || fail "forensics of the fine-tune: $r"
# Permuted experts and neurons, a depth-upscaled copy (identical layers at other indices), a
# re-sorted vocabulary: the sections show what each changed.
for sc in permuted:3 depth_upscaled:5 vocab_remapped:4; do
  name=${sc%%:*}
  "$lineage" synth --scenario "$name" --base base --out "$name" --seed "${sc##*:}" >/dev/null || fail "synth $name"
  $mpi -np 2 "$lineage" compare "$name" base --out "$name.h5" -q >/dev/null 2>&1 || fail "compare $name"
  "$lineage" verdict --json "$name.h5" >"$name.json" || fail "verdict --json $name"
  "$lineage" report "$name.h5" --out "rep-$name" >/dev/null || fail "report $name"
  r=$($fcheck "rep-$name/index.html" "$name.h5" "$name.json" --expect bytes=present) || fail "forensics of $name: $r"
done
$py - permuted.json depth_upscaled.json <<'PY' || fail "the scenarios' evidence"
import json, sys
perm, dus = (json.load(open(f))["pairs"][0] for f in sys.argv[1:3])
moved = [sum(t >= 0 and t != i for i, t in enumerate(m["suspect_to_other"])) for m in perm["expert_sketch_matching"]]
assert all(moved), moved
assert any(m["permuted"] for m in perm["neuron_matching"]), "no permuted MLP"
b = dus["byte_identity"]
assert b["layer_moves"] and b["renamed"] > 0, b["layer_moves"]
PY
grep -q "[0-9] of [0-9]* MLPs matched, [1-9][0-9]* of them permuted" rep-permuted/index.html || fail "permuted MLPs"
# Experts upcycled from a dense MLP with their neurons shuffled: the section of experts against the
# dense MLP shows every expert matched and shuffled.
"$lineage" synth --scenario upcycled_permuted --base base --out upp --seed 6 >/dev/null || fail "synth upcycled_permuted"
"$lineage" synth --scenario dense_parent --out dense --seed "$($py -c 'import json; print(json.load(open("upp/provenance.json"))["base_seed"] + 1000)')" \
  >/dev/null || fail "synth dense_parent"
$mpi -np 2 "$lineage" compare upp dense --out upp.h5 -q >/dev/null 2>&1 || fail "compare upcycled_permuted"
"$lineage" verdict --json upp.h5 >upp.json || fail "verdict --json upcycled_permuted"
"$lineage" report upp.h5 --out rep-upp >/dev/null || fail "report upcycled_permuted"
r=$($fcheck rep-upp/index.html upp.h5 upp.json --expect upcycling=present) || fail "forensics of upcycled_permuted: $r"
n=$($py -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["pairs"][0]["upcycling_neuron_matching"]))' upp.json)
grep -q "$n of $n MLPs matched, $n of them permuted" rep-upp/index.html || fail "upcycled experts with shuffled neurons"
grep -q 'data-family="byte-moves"' rep-depth_upscaled/index.html || fail "the map of moved layers"
# The matrix roles' layer x layer matrices from the sketches: across the pair and within each model.
for m in cross within-suspect within-other; do
  grep -q "data-family=\"layer-sketch\".*data-matrix=\"$m\"\|data-matrix=\"$m\".*data-family=\"layer-sketch\"" \
    rep-depth_upscaled/index.html || fail "layer sketch matrix $m"
done
grep -A3 'id="tokens-0-1"' rep-vocab_remapped/index.html | grep -q "<td>text/embedding</td><td>[0-9]*</td><td>0.000</td>" \
  || fail "re-sorted vocabulary: same-id share 0"

# The check can fail: a script error, missing heatmaps, a blank page.
cp rep/index.html broken.html
sed -i 's|</body>|<script>throw new Error("broken on purpose")</script></body>|' broken.html
$check broken.html b1.png "${counts[@]}" >/dev/null && fail "a console error passed the check"
$py - rep/index.html > noheat.html <<'PY'
import re, sys
print(re.sub(r'<svg[^>]*data-plot="heatmap".*?</svg>', "", open(sys.argv[1]).read(), flags=re.S))
PY
r=$($check noheat.html b2.png "${counts[@]}") && fail "a page without heatmaps passed the check"
grep -q "data-scale=raw: 0 elements" <<<"$r" || fail "missing heatmaps not named: $r"
printf '<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title></head><body></body></html>\n' \
  > blank.html
r=$($check blank.html b3.png) && fail "a blank page passed the check"
grep -q "blank screenshot" <<<"$r" || fail "blank not named: $r"
printf '<html><body><p>unclosed</body></html>\n' > bad.html
r=$($check bad.html b4.png) && fail "a malformed page passed the check"
grep -q "not well-formed" <<<"$r" || fail "malformed not named: $r"

# A merged store of three models: distance heatmap and tree beside every pair's section.
$mpi -np 1 "$lineage" compare ind ft --out ind-ft.h5 --no-baselines -q >/dev/null 2>&1 || fail "compare ind ft"
$mpi -np 1 "$lineage" compare ft base --out ft-base.h5 --no-baselines -q >/dev/null 2>&1 || fail "compare ft base"
$mpi -np 1 "$lineage" compare ind base --out ind-base.h5 --no-baselines -q >/dev/null 2>&1 || fail "compare ind base"
"$lineage" merge ft-base.h5 ind-base.h5 ind-ft.h5 -o all.h5 >/dev/null || fail "merge"
"$lineage" report all.h5 --out merged >/dev/null || fail "report of a merged store"
$py - merged/index.html <<'PY' || fail "merged report content"
import sys, xml.etree.ElementTree as ET
text = open(sys.argv[1]).read()
root = ET.fromstring(text.split("\n", 1)[1])
svg = "{http://www.w3.org/2000/svg}svg"
plots = [e for e in root.iter(svg)]
assert sum(e.get("data-family") == "distance" for e in plots) == 1, "distance heatmap"
pairs = {e.get("data-pair") for e in plots if e.get("data-family") == "layers"}
assert len(pairs) == 3, pairs
tree = [e for e in plots if any((t.text or "") == "ind" for t in e.iter("{http://www.w3.org/2000/svg}text"))
        and e.get("data-plot") is None]
assert tree, "the neighbour-joining tree"
PY

# Evidence only, and the exit codes.
"$lineage" tokenizer ft base --out evidence.h5 >/dev/null || fail "evidence-only store"
"$lineage" report evidence.h5 --out ev >/dev/null || fail "report of an evidence-only store"
grep -q "No weight comparison in this store" ev/index.html || fail "evidence-only content"
grep -qE 'id="(sketches|neurons|bytes|outliers|stdcurves|tokens)-' ev/index.html && fail "forensics without a comparison"
"$lineage" report missing.h5 --out x >/dev/null 2>&1; [ $? -eq 5 ] || fail "missing store: exit 5"
"$lineage" report run.h5 >/dev/null 2>&1; [ $? -eq 2 ] || fail "no --out: exit 2"
touch afile
"$lineage" report run.h5 --out afile/sub >/dev/null 2>&1; [ $? -eq 3 ] || fail "unwritable folder: exit 3"
echo "report cli: ok"
