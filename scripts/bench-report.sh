#!/usr/bin/env bash
# Size and render time of `lineage report` on a 64-layer, 128-expert synthetic run (issue 14's
# bound: under 2 MB, rendered by headless Chromium in under 2 s). A small-width base and its
# fine-tune with 64 layers of 128 routed experts are generated, compared under `mpirun -np 2`,
# and the report is written and loaded R times. Never part of the test suite (the size is also
# asserted by tests/unit/report_document_test.cpp; times are only measured here).
# Usage: scripts/bench-report.sh [REPEATS] [WORK_DIR]
set -euo pipefail
source "$(dirname "$0")/bench-common.bash" "$@"
if [ ! -f "$work/run.h5" ]; then
  "$lineage" synth --scenario base --out "$work/base" --set num_hidden_layers=64 --set num_experts=128 \
    --set hidden_size=64 --set moe_intermediate_size=16 --set shared_expert_intermediate_size=32 \
    --set intermediate_size=64 --set vocab_size=512 >/dev/null
  "$lineage" synth --scenario finetune --base "$work/base" --out "$work/finetune" >/dev/null
  start=$(date +%s.%N)
  mpirun --oversubscribe -np 2 "$lineage" compare "$work/finetune" "$work/base" --out "$work/run.h5" -q >/dev/null
  echo "compare: $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s"
fi
echo "machine: $(nproc) cores, $(uname -sr), $(chromium --version 2>/dev/null || echo 'no chromium')"
for i in $(seq 1 "$repeats"); do
  rm -rf "$work/report"
  start=$(date +%s.%N)
  "$lineage" report "$work/run.h5" --out "$work/report" >/dev/null
  write=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
  # Chromium's own start-up is measured on an empty page and subtracted.
  printf '<html><body></body></html>' > "$work/empty.html"
  t0=$(date +%s.%N)
  chromium --headless --no-sandbox --disable-gpu --dump-dom "file://$work/empty.html" >/dev/null 2>&1
  t1=$(date +%s.%N)
  chromium --headless --no-sandbox --disable-gpu --dump-dom "file://$work/report/index.html" >/dev/null 2>&1
  t2=$(date +%s.%N)
  render=$(python3 -c "print(round(($t2 - $t1) - ($t1 - $t0), 2))")
  echo "run $i: lineage report $write s; page $(stat -c %s "$work/report/index.html") bytes," \
       "$(ls "$work/report/figures" | wc -l) figures; Chromium load and render $render s" \
       "(beyond its $(python3 -c "print(round($t1 - $t0, 2))") s start-up)"
done
