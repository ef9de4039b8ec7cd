#!/usr/bin/env bash
# `lineage synth`: the suite writes every scenario with provenance; same seed -> identical bytes;
# bad input gives the documented exit codes.
set -euo pipefail
LINEAGE="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$LINEAGE" synth --suite "$tmp/a" --style qwen3_moe --seed 5 >/dev/null
"$LINEAGE" synth --suite "$tmp/b" --style qwen3_moe --seed 5 >/dev/null
for name in base dense_parent identical finetune continued_pretrain permuted upcycled \
            expert_pruned depth_upscaled vocab_extended partial_reuse independent; do
  for f in config.json model.safetensors.index.json tokenizer.json tokenizer_config.json \
           provenance.json model-00001-of-0000*.safetensors; do
    ls "$tmp/a/$name"/$f >/dev/null || { echo "missing $name/$f"; exit 1; }
  done
  grep -q '"scenario"' "$tmp/a/$name/provenance.json" || { echo "no scenario in $name"; exit 1; }
done
diff -r "$tmp/a" "$tmp/b" >/dev/null || { echo "same seed gave different files"; exit 1; }
grep -q '"parent": "base"' "$tmp/a/finetune/provenance.json" || { echo "finetune parent"; exit 1; }

# A single scenario against an existing base folder records that folder as parent.
"$LINEAGE" synth --scenario finetune --base "$tmp/a/base" --out "$tmp/ft" --seed 9 >/dev/null
grep -q '"parent": "base"' "$tmp/ft/provenance.json" || { echo "--base parent"; exit 1; }
grep -q '"seed": 9' "$tmp/ft/provenance.json" || { echo "--seed not recorded"; exit 1; }

# The model folder is replaced atomically and no temporary folder is left behind.
"$LINEAGE" synth --scenario base --out "$tmp/ft" --seed 3 >/dev/null
grep -q '"scenario": "base"' "$tmp/ft/provenance.json" || { echo "not replaced"; exit 1; }
if ls -a "$tmp" | grep -q '\.tmp-'; then echo "temporary folder left"; exit 1; fi

# --realistic: trained-like values, recorded in every provenance.json; deterministic; a single
# scenario against a realistic base folder inherits it; --realistic on an i.i.d. base is refused.
"$LINEAGE" synth --suite "$tmp/r1" --style qwen3_moe --seed 5 --realistic >/dev/null
"$LINEAGE" synth --suite "$tmp/r2" --style qwen3_moe --seed 5 --realistic >/dev/null
diff -r "$tmp/r1" "$tmp/r2" >/dev/null || { echo "realistic: same seed gave different files"; exit 1; }
for name in base dense_parent identical finetune permuted upcycled independent; do
  grep -q '"values": "realistic"' "$tmp/r1/$name/provenance.json" || { echo "realistic $name"; exit 1; }
done
grep -q '"outlier_dims"' "$tmp/r1/base/provenance.json" || { echo "no structure in base"; exit 1; }
cmp -s "$tmp/a/base/model-00001-of-00002.safetensors" "$tmp/r1/base/model-00001-of-00002.safetensors" \
  && { echo "--realistic did not change the values"; exit 1; }
if grep -q '"values"' "$tmp/a/base/provenance.json"; then echo "i.i.d. provenance changed"; exit 1; fi
"$LINEAGE" synth --scenario independent --base "$tmp/r1/base" --out "$tmp/rind" --seed 9 >/dev/null
grep -q '"values": "realistic"' "$tmp/rind/provenance.json" || { echo "--base realistic not inherited"; exit 1; }

set +e
"$LINEAGE" synth --scenario finetune --base "$tmp/a/base" --out "$tmp/x" --realistic >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || { echo "--realistic on an i.i.d. base: exit $rc, want 2"; exit 1; }
"$LINEAGE" synth --scenario nonsense --out "$tmp/x" >/dev/null 2>&1; rc=$?
[ "$rc" -eq 4 ] || { echo "unknown scenario: exit $rc, want 4"; exit 1; }
"$LINEAGE" synth --out "$tmp/x" >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || { echo "missing --scenario: exit $rc, want 2"; exit 1; }
"$LINEAGE" synth --scenario base --out "$tmp/x" --style nope >/dev/null 2>&1; rc=$?
[ "$rc" -eq 4 ] || { echo "unknown style: exit $rc, want 4"; exit 1; }
[ ! -e "$tmp/x" ] || { echo "failed run left output"; exit 1; }
echo ok
