#!/usr/bin/env bash
# lineage check: a fresh store checks out against its model folders; a changed input, a changed
# result row, an incomplete store and a folder given in the wrong number each fail with exit 5
# (or 2) and say what.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"
"$lineage" synth --scenario base --out "$tmp/base" >/dev/null || fail "synth base"
"$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft" >/dev/null || fail "synth finetune"
"$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" --quiet --no-baselines --null-permutations 4 \
  >/dev/null || fail "compare exit $?"
out=$("$lineage" check "$tmp/run.h5") || fail "fresh store: exit $?: $out"
grep -q "^checksums: 0 bad of" <<<"$out" || fail "checksums line: $out"
grep -q "input:     suspect .*: matches" <<<"$out" || fail "fingerprint line: $out"
"$lineage" check "$tmp/run.h5" --json | $py -c 'import json,sys; j=json.load(sys.stdin); assert j["ok"] and j["schema_version"] == 3, j' \
  || fail "json"
# Folders given explicitly, in input order; a wrong count is usage.
"$lineage" check "$tmp/run.h5" --model "$tmp/ft" --model "$tmp/base" >/dev/null || fail "--model: exit $?"
"$lineage" check "$tmp/run.h5" --model "$tmp/ft" >/dev/null 2>&1
[ $? -eq 2 ] || fail "one --model for two inputs should be exit 2"
# The parent given in the suspect's place: its fingerprint differs.
err=$("$lineage" check "$tmp/run.h5" --model "$tmp/base" --model "$tmp/base" 2>&1 >/dev/null)
[ $? -eq 5 ] || fail "swapped input: exit not 5: $err"
grep -q "suspect (.*): changed since the run" <<<"$err" || fail "swapped input message: $err"
# One statistic changed in place: its row fails the checksum; verdict refuses the store too.
cp "$tmp/run.h5" "$tmp/edited.h5"
$py - "$tmp/edited.h5" <<'PY' || fail "edit"
import h5py, sys
with h5py.File(sys.argv[1], "r+") as f:
    s = f["results/stats"]
    row = s[3]
    row[0] += 0.5
    s[3] = row
PY
err=$("$lineage" check "$tmp/edited.h5" 2>&1 >/dev/null)
[ $? -eq 5 ] || fail "edited row: exit not 5"
grep -q "1 result rows fail their checksum" <<<"$err" || fail "edited row message: $err"
err=$("$lineage" verdict "$tmp/edited.h5" 2>&1 >/dev/null)
[ $? -eq 5 ] || fail "verdict on an edited row: exit not 5"
grep -q "result row 3 (unit .*) does not match its checksum" <<<"$err" || fail "verdict message: $err"
# Incomplete: status partial.
cp "$tmp/run.h5" "$tmp/partial.h5"
$py -c 'import h5py,sys; f=h5py.File(sys.argv[1],"r+"); f.attrs["status"]="partial"' "$tmp/partial.h5"
err=$("$lineage" check "$tmp/partial.h5" 2>&1 >/dev/null)
[ $? -eq 5 ] || fail "partial: exit not 5"
grep -q "incomplete" <<<"$err" || fail "partial message: $err"
echo "check: ok"
