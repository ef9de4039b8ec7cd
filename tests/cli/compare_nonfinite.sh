#!/usr/bin/env bash
# Non-finite values are evidence: the parent with half its values set to NaN, or with one
# routed expert set to +Inf, is never "identical" to the parent (it was, before), and the
# counts reach verdict and --json.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"

"$lineage" synth --scenario base --out "$tmp/base" >/dev/null || fail "synth"
# Rewrites BF16 values of a copy of the base in place: NaN (0x7FC0) at every other element of
# every tensor, or +Inf (0x7F80) over every tensor of routed expert 1 of layer 0.
poison() {  # mode dir
  cp -r "$tmp/base" "$tmp/$2"
  $py - "$1" "$tmp/$2" <<'PY'
import json, struct, sys, glob, os
mode, folder = sys.argv[1], sys.argv[2]
for shard in glob.glob(os.path.join(folder, "*.safetensors")):
    with open(shard, "r+b") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        for name, t in header.items():
            if name == "__metadata__" or t["dtype"] != "BF16":
                continue
            begin, end = t["data_offsets"]
            if mode == "half_nan":
                word, step = b"\xc0\x7f", 4  # every other 2-byte element
            elif ".layers.0.mlp.experts.1." in name:
                word, step = b"\x80\x7f", 2
            else:
                continue
            data = bytearray(end - begin)
            f.seek(base + begin)
            data[:] = f.read(end - begin)
            for i in range(0, len(data), step):
                data[i:i + 2] = word
            f.seek(base + begin)
            f.write(data)
PY
}
poison half_nan half_nan || fail "poison half_nan"
poison inf_expert inf_expert || fail "poison inf_expert"

for name in half_nan inf_expert; do
  out=$($mpi -np 2 "$lineage" compare "$tmp/$name" "$tmp/base" --out "$tmp/$name.h5" -q 2>&1) || fail "$name: $out"
  line=$(grep "overall:" <<<"$out")
  echo "$name: $line"
  grep -q "overall: identical" <<<"$line" && fail "$name called identical: $line"
  grep -q "non-finite values: [1-9]" <<<"$out" || fail "$name: no non-finite line in the table: $out"
done
grep -q "overall: inconclusive.*too few finite values" <<<"$($lineage verdict "$tmp/half_nan.h5")" \
  || fail "half_nan: expected inconclusive for too few finite values"
"$lineage" verdict --json "$tmp/inf_expert.h5" | $py -c '
import json, sys
p = json.load(sys.stdin)["pairs"][0]
assert p["overall"] == "derived" and "nonfinite_modified" in p["kind"], (p["overall"], p["kind"], p["reason"])
nf = p["nonfinite"]
assert nf["suspect"] > 0 and nf["other"] == 0 and nf["mismatch"] == nf["suspect"], nf
experts = [c for c in p["components"] if c["component"] == "routed_experts"][0]
assert experts["nonfinite"]["suspect"] == nf["suspect"], experts["nonfinite"]
others = [c for c in p["components"] if c["component"] != "routed_experts"]
assert all(c["nonfinite"]["suspect"] == 0 for c in others), others' || fail "inf_expert JSON"
# Per unit: the store carries the counts per side.
$py - "$tmp/inf_expert.h5" <<'PY' || fail "per-unit counts in the store"
import h5py, sys
with h5py.File(sys.argv[1], "r") as f:
    names = [n.decode() if isinstance(n, bytes) else n for n in f["results/stat_names"][()]]
    stats = f["results/stats"][()]
    a, m = names.index("nonfinite_a"), names.index("nonfinite_mismatch")
    # Routed expert 1 of layer 0 has 3 projections of +Inf; within-model units see them too.
    assert stats[:, a].sum() > 0 and stats[:, m].sum() > 0, (stats[:, a].sum(), stats[:, m].sum())
PY
echo "PASS"
