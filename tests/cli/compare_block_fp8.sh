#!/usr/bin/env bash
# Block-FP8 releases (METHODS §0): a model whose linear weights are stored as F8_E4M3 codes beside a
# weight_scale_inv of one factor per 128 x 128 block is compared on its values, codes times their
# factors: its statistics against a BF16 parent are those of the same model stored in BF16, within
# FP8's rounding (on the codes its spread would be hundreds of times the values'), and every other
# tensor's exactly; the run says so. Its units split into row blocks give the same store on any rank
# count and read mode, and a run that fails part-way resumes to the same store (the re-check hashes
# the codes and the factors as the pass did). An independent FP8 model stays independent.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"
guard="timeout -k 5 180"   # a hang guard, not a duration check

# Hidden 384 and experts of 384: three blocks of 128 along each side of every linear weight.
"$lineage" synth --scenario base --out "$tmp/base" --set hidden_size=384 --set moe_intermediate_size=384 \
  --set num_experts=4 --set num_hidden_layers=2 >/dev/null || fail "synth base"
"$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft" >/dev/null || fail "synth finetune"
"$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft8" --block-fp8 >/dev/null || fail "synth fp8"
"$lineage" synth --scenario independent --base "$tmp/base" --seed 99 --out "$tmp/other8" --block-fp8 >/dev/null \
  || fail "synth independent fp8"

# The release as DeepSeek-V3's is stored: F8_E4M3 codes, an F32 [ceil(d0/128), ceil(d1/128)] grid each.
$py - "$tmp/ft8" <<'EOF' || fail "the FP8 release's layout"
import glob, json, struct, sys
tensors = {}
for path in glob.glob(sys.argv[1] + "/*.safetensors"):
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    tensors.update({k: v for k, v in header.items() if k != "__metadata__"})
codes = {k: v for k, v in tensors.items() if v["dtype"] == "F8_E4M3"}
assert len(codes) > 20, len(codes)
for name, t in codes.items():
    scale = tensors[name + "_scale_inv"]
    assert scale["dtype"] == "F32" and scale["shape"] == [-(-d // 128) for d in t["shape"]], (name, t, scale)
assert any(t["dtype"] == "BF16" for t in tensors.values())  # embeddings, norms, routers stay BF16
config = json.load(open(sys.argv[1] + "/config.json"))
assert config["quantization_config"]["weight_block_size"] == [128, 128], config["quantization_config"]
EOF

$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/bf16.h5" > "$tmp/bf16.out" 2>&1 \
  || fail "the BF16 pair: $(cat "$tmp/bf16.out")"
$mpi -np 2 "$lineage" compare "$tmp/ft8" "$tmp/base" --out "$tmp/fp8.h5" > "$tmp/fp8.out" 2>&1 \
  || fail "the FP8 release against its parent: $(cat "$tmp/fp8.out")"
grep -q "block-scaled weights are compared on their values" "$tmp/fp8.out" \
  || fail "the run does not say how it read the FP8 weights: $(cat "$tmp/fp8.out")"

$py - "$tmp/fp8.h5" "$tmp/bf16.h5" "$tmp/ft8" <<'EOF' || fail "the FP8 release's statistics"
import glob, json, math, struct, sys
import h5py

def rows(path):
    f = h5py.File(path, "r")
    names = [n.decode() if isinstance(n, bytes) else n for n in f["results/stat_names"][()]]
    kind = [k.decode() for k in f["units/kind"][()]]
    ka = [k.decode() for k in f["units/key_a"][()]]
    kb = [k.decode() for k in f["units/key_b"][()]]
    tensor_a = [t.decode() for t in f["units/tensor_a"][()]]
    out = {}
    for row, uid in enumerate(f["results/unit_id"][()]):
        out[(kind[uid], ka[uid], kb[uid])] = (dict(zip(names, f["results/stats"][row])), tensor_a[uid])
    return out

dtypes = {}
for path in glob.glob(sys.argv[3] + "/*.safetensors"):
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    dtypes.update({k: v["dtype"] for k, v in header.items() if k != "__metadata__"})
fp8, bf16 = rows(sys.argv[1]), rows(sys.argv[2])
assert fp8.keys() == bf16.keys(), set(fp8) ^ set(bf16)
scaled = plain = 0
for key, (s, tensor) in fp8.items():
    r, _ = bf16[key]
    if key[0] != "same_key":
        continue
    if dtypes[tensor] == "F8_E4M3":
        scaled += 1
        # Values: the spread of the suspect's weight is its BF16 twin's within FP8's rounding
        # (3 mantissa bits: a few per cent); its codes' spread would be about 448 / max|w| times it.
        assert abs(s["std_a"] / r["std_a"] - 1) < 0.05, (key, s["std_a"], r["std_a"])
        assert abs(s["norm_a"] / r["norm_a"] - 1) < 0.05, (key, s["norm_a"], r["norm_a"])
        assert abs(s["pearson"] - r["pearson"]) < 0.02, (key, s["pearson"], r["pearson"])
        # The parent's side is the same BF16 tensor (to float rounding: the moments' shifts follow both sides).
        assert abs(s["std_b"] / r["std_b"] - 1) < 1e-6, (key, s["std_b"], r["std_b"])
    else:
        plain += 1
        for name in ("n", "cosine", "pearson", "rel_l2", "std_a", "hidden_corr"):
            x, y = float(s[name]), float(r[name])
            assert x == y or (math.isnan(x) and math.isnan(y)), (key, name, x, y)
assert scaled > 20 and plain > 5, (scaled, plain)
print("FP8 units on their values:", scaled, "; BF16 units unchanged:", plain)
EOF

verdict() {  # STORE -> the pair's overall verdict
  $py - "$1" <<'EOF'
import json, sys
import h5py
print(json.loads(h5py.File(sys.argv[1], "r")["verdict/json"][()][0])["pairs"][0]["overall"])
EOF
}
[ "$(verdict "$tmp/fp8.h5")" = "$(verdict "$tmp/bf16.h5")" ] \
  || fail "the FP8 release's verdict $(verdict "$tmp/fp8.h5") is not its BF16 twin's $(verdict "$tmp/bf16.h5")"
"$lineage" compare "$tmp/other8" "$tmp/base" --out "$tmp/other.h5" -q >/dev/null 2>&1 || fail "the independent FP8 model"
[ "$(verdict "$tmp/other.h5")" = independent ] || fail "an independent FP8 model is called $(verdict "$tmp/other.h5")"

# Byte identity of block-scaled weights is identity of their values: a copy of the release with
# one block's factor doubled has one identical tensor fewer than the plain copy (its codes are the same).
cp -r "$tmp/ft8" "$tmp/copy8" && cp -r "$tmp/ft8" "$tmp/rescaled8" || fail "copying the release"
$py - "$tmp/rescaled8" <<'EOF' || fail "rescaling a block"
import glob, json, struct, sys
for path in sorted(glob.glob(sys.argv[1] + "/*.safetensors")):
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        names = sorted(k for k in header if k.endswith("_scale_inv"))
        if not names:
            continue
        at = 8 + n + header[names[0]]["data_offsets"][0]
        f.seek(at)
        factor = struct.unpack("<f", f.read(4))[0]
        f.seek(at)
        f.write(struct.pack("<f", 2 * factor))
        break
EOF
identical() {  # STORE -> the pair's count of byte-identical tensors
  $py - "$1" <<'EOF'
import json, sys
import h5py
print(json.loads(h5py.File(sys.argv[1], "r")["verdict/json"][()][0])["pairs"][0]["byte_identity"]["identical_tensors"])
EOF
}
"$lineage" compare "$tmp/copy8" "$tmp/ft8" --out "$tmp/copy.h5" -q >/dev/null 2>&1 || fail "the copy"
"$lineage" compare "$tmp/rescaled8" "$tmp/ft8" --out "$tmp/rescaled.h5" -q >/dev/null 2>&1 || fail "the rescaled copy"
same=$(identical "$tmp/copy.h5")
rescaled=$(identical "$tmp/rescaled.h5")
[ "$same" -gt 20 ] && [ "$rescaled" -eq $((same - 1)) ] \
  || fail "byte-identical tensors: $same in the copy, $rescaled with one factor doubled (want one fewer)"

# Row blocks: the same store on 1 and 3 ranks and copied or mapped; a run failing part-way resumes to it.
blocks=65536
for run in "1 copy" "3 copy" "2 map"; do
  set -- $run
  LINEAGE_ROW_BLOCK_BYTES=$blocks $guard $mpi -np "$1" "$lineage" compare "$tmp/ft8" "$tmp/base" \
    --out "$tmp/b$1.h5" --read-units "$2" > "$tmp/b$1.out" 2>&1 || fail "split run on $1 ranks: $(cat "$tmp/b$1.out")"
  $dump "$tmp/b$1.h5" > "$tmp/b$1.txt"
done
grep -Eq "[1-9][0-9]* row blocks of split units" "$tmp/b1.out" || fail "no unit was split: $(grep computed "$tmp/b1.out")"
cmp -s "$tmp/b1.txt" "$tmp/b3.txt" || fail "3 ranks differ from 1: $(diff "$tmp/b1.txt" "$tmp/b3.txt" | head -4)"
cmp -s "$tmp/b1.txt" "$tmp/b2.txt" || fail "mapped differs from copied: $(diff "$tmp/b1.txt" "$tmp/b2.txt" | head -4)"
LINEAGE_ROW_BLOCK_BYTES=$blocks $guard $mpi -np 2 "$lineage" compare "$tmp/ft8" "$tmp/base" --out "$tmp/r.h5" -q \
  --inject-failure-at-unit 40 >/dev/null 2>&1 && fail "the injected failure did not fail the run"
out=$(LINEAGE_ROW_BLOCK_BYTES=$blocks $guard $mpi -np 2 "$lineage" compare "$tmp/ft8" "$tmp/base" --out "$tmp/r.h5" \
  --resume 2>&1) || fail "resume: $out"
grep -Eq "[1-9][0-9]* already done" <<<"$out" || fail "the resume recomputed everything: $out"
$dump "$tmp/r.h5" > "$tmp/r.txt"
cmp -s "$tmp/b1.txt" "$tmp/r.txt" || fail "the resumed store differs: $(diff "$tmp/b1.txt" "$tmp/r.txt" | head -4)"
# A store of an earlier lineage (no "block_scaled": "values" in its config: its FP8 weights were
# read on their codes) is not resumed.
$py - "$tmp/r.h5" <<'EOF' || fail "making the store look older"
import json, sys
import h5py, numpy
f = h5py.File(sys.argv[1], "r+")
config = json.loads(f["run/config_json"][()][0])
del config["block_scaled"]
text = json.dumps(config).encode()
del f["run/config_json"]
f.create_dataset("run/config_json", data=numpy.array([text], dtype="S%d" % len(text)))
EOF
out=$("$lineage" compare "$tmp/ft8" "$tmp/base" --out "$tmp/r.h5" --resume 2>&1); code=$?
[ "$code" -eq 5 ] && grep -q "earlier lineage, which read block-scaled weights on their codes" <<<"$out" \
  || fail "an older store resumed (exit $code): $out"
echo "FP8 release: values compared, split and resumed to the same store"
