#!/usr/bin/env bash
# Names from strangers' files never reach the terminal raw: a model whose folder name, tensor name
# (unclaimed), safetensors metadata and config strings (model_type, architectures) hold ESC, BEL,
# CR, DEL and the 8-bit CSI (U+009B) goes through every command that prints them; no stdout or
# stderr holds a raw C0 control (other than newline and tab), DEL or C1 byte. Text output shows
# the escapes (\x1b); JSON output still parses back to the exact names (\u001b, \u009b).
set -u
source "$(dirname "$0")/compare_common.bash" "$1" "$2"
cd "$tmp" || exit 1

"$lineage" synth --scenario base --out base >/dev/null || fail synth
"$lineage" synth --scenario finetune --base base --out ft >/dev/null || fail synth2
evil=$(printf 'ev\033[31mil\a\177')
name=$(printf 'w\033[2J\033]0;pwned\a\r.x\302\2331m\177')
cp -r ft "$evil"
$py - "$evil" "$name" <<'PY' || fail "writing the hostile model"
import json, os, struct, sys
d, name = sys.argv[1], sys.argv[2].encode("utf-8", "surrogateescape").decode("utf-8")
shard = sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))[0]
p = os.path.join(d, shard)
raw = open(p, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h, data = json.loads(raw[8:8 + n]), raw[8 + n:]
h[name] = {"dtype": "F32", "shape": [2], "data_offsets": [len(data), len(data) + 8]}
h.setdefault("__metadata__", {})["note"] = "meta\x1b[31m\x9b"
hb = json.dumps(h).encode()
hb += b" " * ((8 - len(hb) % 8) % 8)
open(p, "wb").write(struct.pack("<Q", len(hb)) + hb + data + b"\0" * 8)
idx = os.path.join(d, "model.safetensors.index.json")
if os.path.exists(idx):
    j = json.load(open(idx))
    j["weight_map"][name] = shard
    json.dump(j, open(idx, "w"))
c = json.load(open(os.path.join(d, "config.json")))
c["model_type"], c["architectures"] = "qwen2_moe\x1b[31m\x9b", ["X\x1b]0;t\x07"]
json.dump(c, open(os.path.join(d, "config.json"), "w"))
PY
printf 'suspect: %s\nparents: [base]\nout: job.h5\n' "$evil" > run.yaml

# probe WANT_EXIT COMMAND...: the exit code, and no raw control byte in what it printed.
probe() {
  local want=$1; shift
  "$@" >out 2>err
  local code=$?
  [ $code -eq "$want" ] || fail "$*: exit $code, expected $want: $(head -c 2000 err)"
  if LC_ALL=C grep -qaP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' out err; then
    fail "$*: a raw control byte reached the terminal: $(LC_ALL=C grep -naP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' out err | cat -v | head -3)"
  fi
}
probe 0 "$lineage" inventory "$evil"
grep -qF 'w\x1b[2J\x1b]0;pwned\x07\x0d.x\xc2\x9b1m\x7f' out || fail "inventory does not show the escaped name: $(cat out)"
probe 0 "$lineage" inventory "$evil" --list
probe 3 "$lineage" inventory "$evil" --strict
probe 0 "$lineage" inventory --index-only "$evil"
probe 0 "$lineage" inventory "$evil" --json
$py -c "import json, sys; j = json.load(open('out')); sys.exit(0 if sys.argv[1].encode('utf-8', 'surrogateescape').decode() in j['unclaimed'] else 1)" "$name" \
  || fail "inventory --json does not give the exact name back: $(grep -a '"w' out)"
probe 0 "$lineage" arch "$evil" base
probe 0 "$lineage" arch "$evil" --json
probe 0 "$lineage" plan run.yaml --ranks 2
probe 0 "$lineage" plan run.yaml --ranks 2 --json
probe 0 "$lineage" compare "$evil" base --out run.h5
probe 0 $mpi -np 2 "$lineage" compare "$evil" base --out run2.h5 -q
probe 0 "$lineage" verdict run.h5
probe 0 "$lineage" verdict run.h5 --json
probe 0 "$lineage" status run.h5
probe 0 "$lineage" status run.h5 --json
probe 0 "$lineage" status run.yaml
probe 0 "$lineage" check run.h5
probe 0 "$lineage" check run.h5 --json
probe 0 "$lineage" report run.h5 --out report.html
probe 0 "$lineage" merge run.h5 run2.h5 -o merged.h5
probe 0 "$lineage" verdict merged.h5
probe 0 "$lineage" submit run.yaml --dry-run
probe 0 "$lineage" tokenizer "$evil" base
probe 2 "$lineage" "$name"
probe 3 "$lineage" inventory "$evil/$name"
echo "terminal escapes: ok"
