#!/usr/bin/env bash
# lineage merge + verdict on merged stores: deduplication, the whole matrix with a distance
# matrix and a neighbour-joining tree, conflicts refused (never averaged), and one path with two
# different contents refused; lineage status on a partial store.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"
lineage=$(realpath "$lineage")
"$lineage" synth --scenario base --out "$tmp/base" >/dev/null || fail synth
"$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft" >/dev/null || fail synth
"$lineage" synth --scenario continued_pretrain --base "$tmp/base" --out "$tmp/cpt" >/dev/null || fail synth
"$lineage" synth --scenario independent --base "$tmp/base" --seed 9 --out "$tmp/ind" >/dev/null || fail synth
cd "$tmp"
for p in "ft base" "cpt base" "ind base" "ft cpt" "ind ft" "ind cpt"; do
  set -- $p
  $mpi -np 1 "$lineage" compare "$1" "$2" --out "$1-$2.h5" --no-baselines -q >/dev/null 2>&1 || fail "compare $p"
done
# The same comparison from "another cluster": deduplicated, agreeing.
$mpi -np 2 "$lineage" compare ft base --out again.h5 --no-baselines -q >/dev/null 2>&1 || fail "compare again"
out=$("$lineage" merge ft-base.h5 cpt-base.h5 ind-base.h5 ft-cpt.h5 ind-ft.h5 ind-cpt.h5 again.h5 -o all.h5) || fail "merge: $out"
grep -q "merged 7 stores into all.h5: 4 models, .* status complete" <<<"$out" || fail "merge summary: $out"
grep -Eq "\(([1-9][0-9]*) duplicates agreed\)" <<<"$out" || fail "duplicates: $out"
v=$("$lineage" verdict all.h5) || fail "verdict"
[ "$(grep -c '^suspect ' <<<"$v")" -eq 6 ] || fail "six pairs expected: $v"
grep -q "^distance matrix" <<<"$v" || fail "matrix: $v"
grep -q "^lineage tree (neighbour-joining):" <<<"$v" || fail "tree: $v"
"$lineage" verdict --json all.h5 | $py -c '
import json, re, sys
j = json.load(sys.stdin)
d = j["distance"]; names = d["models"]; m = d["matrix"]
i = {n: k for k, n in enumerate(names)}
assert sorted(names) == ["base", "cpt", "ft", "ind"], names
assert m[i["ft"]][i["base"]] < 0.01 < m[i["cpt"]][i["base"]] < 0.5 < m[i["ind"]][i["base"]], m
nw = j["tree"]["newick"]
assert all(n in nw for n in names) and nw.endswith(";"), nw
# ft and base are neighbours (joined first).
assert re.search(r"\((base:[0-9.]+,ft:|ft:[0-9.]+,base:)", nw), nw' || fail "matrix / tree json"
"$lineage" verdict all.h5 --tree-svg tree.svg >/dev/null || fail "tree svg"
$py -c '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
assert all(n in texts for n in ["base", "cpt", "ft", "ind"]), texts
assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) >= 6' tree.svg || fail "svg content"
"$lineage" verdict ft-base.h5 --tree-svg t2.svg >/dev/null 2>&1; [ $? -eq 5 ] || fail "tree of a 2-model store"
"$lineage" merge ft-base.h5 -o all.h5 >/dev/null 2>&1; [ $? -eq 5 ] || fail "existing output without --force"

# A conflicting duplicate: one statistic changed in a copy of a store. Its row checksum
# (schema 2) catches the edit when the store is read...
cp again.h5 tampered.h5
$py - tampered.h5 <<'PY' || fail "tamper"
import h5py, sys
with h5py.File(sys.argv[1], "r+") as f:
    s = f["results/stats"]
    row = s[0]; row[0] += 0.01; s[0] = row
PY
err=$("$lineage" merge ft-base.h5 tampered.h5 -o bad.h5 2>&1); code=$?
[ $code -eq 5 ] || fail "tampered row: exit $code"
grep -q "result row 0 (unit 0) does not match its checksum" <<<"$err" || fail "tampered row message: $err"
# ... so the conflict itself is shown with a schema 1 copy (no checksums), as a store from
# another cluster with other numbers would be.
$py - tampered.h5 <<'PY' || fail "to schema 1"
import h5py, sys
with h5py.File(sys.argv[1], "r+") as f:
    f.attrs["schema_version"] = 1
    del f["results/row_xxh3"], f["units/row_xxh3"]
PY
err=$("$lineage" merge ft-base.h5 tampered.h5 -o bad.h5 2>&1); code=$?
[ $code -eq 5 ] || fail "conflict: exit $code"
grep -q "^conflict: unit " <<<"$err" || fail "conflict lines: $err"
[ ! -e bad.h5 ] || fail "a store was written despite conflicts"

# One path, two contents: regenerate ft with another seed and compare again.
mkdir other && "$lineage" synth --scenario finetune --base base --seed 5 --out other/ft >/dev/null || fail synth
rm -rf ft && mv other/ft ft
$mpi -np 1 "$lineage" compare ft base --out ft2-base.h5 --no-baselines -q >/dev/null 2>&1 || fail "compare ft2"
err=$("$lineage" merge ft-base.h5 ft2-base.h5 -o two.h5 2>&1); code=$?
[ $code -eq 5 ] || fail "same path, other bytes: exit $code"
grep -q "has other bytes" <<<"$err" && grep -q "/ft" <<<"$err" || fail "message: $err"

# status on a store interrupted mid-run (journals only).
LINEAGE_TEST_UNIT_DELAY_MS=20 setsid $mpi -np 1 "$lineage" compare ft base --out part.h5 -q >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -n "$(ls part.h5.journal 2>/dev/null)" ] && break; sleep 0.05; done
sleep 0.5
kill -9 -- -"$pid" 2>/dev/null; wait "$pid" 2>/dev/null
s=$("$lineage" status part.h5) || fail "status"
grep -q "part.h5: partial" <<<"$s" || fail "status state: $s"
grep -Eq "units +[1-9][0-9]*/[0-9]+ done \(0 in the store, [1-9][0-9]* only in journals\)" <<<"$s" || fail "status units: $s"
grep -q "written by local" <<<"$s" || fail "writers: $s"
grep -Eq "bytes +[1-9][0-9]*/[1-9][0-9]* read" <<<"$s" || fail "status bytes: $s"
echo "merge cli: ok"
