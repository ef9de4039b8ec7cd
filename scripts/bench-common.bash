# Shared start of bench-null.sh and bench-report.sh (sourced with their arguments; not a
# benchmark itself): $root, $repeats (argument 1, default 3), $work (argument 2, default a new
# temporary folder), $lineage (built first if missing), and mpirun allowed to run as root.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
repeats=${1:-3}
work=${2:-$(mktemp -d)}
lineage="$root/build/lineage"
[ -x "$lineage" ] || "$root/scripts/build.sh" "$root/build" >/dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
