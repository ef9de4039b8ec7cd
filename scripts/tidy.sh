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
# The build's precompiled headers (LINEAGE_PCH) are GCC's; clang-tidy would try to load them, so
# it gets the same compile commands without them and parses each file's own includes.
tidy_db=$(mktemp -d)
trap 'rm -rf "$tidy_db"' EXIT
python3 - "$build/compile_commands.json" "$tidy_db/compile_commands.json" <<'PY'
import json, re, sys
entries = json.load(open(sys.argv[1]))
pch = re.compile(r"\s+(-Winvalid-pch|-include\s+\S*cmake_pch\.hxx)(?=\s|$)")
for entry in entries:
    entry["command"] = pch.sub("", entry["command"])
json.dump(entries, open(sys.argv[2], "w"), indent=1)
PY
mapfile -t files < <(find core io stages cluster pipeline jobs tools -name '*.cpp' | sort)
log=$tidy_db/tidy.log
# run-clang-tidy exits non-zero when any file has a finding (WarningsAsErrors in .clang-tidy).
if ! run-clang-tidy -quiet -p "$tidy_db" -j "$(nproc)" "${files[@]/#/$root/}" >"$log" 2>&1; then
  grep -E "(warning|error):" "$log" | sed 's/\x1b\[[0-9;]*m//g' | sort -u >&2 || cat "$log" >&2
  echo "tidy: findings above (fix them, or justify a NOLINT(check) on the line)" >&2
  exit 1
fi
echo "tidy: ${#files[@]} files clean"
