#!/usr/bin/env bash
# lineage inventory on real weight maps and on bad input: output, --json, --strict, exit codes,
# and one clear error line.
set -u
lineage=$1
repo=$2
real="$repo/tests/data/real"
fail() { echo "FAIL: $*"; exit 1; }

out=$("$lineage" inventory --index-only "$real/mistralai__Mixtral-8x7B-v0.1") || fail "mixtral exit $?"
grep -q "^family:   mixtral" <<<"$out" || fail "family line: $out"
grep -q "every tensor accounted for" <<<"$out" || fail "not clean: $out"
grep -qE "routed_expert +768 .* 32 +8" <<<"$out" || fail "expert row: $out"

json=$("$lineage" inventory --index-only --json --list "$real/mistralai__Mixtral-8x7B-v0.1") || fail "json exit"
/usr/bin/python3 -c '
import json,sys
j=json.loads(sys.stdin.read())
assert j["family"]=="mixtral", j["family"]
assert len(j["list"])==995, len(j["list"])
assert j["total_bytes"]==j["index_total_size"]==93405585408, j["total_bytes"]
keys={e["name"]:e["key"] for e in j["list"]}
assert keys["model.layers.3.block_sparse_moe.experts.5.w3.weight"]=="text/routed_expert/L3/E5/up", keys
' <<<"$json" || fail "json content"

# --strict: TransGQA has unclaimed research tensors -> exit 3, the findings on stderr.
"$lineage" inventory --index-only --strict "$real/JasonWu543__TransGQA-Qwen3-30B-A3B" >/dev/null 2>/dev/null ; code=$?
[ "$code" -eq 3 ] || fail "strict exit $code"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# A truncated shard: exit 3, exactly one line naming the file.
mkdir "$tmp/bad"
printf '\x10\x00\x00\x00\x00\x00\x00\x00{"a":' > "$tmp/bad/model.safetensors"
err=$("$lineage" inventory "$tmp/bad" 2>&1 >/dev/null); code=$?
[ "$code" -eq 3 ] || fail "bad shard exit $code"
[ "$(wc -l <<<"$err")" -eq 1 ] || fail "more than one error line: $err"
grep -q "model.safetensors" <<<"$err" || fail "error does not name the file: $err"
# A missing folder and bad usage.
"$lineage" inventory "$tmp/nope" >/dev/null 2>&1; [ $? -eq 3 ] || fail "missing folder"
"$lineage" inventory >/dev/null 2>&1; [ $? -eq 2 ] || fail "usage"
"$lineage" inventory --help | grep -q -- "--index-only" || fail "help"
echo "inventory cli: ok"
