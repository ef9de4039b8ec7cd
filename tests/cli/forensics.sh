#!/usr/bin/env bash
# Forensics in `verdict --json` over `lineage synth` output (docs/methods.md): byte-identical
# tensors under other names (the layers a depth up-scaled model repeats, with the layer map of
# the provenance), the outlier-coordinate fingerprint of the norm vectors (copied: matched with a
# tiny p; an independent control: at chance) and the shape-free std curves ranked against the
# control. Also in the store (/tensor_scan/json).
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"

"$lineage" synth --suite "$tmp/s" --realistic >/dev/null || fail "synth"
s="$tmp/s"
out=$($mpi -np 2 "$lineage" compare "$s/depth_upscaled" "$s/base" --control "$s/independent" \
  --out "$tmp/dus.h5" -q 2>&1) || fail "compare: $out"
"$lineage" verdict "$tmp/dus.h5" --json >"$tmp/v.json" || fail "verdict --json"

$py - "$tmp/v.json" "$s/depth_upscaled/provenance.json" "$tmp/dus.h5" <<'PY' || fail "forensics check"
import h5py, json, sys
v = json.load(open(sys.argv[1]))
source = json.load(open(sys.argv[2]))["layer_source"]
pairs = {p["other_label"]: p for p in v["pairs"]}
parent, control = pairs["parent"], pairs["control1"]

# 1. Byte identity: every repeated layer found under its other index, names listed.
b = parent["byte_identity"]
want = sorted((i, s) for i, s in enumerate(source) if i != s)
got = sorted((m["suspect_layer"], m["other_layer"]) for m in b["layer_moves"])
assert got == want, (got, want)
assert b["renamed"] > 0 and b["identical_tensors"] >= b["renamed"], b
renamed = [t for t in b["pairs"] if not t["same_name"]]
assert renamed and all(t["suspect_tensor"] != t["other_tensor"] for t in renamed)
assert b["cost"]["bytes_fraction_of_pass"] < 0.5, b["cost"]
dus = next(k for k in parent["kinds"] if k["kind"] == "depth_upscaled")
assert "byte-identical at another layer" in dus["evidence"] and 0 < dus["p_value"] < 1e-15, dus
assert control["byte_identity"]["identical_tensors"] == 0, control["byte_identity"]
assert control["overall"] == "independent", control["overall"]
print("byte identity:", b["identical_tensors"], "identical,", b["renamed"], "renamed; moves", got,
      "; cost", b["cost"]["bytes_fraction_of_pass"], "of the pass")

# 2. Outlier-coordinate fingerprint: the copied norms match, the control's do not.
o, oc = parent["outlier_fingerprint"], control["outlier_fingerprint"]
assert o["matches"] > 0 and o["p_value"] < 1e-6, (o["matches"], o["p_value"])
assert oc["p_value"] > 1e-3, (oc["matches"], oc["expected"], oc["p_value"])
assert all("layer" in x and "p_value" in x for x in o["vectors"])
# Per layer: the repeated layers' norms are the base's at other indices, the first ones in place.
layers = {x["layer"]: x for x in o["layers"]}
assert layers[0]["p_value"] < 1e-6 and layers[0]["matches"] == layers[0]["trials"], layers[0]
print("outliers: parent", o["matches"], "of", o["trials"], "p", o["p_value"], "; control", oc["matches"],
      "expected", round(oc["expected"], 2), "p", oc["p_value"])

# 3. Std curves: reported with p-values, ranked against the control, never a verdict input.
c = parent["std_curves"]
assert c["roles"] and c["points"] == len(source), c
assert c["p_controls"] is not None and "control1" in c["control_r_detrended"], c
assert c["r_detrended"] >= c["control_r_detrended"]["control1"], c
assert "p_layer_shuffle" in c and "supporting only" in c["support"]
print("std curves: r", c["r"], "detrended", c["r_detrended"], "control", c["control_r_detrended"],
      "p_controls", c["p_controls"], "p_shuffle", c["p_layer_shuffle"])

# The store keeps the scan: every model's tensors and the identical pairs.
scan = json.loads(h5py.File(sys.argv[3], "r")["tensor_scan/json"][()][0])
assert len(scan["models"]) == 3 and all(m["tensors"] for m in scan["models"])
assert len(scan["pairs"][0]["identical"]) == b["identical_tensors"]
PY
echo "forensics: ok"
