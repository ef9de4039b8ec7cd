#!/usr/bin/env bash
# The dispute cases (cases/*/run.yaml): every run file and case section parses, arch --catalog
# runs on each suspect config built from the seeds, A.X-K1's nearest public architecture is
# Kimi-K2 once its own entry is left out, and plan either plans a case at 64 and 256 ranks or
# says why not (a config-only suspect needs a family file naming its tensors).
set -u
lineage=$1
repo=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
n=0
for dir in "$repo"/cases/*/; do
  name=$(basename "$dir")
  n=$((n + 1))
  [ -f "$dir/run.yaml" ] || fail "$name: no run.yaml"
  [ -f "$dir/README.md" ] || fail "$name: no README.md"
  [ -f "$dir/suspect/config.json" ] || fail "$name: no suspect/config.json"
  "$lineage" arch "$dir/suspect/config.json" --catalog --top 3 >/dev/null || fail "$name: arch --catalog exit $?"
  out=$("$lineage" plan "$dir/run.yaml" --ranks 64,256 2>&1); code=$?
  if [ $code -eq 0 ]; then
    grep -q "^case: $name" <<<"$out" || fail "$name: plan does not name the case: $out"
    grep -Eq "^ +64 " <<<"$out" && grep -Eq "^ +256 " <<<"$out" || fail "$name: plan rows: $out"
  else
    # The only accepted failure: a model folder with a config and no weight map, whose tensors no family names.
    grep -q "no family file matches it" <<<"$out" || fail "$name: plan exit $code: $out"
  fi
done
[ $n -eq 6 ] || fail "expected six cases, found $n"

# A.X-K1: the seeds set it beside DeepSeek-V2 and Qwen2-57B; its values are Kimi-K2's.
out=$("$lineage" arch "$repo/cases/ax-k1/suspect/config.json" --catalog --exclude skt/A.X-K1 --top 3) ||
  fail "ax-k1 arch exit $?"
grep -Eq "^  1 +moonshotai/Kimi-K2-Instruct " <<<"$out" || fail "ax-k1 nearest is not Kimi-K2: $out"
# Without --exclude its own catalogue entry (the same seed values) ranks first.
out=$("$lineage" arch "$repo/cases/ax-k1/suspect/config.json" --catalog --top 1) || fail "ax-k1 arch exit $?"
grep -Eq "^  1 +skt/A.X-K1 " <<<"$out" || fail "ax-k1 own entry not first: $out"
"$lineage" arch "$repo/cases/ax-k1/suspect/config.json" --catalog --exclude no/such-model >/dev/null 2>&1
[ $? -eq 2 ] || fail "--exclude of an unknown model is not a usage error"

# Config-only planning: Mixtral's config without its index plans exactly like its index does.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
real=$repo/tests/data/real
mkdir -p "$tmp/mx" "$tmp/k2"
cp "$real/mistralai__Mixtral-8x7B-v0.1/config.json" "$tmp/mx/"
printf 'suspect: mx\nparents: [%s]\n' "$real/mistralai__Mixtral-8x7B-v0.1" >"$tmp/run.yaml"
out=$("$lineage" plan "$tmp/run.yaml" --ranks 64 --json) || fail "config-only plan exit $?"
python3 -c '
import json, sys
j = json.loads(sys.argv[1])
m = {x["label"]: x for x in j["models"]}
assert m["suspect"]["source"] == "config" and m["parent"]["source"] == "config+index", m
assert m["suspect"]["tensors"] == m["parent"]["tensors"], m
assert m["suspect"]["bytes"] == m["parent"]["bytes"] == 93405585408, m' "$out" || fail "config-only plan: $out"
# A block-FP8 release (Kimi-K2: quantization_config fp8) is planned at one byte per converted
# weight plus its F32 block scales, as arch counts it, not at BF16 (about 2.09 TB).
cp "$real/moonshotai__Kimi-K2-Instruct/config.json" "$tmp/k2/"
printf 'suspect: k2\nparents: [mx]\n' >"$tmp/run2.yaml"
out=$("$lineage" plan "$tmp/run2.yaml" --ranks 64 --json) || fail "config-only FP8 plan exit $?"
python3 -c '
import json, sys
j = json.loads(sys.argv[1])
m = {x["label"]: x for x in j["models"]}
assert m["suspect"]["source"] == "config", m
assert 0.95e12 < m["suspect"]["bytes"] < 1.15e12, m["suspect"]' "$out" || fail "config-only FP8 plan: $out"
# A case section: plan names the published model behind each folder, in run order, with its
# expected size beside the size read from the folder.
cat >"$tmp/case.yaml" <<EOF
suspect: mx
parents: [$real/mistralai__Mixtral-8x7B-v0.1]
case:
  name: demo
  suspect: {repo: org/suspect, revision: main, expected_params_billions: 46.7}
  parents: [{repo: mistralai/Mixtral-8x7B-v0.1, revision: abc123, expected_bytes: 93405585408}]
EOF
out=$("$lineage" plan "$tmp/case.yaml" --ranks 64,256) || fail "case plan exit $?"
grep -q "^case: demo$" <<<"$out" || fail "case plan does not name the case: $out"
grep -q "^  suspect = org/suspect@main: 93.41 GB, .*stated 46.7 B parameters" <<<"$out" || fail "case plan suspect: $out"
grep -q "^  parent = mistralai/Mixtral-8x7B-v0.1@abc123: 93.41 GB, .*published 93.41 GB" <<<"$out" ||
  fail "case plan parent: $out"
out=$("$lineage" plan "$tmp/case.yaml" --ranks 64 --json) || fail "case plan --json exit $?"
python3 -c '
import json, sys
m = json.loads(sys.argv[1])["models"]
assert [x["published"]["repo"] for x in m] == ["org/suspect", "mistralai/Mixtral-8x7B-v0.1"], m
assert m[1]["published"]["expected_bytes"] == m[1]["bytes"], m' "$out" || fail "case plan --json: $out"

# An index whose names no family file knows gives names without shapes: plan refuses it (exit 3)
# instead of planning those tensors at 0 bytes (A.X-K1's own index would be read this way).
mkdir -p "$tmp/renamed"
python3 -c '
import json, sys
src, dst = sys.argv[1], sys.argv[2]
c = json.load(open(src + "/config.json")); c["architectures"] = ["NoSuchForCausalLM"]; c["model_type"] = "no_such"
json.dump(c, open(dst + "/config.json", "w"))
i = json.load(open(src + "/model.safetensors.index.json"))
i["weight_map"] = {"x" + k: v for k, v in i["weight_map"].items()}
json.dump(i, open(dst + "/model.safetensors.index.json", "w"))' "$real/mistralai__Mixtral-8x7B-v0.1" "$tmp/renamed"
printf 'suspect: renamed\nparents: [mx]\n' >"$tmp/run4.yaml"
out=$("$lineage" plan "$tmp/run4.yaml" --ranks 64 2>&1); code=$?
[ $code -eq 3 ] || fail "plan of an index with unknown names: exit $code: $out"
grep -q "have no shape" <<<"$out" || fail "plan of an index with unknown names: $out"
echo "cases_cli: ok"
