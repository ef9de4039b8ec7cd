#!/usr/bin/env bash
# Accuracy scoreboard: runs `lineage compare` + `lineage verdict` on every labelled pair of a
# folder (labels.yaml: key_pairs and all_other_pairs, as in shared/data/trained) and prints the
# verdicts against the ground truth: a table per pair, a confusion matrix, the false accusations,
# the missed derivations and the accuracy; the same goes to docs/accuracy.md (or --out).
# A long evaluation: never part of the test suite.
#
#   scripts/accuracy.sh DIR [--ranks N] [--out FILE] [--lineage PATH] [--jobs J]
#                           [--timeout SECONDS] [--key-only] [--keep]
#
# Exit codes: 0 it ran (whatever the verdicts), 2 usage, 3 malformed folder (labels.yaml missing
# or malformed, a labelled model folder missing), 4 lineage or mpirun not found.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command_line="$0$(printf ' %q' "$@")"

usage() {  # [exit code]
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

dir="" ranks=2 out="$root/docs/accuracy.md" lineage="$root/build/lineage" jobs=1 keep=0 timeout_s=0 key_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) [ $# -ge 2 ] || usage; ranks=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --lineage) [ $# -ge 2 ] || usage; lineage=$2; shift 2 ;;
    --jobs) [ $# -ge 2 ] || usage; jobs=$2; shift 2 ;;
    --timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
    --key-only) key_only=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "accuracy: error: unknown option $1" >&2; usage ;;
    *) [ -z "$dir" ] || { echo "accuracy: error: one folder only ($dir, $1)" >&2; usage; }; dir=$1; shift ;;
  esac
done
[ -n "$dir" ] || usage
for n in "$ranks" "$jobs"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "accuracy: error: --ranks and --jobs take a positive integer" >&2; exit 2; }
done
[[ "$timeout_s" =~ ^[0-9]+$ ]] || { echo "accuracy: error: --timeout takes seconds" >&2; exit 2; }
[ -d "$dir" ] || { echo "accuracy: error: $dir: no such folder" >&2; exit 3; }
dir=$(cd "$dir" && pwd)

python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
helper="$root/scripts/accuracy.py"

# The labelled pairs (validates labels.yaml and the model folders: exit 3 when malformed).
pairs=$("$python" "$helper" pairs "$dir") || exit $?
if [ "$key_only" = 1 ]; then
  pairs=$(printf '%s\n' "$pairs" | awk -F'\t' '$3 == "key_pairs"')
  [ -n "$pairs" ] || { echo "accuracy: error: $dir/labels.yaml has no key_pairs" >&2; exit 3; }
fi
npairs=$(printf '%s\n' "$pairs" | wc -l)

[ -x "$lineage" ] || { echo "accuracy: error: lineage binary $lineage not found (build it, or pass --lineage PATH)" >&2; exit 4; }
command -v mpirun >/dev/null || { echo "accuracy: error: mpirun not found (scripts/install-deps.sh)" >&2; exit 4; }

work=$(mktemp -d "${TMPDIR:-/tmp}/lineage-accuracy.XXXXXX")
set -m  # each pair runs in its own process group: an interrupted run stops its mpirun jobs too
cleanup() {
  local pids
  pids=$(jobs -pr)
  [ -z "$pids" ] || echo "accuracy: interrupted: stopping the running pairs" >&2
  [ "$keep" = 0 ] || echo "accuracy: work folder kept: $work" >&2
  if [ -n "$pids" ]; then
    exec 2>/dev/null  # no job-status notices
    for pid in $pids; do kill -TERM -- "-$pid" || true; done
    wait || true
  fi
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work/logs"
# A private copy of the binary: a rebuild of build/ during the run does not change it.
cp "$lineage" "$work/lineage"
bin="$work/lineage"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# Facts about the run, for the Markdown header.
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && ! git -C "$root" diff --quiet HEAD -- 2>/dev/null; then commit="$commit-dirty"; fi
mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null || echo "? GiB")
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
version=$("$bin" --version 2>/dev/null | head -1 || true)
export ACC_DATE ACC_MACHINE ACC_COMMAND ACC_COMMIT ACC_BINARY ACC_RANKS ACC_JOBS ACC_WALL ACC_KEY_ONLY
ACC_DATE=$(date '+%Y-%m-%d %H:%M %Z')
ACC_MACHINE="$(uname -srm), $(nproc) cores, $mem, ${cpu:-unknown CPU}"
ACC_COMMAND=$command_line
ACC_COMMIT=$commit
ACC_BINARY="$lineage (${version:-lineage}, built $(date -r "$lineage" '+%Y-%m-%d %H:%M'))"
ACC_RANKS=$ranks ACC_JOBS=$jobs ACC_KEY_ONLY=$key_only

run_pair() {  # model reference
  local name="$1__$2"
  local log="$work/logs/$name" t0 rc
  t0=$(date +%s.%N)
  rm -rf "$work/$name.h5" "$work/$name.h5.journal"
  local limit=()
  [ "$timeout_s" = 0 ] || limit=(timeout --kill-after=10 "$timeout_s")
  set +e
  (cd "$work" && "${limit[@]}" mpirun --oversubscribe -np "$ranks" "$bin" compare "$dir/$1" "$dir/$2" \
      --out "$work/$name.h5" --quiet) </dev/null >"$log.compare.out" 2>"$log.compare.err"
  rc=$?
  echo "$rc" >"$log.compare.rc"
  if [ "$rc" = 0 ]; then
    "$bin" verdict "$work/$name.h5" --json >"$log.verdict.json" 2>"$log.verdict.err"
    echo $? >"$log.verdict.rc"
  fi
  set -e
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f\n", b - a}' >"$log.seconds"
  rm -rf "$work/$name.h5.journal"
  [ "$keep" = 1 ] || rm -f "$work/$name.h5"
}

echo "accuracy: $npairs labelled pairs in $dir, $ranks ranks per compare, $jobs at a time (work: $work)" >&2
t_start=$(date +%s.%N)
i=0
while IFS=$'\t' read -r model reference _; do
  i=$((i + 1))
  while [ "$(jobs -pr | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  (
    run_pair "$model" "$reference"
    printf 'accuracy: [%d/%d] %s vs %s: %s (%s s)\n' "$i" "$npairs" "$model" "$reference" \
      "$("$python" "$helper" one "$work" "$model" "$reference" | cut -c1-160)" \
      "$(cat "$work/logs/${model}__${reference}.seconds")" >&2
  ) &
done <<<"$pairs"
wait
ACC_WALL=$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f s", b - a}')

echo >&2
"$python" "$helper" report "$dir" "$work" --out "$out"
echo
echo "Markdown: $out"
