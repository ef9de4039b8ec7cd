#!/usr/bin/env bash
# Formats every C++ file of the repository with the committed .clang-format, or with --check
# lists the files that differ and fails (the test command runs the check).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t files < <(find core io stages cluster pipeline jobs tools tests bench -name '*.cpp' -o -name '*.hpp' | sort)
if [ "${1:-}" = "--check" ]; then
  # One clang-format for all files (one per file spends most of its time starting up); each
  # difference is reported as "FILE:LINE:COL: error: code should be clang-formatted".
  bad=()
  if ! out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
    mapfile -t bad < <(grep -oE '^[^:]+:[0-9]+:[0-9]+: error' <<<"$out" | cut -d: -f1 | sort -u)
    [ ${#bad[@]} -gt 0 ] || { echo "$out" >&2; bad=("(clang-format failed)"); }
  fi
  if [ ${#bad[@]} -gt 0 ]; then
    echo "format: ${#bad[@]} file(s) differ from .clang-format (run scripts/format.sh): ${bad[*]}" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files as .clang-format says"
else
  clang-format -i "${files[@]}"
fi
