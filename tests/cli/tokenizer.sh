#!/usr/bin/env bash
# lineage tokenizer on the real tokenizers: classification lines, --json, --md, bad input.
set -u
lineage=$1
repo=$2
t="$repo/tests/data/tokenizers"
fail() { echo "FAIL: $*"; exit 1; }
out=$("$lineage" tokenizer "$t/gpt35turbo" "$t/llama3") || fail "exit $?"
grep -q "^classification: extended (B extends A)" <<<"$out" || fail "cl100k/llama3: $out"
grep -q "says nothing about whether the transformer body was reused" <<<"$out" || fail "caveat missing"
"$lineage" tokenizer --json "$t/llama2/tokenizer.json" "$t/llama3" | /usr/bin/python3 -c '
import json,sys
j=json.load(sys.stdin)
assert j["classification"]=="independent", j["classification"]
assert j["same_id"] < 100, j["same_id"]' || fail "llama2/llama3 json"
"$lineage" tokenizer --md "$t/llama2" "$t/gpt35turbo" | grep -q "^| same id |" || fail "markdown"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '{"model": {"vocab": ' > "$tmp/tokenizer.json"
err=$("$lineage" tokenizer "$tmp" "$t/llama3" 2>&1 >/dev/null); code=$?
[ $code -eq 3 ] || fail "malformed: exit $code"
[ "$(wc -l <<<"$err")" -eq 1 ] || fail "one error line expected: $err"
grep -q "$tmp/tokenizer.json" <<<"$err" || fail "error names the file: $err"
"$lineage" tokenizer "$t/llama2" >/dev/null 2>&1; [ $? -eq 2 ] || fail "usage"
echo "tokenizer cli: ok"
