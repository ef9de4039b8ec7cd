#!/usr/bin/env bash
# Small models: in the mixtral style (hidden 64, 4 heads of 16, experts of 32) no unit alone can
# show a weak derivation at 10 null SDs, so before the joint test an independent model read
# "inconclusive" and a partial reuse "derived". Pooled over layers under one relabelling of the
# other model's hidden axis (docs/methods.md, "The joint test"), they read right, with
# trained-like values, and the reason names the joint tests.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"

"$lineage" synth --scenario base --style mixtral --realistic --seed 13 --out "$tmp/base" >/dev/null || fail "synth base"
for scenario in independent partial_reuse; do
  "$lineage" synth --scenario "$scenario" --base "$tmp/base" --seed 3 --out "$tmp/$scenario" >/dev/null \
    || fail "synth $scenario"
  "$lineage" compare "$tmp/$scenario" "$tmp/base" --out "$tmp/$scenario.h5" -q >/dev/null 2>&1 \
    || fail "compare $scenario"
done

out=$("$lineage" verdict "$tmp/independent.h5")
grep -q "overall: independent" <<<"$out" || fail "independent: $out"
"$lineage" verdict --json "$tmp/independent.h5" >"$tmp/independent.json" || fail "verdict --json"
$py - "$tmp/independent.json" <<'PY' || fail "independent --json"
import json, sys
pair = json.load(open(sys.argv[1]))["pairs"][0]
attention = next(c for c in pair["components"] if c["component"] == "attention")
assert attention["verdict"] == "independent", attention["reason"]
assert attention["joint_tests"] >= 1, attention
assert "joint" in attention["reason"], attention["reason"]
PY

out=$("$lineage" verdict "$tmp/partial_reuse.h5")
grep -q "overall: partial_reuse" <<<"$out" || fail "partial_reuse: $out"
echo ok
