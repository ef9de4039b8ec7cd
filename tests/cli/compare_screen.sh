#!/usr/bin/env bash
# compare --screen: a screening run computes the hashes, cosines and relative L2 of every
# same-key tensor with the very numbers of a full run, and nothing else (no baselines, sketches,
# null); its verdict is "identical" for a copy and never more than "inconclusive" for a fine-tune
# or an independent model; a run begun one way is not resumed the other; options that contradict
# it are refused.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"
synth_small_pair
"$lineage" synth --scenario identical --base "$tmp/base" --out "$tmp/copy" >/dev/null || fail "synth copy"
"$lineage" synth --scenario independent --base "$tmp/base" --seed 99 --out "$tmp/other" >/dev/null || fail "synth other"

"$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/full.h5" -q >/dev/null 2>&1 || fail "full run"
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/screen.h5" --screen >"$tmp/screen.out" 2>&1 \
  || fail "screening run: $(cat "$tmp/screen.out")"
grep -q "a screening run (compare --screen)" "$tmp/screen.out" || fail "no screening reason: $(cat "$tmp/screen.out")"

$py - "$tmp/full.h5" "$tmp/screen.h5" <<'EOF' || fail "screening store"
import json, math, sys
import h5py

def rows(path):
    f = h5py.File(path, "r")
    names = [n.decode() if isinstance(n, bytes) else n for n in f["results/stat_names"][()]]
    kind = [k.decode() for k in f["units/kind"][()]]
    ka = [k.decode() for k in f["units/key_a"][()]]
    kb = [k.decode() for k in f["units/key_b"][()]]
    out = {}
    for row, uid in enumerate(f["results/unit_id"][()]):
        stats = dict(zip(names, f["results/stats"][row]))
        out[(kind[uid], ka[uid], kb[uid])] = (stats, f["results/hash_a"][row], f["results/hash_b"][row])
    config = json.loads(f["run/config_json"][()][0])
    return out, kind, config

full, _, full_config = rows(sys.argv[1])
screen, screen_kinds, config = rows(sys.argv[2])
assert config["screen"] is True and config["null_permutations"] == 0 and config["baselines"] is False, config
assert full_config["screen"] is False, full_config
kinds = set(screen_kinds)
assert kinds <= {"same_key", "submatrix", "token_mapped"}, kinds  # no baselines, sketches, matched experts
assert "baseline" in {k for k, _, _ in full}, "the full run has baselines"
same = [k for k in screen if k[0] == "same_key"]
assert len(same) > 50, len(same)
for key in same:
    s, ha, hb = screen[key]
    r, fa, fb = full[key]
    assert (ha, hb) == (fa, fb), key
    for name in ("n", "cosine", "pearson", "rel_l2", "frac_value_equal", "norm_a", "init_centered_cosine"):
        x, y = float(s[name]), float(r[name])
        assert x == y or (math.isnan(x) and math.isnan(y)), (key, name, x, y)
    for name in ("p99_abs_diff", "max_abs_diff", "mean_abs_diff", "min_a"):
        assert math.isnan(float(s[name])), (key, name, s[name])
    assert not math.isnan(float(r["p99_abs_diff"])), key
    # No permutation null: a screening unit has no h.
    assert math.isnan(float(s["hidden_corr"])) and float(s["null_perms"]) == 0, (key, s["hidden_corr"])
EOF

# Verdicts: only equal values decide. Untested components report no effect, null or p (not the
# rubric's h = 0, p = 1); components decided by equal values keep theirs.
verdict() {  # STORE -> "overall|screen|reason", after checking the components
  $py - "$1" <<'EOF'
import json, sys
import h5py
p = json.loads(h5py.File(sys.argv[1], "r")["verdict/json"][()][0])["pairs"][0]
assert p["components"], p
for c in p["components"]:
    if c["verdict"] == "inconclusive":
        assert c["tests"] == 0 and c["p_value"] is None and c["z"] is None and c["null_sd"] is None, c
        assert c["reason"] == "not tested: a screening run computes no permutation null", c["reason"]
        assert c["median_pearson"] is not None and c["median_rel_l2"] is not None, c
    else:
        assert c["verdict"] == "identical" and c["p_value"] == 0, c
if p["overall"] == "inconclusive":
    assert p["p_value"] is None, p["p_value"]
print("%s|%s|%s" % (p["overall"], p["screen"], p["reason"]))
EOF
}
v=$(verdict "$tmp/screen.h5")
[[ $v == inconclusive\|True\|"a screening run"* ]] || fail "fine-tune screened: $v"
"$lineage" compare "$tmp/copy" "$tmp/base" --out "$tmp/copy.h5" --screen -q >/dev/null 2>&1 || fail "screening the copy"
v=$(verdict "$tmp/copy.h5")
[[ $v == identical\|True\|* ]] || fail "copy screened: $v"
"$lineage" compare "$tmp/other" "$tmp/base" --out "$tmp/other.h5" --screen -q >/dev/null 2>&1 || fail "screening the other"
v=$(verdict "$tmp/other.h5")
[[ $v == inconclusive\|True\|* ]] || fail "independent model screened: $v"

# A run is resumed as it began.
out=$("$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/screen.h5" --resume 2>&1); code=$?
[ $code -eq 5 ] || fail "a screening run resumed without --screen exited $code: $out"
grep -q "began as a screening run" <<<"$out" || fail "no reason given: $out"
out=$("$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/full.h5" --resume --screen 2>&1); code=$?
[ $code -eq 5 ] || fail "a full run resumed with --screen exited $code: $out"
out=$("$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/full.h5" --resume --null-permutations 7 2>&1); code=$?
[ $code -eq 5 ] || fail "a full run resumed with another --null-permutations exited $code: $out"
"$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/screen.h5" --resume --screen -q >/dev/null 2>&1 \
  || fail "a screening run resumed with --screen"

# Contradictions are refused before anything runs.
out=$("$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/x.h5" --screen --null-permutations 10 2>&1); code=$?
[ $code -eq 2 ] || fail "--screen --null-permutations 10 exited $code: $out"
[ ! -e "$tmp/x.h5" ] || fail "a refused run wrote a store"
printf 'suspect: %s\nparent: %s\nout: %s\nscreen: true\nnull_permutations: 10\n' "$tmp/ft" "$tmp/base" "$tmp/y.h5" \
  >"$tmp/bad.yaml"
out=$("$lineage" compare --run "$tmp/bad.yaml" 2>&1); code=$?
[ $code -eq 4 ] || fail "a run file asking for screen and a null exited $code: $out"
printf 'suspect: %s\nparent: %s\nout: %s\nscreen: true\n' "$tmp/ft" "$tmp/base" "$tmp/run.h5" >"$tmp/run.yaml"
"$lineage" compare --run "$tmp/run.yaml" -q >/dev/null 2>&1 || fail "a screening run file"
[ "$(verdict "$tmp/run.h5" | cut -d'|' -f2)" = True ] || fail "the run file's run is not a screening run"
echo "compare screen: ok"
