#!/usr/bin/env bash
# One writer per store: a compare holds an exclusive flock on OUT.lock for its whole run; a
# second writer is refused (exit 5) naming the holder, every time, also when both start at once;
# readers (status, verdict) never see a torn store while a run writes. Also: temporary stores
# left by a killed writer are removed by the next run, and --resume keeps /plan whole.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"
guard="timeout -k 5 90"   # a hang guard, not a duration check

# Small models (195 units), so a run slowed by 60 ms per unit lasts about 6 s.
synth_small_pair
"$lineage" synth --scenario independent --base "$tmp/base" --seed 5 --out "$tmp/ind" >/dev/null || fail synth3

$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/ref.h5" -q >/dev/null 2>&1 || fail "reference run"

# 1. A run in progress (slowed down per unit) refuses a second writer with another suspect.
for trial in 1 2; do
  rm -rf "$tmp"/run.h5*
  LINEAGE_TEST_UNIT_DELAY_MS=60 $guard $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" -q \
    >"$tmp/a.out" 2>&1 &
  a=$!
  for _ in $(seq 1 400); do [ -d "$tmp/run.h5.journal" ] && break; sleep 0.025; done
  [ -d "$tmp/run.h5.journal" ] || fail "the first run never started computing: $(cat "$tmp/a.out")"
  # Readers need no lock and always see a whole store.
  for _ in 1 2 3; do "$lineage" status "$tmp/run.h5" >/dev/null 2>"$tmp/r" || fail "status during a run: $(cat "$tmp/r")"; done
  # The other writers of a store take the same lock.
  "$lineage" tokenizer "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" >/dev/null 2>"$tmp/e"
  [ $? -eq 5 ] && grep -q "another run is writing this store" "$tmp/e" || fail "tokenizer --out beside a run: $(cat "$tmp/e")"
  "$lineage" merge "$tmp/ref.h5" -o "$tmp/run.h5" --force >/dev/null 2>"$tmp/e"
  [ $? -eq 5 ] && grep -q "another run is writing this store" "$tmp/e" || fail "merge -o beside a run: $(cat "$tmp/e")"
  for resume in "" --resume; do
    $guard $mpi -np 2 "$lineage" compare "$tmp/ind" "$tmp/base" --out "$tmp/run.h5" $resume -q >/dev/null 2>"$tmp/e"
    code=$?
    [ $code -eq 5 ] || fail "trial $trial: a second writer ($resume) exited $code, expected 5: $(cat "$tmp/e")"
    grep -q "another run is writing this store (lock .*run.h5.lock held by host $(hostname) pid [0-9]*" "$tmp/e" \
      || fail "refusal does not name the holder: $(cat "$tmp/e")"
  done
  wait $a || fail "trial $trial: the lock holder failed: $(cat "$tmp/a.out")"
  grep -q "overall: derived (finetune" "$tmp/a.out" || fail "the lock holder's verdict: $(cat "$tmp/a.out")"
  echo "trial $trial: second writer refused: $(head -1 "$tmp/e")"
done
# The Slurm job id is part of the holder line.
rm -rf "$tmp"/run.h5*
SLURM_JOB_ID=4242 LINEAGE_TEST_UNIT_DELAY_MS=20 $mpi -np 1 "$lineage" compare "$tmp/ft" "$tmp/base" \
  --out "$tmp/run.h5" -q >/dev/null 2>&1 &
a=$!
for _ in $(seq 1 400); do [ -d "$tmp/run.h5.journal" ] && break; sleep 0.025; done
"$lineage" compare "$tmp/ind" "$tmp/base" --out "$tmp/run.h5" -q >/dev/null 2>"$tmp/e"
[ $? -eq 5 ] && grep -q "pid [0-9]* Slurm job 4242" "$tmp/e" || fail "holder without the Slurm job: $(cat "$tmp/e")"
wait $a || fail "Slurm-labelled run failed"

# 2. Any process holding the lock (here flock(1)) keeps compare out.
rm -rf "$tmp"/run.h5*
touch "$tmp/run.h5.lock"
flock -n "$tmp/run.h5.lock" sleep 60 &
holder=$!
sleep 0.2
$guard "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" -q >/dev/null 2>"$tmp/e"
code=$?
kill $holder 2>/dev/null; wait $holder 2>/dev/null
[ $code -eq 5 ] || fail "compare beside flock(1) exited $code: $(cat "$tmp/e")"
[ -e "$tmp/run.h5" ] && fail "the refused run wrote a store"

# 3. Two writers started at the same moment: exactly one runs, the other is refused; the store
#    holds the winner's pair (before the lock both exited 0 and one printed the other's verdict).
for trial in 1 2 3 4 5; do
  rm -rf "$tmp"/run.h5*
  $guard $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" >"$tmp/a.out" 2>&1 &
  a=$!
  $guard $mpi -np 2 "$lineage" compare "$tmp/ind" "$tmp/base" --out "$tmp/run.h5" >"$tmp/b.out" 2>&1 &
  b=$!
  wait $a; ca=$?
  wait $b; cb=$?
  if [ $ca -eq 0 ] && [ $cb -eq 5 ]; then
    winner=ft; grep -q "overall: derived (finetune" "$tmp/a.out" || fail "winner ft printed: $(cat "$tmp/a.out")"
  elif [ $cb -eq 0 ] && [ $ca -eq 5 ]; then
    winner=ind; grep -q "overall: independent" "$tmp/b.out" || fail "winner ind printed: $(cat "$tmp/b.out")"
  else
    fail "trial $trial: exits $ca and $cb (one 0 and one 5 expected): $(cat "$tmp/a.out" "$tmp/b.out")"
  fi
  "$lineage" verdict "$tmp/run.h5" > "$tmp/v" || fail "verdict"
  suspect=$($py -c "import h5py,sys; print(h5py.File(sys.argv[1])['inputs/0'].attrs['path'])" "$tmp/run.h5")
  [ "$(basename "$suspect")" = $winner ] || fail "trial $trial: store holds $suspect, the winner was $winner"
  echo "simultaneous writers, trial $trial: $winner ran, the other was refused"
done

# 4. A temporary store left by a killed writer is removed by the next run on that store.
rm -rf "$tmp"/run.h5*
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" -q --inject-failure-at-unit 4 >/dev/null 2>&1
echo junk > "$tmp/run.h5.tmp-Ab12Cd"
echo keep > "$tmp/run.h5.tmp-notmine"
# 5. ... and a resume on another rank count keeps /plan whole (it was overwritten with -1/0).
$mpi -np 3 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" --resume -q >/dev/null 2>"$tmp/e" \
  || fail "resume: $(cat "$tmp/e")"
[ -e "$tmp/run.h5.tmp-Ab12Cd" ] && fail "a stale temporary store survived the next run"
[ -e "$tmp/run.h5.tmp-notmine" ] || fail "a file that is not a temporary store was removed"
plan_check='import h5py,sys
f = h5py.File(sys.argv[1]); r = f["plan/rank_of_unit"][()]; b = f["plan/bytes_per_rank"][()]
assert len(r) == len(f["units/id"][()]) and (r >= 0).all(), r
assert b.sum() > 0 and f["plan"].attrs["ranks"] >= 1, b
print(f["plan"].attrs["ranks"], int(b.sum()))'
p1=$($py -c "$plan_check" "$tmp/run.h5") || fail "/plan after a resume: $p1"
# A resume with nothing left to compute leaves /plan as it was.
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" --resume -q >/dev/null 2>&1 || fail "resume 2"
p2=$($py -c "$plan_check" "$tmp/run.h5") || fail "/plan after an empty resume: $p2"
[ "$p1" = "$p2" ] || fail "/plan changed on a resume with nothing to do: $p1 -> $p2"
echo "compare lock: ok"
