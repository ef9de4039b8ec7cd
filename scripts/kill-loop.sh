#!/usr/bin/env bash
# Kill loop: a compare is SIGKILLed at random points, either one rank or the whole job (mpirun
# and its ranks), then resumed with --resume on a random rank count; every resume must give
# statistics bit-identical to an uninterrupted run, and no rank may outlive its job. The points
# come from a seeded generator, so a failing point can be replayed: the failure line prints the
# command (timing itself is the machine's, so a replay repeats the point's choices and delays).
# Usage: scripts/kill-loop.sh [POINTS [SEED [LINEAGE_BINARY]]]   (defaults 20, 1, build/lineage)
#        KILL_LOOP_ONLY=I scripts/kill-loop.sh POINTS SEED   runs point I only
# About 4 s per point on 2 cores. tests/cli/compare_kill_loop.sh runs a short loop in the suite.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
points=${1:-20}
seed=${2:-1}
lineage=${3:-$root/build/lineage}
only=${KILL_LOOP_ONLY:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi="mpirun --oversubscribe"
py=/usr/bin/python3
dump="$py $root/tests/cli/compare_dump.py"
guard="timeout -k 5 120"   # hang guard
work=$(mktemp -d)
trap 'pkill -9 -f "lineage compare .*$work" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; echo "replay: KILL_LOOP_ONLY=${i:-} $0 $points $seed $lineage"; exit 1; }

# Small models (195 units) slowed by 4 ms per unit (a testing aid that changes no number): about
# half a second of computing on 2 ranks, so most of a point's time is mpirun's own start-up.
"$lineage" synth --scenario base --out "$work/base" --set num_experts=4 --set num_hidden_layers=2 >/dev/null \
  || fail synth
"$lineage" synth --scenario finetune --base "$work/base" --out "$work/ft" >/dev/null || fail synth2
$mpi -np 2 "$lineage" compare "$work/ft" "$work/base" --out "$work/ref.h5" -q >/dev/null 2>&1 || fail "reference run"
$dump "$work/ref.h5" > "$work/ref.txt"
total=$(head -1 "$work/ref.txt" | awk '{print $4}')

alive() { pgrep -f "lineage compare $work/ft $work/base --out $work/run.h5" >/dev/null; }
RANDOM=$seed
kept_some=0
for i in $(seq 1 "$points"); do
  # Every point draws the same numbers whether it runs or not (replays stay aligned).
  np=$((2 + RANDOM % 2))
  target=$([ $((i % 2)) -eq 1 ] && echo rank || echo job)
  anchor=$([ $((RANDOM % 4)) -eq 0 ] && echo start || echo compute)
  delay_ms=$((RANDOM % 600))
  victim=$((RANDOM % np))
  resume_np=$((1 + RANDOM % 3))
  [ -n "$only" ] && [ "$only" != "$i" ] && continue
  rm -rf "$work"/run.h5*
  LINEAGE_TEST_UNIT_DELAY_MS=4 setsid $mpi -np $np "$lineage" compare "$work/ft" "$work/base" --out "$work/run.h5" -q >/dev/null 2>&1 &
  pid=$!
  disown "$pid" 2>/dev/null  # no "Killed" job notices from the shell; waited for with tail --pid
  if [ $anchor = compute ]; then
    for _ in $(seq 1 400); do [ -d "$work/run.h5.journal" ] && break; sleep 0.025; done
  fi
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if [ $target = job ]; then
    kill -9 -- -"$pid" 2>/dev/null
  else
    # The victim rank once mpirun has started them all (a kill "at start" may come before that).
    ranks=()
    for _ in $(seq 1 400); do
      ranks=($(pgrep -P "$pid" -f "lineage compare" | sort -n))
      [ ${#ranks[@]} -ge $np ] && break
      sleep 0.01
    done
    [ ${#ranks[@]} -gt 0 ] && kill -9 "${ranks[$((victim % ${#ranks[@]}))]}" 2>/dev/null
  fi
  $guard tail --pid="$pid" -f /dev/null || fail "point $i: mpirun did not end after the kill"
  for _ in $(seq 1 200); do alive || break; sleep 0.05; done
  alive && fail "point $i: ranks outlived the killed job: $(pgrep -af "lineage compare $work")"
  if [ -e "$work/run.h5" ]; then $dump "$work/run.h5" >/dev/null || fail "point $i: corrupt store after the kill"; fi
  out=$($guard $mpi -np $resume_np "$lineage" compare "$work/ft" "$work/base" --out "$work/run.h5" --resume 2>&1) \
    || fail "point $i: resume on $resume_np ranks: $out"
  computed=$(grep -o "computed [0-9]* units this run" <<<"$out" | awk '{print $2}')
  already=$(grep -o "[0-9]* already done" <<<"$out" | awk '{print $1}')
  [ $((computed + already)) -eq "$total" ] || fail "point $i: computed $computed + already $already != $total"
  [ "$already" -gt 0 ] && kept_some=1
  ls "$work" | grep -q "run.h5.tmp-" && fail "point $i: a temporary store survived the resume"
  $dump "$work/run.h5" > "$work/run.txt"
  cmp -s "$work/ref.txt" "$work/run.txt" || fail "point $i: statistics after the resume differ from the uninterrupted run"
  echo "point $i: np $np, killed $target$([ $target = rank ] && echo " $victim") at $anchor+${delay_ms}ms:" \
    "$already units kept, $computed recomputed on $resume_np ranks: identical"
done
[ -n "$only" ] || [ $kept_some -eq 1 ] || fail "no kill left finished units behind (runs too fast for the delays?)"
echo "kill loop: $points points (seed $seed): ok"
