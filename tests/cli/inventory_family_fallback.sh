#!/usr/bin/env bash
# lineage inventory when the config does not decide the family: a config whose family needs a key
# it lacks, and a layout no family file names. Never an error; a note says what was chosen.
# Self-contained: the checkpoints are written here (no shared data).
set -u
lineage=$1
py=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# write DIR CONFIG_JSON NAME=SHAPE... : zero BF16 tensors in model.safetensors + config.json
write() {
  $py - "$@" <<'PY'
import json, struct, sys
d, cfg, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
header, off = {}, 0
for s in specs:
    name, shape = s.split("=")
    shape = [int(x) for x in shape.split("x")]
    n = 2
    for x in shape: n *= x
    header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + n]}
    off += n
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(d + "/model.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + b"\0" * off)
open(d + "/config.json", "w").write(cfg)
PY
}

# DeepSeek-V2 names under a config that lacks q_lora_rank: chosen by names, exit 0.
mkdir "$tmp/v2"
specs=(model.embed_tokens.weight=16x8 model.norm.weight=8 lm_head.weight=16x8)
for l in 0 1; do
  p=model.layers.$l
  specs+=($p.input_layernorm.weight=8 $p.post_attention_layernorm.weight=8 $p.self_attn.kv_a_layernorm.weight=4
          $p.self_attn.q_proj.weight=8x8 $p.self_attn.kv_a_proj_with_mqa.weight=8x8 $p.self_attn.kv_b_proj.weight=8x4
          $p.self_attn.o_proj.weight=8x8 $p.mlp.gate_proj.weight=12x8 $p.mlp.up_proj.weight=12x8 $p.mlp.down_proj.weight=8x12)
done
write "$tmp/v2" '{"architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2", "hidden_size": 8,
  "num_hidden_layers": 2, "num_attention_heads": 2, "vocab_size": 16, "intermediate_size": 12,
  "n_routed_experts": 0, "moe_intermediate_size": 4, "kv_lora_rank": 4}' "${specs[@]}" || fail "write v2"
out=$("$lineage" inventory "$tmp/v2" 2>&1) || fail "v2 exit $?: $out"
grep -q "^family:   deepseek_v2  (chosen by tensor names" <<<"$out" || fail "v2 family line: $out"
grep -q "^note:     family deepseek_v2 needs 'q_lora_rank', which this config lacks; chose deepseek_v2 by tensor names" <<<"$out" \
  || fail "v2 note: $out"
grep -q "every tensor accounted for" <<<"$out" || fail "v2 not clean: $out"

# A GPT-NeoX layout (no family file): the generic decoder reading, inv_freq unclaimed.
mkdir "$tmp/neox"
specs=(gpt_neox.embed_in.weight=16x8 gpt_neox.final_layer_norm.weight=8 embed_out.weight=16x8)
for l in 0 1; do
  p=gpt_neox.layers.$l
  specs+=($p.input_layernorm.weight=8 $p.post_attention_layernorm.weight=8 $p.attention.query_key_value.weight=24x8
          $p.attention.dense.weight=8x8 $p.attention.rotary_emb.inv_freq=2 $p.mlp.dense_h_to_4h.weight=32x8
          $p.mlp.dense_4h_to_h.weight=8x32)
done
write "$tmp/neox" '{"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "hidden_size": 8}' "${specs[@]}" \
  || fail "write neox"
out=$("$lineage" inventory "$tmp/neox" 2>&1) || fail "neox exit $?: $out"
grep -q "^family:   generic_decoder  (chosen by generic decoder patterns (15 of 17 claimed))" <<<"$out" || fail "neox family: $out"
grep -q "^note:     .*no family fits .*generic decoder reading" <<<"$out" || fail "neox note: $out"
"$lineage" inventory --json "$tmp/neox" | $py -c '
import json, sys
j = json.load(sys.stdin)
assert j["generic"] and j["family"] == "generic_decoder", j["family"]
assert "generic decoder reading" in j["notes"][0], j["notes"]
assert j["unclaimed"] == ["gpt_neox.layers.0.attention.rotary_emb.inv_freq", "gpt_neox.layers.1.attention.rotary_emb.inv_freq"], j["unclaimed"]
roles = {r["role"] for r in j["roles"]}
assert {"embedding", "lm_head", "final_norm", "attn_qkv", "attn_o", "dense_mlp"} <= roles, roles' || fail "neox json"
# --strict still reports the unclaimed names (exit 3), with no other error.
"$lineage" inventory --strict "$tmp/neox" >/dev/null 2>&1; [ $? -eq 3 ] || fail "neox --strict"
echo "family fallback cli: ok"
