#!/usr/bin/env bash
# lineage behaviour on constructed outputs with known answers, and --out: tokenizer, arch and
# behaviour results recorded in a result store and read by lineage verdict as evidence beside
# the weights (never the only evidence).
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"
t="$repo/tests/data/tokenizers"
r="$repo/tests/data/real"

# Outputs: the suspect copies the parent on 60% of 3000 prompts; controls are unrelated.
$py - "$tmp" <<'PY'
import json, random, sys
d = sys.argv[1]
rng = random.Random(7)
n = 3000
def model(name, follow=None, agree=0.0):
    out = []
    for i in range(n):
        text = "w%d" % rng.randrange(300)
        if follow is not None and rng.random() < agree:
            text = follow[i]
        out.append(text)
    with open("%s/%s.jsonl" % (d, name), "w") as f:
        for i, text in enumerate(out):
            f.write(json.dumps({"prompt_id": "p%d" % i, "output": " " + text + "\n"}) + "\n")
    return out
parent = model("parent")
model("suspect", parent, 0.6)
model("independent")
for c in ("c1", "c2", "c3"):
    model(c)
PY
b() { "$lineage" behaviour --control "$tmp/c1.jsonl" --control "$tmp/c2.jsonl" --control "$tmp/c3.jsonl" "$@"; }
out=$(b --suspect "$tmp/suspect.jsonl" --parent "$tmp/parent.jsonl") || fail "behaviour exit $?"
grep -q "^conclusion: derived_from_parent" <<<"$out" || fail "derived: $out"
grep -Eq "^  parent +.*parent.jsonl +1[0-9]{3} " <<<"$out" || fail "rate row: $out"
b --suspect "$tmp/independent.jsonl" --parent "$tmp/parent.jsonl" --json | $py -c '
import json,sys
j=json.load(sys.stdin)
assert j["conclusion"]!="derived_from_parent", j["conclusion"]
assert j["prompts"]==3000 and len(j["tests"])==3, j' || fail "independent json"
"$lineage" behaviour --suspect "$tmp/suspect.jsonl" --parent "$tmp/parent.jsonl" --control "$tmp/c1.jsonl" \
  | grep -q "^conclusion: too_few_controls" || fail "too few controls"
b --suspect "$tmp/suspect.jsonl" --parent "$tmp/parent.jsonl" --md | grep -q "^| parent |" || fail "markdown"

# Evidence beside the weights in a store that holds nothing else: verdict stays inconclusive.
b --suspect "$tmp/suspect.jsonl" --parent "$tmp/parent.jsonl" --out "$tmp/ev.h5" >/dev/null || fail "behaviour --out"
"$lineage" tokenizer "$t/gpt35turbo" "$t/llama3" --out "$tmp/ev.h5" >/dev/null || fail "tokenizer --out"
"$lineage" arch "$r/mistralai__Mixtral-8x7B-v0.1" "$r/microsoft__WizardLM-2-8x22B" --out "$tmp/ev.h5" >/dev/null || fail "arch --out"
# Recording the same comparison again replaces it.
"$lineage" tokenizer "$t/gpt35turbo" "$t/llama3" --out "$tmp/ev.h5" >/dev/null || fail "tokenizer --out again"
out=$("$lineage" verdict "$tmp/ev.h5") || fail "verdict on evidence-only store"
grep -q "overall: inconclusive — only evidence beside the weights" <<<"$out" || fail "evidence-only verdict: $out"
[ "$(grep -c '^  tokenizer (' <<<"$out")" -eq 1 ] || fail "tokenizer item replaced, not added: $out"
grep -q "^  behaviour (.*): derived — " <<<"$out" || fail "behaviour item"
grep -q "^  architecture (.*): neutral — 1/5" <<<"$out" || fail "architecture item"
$py -c '
import h5py, json, sys
f = h5py.File(sys.argv[1], "r")
items = json.loads(f["evidence/json"][0])
assert sorted(i["kind"] for i in items) == ["architecture", "behaviour", "tokenizer"], items' "$tmp/ev.h5" || fail "h5py read-back"

# With a weight comparison: behaviour agrees with a fine-tune, and conflicts with an independent model.
"$lineage" synth --scenario base --out "$tmp/base" >/dev/null || fail "synth base"
"$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft" >/dev/null || fail "synth finetune"
"$lineage" synth --scenario independent --base "$tmp/base" --seed 9 --out "$tmp/ind" >/dev/null || fail "synth independent"
$mpi -np 1 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/ft.h5" -q >/dev/null 2>&1 || fail "compare ft"
$mpi -np 1 "$lineage" compare "$tmp/ind" "$tmp/base" --out "$tmp/ind.h5" -q >/dev/null 2>&1 || fail "compare ind"
for s in ft ind; do
  b --suspect "$tmp/suspect.jsonl" --parent "$tmp/parent.jsonl" --out "$tmp/$s.h5" >/dev/null || fail "behaviour into $s"
done
out=$("$lineage" verdict "$tmp/ft.h5") || fail "verdict ft"
grep -q "overall: derived (finetune" <<<"$out" || fail "weights still decide: $out"
grep -q "beside the weights: consistent" <<<"$out" || fail "consistent: $out"
out=$("$lineage" verdict "$tmp/ind.h5") || fail "verdict ind"
grep -q "overall: independent" <<<"$out" || fail "behaviour never overrides the weights: $out"
grep -q "beside the weights: conflict" <<<"$out" || fail "conflict: $out"

# Bad input: one line naming the file, exit 3; a store path that cannot be written: exit 5.
printf '{"prompt_id": 1, "output": "a"}\n{broken\n' > "$tmp/bad.jsonl"
err=$(b --suspect "$tmp/bad.jsonl" --parent "$tmp/parent.jsonl" 2>&1 >/dev/null); code=$?
[ $code -eq 3 ] || fail "bad jsonl exit $code"
[ "$(wc -l <<<"$err")" -eq 1 ] && grep -q "bad.jsonl" <<<"$err" && grep -q "line 2" <<<"$err" || fail "error line: $err"
b --suspect "$tmp/suspect.jsonl" --parent "$tmp/parent.jsonl" --out "$tmp/nodir/x.h5" >/dev/null 2>&1; code=$?
[ $code -eq 5 ] || fail "unwritable store exit $code"
[ ! -e "$tmp/nodir" ] || fail "half-written store left behind"
"$lineage" behaviour --suspect "$tmp/suspect.jsonl" >/dev/null 2>&1; [ $? -eq 2 ] || fail "usage"
echo "evidence cli: ok"
