#!/usr/bin/env bash
# The bad-input corpus (tests/data/bad, written by its make_bad.py): every crafted file must end
# with its exact exit code and one error line containing the expected message, never echoing
# what the case forbids (a secret's text, a raw escape code), never hanging.
# Usage: lineage_bad_inputs.sh LINEAGE_BINARY SOURCE_DIR
set -uo pipefail
lineage=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -a "$src/tests/data/bad" "$work/bad"
mkfifo "$work/bad/shard_fifo/fifo.safetensors"  # a FIFO cannot be committed
export LINEAGE_FAMILIES="$src/families"
failures=0
count=0
while IFS=$'\t' read -r name code want forbid args; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  count=$((count + 1))
  read -r -a argv <<<"${args//\{BAD\}/$work/bad}"
  timeout 30 "$lineage" "${argv[@]}" >"$work/out" 2>"$work/err"
  got=$?
  err=$(cat "$work/err")
  problem=""
  if [ "$got" != "$code" ]; then
    problem="exit $got, expected $code"
  elif ! grep -qF -- "$want" "$work/err"; then
    problem="message lacks: $want"
  elif [ "$(grep -c '^lineage: error: ' "$work/err")" != 1 ]; then
    problem="not one 'lineage: error:' line"
  elif [ "$forbid" != "-" ] && grep -qF -- "$(printf '%b' "$forbid")" "$work/out" "$work/err"; then
    problem="output contains what it must not: $forbid"
  fi
  if [ -n "$problem" ]; then
    failures=$((failures + 1))
    echo "FAIL $name: $problem" >&2
    echo "     lineage ${argv[*]}" >&2
    echo "     stderr: $err" >&2
  fi
done <"$work/bad/MANIFEST"
echo "bad inputs: $count cases, $failures failed"
[ "$count" -ge 40 ] || { echo "bad inputs: fewer than 40 cases" >&2; exit 1; }
[ "$failures" -eq 0 ]
