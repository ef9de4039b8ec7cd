#!/usr/bin/env bash
# Builds every configure preset of CMakePresets.json (GCC and Clang, every build type) and runs
# the unit tests of each; prints one line per preset. Long (one full build per preset): not part
# of the test command. Usage: scripts/build-matrix.sh [PRESET...]
# Extra cmake arguments (e.g. -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) come from $LINEAGE_MATRIX_CMAKE_ARGS.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release debug relwithdebinfo minsizerel clang-release clang-debug clang-relwithdebinfo clang-minsizerel)
status=0
for p in "${presets[@]}"; do
  mkdir -p "$root/build-$p"
  log="$root/build-$p/matrix.log"
  # shellcheck disable=SC2086
  if cmake --preset "$p" ${LINEAGE_MATRIX_CMAKE_ARGS:-} >"$log" 2>&1 && cmake --build --preset "$p" >>"$log" 2>&1 &&
     (cd "build-$p" && ctest -L unit -j "$(nproc)" >>"$log" 2>&1); then
    echo "$p: built, unit tests pass ($(grep -m1 CMAKE_CXX_COMPILER: "build-$p/CMakeCache.txt" | cut -d= -f2))"
  else
    echo "$p: FAILED (see $log)"
    status=1
  fi
done
exit $status
