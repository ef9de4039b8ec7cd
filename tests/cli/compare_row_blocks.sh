#!/usr/bin/env bash
# Distributed row blocks in compare (docs/methods.md "Row blocks"): with a small row block size
# (LINEAGE_ROW_BLOCK_BYTES) the embedding, lm_head and expert units are cut into row blocks spread
# over the ranks; the store is bit-identical at 1, 2 and 3 ranks, and equal to the unsplit run's
# to the last bits of the moments (same counts, extremes, nulls and verdict). A run failing in the
# middle of a split unit keeps its journaled blocks, and --resume computes only the missing ones
# to the same store. Faults end every rank with the phase's exit code; a resume with another
# block size is refused.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"
guard="timeout -k 5 120"   # a hang guard, not a duration check

# Experts of 384 x 384 (BF16, 576 KiB a unit): at 64 KiB per block they split as the embedding does.
"$lineage" synth --scenario base --out "$tmp/base" --set hidden_size=384 --set moe_intermediate_size=384 \
  --set num_experts=4 --set num_hidden_layers=2 >/dev/null || fail synth
"$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft" >/dev/null || fail synth2
blocks=65536

# ---- the unsplit reference (default block size: every unit of these models is one block) --------
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/ref.h5" --read-units copy > "$tmp/ref.out" 2>&1 \
  || fail "unsplit run: $(cat "$tmp/ref.out")"
grep -q "row blocks" "$tmp/ref.out" && fail "the unsplit run split units: $(head -1 "$tmp/ref.out")"
$dump "$tmp/ref.h5" > "$tmp/ref.txt"

# ---- split: 1, 2 and 3 ranks give the same store, bit for bit -------------------------------------
for np in 1 2 3; do
  LINEAGE_ROW_BLOCK_BYTES=$blocks $guard $mpi -np $np "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/b$np.h5" \
    > "$tmp/b$np.out" 2>&1 || fail "split run on $np ranks: $(cat "$tmp/b$np.out")"
  $dump "$tmp/b$np.h5" > "$tmp/b$np.txt"
done
line=$(grep "^lineage compare:" "$tmp/b1.out")
split_blocks=$(grep -o "[0-9]* row blocks of split units" <<<"$line" | awk '{print $1}')
[ "${split_blocks:-0}" -gt 100 ] || fail "too few row blocks: $line"
cmp -s "$tmp/b1.txt" "$tmp/b2.txt" || fail "2 ranks differ from 1 with row blocks: $(diff "$tmp/b1.txt" "$tmp/b2.txt" | head -4)"
cmp -s "$tmp/b1.txt" "$tmp/b3.txt" || fail "3 ranks differ from 1 with row blocks: $(diff "$tmp/b1.txt" "$tmp/b3.txt" | head -4)"
echo "split into $split_blocks row blocks: the same store on 1, 2 and 3 ranks"

# ---- units read through the mapping (--read-units map) instead of copied: the same stores ----------
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/ref_map.h5" --read-units map > "$tmp/ref_map.out" 2>&1 \
  || fail "unsplit mapped run: $(cat "$tmp/ref_map.out")"
$dump "$tmp/ref_map.h5" > "$tmp/ref_map.txt"
grep -Eq "computed [0-9]+ units this run, [1-9][0-9]* read through the files' mapping" "$tmp/ref_map.out" \
  || fail "the mapped run does not say it mapped units: $(grep computed "$tmp/ref_map.out")"
grep -q "read through the files' mapping" "$tmp/ref.out" && fail "the copying run says it mapped: $(grep computed "$tmp/ref.out")"
cmp -s "$tmp/ref.txt" "$tmp/ref_map.txt" || fail "mapped units differ from copied ones: $(diff "$tmp/ref.txt" "$tmp/ref_map.txt" | head -4)"
LINEAGE_ROW_BLOCK_BYTES=$blocks $guard $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/b2_map.h5" \
  --read-units map > "$tmp/b2_map.out" 2>&1 || fail "split mapped run: $(cat "$tmp/b2_map.out")"
$dump "$tmp/b2_map.h5" > "$tmp/b2_map.txt"
cmp -s "$tmp/b2.txt" "$tmp/b2_map.txt" || fail "mapped row blocks differ from copied ones: $(diff "$tmp/b2.txt" "$tmp/b2_map.txt" | head -4)"
"$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/bad.h5" --read-units mmap > "$tmp/bad.out" 2>&1
code=$?
[ "$code" -eq 2 ] || fail "--read-units mmap: exit $code, want 2: $(cat "$tmp/bad.out")"
grep -q "read-units must be copy, map or auto, not 'mmap'" "$tmp/bad.out" || fail "--read-units mmap: $(cat "$tmp/bad.out")"
echo "units read through the mapping: the same stores, split and unsplit"

# ---- the default, --read-units auto: each rank tries both ways on its first units and keeps one;
# the same store whichever it keeps. These units are too small to count (under 1 MiB): every rank
# copies and ends no trial. With every unit counted (LINEAGE_TEST_READS_TRIAL_MIN_BYTES=0) both
# ranks try both ways and say what they found. -------------------------------------------------------------------------
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/ref_auto.h5" > "$tmp/ref_auto.out" 2>&1 \
  || fail "unsplit run, read-units auto: $(cat "$tmp/ref_auto.out")"
grep -q "computed [0-9]* units this run, 0 read through the files' mapping (--read-units auto: no rank ended a trial)" \
  "$tmp/ref_auto.out" || fail "auto mapped units too small to try: $(grep computed "$tmp/ref_auto.out")"
$dump "$tmp/ref_auto.h5" > "$tmp/ref_auto.txt"
cmp -s "$tmp/ref.txt" "$tmp/ref_auto.txt" || fail "auto's units differ from copied ones: $(diff "$tmp/ref.txt" "$tmp/ref_auto.txt" | head -4)"
LINEAGE_TEST_READS_TRIAL_MIN_BYTES=0 $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/ref_trial.h5" \
  > "$tmp/ref_trial.out" 2>&1 || fail "unsplit run, read-units auto, every unit tried: $(cat "$tmp/ref_trial.out")"
grep -Eq "computed [0-9]+ units this run, [1-9][0-9]* read through the files' mapping \(--read-units auto: mapping kept on [0-2] of 2 ranks that ended a trial; rank 0 tried copying at [0-9.]+ CPU s/GB, mapping at [0-9.]+\)" \
  "$tmp/ref_trial.out" || fail "the trial does not say what it found: $(grep computed "$tmp/ref_trial.out")"
$dump "$tmp/ref_trial.h5" > "$tmp/ref_trial.txt"
cmp -s "$tmp/ref.txt" "$tmp/ref_trial.txt" || fail "the trial's units differ from copied ones: $(diff "$tmp/ref.txt" "$tmp/ref_trial.txt" | head -4)"
LINEAGE_TEST_READS_TRIAL_MIN_BYTES=1M "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/bad_trial.h5" > "$tmp/bad_trial.out" 2>&1
code=$?
[ "$code" -eq 4 ] || fail "LINEAGE_TEST_READS_TRIAL_MIN_BYTES=1M: exit $code, want 4: $(cat "$tmp/bad_trial.out")"
echo "read-units auto: the same store, copying units too small to try, or trying both ways"

# ---- split vs unsplit: counts, extremes, nulls and the verdict exactly; moments to 1e-5 relative
# (a block's sums are taken in float lanes, 512 additions each, and a row block is shifted by its
# own means: they round about 1e-6 relative, docs/methods.md "Float lanes within a block"). A mean
# near 0 and what divides by it round relative to the standard deviation, not to themselves: the
# means and the marginal cosine to 1e-8 absolute, the cosines (near 0 for unrelated tensors) to
# 1e-6 absolute (z_cosine = cosine sqrt(n) to that times sqrt(n)), cv_diff (std / |mean|, up to
# 1e4 here) to what such a mean's rounding moves it by.
$py - "$tmp/ref.txt" "$tmp/b1.txt" "$tmp/ref.h5" <<'PY' || fail "split and unsplit stores disagree"
import math, sys
import h5py
names = [n.decode() if isinstance(n, bytes) else n for n in h5py.File(sys.argv[3], "r")["results/stat_names"][()]]
ref = [l.split() for l in open(sys.argv[1]) if l[0].isdigit()]
got = [l.split() for l in open(sys.argv[2]) if l[0].isdigit()]
assert len(ref) == len(got) > 190, (len(ref), len(got))
exact_cols = {"n", "n_nonfinite", "min_a", "max_a", "min_b", "max_b", "max_abs_diff", "p99_abs_diff", "frac_bit_equal",
              "frac_value_equal", "nonfinite_a", "nonfinite_b", "nonfinite_mismatch", "null_axis", "null_rows"}
worst, rehashed, bad = 0.0, 0, []
for r, g in zip(ref, got):
    assert r[:3] == g[:3], (r[:3], g[:3])
    if r[3:5] != g[3:5]:
        rehashed += 1   # a split unit's hash is the hash of its block hashes
    for name, x, y in zip(names, r[5:], g[5:]):
        x, y = float.fromhex(x), float.fromhex(y)
        if not (math.isfinite(x) and math.isfinite(y)):
            # NaN or an infinity on either side: the same on both, or a difference (the
            # tolerances below would let NaN, or an infinity against a number, through).
            if not (x == y or (math.isnan(x) and math.isnan(y))): bad.append((r[1], name, x, y))
            continue
        if name in exact_cols or name.startswith(("null_", "basis_", "neuron_", "hidden_")):
            if x != y: bad.append((r[1], name, x, y))
        else:
            rel = abs(x - y) / max(abs(x), abs(y), 1e-300)
            if name in {"mean_a", "mean_b", "marginal_cosine"}:
                if abs(x - y) > 1e-8: bad.append((r[1], name, x, y))
            elif name in {"cosine", "pearson", "init_centered_cosine", "raw_minus_marginal"}:
                # In [-1, 1] and near 0 for unrelated tensors: absolute.
                if abs(x - y) > 1e-6: bad.append((r[1], name, x, y))
            elif name == "z_cosine":
                if abs(x - y) > 1e-6 * math.sqrt(float.fromhex(r[5 + names.index("n")])):
                    bad.append((r[1], name, x, y))
            elif name == "cv_diff":
                # cv = std / |mean|: a mean's 1e-8 moves it by std / mean^2 * 1e-8, a std's 1e-6
                # relative by 1e-6 cv.
                col = lambda c: float.fromhex(r[5 + names.index(c)])
                moved = sum(col("std_" + s) / col("mean_" + s) ** 2 * 1e-8
                            + 1e-6 * col("std_" + s) / abs(col("mean_" + s)) for s in "ab")
                if abs(x - y) > moved: bad.append((r[1], name, x, y))
            elif rel > 1e-5:
                bad.append((r[1], name, x, y))
            else:
                worst = max(worst, rel)
assert not bad, bad[:5]
assert rehashed > 10, rehashed
print("split vs unsplit: %d split units rehashed, worst relative difference of a moment %.2g" % (rehashed, worst))
PY
diff <(sed -n '/^  /p' "$tmp/ref.out") <(sed -n '/^  /p' "$tmp/b2.out") >/dev/null \
  || fail "the verdict table differs split vs unsplit: $(diff <(sed -n '/^  /p' "$tmp/ref.out") <(sed -n '/^  /p' "$tmp/b2.out") | head -4)"

# ---- a failure in the middle of a split unit, then --resume on another rank count -----------------
# On one rank the embedding's (unit 0) full blocks run first and the failure hits its last block.
rm -rf "$tmp/r.h5" "$tmp/r.h5.journal"
LINEAGE_ROW_BLOCK_BYTES=$blocks $guard "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/r.h5" \
  --inject-failure-at-unit 0 > "$tmp/r1.out" 2>&1
code=$?
[ $code -eq 3 ] || fail "failure mid-unit: exit $code, expected 3: $(cat "$tmp/r1.out")"
first=$(grep -o "(and [0-9]* row blocks" "$tmp/r1.out" | awk '{print $2}')
# status counts a split unit done once merged, and its journaled blocks apart until then.
"$lineage" status "$tmp/r.h5" --json | $py -c '
import json, sys
u = json.load(sys.stdin)["units"]
assert u["row_blocks_in_journals"] > 0 and u["done"] < u["total"], u' || fail "status after a failure mid-unit"
LINEAGE_ROW_BLOCK_BYTES=$blocks $guard $mpi -np 3 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/r.h5" \
  --resume > "$tmp/r2.out" 2>&1 || fail "resume after a failure mid-unit: $(cat "$tmp/r2.out")"
line=$(grep "^lineage compare:" "$tmp/r2.out")
journaled=$(grep -o "[0-9]* row blocks already journaled" <<<"$line" | awk '{print $1}')
again=$(grep -o "(and [0-9]* row blocks" "$tmp/r2.out" | awk '{print $2}')
[ "${journaled:-0}" -gt 0 ] || fail "no journaled row block was kept: $line"
# Every block is computed once over the two runs: those journaled (pending, or merged into units
# the first run completed) are not computed again.
[ $((first + again)) -eq "$split_blocks" ] || fail "blocks computed $first + $again != $split_blocks"
$dump "$tmp/r.h5" > "$tmp/r.txt"
cmp -s "$tmp/b1.txt" "$tmp/r.txt" || fail "the resumed store differs from the uninterrupted split run"
echo "failure mid-unit: $first blocks computed, $journaled pending kept; resume computed $again; same store"

# SIGKILL in the middle of the blocks (a torn block record at worst), then --resume: the same store.
rm -rf "$tmp/k.h5" "$tmp/k.h5.journal"
LINEAGE_ROW_BLOCK_BYTES=$blocks setsid $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/k.h5" -q \
  --test-unit-delay-ms 4 > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 400); do [ -d "$tmp/k.h5.journal" ] && break; sleep 0.025; done
sleep 0.5
kill -9 -- -"$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pkill -9 -f "lineage compare $tmp/ft .*k.h5" 2>/dev/null
rm -f "$tmp"/k.h5.tmp-*
LINEAGE_ROW_BLOCK_BYTES=$blocks $guard $mpi -np 3 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/k.h5" \
  --resume > "$tmp/k.out" 2>&1 || fail "resume after SIGKILL: $(cat "$tmp/k.out")"
$dump "$tmp/k.h5" | cmp -s - "$tmp/b1.txt" || fail "the store after SIGKILL and --resume differs"
echo "SIGKILL mid-run, resume: same store ($(grep -o "[0-9]* already done" "$tmp/k.out"), $(grep -o "[0-9]* row blocks already journaled" "$tmp/k.out" || echo "no block journaled"))"

# A resume of the finished split run re-checks the merged units' hashes and changes nothing.
LINEAGE_ROW_BLOCK_BYTES=$blocks $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/b2.h5" --resume -q \
  > /dev/null 2>"$tmp/e" || fail "resume of a finished split run: $(cat "$tmp/e")"
$dump "$tmp/b2.h5" | cmp -s - "$tmp/b1.txt" || fail "resume of a finished split run changed the store"
# Another block size than the run began with: refused (the journal's blocks would not fit).
rm -rf "$tmp/r.h5" "$tmp/r.h5.journal"
LINEAGE_ROW_BLOCK_BYTES=$blocks "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/r.h5" -q \
  --inject-failure-at-unit 0 > /dev/null 2>&1
LINEAGE_ROW_BLOCK_BYTES=32768 $guard $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/r.h5" --resume -q \
  > /dev/null 2>"$tmp/e"
code=$?
[ $code -eq 5 ] && grep -q "row blocks of 32768 bytes, but the run began with $blocks" "$tmp/e" \
  || fail "resume with another block size: exit $code: $(cat "$tmp/e")"
LINEAGE_ROW_BLOCK_BYTES=4k "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/x.h5" -q > /dev/null 2>"$tmp/e"
code=$?
[ $code -eq 4 ] && grep -q "LINEAGE_ROW_BLOCK_BYTES" "$tmp/e" || fail "a bad block size: exit $code: $(cat "$tmp/e")"

# ---- faults with split units: every rank ends, with the phase's exit code -------------------------
for spec in compute:1:std:1 compute:2:input:3 gather:0:std:5 recheck:1:std:1 store:2:std:5; do
  IFS=: read -r phase rank kind want <<<"$spec"
  rm -rf "$tmp/f.h5" "$tmp/f.h5.journal"
  resume=
  if [ "$phase" = recheck ]; then   # a recheck needs journaled blocks: fail mid-unit first
    LINEAGE_ROW_BLOCK_BYTES=$blocks "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/f.h5" -q \
      --inject-failure-at-unit 0 > /dev/null 2>&1
    resume=--resume
  fi
  LINEAGE_ROW_BLOCK_BYTES=$blocks LINEAGE_FAULT=$phase:$rank:$kind $guard $mpi -np 3 "$lineage" compare "$tmp/ft" \
    "$tmp/base" --out "$tmp/f.h5" $resume -q > /dev/null 2>"$tmp/e"
  code=$?
  [ $code -eq "$want" ] || fail "fault in $phase on rank $rank ($kind) with row blocks: exit $code, expected $want: $(cat "$tmp/e")"
  grep -q "lineage: error: rank $rank: .*injected fault in phase $phase" "$tmp/e" || fail "fault in $phase: $(cat "$tmp/e")"
  echo "fault in $phase on rank $rank ($kind) with row blocks: exit $code"
done
echo "compare row blocks: ok"
