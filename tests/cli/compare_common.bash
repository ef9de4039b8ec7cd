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
# A small base model and a fine-tune of it in $tmp/base and $tmp/ft (2 layers, 4 experts: 195
# units), for tests that run compare many times or slow it down.
synth_small_pair() {
  "$lineage" synth --scenario base --out "$tmp/base" --set num_hidden_layers=2 --set num_experts=4 >/dev/null \
    || fail synth
  "$lineage" synth --scenario finetune --base "$tmp/base" --out "$tmp/ft" >/dev/null || fail synth2
}
