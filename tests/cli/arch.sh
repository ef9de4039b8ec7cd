#!/usr/bin/env bash
# lineage arch on the real configs: tables, --md, --json, --tokens, --catalog, bad input.
set -u
lineage=$1
repo=$2
r="$repo/tests/data/real"
py=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }

out=$("$lineage" arch "$r/moonshotai__Kimi-K2-Instruct" "$r/deepseek-ai__DeepSeek-V3" "$r/zai-org__GLM-4.5" --tokens 15e12) || fail "exit $?"
grep -Eq "^  hidden_size +7168 +7168 +5120$" <<<"$out" || fail "core row: $out"
grep -Eq "^  attention +MLA +MLA +GQA \(12 q heads per kv head\)$" <<<"$out" || fail "attention row"
grep -q "A–B: 4/5 similar architecture" <<<"$out" || fail "rubric A-B"
grep -q "A–C: 1/5 likely independent architecture" <<<"$out" || fail "rubric A-C"
grep -Eq "^  routed experts +n_routed_experts" <<<"$out" || fail "spelling table"
grep -Eq "^  GPU-hours " <<<"$out" || fail "compute rows"

"$lineage" arch --json "$r/mistralai__Mixtral-8x7B-v0.1" "$r/microsoft__WizardLM-2-8x22B" --tokens 1e12 --gpu-flops 1e15 | $py -c '
import json,sys
j=json.load(sys.stdin)
a=j["models"][0]
assert a["family"]=="mixtral", a["family"]
assert a["attention_type"]=="GQA" and a["moe"], a
assert abs(a["total_params"]/46.7e9-1)<0.01, a["total_params"]
c=a["compute"]
assert abs(c["flops"]-6*a["active_params"]*1e12)<1e9 and abs(c["gpu_hours"]-c["flops"]/1e15/3600)<1e-6, c
assert a["extended"]["routed experts"]["config_key"]=="num_local_experts"
p=j["pairs"][0]
assert p["core_matches"]==1 and "hidden_size" in p["differing"], p' || fail "json"

"$lineage" arch --md "$r/google__medgemma-27b-it" > /tmp/arch_md.$$ || fail "md exit"
grep -q "^| hidden_size | 5376 |" /tmp/arch_md.$$ || fail "markdown row"
grep -q "probably reused" /tmp/arch_md.$$ || fail "foreign tower flag"
rm -f /tmp/arch_md.$$

out=$("$lineage" arch "$repo/tests/data/arch/ax_k1_like.config.json" --catalog --top 3) || fail "catalog exit $?"
grep -Eq "^  1 +moonshotai/Kimi-K2-Instruct +9/9 +5/5 " <<<"$out" || fail "catalog rank: $out"
"$lineage" arch "$repo/tests/data/arch/ax_k1_like.config.json" --catalog --json | $py -c '
import json,sys
j=json.load(sys.stdin)
assert j["ranking"][0]["model"]=="moonshotai/Kimi-K2-Instruct"
assert j["ranking"][1]["matches"] < j["ranking"][0]["matches"]' || fail "catalog json"

# A composite whose model_type no family knows (issue #11): keys read from text_config through the
# common spellings, each tower ranked on its own; the vision tower names its family.
hcx="$repo/tests/data/arch/hcx_vlm_like.config.json"
out=$("$lineage" arch "$hcx") || fail "hcx exit $?"
grep -Eq "^  hidden_size +5120$" <<<"$out" || fail "hcx core row: $out"
grep -q "note: no family file matches (architectures HcxVlmLikeForCausalLM, model_type vlm): the text decoder is read from text_config (model_type hyperclovax)" <<<"$out" || fail "hcx note: $out"
grep -q "tower vision_config: model_type qwen2_5_vl, family qwen2_5_vl_vision.*\[probably reused\]" <<<"$out" || fail "hcx vision tower: $out"
out=$("$lineage" arch "$hcx" --catalog --top 2) || fail "hcx catalog exit $?"
grep -q "^tower vision_config (model_type qwen2_5_vl): family qwen2_5_vl_vision" <<<"$out" || fail "hcx tower heading: $out"
grep -Eq "^  1 +Qwen/Qwen2.5-VL-7B-Instruct vision_config +([0-9]+)/\1 " <<<"$out" || fail "hcx vision tower rank: $out"
"$lineage" arch "$hcx" --catalog --json | $py -c '
import json,sys
j=json.load(sys.stdin)
assert j["ranking"][0]["comparable"] >= 10, j["ranking"][0]
t={t["config_key"]: t for t in j["towers"]}
assert t["vision_config"]["family"]=="qwen2_5_vl_vision" and t["vision_config"]["model_type"]=="qwen2_5_vl", t["vision_config"]
assert t["vision_config"]["ranking"][0]["model"]=="Qwen/Qwen2.5-VL-7B-Instruct", t["vision_config"]["ranking"][0]
assert t["text_config"]["model_type"]=="hyperclovax" and t["text_config"]["reading"].startswith("family hyperclovax"), t["text_config"]' || fail "hcx catalog json"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
err=$("$lineage" arch "$tmp" 2>&1 >/dev/null); code=$?
[ $code -eq 3 ] || fail "missing config: exit $code"
[ "$(wc -l <<<"$err")" -eq 1 ] || fail "one error line: $err"
printf '{"hidden_size": 1,' > "$tmp/config.json"
"$lineage" arch "$tmp" >/dev/null 2>&1; [ $? -eq 3 ] || fail "malformed config"
mkdir "$tmp/cat"; printf 'model: x\nsource: y\nconfirmed: maybe\nconfig: {}\n' > "$tmp/cat/x.yaml"
err=$("$lineage" arch "$r/Qwen__Qwen3-8B" --catalog --catalog-dir "$tmp/cat" 2>&1 >/dev/null); code=$?
[ $code -eq 4 ] || fail "bad catalogue: exit $code ($err)"
grep -q "x.yaml" <<<"$err" || fail "catalogue error names the file: $err"
"$lineage" arch >/dev/null 2>&1; [ $? -eq 2 ] || fail "usage"
"$lineage" arch "$r/Qwen__Qwen3-8B" "$r/Qwen__Qwen3-30B-A3B" --catalog >/dev/null 2>&1; [ $? -eq 2 ] || fail "catalog needs one"
echo "arch cli: ok"
