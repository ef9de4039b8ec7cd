#!/usr/bin/env bash
# Kills and signals (the short form of scripts/kill-loop.sh, which takes more points):
# - one rank, or the whole job, SIGKILLed at 6 seeded random points; each --resume (on 1-3 ranks)
#   gives statistics bit-identical to an uninterrupted run;
# - a SIGKILLed mpirun leaves no rank behind, and no rank goes on to finish the store;
# - SIGTERM to mpirun: the ranks checkpoint and a resume completes the run (exit 7 through
#   lineage-mpirun, the launcher beside the binary; mpirun alone exits 1, Open MPI's own code;
#   tests/cli/lineage-mpirun.sh tests the launcher further);
# - a shard truncated during a run is one clear input error (exit 3), never a silent SIGBUS.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"
guard="timeout -k 5 90"   # a hang guard, not a duration check

bash "$repo/scripts/kill-loop.sh" 6 13 "$lineage" || fail "kill loop (replay with the line above)"

"$lineage" synth --scenario base --out "$tmp/base" --set hidden_size=384 --set moe_intermediate_size=384 \
  --set num_experts=16 --set num_hidden_layers=6 >/dev/null || fail synth
"$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft" >/dev/null || fail synth2
alive() { pgrep -f "lineage compare $tmp/ft $tmp/base --out $tmp/run.h5" >/dev/null; }
wait_started() { for _ in $(seq 1 400); do [ -d "$tmp/run.h5.journal" ] && break; sleep 0.025; done; }

# SIGKILL of mpirun alone (not its process group): its ranks die with it.
rm -rf "$tmp"/run.h5*
LINEAGE_TEST_UNIT_DELAY_MS=50 $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" -q \
  >/dev/null 2>&1 &
pid=$!
wait_started
kill -9 "$pid"; wait "$pid" 2>/dev/null
for _ in $(seq 1 100); do alive || break; sleep 0.05; done
alive && fail "ranks outlived a SIGKILLed mpirun: $(pgrep -af "lineage compare $tmp")"
$dump "$tmp/run.h5" | head -1 | grep -q "status partial" || fail "the store was finished after mpirun was killed"
$guard $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" --resume -q >/dev/null 2>"$tmp/e" \
  || fail "resume after a SIGKILLed mpirun: $(cat "$tmp/e")"
echo "SIGKILL of mpirun: no rank survived; resume completed"

# SIGTERM to mpirun: Open MPI kills the ranks and exits 1 whatever they do (its own code), but the
# ranks checkpoint first and a resume finishes with the full run; through
# lineage-mpirun (SIGTERM becomes the SIGUSR1 mpirun forwards) the job exits 7.
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/ref.h5" -q >/dev/null 2>&1 || fail "reference run"
$dump "$tmp/ref.h5" > "$tmp/ref.txt"
for how in mpirun wrapper; do
  rm -rf "$tmp"/run.h5*
  launcher=$mpi
  [ $how = wrapper ] && launcher="$(dirname "$lineage")/lineage-mpirun --oversubscribe"
  LINEAGE_TEST_UNIT_DELAY_MS=50 $launcher -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" \
    >"$tmp/term.out" 2>&1 &
  pid=$!
  wait_started
  sleep 0.3
  kill -TERM "$pid"
  $guard tail --pid="$pid" -f /dev/null || fail "SIGTERM ($how): the job did not end"
  wait "$pid"; code=$?
  if [ $how = wrapper ]; then
    [ $code -eq 7 ] || fail "SIGTERM through lineage-mpirun: exit $code, expected 7: $(cat "$tmp/term.out")"
  else
    [ $code -ne 0 ] || fail "SIGTERM to mpirun: exit 0"
  fi
  for _ in $(seq 1 100); do alive || break; sleep 0.05; done
  alive && fail "SIGTERM ($how): ranks outlived the job"
  $guard $mpi -np 3 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" --resume -q >/dev/null 2>"$tmp/e" \
    || fail "resume after SIGTERM ($how): $(cat "$tmp/e")"
  $dump "$tmp/run.h5" > "$tmp/run.txt"
  cmp -s "$tmp/ref.txt" "$tmp/run.txt" || fail "statistics after SIGTERM ($how) + resume differ"
  echo "SIGTERM to $how: exit $code; resume identical"
done

# A shard cut short while the ranks read it: exit 3 with the file named, and the job ends.
rm -rf "$tmp"/run.h5* "$tmp/cut"
cp -r "$tmp/base" "$tmp/cut"
shard=$(ls "$tmp/cut"/*.safetensors | head -1)
LINEAGE_TEST_UNIT_DELAY_MS=50 $guard $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/cut" --out "$tmp/run.h5" -q \
  >/dev/null 2>"$tmp/e" &
pid=$!
for _ in $(seq 1 400); do [ -d "$tmp/run.h5.journal" ] && break; sleep 0.025; done
truncate -s $(($(stat -c %s "$shard") / 3)) "$shard"
wait "$pid"; code=$?
[ $code -eq 3 ] || fail "a shard truncated during the run: exit $code, expected 3: $(cat "$tmp/e")"
# Which check sees it depends on when the cut lands: a shard opened later fails its header check
# ("run past the end of the file"), one already mapped the length check before each read
# ("shrank"), and a cut between that check and the read the SIGBUS guard ("truncated").
grep -q "lineage: error: rank [0-9]: .*$(basename "$shard").*\(shrank\|truncated\|changed\|run past the end\)" "$tmp/e" \
  || fail "truncated shard message: $(cat "$tmp/e")"
echo "shard truncated during the run: exit 3 ($(grep -m1 "lineage: error" "$tmp/e"))"
# Its header now points past its end: a resume refuses it as bad input.
$guard $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/cut" --out "$tmp/run.h5" --resume -q >/dev/null 2>"$tmp/e"
[ $? -eq 3 ] && grep -q "run past the end of the file" "$tmp/e" || fail "resume on a cut shard: $(cat "$tmp/e")"
# A FIFO named as a shard is refused, never waited on.
rm -rf "$tmp/fifo" && cp -r "$tmp/base" "$tmp/fifo"
shard=$(ls "$tmp/fifo"/*.safetensors | head -1)
rm "$shard" && mkfifo "$shard"
$guard "$lineage" compare "$tmp/ft" "$tmp/fifo" --out "$tmp/fifo.h5" -q >/dev/null 2>"$tmp/e"
code=$?
[ $code -eq 3 ] && grep -q "not a regular file" "$tmp/e" || fail "FIFO shard: exit $code: $(cat "$tmp/e")"
echo "compare kills: ok"
