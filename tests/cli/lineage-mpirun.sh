#!/usr/bin/env bash
# lineage-mpirun, the launcher built and installed beside lineage (cluster/lineage-mpirun):
# - SIGTERM to it during a 2-rank compare: every rank checkpoints, exit 7 (bare mpirun exits 1),
#   no rank outlives it, and --resume finishes with statistics identical to an uninterrupted run;
# - a Ctrl-C (SIGINT to its whole process group) does the same: mpirun, in a group of its own,
#   hears only the SIGUSR1 the launcher sends;
# - a SIGKILLed launcher leaves neither mpirun nor a rank running;
# - `submit --launcher mpirun` writes it, not bare mpirun, into the sbatch script.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"
launcher=$(dirname "$lineage")/lineage-mpirun
guard="timeout -k 5 90"   # a hang guard, not a duration check
[ -x "$launcher" ] || fail "no executable lineage-mpirun beside $lineage"

"$lineage" synth --scenario base --out "$tmp/base" >/dev/null || fail synth
"$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft" >/dev/null || fail synth2
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/ref.h5" -q >/dev/null 2>&1 || fail "reference run"
$dump "$tmp/ref.h5" > "$tmp/ref.txt"
alive() { pgrep -f "lineage compare $tmp/ft $tmp/base --out $tmp/run.h5" >/dev/null; }
mpirun_alive() { pgrep -f "^mpirun --oversubscribe -np 2 $lineage compare $tmp/ft" >/dev/null; }
wait_started() { for _ in $(seq 1 400); do [ -d "$tmp/run.h5.journal" ] && break; sleep 0.025; done; }

# start: the launcher in a session of its own (so its process group is its pid), mid-run. A
# background command of a script starts with SIGINT ignored, which a shell cannot trap: the
# session is made, and SIGINT restored, as a terminal's foreground job would have it.
start() {
  rm -rf "$tmp"/run.h5*
  LINEAGE_TEST_UNIT_DELAY_MS=50 $py -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL); os.setsid(); os.execv(sys.argv[1], sys.argv[1:])' \
    "$launcher" --oversubscribe -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" \
    >"$tmp/launch.out" 2>&1 &
  pid=$!
  wait_started
  sleep 0.3
}

for how in TERM INT-group; do
  start
  if [ $how = TERM ]; then kill -TERM "$pid"; else kill -INT -- -"$pid"; fi
  $guard tail --pid="$pid" -f /dev/null || fail "$how: the launcher did not end"
  wait "$pid"; code=$?
  [ $code -eq 7 ] || fail "$how to lineage-mpirun: exit $code, expected 7: $(cat "$tmp/launch.out")"
  grep -q "rerun with --resume" "$tmp/launch.out" || fail "$how: no resume hint: $(cat "$tmp/launch.out")"
  $dump "$tmp/run.h5" | head -1 | grep -q "status partial" || fail "$how: the store is not partial"
  for _ in $(seq 1 100); do alive || break; sleep 0.05; done
  alive && fail "$how: ranks outlived the launcher"
  out=$($guard $mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/run.h5" --resume 2>&1) \
    || fail "resume after $how: $out"
  grep -q "[1-9][0-9]* already done" <<<"$out" || fail "$how: the resume found no finished unit: $out"
  $dump "$tmp/run.h5" > "$tmp/run.txt"
  cmp -s "$tmp/ref.txt" "$tmp/run.txt" || fail "statistics after $how + resume differ from the uninterrupted run"
  echo "$how to lineage-mpirun: exit 7; resume identical"
done

# SIGKILL of the launcher: mpirun dies with it (parent-death signal), the ranks with mpirun.
start
kill -9 "$pid"; wait "$pid" 2>/dev/null
for _ in $(seq 1 100); do alive || mpirun_alive || break; sleep 0.05; done
mpirun_alive && fail "mpirun outlived a SIGKILLed lineage-mpirun"
alive && fail "ranks outlived a SIGKILLed lineage-mpirun"
echo "SIGKILL of lineage-mpirun: nothing left running"

# The sbatch script starts the ranks through it.
printf 'suspect: %s\nparents: [%s]\nout: %s\nslurm:\n  tasks_per_node: 2\n' "$tmp/ft" "$tmp/base" "$tmp/job.h5" \
  > "$tmp/run.yaml"
out=$("$lineage" submit "$tmp/run.yaml" --dry-run --launcher mpirun) || fail "submit --dry-run: $out"
grep -q "^$launcher --allow-run-as-root $lineage compare --run $tmp/run.yaml --resume" <<<"$out" \
  || fail "the sbatch script does not start lineage-mpirun: $out"
grep -q "^mpirun" <<<"$out" && fail "the sbatch script starts bare mpirun: $out"
echo "mpirun launcher: ok"
