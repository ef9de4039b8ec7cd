#!/usr/bin/env bash
# Moved experts in compare (issue 10): on a generated pair whose experts were moved (and their
# neurons permuted), compare plans before the pass one matched_expert unit per moved expert and
# projection, suspect expert e against the parent's expert perm[e] as the generator recorded, none
# for experts left in place, and defers the moved experts' same-key units; their exact statistics
# show the moved experts derived (g, the basis null), and the verdict's routed-expert component
# judges them in place of the moved experts' same-key units where their own statistics confirm
# the move (here the neurons; for pruned experts the bytes). The deferred units of confirmed moves
# are never computed (superseded); without confirmation (no permutation tests) they are computed
# after the pass, as are the matched units of moves only the matching after the pass finds. An
# independent model gets none. The store is the same at 1 and 2 ranks and after
# a failure (a matched unit, the sketches, the decision after the pass) and --resume.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"

"$lineage" synth --scenario base --out "$tmp/base" --seed 1 >/dev/null || fail "synth base"
"$lineage" synth --scenario permuted --base "$tmp/base" --out "$tmp/perm" --seed 3 >/dev/null || fail "synth permuted"
"$lineage" synth --scenario independent --base "$tmp/base" --out "$tmp/ind" --seed 9 >/dev/null || fail "synth independent"

out=$($mpi -np 1 "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/p1.h5" 2>&1) || fail "compare -np 1: $out"
grep -q "experts moved by the down projections' sketches: [1-9][0-9]* matched_expert units planned" <<<"$out" \
  || fail "no moves planned before the pass: $out"
grep -q "lineage compare: \([0-9]*\) of \1 deferred same-key units superseded" <<<"$out" \
  || fail "the deferred units were not all superseded: $out"
$mpi -np 2 "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/p2.h5" -q >"$tmp/p2.out" 2>&1 \
  || fail "compare -np 2: $(cat "$tmp/p2.out")"
$dump "$tmp/p1.h5" >"$tmp/p1.txt" && $dump "$tmp/p2.h5" >"$tmp/p2.txt" || fail dump
cmp -s "$tmp/p1.txt" "$tmp/p2.txt" || fail "1 and 2 ranks differ: $(diff "$tmp/p1.txt" "$tmp/p2.txt" | head -5)"

# An existing --out without --resume is refused before any row is read (the sketch step's fault
# would otherwise come first).
LINEAGE_FAULT=sketch:0 "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/p1.h5" -q >"$tmp/again.out" 2>&1
[ $? -eq 5 ] && grep -q "already exists; pass --resume" "$tmp/again.out" \
  || fail "an existing --out is not refused before the sketch step: $(cat "$tmp/again.out")"

$py - "$tmp/p1.h5" "$tmp/perm/provenance.json" <<'PY' || fail "matched_expert units of the permuted model"
import json, sys
import h5py
f = h5py.File(sys.argv[1], "r")
truth = {l["layer"]: l["expert_permutation"] for l in json.load(open(sys.argv[2]))["layers"]}
kinds = [k.decode() for k in f["units/kind"][()]]
ka = [k.decode() for k in f["units/key_a"][()]]
kb = [k.decode() for k in f["units/key_b"][()]]
matched = [i for i, k in enumerate(kinds) if k == "matched_expert"]
first = kinds.index("matched_expert")
assert matched == list(range(first, len(kinds))), "matched units come after the planned ones"
got = sorted((ka[i], kb[i]) for i in matched)
want = sorted(("text/routed_expert/L%d/E%d/%s" % (l, e, p), "text/routed_expert/L%d/E%d/%s" % (l, old, p))
              for l, perm in truth.items() for e, old in enumerate(perm) if old != e for p in ("gate", "up", "down"))
assert want and got == want, (got[:6], want[:6])
names = [n.decode() for n in f["results/stat_names"][()]]
stats = f["results/stats"][()]
row_of = {int(u): r for r, u in enumerate(f["results/unit_id"][()])}
col = {n: names.index(n) for n in ("basis_null_p", "basis_corr", "null_p")}
for i in matched:
    s = stats[row_of[i]]
    # Neurons permuted: h sees nothing, the basis null sees the same expert.
    assert s[col["basis_null_p"]] < 1e-3 and s[col["basis_corr"]] > 0.9, (ka[i], kb[i], s[col["basis_corr"]])
# The same-key units of moved experts were never computed: superseded, without results.
moved = {ka[j] for j in matched}
same = [i for i, k in enumerate(kinds) if k == "same_key" and ka[i] in moved]
superseded = [int(u) for u in f["units/superseded_ids"][()]]
assert same and superseded == same, (superseded[:6], same[:6])
assert not set(same) & set(row_of), "a superseded unit has results"
assert len(row_of) + len(superseded) == len(kinds) and f.attrs["status"] == "complete"
print("%d matched_expert units" % len(matched))
PY

"$lineage" verdict --json "$tmp/p1.h5" | $py -c '
import json, sys
pair = json.load(sys.stdin)["pairs"][0]
c = [c for c in pair["components"] if c["component"] == "routed_experts"][0]
# Every moved expert is confirmed at its match (its neurons agree there) and judged there: every
# routed-expert projection significant, on the shared basis, with no same-index training effect.
assert c["verdict"] == "derived" and c["basis_significant"] and not c["hidden_significant"], c
assert c["significant_units"] == c["tested_units"] > 0, (c["significant_units"], c["tested_units"])
assert c["median_basis_corr"] > 0.9, c["median_basis_corr"]
assert pair["overall"] == "derived" and [k["kind"] for k in pair["kinds"]] == ["permuted"], pair["kinds"]
assert "confirmed at their match" in pair["kinds"][0]["evidence"], pair["kinds"][0]' \
  || fail "routed experts judged by their confirmed matched units"

# Pruned experts of trained-like values: the kept experts move to new indices, and only their
# matched units (byte-identical to the parent's) show them; judged in place, the pair would read
# partial_reuse with routed experts "at null level".
"$lineage" synth --scenario base --realistic --out "$tmp/rbase" --seed 11 >/dev/null || fail "synth realistic base"
"$lineage" synth --scenario expert_pruned --realistic --base "$tmp/rbase" --out "$tmp/rpruned" --seed 7 >/dev/null \
  || fail "synth realistic expert_pruned"
out=$($mpi -np 2 "$lineage" compare "$tmp/rpruned" "$tmp/rbase" --out "$tmp/rp.h5" -q 2>&1) || fail "compare pruned: $out"
grep -qE "overall: derived \(expert_pruned\)" <<<"$out" || fail "pruned experts: $(grep overall: <<<"$out")"
"$lineage" verdict --json "$tmp/rp.h5" | $py -c '
import json, sys
pair = json.load(sys.stdin)["pairs"][0]
c = [c for c in pair["components"] if c["component"] == "routed_experts"][0]
assert c["verdict"] == "identical", c["verdict"]' || fail "the kept experts are not judged at their match"

# A failure at a matched unit (planned before the pass, computed in it) keeps the finished units;
# --resume plans the same units again.
first=$($py -c '
import sys, h5py
kinds = [k.decode() for k in h5py.File(sys.argv[1], "r")["units/kind"][()]]
print(kinds.index("matched_expert") + 3)' "$tmp/p1.h5")
$mpi -np 2 "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/r.h5" -q --inject-failure-at-unit "$first" \
  >"$tmp/r.out" 2>&1 && fail "the injected failure at a matched unit did not fail the run"
grep -q "unit $first" "$tmp/r.out" || fail "failure not at the matched unit: $(cat "$tmp/r.out")"
$mpi -np 3 "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/r.h5" --resume >"$tmp/r2.out" 2>&1 \
  || fail "resume: $(cat "$tmp/r2.out")"
grep -q "units (0 on common sub-matrices), [1-9][0-9]* already done" "$tmp/r2.out" \
  || fail "the resume did not take finished units from the journal: $(cat "$tmp/r2.out")"
$dump "$tmp/r.h5" >"$tmp/r.txt" || fail dump
cmp -s "$tmp/p1.txt" "$tmp/r.txt" || fail "resumed store differs: $(diff "$tmp/p1.txt" "$tmp/r.txt" | head -5)"

# Moves found only after the pass (the testing aid leaves layer 1's to that step): their matched
# units are computed after it, and the verdict is the one the moves found before the pass give.
# A failure among them (1 rank) keeps the finished ones; --resume (2 ranks) re-hashes those (the
# recheck phase) and computes the rest, to the same store.
late() { LINEAGE_TEST_MOVES_AFTER_PASS=1 $mpi -x LINEAGE_TEST_MOVES_AFTER_PASS "$@"; }
late -np 1 "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/l1.h5" >"$tmp/l1.out" 2>&1 \
  || fail "compare with moves after the pass: $(cat "$tmp/l1.out")"
grep -q "lineage compare: [1-9][0-9]* matched_expert units for [1-9][0-9]* more moved experts, 0 already done" \
  "$tmp/l1.out" || fail "no moves found after the pass: $(cat "$tmp/l1.out")"
"$lineage" check "$tmp/l1.h5" >/dev/null || fail "the store with moves after the pass does not check"
"$lineage" verdict "$tmp/p1.h5" >"$tmp/v1.txt" && "$lineage" verdict "$tmp/l1.h5" >"$tmp/vl.txt" \
  || fail "verdict of the stores"
cmp -s "$tmp/v1.txt" "$tmp/vl.txt" || fail "moves after the pass change the verdict: $(diff "$tmp/v1.txt" "$tmp/vl.txt")"
$dump "$tmp/l1.h5" >"$tmp/l1.txt" || fail dump
last=$($py -c '
import sys, h5py
print(len(h5py.File(sys.argv[1], "r")["units/kind"]) - 1)' "$tmp/l1.h5")
late -np 1 "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/lr.h5" -q --inject-failure-at-unit "$last" \
  >"$tmp/lr.out" 2>&1 && fail "the injected failure after the pass did not fail the run"
grep -q "unit $last" "$tmp/lr.out" || fail "failure not at the last matched unit: $(cat "$tmp/lr.out")"
late -np 2 "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/lr.h5" --resume >"$tmp/lr2.out" 2>&1 \
  || fail "resume after the failure after the pass: $(cat "$tmp/lr2.out")"
grep -q "matched_expert units for [1-9][0-9]* more moved experts, [1-9][0-9]* already done" "$tmp/lr2.out" \
  || fail "the resume did not keep the units finished after the pass: $(cat "$tmp/lr2.out")"
$dump "$tmp/lr.h5" >"$tmp/lr.txt" || fail dump
cmp -s "$tmp/l1.txt" "$tmp/lr.txt" || fail "store resumed after the pass differs: $(diff "$tmp/l1.txt" "$tmp/lr.txt" | head -5)"
for bad in x 1, +1 -1 " 1"; do
  LINEAGE_TEST_MOVES_AFTER_PASS=$bad "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/bad.h5" >"$tmp/bad.out" 2>&1
  [ $? -eq 4 ] && grep -q "LINEAGE_TEST_MOVES_AFTER_PASS" "$tmp/bad.out" || fail "layer list '$bad': $(cat "$tmp/bad.out")"
done

# A rank failing while the moves are found, before or after the pass: every rank stops with the one
# error, no hang.
LINEAGE_FAULT=sketch:1 $mpi -np 2 "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/s.h5" -q >"$tmp/s.out" 2>&1 \
  && fail "the fault in the sketch phase did not fail the run"
grep -q "in phase sketch" "$tmp/s.out" || fail "the failure does not name the sketch phase: $(cat "$tmp/s.out")"
LINEAGE_FAULT=match:1 $mpi -np 2 "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/f.h5" -q >"$tmp/f.out" 2>&1 \
  && fail "the fault in the match phase did not fail the run"
grep -q "in phase match" "$tmp/f.out" || fail "the failure does not name the match phase: $(cat "$tmp/f.out")"
$mpi -np 2 "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/f.h5" --resume -q >"$tmp/f2.out" 2>&1 \
  || fail "resume after the match fault: $(cat "$tmp/f2.out")"
$dump "$tmp/f.h5" >"$tmp/f.txt" || fail dump
cmp -s "$tmp/p1.txt" "$tmp/f.txt" || fail "store after the match fault and resume differs"

# Without permutation tests nothing confirms a move (the neurons are permuted, no bytes are equal):
# the deferred units are computed after the pass, and the moved experts are judged in place.
$mpi -np 2 "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/n0.h5" --null-permutations 0 >"$tmp/n0.out" 2>&1 \
  || fail "compare --null-permutations 0: $(cat "$tmp/n0.out")"
grep -q "lineage compare: 0 of [1-9][0-9]* deferred same-key units superseded" "$tmp/n0.out" \
  || fail "deferred units superseded without confirmation: $(cat "$tmp/n0.out")"
$py -c '
import sys, h5py
f = h5py.File(sys.argv[1], "r")
kinds = [k.decode() for k in f["units/kind"][()]]
assert "units/superseded_ids" not in f and len(f["results/unit_id"]) == len(kinds) and f.attrs["status"] == "complete"
' "$tmp/n0.h5" || fail "the deferred units were not computed after the pass"

$mpi -np 2 "$lineage" compare "$tmp/ind" "$tmp/base" --out "$tmp/ind.h5" >"$tmp/ind.out" 2>&1 \
  || fail "compare independent: $(cat "$tmp/ind.out")"
grep -q "matched_expert" "$tmp/ind.out" && fail "matched units for an independent model: $(cat "$tmp/ind.out")"
$py -c '
import sys, h5py
kinds = [k.decode() for k in h5py.File(sys.argv[1], "r")["units/kind"][()]]
assert "matched_expert" not in kinds' "$tmp/ind.h5" || fail "matched units stored for an independent model"

# The benchmark aid that separates the second phase's cost (scripts/bench-sketch.sh): the permuted
# pair without it stores the pass's units and sketches but no matched_expert unit.
# The script's other aid, LINEAGE_STEP_CPU, has each rank write its CPU per step, whole lines.
LINEAGE_STEP_CPU=1 $mpi -np 2 -x LINEAGE_STEP_CPU "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/nm.h5" \
  --no-matched-experts >"$tmp/nm.out" 2>&1 || fail "compare --no-matched-experts: $(cat "$tmp/nm.out")"
for r in 0 1; do
  for step in load moves-before-pass pass moves-after-pass scan verdict-and-store; do
    grep -qE "^lineage: step-cpu rank $r $step [0-9]+\.[0-9]+$" "$tmp/nm.out" \
      || fail "no CPU seconds of step $step on rank $r: $(grep step-cpu "$tmp/nm.out")"
  done
done
grep -q "matched_expert" "$tmp/nm.out" && fail "second phase ran with --no-matched-experts: $(cat "$tmp/nm.out")"
$py -c '
import sys, h5py
f = h5py.File(sys.argv[1], "r")
kinds = [k.decode() for k in f["units/kind"][()]]
assert "matched_expert" not in kinds and len(f["sketches/unit_id"]) > 0' "$tmp/nm.h5" \
  || fail "matched units stored with --no-matched-experts"
# Resumed with the defaults, that run's journals already hold the same-key units the moves defer:
# they keep their results (none is superseded) and only the matched units are computed.
$mpi -np 2 "$lineage" compare "$tmp/perm" "$tmp/base" --out "$tmp/nm.h5" --resume >"$tmp/nm2.out" 2>&1 \
  || fail "resume with matched units: $(cat "$tmp/nm2.out")"
grep -q "lineage compare: 0 of [1-9][0-9]* deferred same-key units superseded" "$tmp/nm2.out" \
  || fail "finished deferred units superseded on resume: $(cat "$tmp/nm2.out")"
"$lineage" check "$tmp/nm.h5" >/dev/null || fail "the resumed store does not check"
$py -c '
import sys, h5py
f = h5py.File(sys.argv[1], "r")
kinds = [k.decode() for k in f["units/kind"][()]]
assert "matched_expert" in kinds and "units/superseded_ids" not in f and f.attrs["status"] == "complete"
assert len(f["results/unit_id"]) == len(kinds)' "$tmp/nm.h5" || fail "the resumed store is not complete"
echo PASS
