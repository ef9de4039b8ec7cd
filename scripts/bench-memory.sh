#!/usr/bin/env bash
# Peak anonymous memory per rank of `lineage compare` against the hidden size (issue #12: under
# 512 MB for any model size). bench-compare's pair is long (many layers) but narrow (hidden 2048,
# 600 tokens); what grows with a model's width (the token-mapped embedding rows, the null's
# standardised tables, one expert's sketch) shows only on wide models. For each hidden size this
# generates (or reuses) a one-layer BF16 MoE pair with an 8,000-token vocabulary and tokenizer
# (`lineage synth`: a base and a fine-tune of it), runs `lineage compare` with every default as
# one process and under `mpirun -np 2`, and prints the wall time and the largest peak RssAnon of
# the lineage processes (bench/peak_anon.py: heap and stacks, not mapped checkpoint pages).
# Never part of the test suite.
#
# Usage: scripts/bench-memory.sh [WORKDIR]   (default /tmp/lineage-bench-memory; pairs are kept)
# Environment: LINEAGE=binary (default build/lineage), HIDDEN="2048 4096 7168" (the sizes,
#   multiples of 1024). Peaks are bench/peak_anon.py's "MB" (MiB: RssAnon kB / 1024).
# Exit codes: 0 done, 2 usage, 4 a tool is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/lineage-bench-memory}
lineage=${LINEAGE:-$root/build/lineage}
hidden_sizes=${HIDDEN:-2048 4096 7168}
for h in $hidden_sizes; do
  case "$h" in '' | *[!0-9]*) echo "bench-memory: HIDDEN holds whole numbers, got '$h'" >&2; exit 2 ;; esac
  # Heads of 128 dimensions and 8 KV heads: the head count must be a multiple of 8.
  if [ $((h % 1024)) -ne 0 ]; then echo "bench-memory: hidden sizes are multiples of 1024, got $h" >&2; exit 2; fi
done
[ -x "$lineage" ] || [ -n "${LINEAGE:-}" ] || "$root/scripts/build.sh" "$root/build" >/dev/null
[ -x "$lineage" ] || { echo "bench-memory: $lineage is missing" >&2; exit 4; }
for tool in mpirun h5dump python3; do command -v $tool >/dev/null || { echo "bench-memory: $tool is missing" >&2; exit 4; }; done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$work"

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); binary $lineage"
echo
echo "| hidden | model size | mapped tokens a table | 1 process: wall s / peak anon MB | 2 ranks (mpirun): wall s / peak anon MB per rank |"
echo "|---|---|---|---|---|"
for h in $hidden_sizes; do
  pair="$work/hidden-$h"
  if [ ! -f "$pair/finetune/config.json" ]; then
    rm -rf "$pair"
    # Experts small: the width is what is measured.
    "$lineage" synth --scenario base --out "$pair/base" --set hidden_size="$h" --set vocab_size=8000 \
      --set num_hidden_layers=1 --set num_experts=4 --set moe_intermediate_size=512 \
      --set shared_expert_intermediate_size=512 --set intermediate_size=512 \
      --set num_attention_heads=$((h / 128)) --set num_key_value_heads=8 >/dev/null
    "$lineage" synth --scenario finetune --base "$pair/base" --out "$pair/finetune" >/dev/null
  fi
  size=$(du -sh "$pair/base" | cut -f1)
  cells=""
  tokens=""
  for launcher in "" "mpirun -np 2"; do
    rm -rf "$pair/run.h5" "$pair/run.h5.journal" "$pair/run.h5.lock"
    # shellcheck disable=SC2086  # the launcher is words
    if ! out=$(python3 "$root/bench/peak_anon.py" lineage $launcher "$lineage" compare "$pair/finetune" "$pair/base" \
      --out "$pair/run.h5" 2>&1 >/dev/null); then
      echo "bench-memory: compare failed (hidden $h, ${launcher:-one process}):" >&2
      tail -5 <<<"$out" >&2
      exit 1
    fi
    out=$(tail -1 <<<"$out")
    wall=$(sed -E 's/.*wall=([0-9.]+).*/\1/' <<<"$out")
    peak=$(sed -E 's/.*peak_anon_mb=([0-9.na]+).*/\1/' <<<"$out")
    if [ -z "$tokens" ]; then
      # The rows of the token-mapped units (the mapped tokens), from the store's unit columns.
      if ! kinds=$(h5dump -y -d /units/kind "$pair/run.h5") || ! rows=$(h5dump -y -d /units/rows "$pair/run.h5"); then
        echo "bench-memory: h5dump could not read the units of $pair/run.h5" >&2
        exit 1
      fi
      tokens=$(paste <(sed -n '/DATA {/,$p' <<<"$kinds" | grep -o '"[a-z_]*"' | tr -d '"') \
        <(sed -n '/DATA {/,$p' <<<"$rows" | grep -oE '[0-9]+') |
        awk '$1 == "token_mapped" { if ($2 > m) m = $2 } END { print (m ? m : "none") }')
    fi
    cells="$cells $wall / $peak |"
  done
  rm -rf "$pair/run.h5" "$pair/run.h5.journal" "$pair/run.h5.lock"
  echo "| $h | $size | $tokens |$cells"
done
