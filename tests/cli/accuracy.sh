#!/usr/bin/env bash
# scripts/accuracy.sh on a small labelled folder (generated scenarios): expected against got,
# the confusion matrix, false accusations counted, a Markdown report written; a malformed
# folder exits 3. The long run over real trained checkpoints is not a test (docs/accuracy.md).
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"

"$lineage" synth --suite "$tmp/s" >/dev/null || fail "synth"
cat > "$tmp/s/labels.yaml" <<'YAML'
key_pairs:
  - {model: finetune, reference: base, relation: derived, kind: finetune}
  - {model: independent, reference: base, relation: independent}
all_other_pairs:
  - {model: permuted, reference: base, relation: derived, kind: permuted}
YAML
out=$("$repo/scripts/accuracy.sh" "$tmp/s" --ranks 1 --lineage "$lineage" --out "$tmp/acc.md" 2>&1) \
  || fail "accuracy.sh: $out"
grep -q "FALSE ACCUSATIONS: 0 of 1 independent" <<<"$out" || fail "false accusations line: $out"
grep -q "accuracy: 3/3" <<<"$out" || fail "accuracy line: $out"
grep -q "confusion matrix" <<<"$out" || fail "no confusion matrix: $out"
grep -q "kinds: 2/2" <<<"$out" || fail "kinds line: $out"
grep -q "| finetune | base | derived (finetune) | derived (finetune) | ok |" "$tmp/acc.md" || fail "report: $(cat "$tmp/acc.md")"
grep -q "^| machine |" "$tmp/acc.md" || fail "report lacks the machine"
# The p column: the pair's own p-value, then the three smallest of the evidence and their count.
grep -Eq "^\| finetune \| base \|.*\| p=[^ ;|]+; smallest of [0-9]+(, [0-9]+ without a value)?: [^,|]+=[^,|]+, [^,|]+=[^,|]+, [^,|]+=[^,|]+ \|" \
  "$tmp/acc.md" || fail "p column: $(grep '^| finetune' "$tmp/acc.md")"
short=$(cd "$repo/scripts" && python3 -B -c 'import accuracy
print(accuracy.fmt_overall(
  [("p", 0.5), ("a.p_value", 0.2), ("b.p_value", None), ("c.p_value", 1e-9), ("d.p_value", 0.3), ("e.p_value", 0.01)]))
print(accuracy.fmt_overall([("a.p_value", None)]))
print(accuracy.fmt_overall([]))')
expected='p=0.5; smallest of 5, 1 without a value: c.p_value=1e-09, e.p_value=0.01, a.p_value=0.2
smallest of 1, 1 without a value: -
-'
[ "$short" = "$expected" ] || fail "fmt_overall: $short"

# A wrong label is counted, not hidden: call the independent model derived.
sed -i 's/{model: independent, reference: base, relation: independent}/{model: independent, reference: base, relation: derived, kind: finetune}/' "$tmp/s/labels.yaml"
out=$("$repo/scripts/accuracy.sh" "$tmp/s" --ranks 1 --lineage "$lineage" --out "$tmp/acc2.md" --key-only 2>&1) \
  || fail "accuracy.sh (relabelled): $out"
grep -q "accuracy: 1/2" <<<"$out" || fail "relabelled accuracy: $out"
grep -q "wrong kind: independent vs base" <<<"$out" || fail "a wrong kind is not listed: $out"

printf 'key_pairs: [\n' > "$tmp/s/labels.yaml"
"$repo/scripts/accuracy.sh" "$tmp/s" --lineage "$lineage" --out "$tmp/acc3.md" >/dev/null 2>&1; code=$?
[ $code -eq 3 ] || fail "malformed labels: exit $code"
echo "accuracy cli: ok"
