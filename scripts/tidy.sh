#!/usr/bin/env bash
# Runs clang-tidy, with the committed .clang-tidy, over the project's own sources (core, io,
# stages, cluster, pipeline, jobs, tools) using BUILD_DIR's compile_commands.json; any finding
# fails (the test command runs it). Tests and benchmarks are left out: they are not shipped, and
# each translation unit costs seconds.
# Usage: scripts/tidy.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
[ -f "$build/compile_commands.json" ] || { echo "tidy: no $build/compile_commands.json (build first)" >&2; exit 2; }
cd "$root"
mapfile -t files < <(find core io stages cluster pipeline jobs tools -name '*.cpp' | sort)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# run-clang-tidy exits non-zero when any file has a finding (WarningsAsErrors in .clang-tidy).
if ! run-clang-tidy -quiet -p "$build" -j "$(nproc)" "${files[@]/#/$root/}" >"$log" 2>&1; then
  grep -E "(warning|error):" "$log" | sed 's/\x1b\[[0-9;]*m//g' | sort -u >&2 || cat "$log" >&2
  echo "tidy: findings above (fix them, or justify a NOLINT(check) on the line)" >&2
  exit 1
fi
echo "tidy: ${#files[@]} files clean"
