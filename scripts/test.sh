#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs dependencies, checks the format,
# builds, runs clang-tidy and every test (unit, CLI, MPI), a short fuzzing pass, then the unit
# tests again in a build with ASan+UBSan. Prints how long each phase took.
# Usage: scripts/test.sh [--no-sanitize]
#
# On 2 cores the builds are most of the time, so there are two, not three: GCC with warnings as
# errors for everything, and one clang build with ASan+UBSan (-O1) that holds both the unit tests
# and the libFuzzer targets, so the library is compiled once for the fuzz and sanitizer phases.
# Each build compiles only what its phases run, with line tables (-g1) instead of full debug info
# (backtraces and sanitizer reports still name file and line). The sanitizer build runs in the
# background at low priority while clang-tidy and CTest run, so it takes the CPU those leave
# idle (tests that wait on Slurm, locks, signals).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sanitize=1
[ "${1:-}" = "--no-sanitize" ] && sanitize=0
started=$SECONDS
phase_start=$SECONDS
phase_done() {
  echo "test: $1 took $((SECONDS - phase_start)) s ($(cut -d' ' -f1-3 /proc/loadavg) load)"
  phase_start=$SECONDS
}
"$root/scripts/install-deps.sh"
# House style runs itself: every C++ file as .clang-format says (fix with scripts/format.sh).
"$root/scripts/format.sh" --check
phase_done "dependencies and format check"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
line_tables="-O2 -g1 -DNDEBUG"
"$root/scripts/build.sh" "$root/build" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$line_tables" \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=$line_tables"
phase_done "build (GCC, warnings are errors)"

# The sanitizer build, niced (nice 10), beside clang-tidy and CTest; its output goes to a log
# shown only if it fails. (Job control gives the background job a process group of its own,
# stopped as a whole if the test command ends early.)
background_log=$(mktemp)
set -m
(
  renice -n 10 -p "$BASHPID" >/dev/null
  # clang: libFuzzer needs it. Warnings are errors in the GCC build above; here they are only
  # printed, as in the fuzz build before (clang's warning set differs from GCC's). The library and the unit tests carry the fuzzer's coverage
  # instrumentation too (-fsanitize=fuzzer-no-link); outside libFuzzer it only counts edges.
  sanitize_flags="-O1 -gline-tables-only -DNDEBUG"
  cmake -S "$root" -B "$root/build-sanitize" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DLINEAGE_FUZZ=ON \
    -DLINEAGE_SANITIZE=ON -DLINEAGE_BUILD_BENCH=OFF "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$sanitize_flags" \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=$sanitize_flags" >/dev/null
  targets=(lineage_fuzz_targets)
  # The sanitizer phase runs the unit tests only: their binary and the lineage binary they run
  # (a dependency of it), not the MPI tests.
  [ "$sanitize" = 1 ] && targets+=(lineage_unit_tests)
  cmake --build "$root/build-sanitize" -j "$(nproc)" --target "${targets[@]}"
  echo "test: sanitizer build done after $((SECONDS - started)) s"
) >"$background_log" 2>&1 &
background=$!
set +m
trap 'kill -- -"$background" 2>/dev/null || true; rm -f "$background_log"' EXIT

# clang-tidy with the committed .clang-tidy over the project's sources (a few minutes on 2 cores).
"$root/scripts/tidy.sh" "$root/build"
phase_done "clang-tidy"
(cd "$root/build" && ctest --output-on-failure -j "$(nproc)" --timeout 600)
phase_done "ctest (unit, CLI, MPI)"
# Nothing else of ours runs now: normal priority again for the rest of the background builds
# (allowed to root only; elsewhere they keep nice 10, which costs nothing on a machine of their
# own, but on a shared one would leave them behind everybody else's jobs).
renice -n 0 -g "$background" >/dev/null 2>&1 || true

if ! wait "$background"; then
  cat "$background_log" >&2
  echo "test: the sanitizer build failed (output above)" >&2
  exit 1
fi
grep '^test: ' "$background_log" || true
phase_done "rest of the sanitizer build"
# A short libFuzzer pass over every reader of outside data (8 s per target, two at a time).
LINEAGE_FUZZ_RUN_ONLY=1 "$root/scripts/fuzz.sh" "$root/build-sanitize" 8
phase_done "fuzz"
if [ "$sanitize" = 1 ]; then
  (cd "$root/build-sanitize" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j "$(nproc)" -L unit --timeout 900)
  phase_done "unit tests under ASan+UBSan"
fi
echo "test: all passed in $((SECONDS - started)) s"
