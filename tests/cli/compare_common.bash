# Shared set-up of the compare CLI tests (sourced; not a test itself: CTest runs *.sh only).
# Usage: source compare_common.bash "$lineage" "$repo"  -> $lineage $repo $py $dump $mpi $tmp, fail()
lineage=$1
repo=$2
py=/usr/bin/python3
dump="$py $repo/tests/cli/compare_dump.py"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi="mpirun --oversubscribe"
tmp=$(mktemp -d)
trap 'pkill -9 -f "lineage compare .*$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
