#!/usr/bin/env bash
# The main job on bundled demo data, from a fresh Debian 12 machine: installs dependencies,
# builds, generates the demo checkpoints (models with known provenance, a few MB each, in
# seconds) and runs the pipeline on them. Output goes to demo-out/ (or $1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/demo-out}
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build" >/dev/null
lineage="$root/build/lineage"

echo "== generating demo checkpoints with known provenance into $out/models"
rm -rf "$out/models"
mkdir -p "$out"
"$lineage" synth --suite "$out/models"

echo
echo "== inventory: what every tensor is (headers only)"
for model in "$out"/models/*/; do
  name=$(basename "$model")
  printf '\n-- %s (%s)\n' "$name" "$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(p.get("scenario","?"))' "$model/provenance.json" 2>/dev/null || echo '?')"
  "$lineage" inventory "$model" --strict
done

echo
echo "== inventory of a real 25B-parameter MoE from its weight map alone (no weights downloaded)"
real="$root/../shared/data/real"
if [ -d "$real/bryce-hoehn__Qwen3.5-25B-REAP-A3B-Coding" ]; then
  "$lineage" inventory --index-only "$real/bryce-hoehn__Qwen3.5-25B-REAP-A3B-Coding"
fi
