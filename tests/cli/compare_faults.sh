#!/usr/bin/env bash
# The failure protocol of distributed phases (cluster/phase.hpp): one rank failing in any phase
# of `compare` ends the whole job within the hang guard, on 2 and 3 ranks, with the failing
# rank's message and the phase's exit code (store phases 5; elsewhere the error's own code, 1 for
# a non-lineage exception). Also: a journal that is a plain file (a hang before), and a full disk
# while writing the journal or the store (exit 5; the last good store and journal stay intact).
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"
guard="timeout -k 5 90"   # a hang guard, not a duration check

# Small models (195 units; a 31 MB store), so the 22 faulted runs and the tmpfs stay small.
synth_small_pair

expected_code() {  # phase kind
  case $1 in
    lock | preflight | journal | gather | store) echo 5 ;;
    *) [ "$2" = input ] && echo 3 || echo 1 ;;
  esac
}
i=0
for np in 2 3; do
  for phase in lock load pair preflight plan journal compute gather results verdict store; do
    rank=$((i % np)); kind=$([ $((i % 2)) -eq 0 ] && echo std || echo input); i=$((i + 1))
    rm -rf "$tmp/f.h5" "$tmp/f.h5.journal"
    LINEAGE_FAULT=$phase:$rank:$kind $guard $mpi -np $np "$lineage" compare "$tmp/ft" "$tmp/base" \
      --out "$tmp/f.h5" -q >/dev/null 2>"$tmp/e"
    code=$?
    [ $code -ne 124 ] && [ $code -ne 137 ] || fail "np $np: fault in $phase on rank $rank: hang (killed by the guard)"
    want=$(expected_code $phase $kind)
    [ $code -eq "$want" ] || fail "np $np: fault in $phase on rank $rank ($kind): exit $code, expected $want: $(cat "$tmp/e")"
    grep -q "lineage: error: rank $rank: .*injected fault in phase $phase" "$tmp/e" \
      || fail "np $np: fault in $phase: message: $(cat "$tmp/e")"
    echo "np $np: fault in $phase on rank $rank ($kind): exit $code"
  done
done

# A journal path that is a plain file: every rank ends with exit 5 (this hung before).
rm -rf "$tmp/j.h5" "$tmp/j.h5.journal"
echo "not a folder" > "$tmp/j.h5.journal"
$guard $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/j.h5" --resume -q >/dev/null 2>"$tmp/e"
code=$?
[ $code -eq 5 ] || fail "journal as a plain file: exit $code, expected 5: $(cat "$tmp/e")"
grep -q "j.h5.journal: exists but is not a folder" "$tmp/e" || fail "journal as a plain file: $(cat "$tmp/e")"

# --resume refuses a shard changed in place (same size; the sampled fingerprint may miss it).
rm -rf "$tmp"/m.h5* "$tmp/edit"
cp -r "$tmp/base" "$tmp/edit"
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/edit" --out "$tmp/m.h5" -q --inject-failure-at-unit 3 >/dev/null 2>&1
shard=$(ls "$tmp/edit"/*.safetensors | head -1)
$py -c "import sys; f = open(sys.argv[1], 'r+b'); f.seek(-12345, 2); b = f.read(1); f.seek(-12345, 2); f.write(bytes([b[0] ^ 1]))" "$shard"
$guard $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/edit" --out "$tmp/m.h5" --resume -q >/dev/null 2>"$tmp/e"
code=$?
[ $code -eq 5 ] && grep -q "$(basename "$shard") of parent.* was modified since the run began" "$tmp/e" \
  || fail "one byte flipped in a shard: exit $code: $(cat "$tmp/e")"
echo "a shard edited in place: --resume refused ($(grep -m1 "lineage: error" "$tmp/e"))"

# ---- a full disk: a small tmpfs -------------------------------------------------------------------
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/ref.h5" -q >/dev/null 2>&1 || fail "reference run"
$dump "$tmp/ref.h5" > "$tmp/ref.txt"
disk="$tmp/disk"
mkdir -p "$disk"
mount -t tmpfs -o size=128m tmpfs "$disk" || fail "cannot mount a tmpfs on $disk (the test runs as root)"
trap 'umount -l "$disk" 2>/dev/null; pkill -9 -f "lineage compare .*$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
fill() { dd if=/dev/zero of="$disk/fill" bs=64k 2>/dev/null; sync; }  # until ENOSPC
digest() { (cd "$disk" && find run.h5 run.h5.journal -type f -size +0 | sort | xargs sha256sum); }

# 1. The store write hits ENOSPC (a resume of a finished run rewrites only the store).
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$disk/run.h5" -q >/dev/null 2>&1 || fail "run on tmpfs"
digest > "$tmp/before"
fill
$guard $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$disk/run.h5" --resume -q >/dev/null 2>"$tmp/e"
code=$?
[ $code -eq 5 ] || fail "store write on a full disk: exit $code, expected 5: $(cat "$tmp/e")"
grep -q "lineage: error: .*run.h5" "$tmp/e" || fail "full disk message: $(cat "$tmp/e")"
digest | cmp -s - "$tmp/before" || fail "the last good store or journal changed on a full disk"
ls "$disk" | grep -q "run.h5.tmp-" && fail "a temporary store was left on the full disk: $(ls "$disk")"
echo "store write on a full disk: exit 5, store and journal intact ($(grep -m1 "lineage: error" "$tmp/e"))"
rm -f "$disk/fill"

# 2. The journal hits ENOSPC (a resume with units left to compute).
rm -rf "$disk"/run.h5*
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$disk/run.h5" -q --inject-failure-at-unit 3 \
  >/dev/null 2>&1
[ $? -eq 3 ] || fail "partial run with an injected failure"
digest > "$tmp/before"
fill
$guard $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$disk/run.h5" --resume -q >/dev/null 2>"$tmp/e"
code=$?
[ $code -eq 5 ] || fail "journal on a full disk: exit $code, expected 5: $(cat "$tmp/e")"
(cd "$disk" && sha256sum run.h5) | cmp -s - <(grep " run.h5$" "$tmp/before") \
  || fail "the last good store changed when the journal hit a full disk"
echo "journal on a full disk: exit 5 ($(grep -m1 "lineage: error" "$tmp/e"))"
rm -f "$disk/fill"
# Space again: the resume finishes with exactly the numbers of an uninterrupted run.
$guard $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$disk/run.h5" --resume -q >/dev/null 2>"$tmp/e" \
  || fail "resume after the disk was freed: $(cat "$tmp/e")"
$dump "$disk/run.h5" > "$tmp/run.txt"
cmp -s "$tmp/ref.txt" "$tmp/run.txt" || fail "statistics after a full disk + resume differ"
echo "compare faults: ok"
