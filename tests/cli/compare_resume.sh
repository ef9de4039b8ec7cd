#!/usr/bin/env bash
# Kill/resume: a compare killed with SIGKILL at several moments and rerun with --resume recomputes
# only unfinished units and ends with exactly the statistics of an uninterrupted run; the store
# is never corrupt. SIGUSR1 (Slurm's --signal) checkpoints cleanly and exits 7, and a resume on
# another rank count finishes the run with the same numbers.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"

# Big enough that a run takes about a second (16 experts x 6 layers, hidden 384).
"$lineage" synth --scenario base --out "$tmp/base" --set hidden_size=384 --set moe_intermediate_size=384 \
  --set num_experts=16 --set num_hidden_layers=6 >/dev/null || fail synth
"$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft" >/dev/null || fail synth2

$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/ref.h5" -q >/dev/null 2>&1 || fail "reference run"
$dump "$tmp/ref.h5" > "$tmp/ref.txt"
total=$(head -1 "$tmp/ref.txt" | awk '{print $4}')

partial_seen=0
# Kill points: one during start-up (before the store exists), the others measured from the
# moment computing begins (the journal folder appears), so a slow machine still kills mid-run.
for point in start:0.05 run:0 run:0.3 run:0.6; do
  phase=${point%%:*}; delay=${point##*:}
  rm -rf "$tmp/run.h5" "$tmp/run.h5.journal"
  setsid $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" -q >/dev/null 2>&1 &
  pid=$!
  if [ "$phase" = run ]; then
    for _ in $(seq 1 400); do [ -d "$tmp/run.h5.journal" ] && break; sleep 0.025; done
  fi
  sleep "$delay"
  kill -9 -- -"$pid" 2>/dev/null   # the whole process group: mpirun and both ranks
  wait "$pid" 2>/dev/null
  pkill -9 -f "lineage compare $tmp/ft" 2>/dev/null
  # The store is either absent (killed before creating it) or a readable store.
  if [ -e "$tmp/run.h5" ]; then $dump "$tmp/run.h5" > /dev/null || fail "corrupt store after kill at $point"; fi
  ls "$tmp" | grep -q "run.h5.tmp" && rm -f "$tmp"/run.h5.tmp-*   # an interrupted store write
  resume=--resume
  out=$($mpi -np 3 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" $resume 2>&1) || fail "resume after kill at $point: $out"
  computed=$(grep -o "computed [0-9]* units this run" <<<"$out" | awk '{print $2}')
  already=$(grep -o "[0-9]* already done" <<<"$out" | awk '{print $1}')
  [ $((computed + already)) -eq "$total" ] || fail "computed $computed + already $already != $total"
  [ "$already" -gt 0 ] && partial_seen=1
  $dump "$tmp/run.h5" > "$tmp/run.txt"
  cmp -s "$tmp/ref.txt" "$tmp/run.txt" || fail "statistics after kill at $point differ from the uninterrupted run"
  echo "killed at $point s: $already units kept, $computed recomputed"
done
[ $partial_seen -eq 1 ] || fail "no kill point left finished units behind (test too fast?)"

# SIGUSR1 checkpoints and exits 7; the journal keeps the finished units.
rm -rf "$tmp/run.h5" "$tmp/run.h5.journal"
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" > "$tmp/usr1.out" 2>&1 &
pid=$!
# Signal once computing has begun (the journal folder appears right before the compute loop).
for _ in $(seq 1 200); do [ -d "$tmp/run.h5.journal" ] && break; sleep 0.05; done
kill -USR1 "$pid"   # mpirun forwards SIGUSR1 to the ranks
wait "$pid"; code=$?
[ $code -eq 7 ] || fail "SIGUSR1 run exited $code, expected 7: $(cat "$tmp/usr1.out")"
grep -q "rerun with --resume" "$tmp/usr1.out" || fail "no resume hint: $(cat "$tmp/usr1.out")"
$dump "$tmp/run.h5" > "$tmp/usr1.txt"; head -1 "$tmp/usr1.txt" | grep -q "status partial" || fail "store after USR1 is not partial"
$mpi -np 1 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" --resume -q >/dev/null 2>&1 || fail "resume after USR1"
$dump "$tmp/run.h5" > "$tmp/run.txt"
cmp -s "$tmp/ref.txt" "$tmp/run.txt" || fail "statistics after USR1 + resume differ"
# SIGTERM straight to a rank (what Slurm sends at the time limit) checkpoints the same way.
rm -rf "$tmp/run.h5" "$tmp/run.h5.journal"
"$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" -q > "$tmp/term.out" 2>&1 &
pid=$!
for _ in $(seq 1 400); do [ -d "$tmp/run.h5.journal" ] && break; sleep 0.025; done
kill -TERM "$pid"
wait "$pid"; code=$?
[ $code -eq 7 ] || fail "SIGTERM run exited $code, expected 7: $(cat "$tmp/term.out")"
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" --resume -q >/dev/null 2>&1 || fail "resume after TERM"
$dump "$tmp/run.h5" > "$tmp/run.txt"
cmp -s "$tmp/ref.txt" "$tmp/run.txt" || fail "statistics after TERM + resume differ"
echo "compare resume: ok"
