#!/usr/bin/env bash
# Embeddings compared through the token map (docs/methods.md, "Embeddings through tokens"): a
# vocabulary extended and re-sorted, so that nearly every id moved, hides nothing (derived, kind
# vocab_extended, with its p-value in verdict --json and the store); the units do not depend on
# the rank count; a folder without tokenizer.json is said and skipped; an independent model
# with the same tokenizer stays independent although its embeddings align by a rotation.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"

"$lineage" synth --scenario base --out "$tmp/base" >/dev/null || fail "synth base"
"$lineage" synth --scenario vocab_remapped --base "$tmp/base" --out "$tmp/shifted" --seed 4 >/dev/null \
  || fail "synth vocab_remapped"
# Trained-like values (a mean direction, frequency norms) for the independent pair.
"$lineage" synth --scenario base --out "$tmp/rbase" --realistic >/dev/null || fail "synth realistic base"
"$lineage" synth --scenario independent --base "$tmp/rbase" --out "$tmp/ind" --seed 9 >/dev/null || fail "synth ind"

# The generator's ids really moved: row i is another token in the two tokenizers.
"$lineage" tokenizer "$tmp/shifted" "$tmp/base" >"$tmp/tok" || fail "tokenizer"
grep -q "reordered" "$tmp/tok" || fail "tokenizer not reordered: $(cat "$tmp/tok")"

for np in 1 3; do
  $mpi -np $np "$lineage" compare "$tmp/shifted" "$tmp/base" --out "$tmp/s$np.h5" -q >"$tmp/out$np" 2>&1 \
    || fail "compare np $np: $(cat "$tmp/out$np")"
  $dump "$tmp/s$np.h5" >"$tmp/s$np.txt" || fail "dump np $np"
done
cmp -s "$tmp/s1.txt" "$tmp/s3.txt" || fail "token-mapped results differ between 1 and 3 ranks"
mapped_units() { $py -c 'import h5py, sys; print(list(h5py.File(sys.argv[1])["units/kind"][()]).count(b"token_mapped"))' "$1"; }
[ "$(mapped_units "$tmp/s1.h5")" = 2 ] || fail "expected 2 token_mapped units (embedding, lm_head), got $(mapped_units "$tmp/s1.h5")"
grep "overall:" "$tmp/out1" | grep -qE "overall: derived \(.*vocab_extended" \
  || fail "remapped vocabulary: $(grep overall: "$tmp/out1")"
"$lineage" verdict --json "$tmp/s1.h5" | $py -c '
import json, sys
pair = json.load(sys.stdin)["pairs"][0]
assert pair["overall"] == "derived", pair["overall"]
kinds = {k["kind"]: k for k in pair["kinds"]}
# Rows paired by id would read the re-sorted rows as a permutation of the hidden basis.
assert list(kinds) == ["vocab_extended"], list(kinds)
vocab = kinds["vocab_extended"]
assert "through the token map" in vocab["evidence"] and "at other ids" in vocab["evidence"], vocab
assert vocab["p_value"] is not None and vocab["p_value"] < 1e-6, vocab
emb = [c for c in pair["components"] if c["component"] == "embeddings"][0]
assert emb["verdict"] in ("derived", "identical"), emb' || fail "verdict --json of the remapped vocabulary"
# The store keeps the token-mapped statistics as named columns.
$py - "$tmp/s1.h5" <<'PY' || fail "store columns"
import subprocess, sys
out = subprocess.run(["h5dump", "-d", "/results/stat_names", sys.argv[1]], capture_output=True, text=True).stdout
for name in ("mapped_same_id", "rotation_cosine", "rotation_null_p"):
    assert name in out, name
PY

# Without a tokenizer.json the map is skipped with a note; the run still succeeds.
cp -r "$tmp/shifted" "$tmp/notok" && rm "$tmp/notok/tokenizer.json"
out=$($mpi -np 2 "$lineage" compare "$tmp/notok" "$tmp/base" --out "$tmp/notok.h5" 2>&1) || fail "no tokenizer: $out"
grep -q "not compared through the token map: .*notok has no tokenizer.json" <<<"$out" || fail "no note: $out"
[ "$(mapped_units "$tmp/notok.h5")" = 0 ] || fail "token_mapped units without a tokenizer"
# Rows paired by id compare different tokens: the kind is read from the shapes, not the map.
grep -q "reused through the token map" <<<"$out" && fail "token-map evidence without a tokenizer: $out"

# Independent, same tokenizer: the rotation fit of their embeddings accuses nobody.
out=$($mpi -np 2 "$lineage" compare "$tmp/ind" "$tmp/rbase" --out "$tmp/ind.h5" -q 2>&1) || fail "independent: $out"
grep "overall:" <<<"$out" | grep -q "overall: independent" || fail "independent: $(grep overall: <<<"$out")"
[ "$(mapped_units "$tmp/ind.h5")" = 2 ] || fail "the independent pair has no token_mapped units"
echo ok
