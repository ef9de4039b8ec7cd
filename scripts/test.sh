#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs dependencies, checks the format,
# builds, runs clang-tidy and every test (unit, CLI, MPI), a short fuzzing pass, then rebuilds with ASan+UBSan and runs the unit tests under them.
# Usage: scripts/test.sh [--no-sanitize]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
# House style runs itself: every C++ file as .clang-format says (fix with scripts/format.sh).
"$root/scripts/format.sh" --check
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$root/scripts/build.sh" "$root/build"
# clang-tidy with the committed .clang-tidy over the project's sources (a few minutes on 2 cores).
"$root/scripts/tidy.sh" "$root/build"
(cd "$root/build" && ctest --output-on-failure -j "$(nproc)" --timeout 600)
# A short libFuzzer pass over every reader of outside data (about a minute; clang, own folder).
"$root/scripts/fuzz.sh" "$root/build-fuzz" 8
if [ "${1:-}" != "--no-sanitize" ]; then
  "$root/scripts/build.sh" "$root/build-asan" -DLINEAGE_SANITIZE=ON -DLINEAGE_BUILD_BENCH=OFF
  (cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j "$(nproc)" -L unit --timeout 900)
fi
