#!/usr/bin/env bash
# lineage plan: from config.json + index (real weight maps, no shards) and from headers (synth).
set -u
lineage=$1
repo=$2
py=/usr/bin/python3
r="$repo/tests/data/real"
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'suspect: %s\nparents: [%s]\n' "$r/microsoft__WizardLM-2-8x22B" "$r/mistralai__Mixtral-8x7B-v0.1" > "$tmp/real.yaml"
out=$("$lineage" plan "$tmp/real.yaml" --ranks 8,1024) || fail "exit $?"
grep -q "suspect: .*WizardLM-2-8x22B (mixtral, 1739 tensors, from config.json + index)" <<<"$out" || fail "model line: $out"
grep -Eq "^  8 +[0-9.]+ GB" <<<"$out" && grep -Eq "^  1024 " <<<"$out" || fail "rows: $out"
"$lineage" plan "$tmp/real.yaml" --ranks 64,1024 --throughput 2 --json | $py -c '
import json,sys
j=json.load(sys.stdin)
p=j["plans"][0]
assert p["ranks"]==64 and len(p["bytes_per_rank"])==64
assert sum(p["bytes_per_rank"])==j["bytes"], "every byte planned once"
assert abs(p["estimated_seconds"]-p["row_blocks"]["max_rank_bytes"]/2e9)<1e-6, "compare runs the row block plan"
assert p["max_rank_bytes"] <= 4/3*p["lower_bound_bytes"]
assert all(m["source"]=="config+index" for m in j["models"])
# At 1024 ranks whole 0.5 GB units cap the balance (173%); cut into row blocks they do not.
q=j["plans"][1]
b=q["row_blocks"]
assert q["ranks"]==1024 and b["blocks"] > j["units"], "large units cut into row blocks"
assert b["largest_block_bytes"] <= 16 << 20 and q["imbalance"] > 1 and b["imbalance"] < 0.03, q' || fail "json"
"$lineage" synth --scenario base --out "$tmp/base" >/dev/null || fail "synth"
"$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft" >/dev/null || fail "synth ft"
printf 'suspect: ft\nparents: [base]\n' > "$tmp/synth.yaml"
"$lineage" plan "$tmp/synth.yaml" --ranks 2 | grep -q "(.*from headers)" || fail "headers mode"
"$lineage" plan "$tmp/synth.yaml" --ranks 0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad ranks"
"$lineage" plan "$tmp/synth.yaml" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing ranks"
echo "plan cli: ok"
