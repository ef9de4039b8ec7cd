#!/usr/bin/env bash
# End to end on a real (throw-away, single-node) Slurm cluster: lineage submit runs a 2-rank
# compare job; a job array of pairs with a merge job; a job cancelled mid-run and resubmitted, a
# job requeued mid-run, and a job that is signalled before its time limit — each
# ends with exactly the statistics of an uninterrupted run.
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"
cluster="$repo/slurm/local-cluster.sh"
sc=$(mktemp -d /tmp/lsc.XXXXXX)   # short: the munge socket path must stay under 108 bytes
trap '"$cluster" stop "$sc" >/dev/null 2>&1; rm -rf "$sc"; pkill -9 -f "lineage compare .*$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
eval "$("$cluster" start "$sc" 2)" || fail "cluster did not start"
export SLURM_CONF

# Start a requeued job now instead of after cred_expire. Not within the second of its requeue:
# slurmd revokes the old run's credential with a time stamp in whole seconds, and a relaunch in
# that same second is refused ("Job credential revoked": the job ends FAILED).
start_now() {
  sleep 2
  scontrol update JobId="$1" StartTime=now >/dev/null 2>&1
}
# Wait for an empty queue, starting requeued jobs early (see start_now).
drain() {
  for _ in $(seq 1 ${1:-300}); do
    q=$(squeue -h -o "%i %T %r")
    [ -z "$q" ] && return 0
    while read -r id state reason; do
      [ "$state" = PENDING ] && [ "$reason" = BeginTime ] && start_now "$id"
    done <<<"$q"
    sleep 1
  done
  fail "queue did not drain: $q"
}
# Wait until job $1 reaches a final state (requeued runs go back to PENDING and are started).
wait_job() {
  for _ in $(seq 1 ${2:-300}); do
    st=$(state_of "$1")
    case "$st" in
      JobState=COMPLETED|JobState=FAILED|JobState=CANCELLED|JobState=TIMEOUT|JobState=NODE_FAIL|JobState=OUT_OF_MEMORY)
        sleep 1; [ "$(state_of "$1")" = "$st" ] && return 0 ;;  # final only if it stays
    esac
    if scontrol show job "$1" 2>/dev/null | grep -q "JobState=PENDING Reason=BeginTime"; then
      start_now "$1"
    fi
    sleep 1
  done
  fail "job $1 did not finish: $st"
}
wait_computing() {  # store: the journal appears when ranks start computing
  for _ in $(seq 1 300); do [ -d "$1.journal" ] && [ -n "$(ls "$1.journal" 2>/dev/null)" ] && return 0; sleep 0.1; done
  fail "job never started computing ($1)"
}
state_of() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -1; }

"$lineage" synth --scenario base --out "$tmp/base" >/dev/null || fail synth
"$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft" >/dev/null || fail synth
"$lineage" synth --scenario independent --base "$tmp/base" --seed 9 --out "$tmp/ind" >/dev/null || fail synth
run() {  # name extra-yaml...: a run file comparing ft with base (baselines off: fewer, slower units)
  local f="$tmp/$1.yaml"; shift
  { printf 'suspect: ft\nparents: [base]\nout: %s.h5\nbaselines: false\nslurm:\n  tasks_per_node: 2\n  time: "00:05:00"\n' "${f%.yaml}"
    for line in "$@"; do printf '%s\n' "$line"; done; } > "$f"
  echo "$f"
}
$mpi -np 2 "$lineage" compare "$tmp/ft" "$tmp/base" --out "$tmp/ref.h5" --no-baselines -q >/dev/null 2>&1 || fail "reference"
$dump "$tmp/ref.h5" > "$tmp/ref.txt"
same_as_ref() { $dump "$1" > "$1.txt" || fail "dump $1"; cmp -s "$tmp/ref.txt" "$1.txt" || fail "$2: statistics differ from the uninterrupted run"; }

# 0. --dry-run prints the script and queues nothing.
f=$(run plain)
out=$("$lineage" submit "$f" --dry-run) || fail "dry run: $out"
grep -q "^#SBATCH --ntasks-per-node=2$" <<<"$out" && grep -q "^srun --mpi=pmix .* compare --run $f --resume" <<<"$out" || fail "dry-run script: $out"
[ -z "$(squeue -h)" ] && [ ! -e "$tmp/plain.h5.compare.sbatch" ] || fail "dry run submitted or wrote something"

# 1. A 2-rank compare job.
out=$("$lineage" submit "$f") || fail "submit: $out"
grep -q "^pre-flight: 2 models" <<<"$out" && grep -q "^submitted job [0-9]" <<<"$out" || fail "submit output: $out"
job=$(grep -o "submitted job [0-9]*" <<<"$out" | awk '{print $3}')
wait_job "$job"
[ "$(state_of "$job")" = JobState=COMPLETED ] || fail "job $job: $(state_of "$job")"
grep -q "overall: derived (finetune" "$tmp"/plain.slurm-*.out || fail "verdict in the job log"
grep -q "2 ranks" "$tmp"/plain.slurm-*.out || fail "not 2 ranks: $(cat "$tmp"/plain.slurm-*.out)"
same_as_ref "$tmp/plain.h5" "2-rank job"
"$lineage" status "$tmp/plain.h5" | grep -q "written by slurm:$job" || fail "status names the job"
echo "2-rank job: ok"

# 2. A job array of pairs (parent and control) and the merge job after it.
f=$(run array "controls: [ind]")
out=$("$lineage" submit "$f") || fail "submit array: $out"
grep -q "submitted job array [0-9]* (2 pairs)" <<<"$out" && grep -q "submitted merge job [0-9]* (after" <<<"$out" || fail "array output: $out"
drain
[ -f "$tmp/array.pair0.h5" ] && [ -f "$tmp/array.pair1.h5" ] || fail "pair stores missing"
same_as_ref "$tmp/array.pair0.h5" "array task 0"
v=$("$lineage" verdict "$tmp/array.h5") || fail "merged verdict"
grep -q "vs parent .*base" <<<"$v" && grep -q "vs control1 .*ind" <<<"$v" || fail "merged pairs: $v"
grep -A1 "vs control1" <<<"$v" | grep -q "overall: independent" || fail "control verdict: $v"
echo "job array + merge: ok"

# 3. Cancelled mid-run, then resubmitted: it resumes.
f=$(run cancel)
export LINEAGE_TEST_UNIT_DELAY_MS=40
job=$("$lineage" submit "$f" | grep -o "submitted job [0-9]*" | awk '{print $3}')
wait_computing "$tmp/cancel.h5"
sleep 1
scancel "$job"; drain
"$lineage" status "$tmp/cancel.h5" | grep -q "partial" || fail "cancelled store not partial"
out=$("$lineage" submit "$f") || fail "resubmit: $out"
grep -q "existing store of this run will be resumed" <<<"$out" || fail "resume not announced: $out"
drain
same_as_ref "$tmp/cancel.h5" "cancel + resubmit"
echo "cancel + resubmit: ok"

# 4. Requeued mid-run.
f=$(run requeue)
job=$("$lineage" submit "$f" | grep -o "submitted job [0-9]*" | awk '{print $3}')
wait_computing "$tmp/requeue.h5"
sleep 1
scontrol requeue "$job" || fail "scontrol requeue"
wait_job "$job"
scontrol show job "$job" | grep -q "Restarts=[1-9]" || fail "job was not restarted"
same_as_ref "$tmp/requeue.h5" "requeue"
echo "requeue: ok"

# 5. Time limit: 2 minutes, USR1 80 s before it; ~70 s of work. slurmctld looks at time limits
# about every 30 s and sends the signal at the first look within 30 s of its time (sbatch's
# manual allows up to 60 s early), so it comes 10-40 s into a run: the run checkpoints (exit 7)
# and the job requeues itself until the work is done. (110 s before the limit let the signal
# come in the job's first second, before the ranks had their handler, and they died of it:
# compare now installs it first, and here the signal comes after the start.) Should a loaded
# machine delay the signal past the limit, Slurm's own SIGTERM at the limit checkpoints the same
# way (state TIMEOUT); the job is then resubmitted, as a user would.
f=$(run timelimit)
sed -i 's/time: "00:05:00"/time: "00:02:00"\n  signal_seconds_before_limit: 80/' "$f"
export LINEAGE_TEST_UNIT_DELAY_MS=900
job=$("$lineage" submit "$f" | grep -o "submitted job [0-9]*" | awk '{print $3}')
wait_job "$job" 600
grep -q "stopped by signal after a clean checkpoint" "$tmp"/timelimit.slurm-*.out || fail "no checkpoint at the signal: $(cat "$tmp"/timelimit.slurm-*.out)"
if [ "$(state_of "$job")" = JobState=TIMEOUT ]; then
  echo "note: the signal came late; resubmitting after the time limit's checkpoint"
  job=$("$lineage" submit "$f" | grep -o "submitted job [0-9]*" | awk '{print $3}')
  wait_job "$job" 600
else
  scontrol show job "$job" | grep -q "Restarts=[1-9]" || fail "the job did not requeue itself"
fi
[ "$(state_of "$job")" = JobState=COMPLETED ] || fail "time-limit job: $(state_of "$job"): $(cat "$tmp"/timelimit.slurm-*.out)"
same_as_ref "$tmp/timelimit.h5" "time limit + requeue"
unset LINEAGE_TEST_UNIT_DELAY_MS
echo "time limit: ok"

# Pre-flight: a broken input is refused before anything is queued.
printf '{"hidden_size": ' > "$tmp/base/config.json.bad"
mkdir -p "$tmp/broken" && cp "$tmp/ft"/* "$tmp/broken/" && printf 'garbage' > "$tmp/broken/model.safetensors.index.json"
printf 'suspect: broken\nparents: [base]\nout: broken.h5\n' > "$tmp/broken.yaml"
err=$("$lineage" submit "$tmp/broken.yaml" 2>&1); code=$?
[ $code -eq 3 ] || fail "broken input: exit $code ($err)"
grep -q "^pre-flight: " <<<"$err" || fail "pre-flight message: $err"
[ -z "$(squeue -h)" ] || fail "something was queued"
[ ! -e "$tmp/broken.h5.compare.sbatch" ] || fail "script written for a refused run"
echo "slurm e2e: ok"
