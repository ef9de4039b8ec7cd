#!/usr/bin/env bash
# A short libFuzzer pass over every reader of outside data (tests/fuzz/fuzz_*.cpp), from the seed
# corpus in tests/fuzz/corpus/<target>/. Builds with clang into its own folder (default
# build-fuzz/; the GCC build never needs clang). Fails on any crash, hang, leak, sanitizer report
# or allocation above the limits.
# A fixed seed (LINEAGE_FUZZ_SEED, default 1) keeps the test command reproducible: the same
# inputs in the same order on every run (a slower machine runs a prefix of them); fuzz longer with
# another seed and more seconds.
# Builds only the fuzz targets (the lineage binary is not needed), with line tables instead of full
# debug info: sanitizer reports still name file and line, and the build takes a fraction less.
# LINEAGE_FUZZ_BUILD_ONLY=1 stops after the build; LINEAGE_FUZZ_RUN_ONLY=1 runs the targets already
# built in BUILD_DIR (the test command builds them, beside the unit tests, in its sanitizer build).
# The targets run $(nproc) at a time, each on one core for SECONDS_PER_TARGET.
# Usage: scripts/fuzz.sh [BUILD_DIR] [SECONDS_PER_TARGET]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-fuzz}
seconds=${2:-8}
if [ "${LINEAGE_FUZZ_RUN_ONLY:-0}" != 1 ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DLINEAGE_FUZZ=ON -DLINEAGE_BUILD_TESTS=OFF -DLINEAGE_BUILD_BENCH=OFF \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG" \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG" \
    ${LINEAGE_FUZZ_CMAKE_ARGS:-} >/dev/null
  cmake --build "$build" -j "$(nproc)" --target lineage_fuzz_targets
  [ "${LINEAGE_FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fuzz_one() {
  local bin=$1 name
  name=$(basename "$bin")
  local seeds="$root/tests/fuzz/corpus/${name#fuzz_}"
  mkdir -p "$work/$name" "$build/fuzz-findings"
  # New inputs go to a scratch folder; the committed seeds are only read.
  local code=0
  (cd "$work" && TMPDIR="$work" "$bin" -seed="${LINEAGE_FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
     -max_len=65536 -artifact_prefix="$build/fuzz-findings/$name-" "$work/$name" "$seeds" \
     >"$work/$name.log" 2>&1) || code=$?
  echo "$code" >"$work/$name.status"
}
targets=("$build"/tests/fuzz/fuzz_*)
[ -x "${targets[0]}" ] || { echo "fuzz: no targets in $build/tests/fuzz" >&2; exit 2; }
for bin in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || true; done
  fuzz_one "$bin" &
done
wait
failed=()
for bin in "${targets[@]}"; do
  name=$(basename "$bin")
  if [ "$(cat "$work/$name.status" 2>/dev/null)" != 0 ]; then
    failed+=("$name")
    tail -n 40 "$work/$name.log" >&2
  else
    echo "fuzz: $name: $(grep -o 'Done [0-9]* runs.*' "$work/$name.log" | tail -1)"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs kept in $build/fuzz-findings/; rerun a target with one)" >&2
  exit 1
fi
echo "fuzz: no findings"
