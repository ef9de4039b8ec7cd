#!/usr/bin/env bash
# --resume re-hashes the units it takes from the journal: one byte flipped inside a tensor, at an
# offset the fingerprint's 16 sampled blocks do not cover, with the shard's size and modification
# time restored, passes every other check -- and is refused (exit 5), naming file and tensor.
# The unchanged shard resumes, before and after; a rank failing in the re-check ends the job.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"

"$lineage" synth --scenario base --out "$tmp/base" >/dev/null || fail synth
"$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft" >/dev/null || fail synth2
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" -q >/dev/null 2>&1 || fail "first run"
$dump "$tmp/run.h5" > "$tmp/ref.txt"

# The unchanged models resume (every unit from the journal, nothing recomputed, same numbers).
out=$($mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" --resume 2>&1) || fail "resume: $out"
grep -q "computed 0 units this run" <<<"$out" || fail "resume recomputed units: $out"
$dump "$tmp/run.h5" | cmp -s - "$tmp/ref.txt" || fail "statistics changed on a plain resume"

# The re-check is a phase of the failure protocol: one rank failing in it ends every rank.
LINEAGE_FAULT=recheck:1:std timeout -k 5 90 $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" \
  --resume -q >/dev/null 2>"$tmp/err"
code=$?
[ $code -eq 1 ] && grep -q "lineage: error: rank 1: .*injected fault in phase recheck" "$tmp/err" \
  || fail "fault in the re-check: exit $code: $(cat "$tmp/err")"

# A byte of a routed expert's weight in the finetune's shard, outside the sampled blocks.
pick=$($py - "$tmp/ft" <<'PY'
import json, os, struct, sys
d = sys.argv[1]
for shard in sorted(f for f in os.listdir(d) if f.endswith(".safetensors")):
    path = os.path.join(d, shard)
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    begin, size = 8 + n, os.path.getsize(path) - 8 - n
    span = max(size - 4096, 0)
    sampled = [(begin + span * k // 15, begin + span * k // 15 + 4096) for k in range(16)]
    for name, t in sorted(header.items()):
        if name == "__metadata__" or ".mlp.experts." not in name:
            continue
        lo, hi = (begin + o for o in t["data_offsets"])
        for at in range((lo + hi) // 2, hi):
            if not any(a <= at < b for a, b in sampled):
                print(path, name, at)
                sys.exit(0)
sys.exit(1)
PY
) || fail "no byte outside the sampled blocks"
read -r shard tensor at <<<"$pick"
cp -p "$shard" "$tmp/shard.orig"
flip() {
  $py - "$shard" "$at" <<'PY'
import sys
path, at = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 0x40]))
PY
  touch -r "$tmp/shard.orig" "$shard"
}
flip
[ "$(stat -c '%s %Y' "$shard")" = "$(stat -c '%s %Y' "$tmp/shard.orig")" ] || fail "size or mtime not restored"
cmp -s "$shard" "$tmp/shard.orig" && fail "the byte did not change"

for ranks in 1 2 3; do
  $mpi -np $ranks "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" --resume -q >"$tmp/out" 2>"$tmp/err"
  code=$?
  [ $code -eq 5 ] || fail "resume on $ranks rank(s) after a flipped byte: exit $code, expected 5: $(cat "$tmp/out" "$tmp/err")"
  grep -q "lineage: error: .*--resume, but $shard of .* changed since the run began: tensor '$tensor' no longer has the XXH3 hash" \
    "$tmp/err" || fail "message on $ranks rank(s) lacks file and tensor: $(cat "$tmp/err")"
done
$dump "$tmp/run.h5" | cmp -s - "$tmp/ref.txt" || fail "a refused resume changed the store"
echo "flipped byte in $tensor: resume refused (exit 5) on 1-3 ranks"

# Restored, the run resumes again.
cp -p "$tmp/shard.orig" "$shard"
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" --resume -q >/dev/null 2>"$tmp/err" \
  || fail "resume after restoring the shard: $(cat "$tmp/err")"
echo "compare resume rehash: ok"
