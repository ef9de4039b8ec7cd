#!/usr/bin/env bash
# The speed of `lineage compare` against the machine's read bandwidth and a numpy reference, in
# one run (issue #12; never part of the test suite). It
#  1. generates (or reuses) a synthetic BF16 MoE pair of about GB gigabytes per model
#     (`lineage synth`: a base and a fine-tune of it) in WORKDIR;
#  2. measures one plain summing pass over the same bytes, put in the page cache by a read from
#     disk first (bench/read_bandwidth.cpp: mmap + MAP_POPULATE, pread into a 4 MB buffer,
#     first-touch mmap, pread with read-ahead on a second thread), page cache warm; then the
#     populate and pread passes in two processes at once (half of every file each) and an
#     arithmetic loop in L1 in one and two processes: how much this machine gives a second
#     process, the ceiling of the 2-rank speed-up;
#  3. runs `lineage compare` on 1 and 2 ranks (mpirun), and as one process without mpirun (no MPI
#     at all), with every default (baselines, permutation null), as the bare pass
#     (--no-baselines --null-permutations 0) and as a screening run (--screen: hashes and moments
#     alone), and the last two once more as one process with the units copied (--read-units copy)
#     and read through the mapping (--read-units map) rather than as the default (auto) finds
#     cheaper: ROUNDS rounds (default 3) of the thirteen runs one after the other, so that a
#     minute of load on a shared machine slows one run of each kind, not every run of one kind;
#     the table gives each kind's median wall and CPU time;
#  4. runs bench/numpy_reference.py (numpy, one pass per statistic) on the first NUMPY_GB
#     gigabytes of each model (default 1: its rate does not depend on the size);
#  5. records the peak anonymous memory per process (bench/peak_anon.py: RssAnon, not the mapped
#     file pages);
#  and measures the least work of "hashes plus centred cosine alone" (the issue's second target,
#  what --screen computes) on the first shard of each model: bench/screen_pass.cpp, three rounds
#  alternated with its own plain pass;
#  6. prepends the table, the machine and the command to docs/benchmarks.md (between the
#     bench-compare markers).
# The machine may be shared: compare ratios within one run, not absolute numbers across runs.
#
# Usage: scripts/bench-compare.sh [WORKDIR] [GB]
#   WORKDIR  where the pair and the result stores go (default /tmp/lineage-bench-compare); the
#            pair is kept for the next run, the stores are removed; CLEAN=1 removes the pair too
#   GB       gigabytes per model (default 4); `lineage synth` holds a model in memory as float, so
#            generating needs more than 2 x GB of RAM (docs/synth.md)
# Environment: LINEAGE=binary (default build/lineage), NUMPY_GB, ROUNDS, LABEL (a note for the table),
#   DOC=file to write (default docs/benchmarks.md; DOC=- prints only).
# Exit codes: 0 done, 2 usage, 3 not enough disk space, 4 a tool is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/lineage-bench-compare}
gb=${2:-4}
numpy_gb=${NUMPY_GB:-1}
rounds=${ROUNDS:-3}
lineage=${LINEAGE:-$root/build/lineage}
readbench=$root/build/bench/bench_read_bandwidth
screenbench=$root/build/bench/bench_screen_pass
doc=${DOC:-$root/docs/benchmarks.md}
case "$gb" in '' | *[!0-9]*) echo "bench-compare: GB must be a whole number, got '$gb'" >&2; exit 2 ;; esac
case "$rounds" in '' | *[!0-9]* | 0) echo "bench-compare: ROUNDS must be a positive whole number, got '$rounds'" >&2; exit 2 ;; esac

# ---- dependencies (Debian packages only) and binaries ------------------------------------------
"$root/scripts/install-deps.sh"
if ! dpkg-query -W -f='${Status}' python3-xxhash 2>/dev/null | grep -q "install ok installed"; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends python3-xxhash
fi
if [ ! -x "$readbench" ] || [ ! -x "$screenbench" ] || [ -z "${LINEAGE:-}" ]; then
  "$root/scripts/build.sh" "$root/build" -DLINEAGE_BUILD_BENCH=ON >/dev/null
fi
for tool in "$lineage" "$readbench" "$screenbench"; do
  [ -x "$tool" ] || { echo "bench-compare: $tool is missing" >&2; exit 4; }
done
command -v mpirun >/dev/null || { echo "bench-compare: mpirun is missing" >&2; exit 4; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
py=/usr/bin/python3  # Debian's python, where python3-numpy is installed

# ---- 1. the pair ---------------------------------------------------------------------------------
mkdir -p "$work"
# hidden 2048, 16 experts of intermediate 2048: about 0.43 GB per layer in BF16.
layers=$(( (gb * 100 + 42) / 43 ))
geometry="hidden=2048 experts=16 intermediate=2048 layers=$layers"
if [ ! -f "$work/base/config.json" ] || [ "$(cat "$work/geometry" 2>/dev/null)" != "$geometry" ]; then
  need_kb=$(( gb * 2 * 1100 * 1024 + 1024 * 1024 ))
  free_kb=$(df -Pk "$work" | awk 'NR==2{print $4}')
  if [ "$free_kb" -lt "$need_kb" ]; then
    echo "bench-compare: $work has $((free_kb / 1024)) MB free, the pair needs about $((need_kb / 1024)) MB" >&2
    exit 3
  fi
  rm -rf "$work/base" "$work/finetune" "$work/geometry"
  echo "bench-compare: generating the pair ($geometry) in $work" >&2
  "$lineage" synth --scenario base --out "$work/base" --set hidden_size=2048 --set num_experts=16 \
    --set moe_intermediate_size=2048 --set shared_expert_intermediate_size=2048 \
    --set num_hidden_layers="$layers" >/dev/null
  "$lineage" synth --scenario finetune --base "$work/base" --out "$work/finetune" >/dev/null
  echo "$geometry" >"$work/geometry"
fi
files=("$work"/base/*.safetensors "$work"/finetune/*.safetensors)
bytes=$(du -cb "${files[@]}" | tail -1 | cut -f1)

# ---- 2. plain pass -------------------------------------------------------------------------------
# The pair enters the page cache as a read from disk puts it there: read-ahead fills large folios
# (FileHugePages in /proc/meminfo), while files just written by the generator sit in 4 KiB pages,
# which mmap maps about 3x slower (the plain mmap pass 7.5 against 17-22 GB/s on the 2-core
# machine, docs/benchmarks.md). Dropping the pair's pages (clean after sync; no root needed) and
# reading them once makes every run start from the same state.
sync "${files[@]}"
for f in "${files[@]}"; do dd if="$f" iflag=nocache count=0 status=none; done
cat "${files[@]}" >/dev/null
"$readbench" "${files[@]}" >/dev/null 2>&1  # warm the page cache with the same bytes
plain=$("$readbench" "${files[@]}" 2>/dev/null)
first_shards=("$work"/finetune/*.safetensors)
first_base=("$work"/base/*.safetensors)
screen=$("$screenbench" "${first_shards[0]}" "${first_base[0]}" 3 2>/dev/null)

# ---- 3. compare, 4. numpy, 5. peak anonymous memory ------------------------------------------------
results=$work/results.txt
: >"$results"
measure() {  # measure KEY NAME CMD...
  local key=$1 name=$2
  shift 2
  local line
  line=$("$py" "$root/bench/peak_anon.py" "$name" "$@" 2>&1 >/dev/null | grep '^wall=' | tail -1)
  [ -n "$line" ] || { echo "bench-compare: '$*' failed" >&2; exit 1; }
  echo "$key $line" >>"$results"
  echo "bench-compare: $key: $line" >&2
}
for round in $(seq "$rounds"); do
  echo "bench-compare: round $round of $rounds" >&2
  for mode in all pass screen; do
    extra=()
    [ "$mode" = pass ] && extra=(--no-baselines --null-permutations 0)
    [ "$mode" = screen ] && extra=(--screen)
    for ranks in 1 2; do
      rm -rf "$work/run.h5" "$work/run.h5.journal"
      measure "compare_${mode}_${ranks}" lineage mpirun --oversubscribe -np "$ranks" "$lineage" compare \
        "$work/finetune" "$work/base" --out "$work/run.h5" -q "${extra[@]}"
    done
    # One process started alone, as a user runs one rank: no launcher, so no MPI (docs/cli.md).
    rm -rf "$work/run.h5" "$work/run.h5.journal"
    measure "compare_${mode}_alone" lineage env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_RANK -u PMI_SIZE \
      "$lineage" compare "$work/finetune" "$work/base" --out "$work/run.h5" -q "${extra[@]}"
  done
  # The same pass and screening run with the units copied, then read through the mapping, as
  # asked (--read-units copy, map), one process: each way beside what the default (auto) keeps
  # (docs/cli.md).
  for way in copy map; do
    for mode in pass screen; do
      extra=(--read-units "$way")
      [ "$mode" = pass ] && extra+=(--no-baselines --null-permutations 0)
      [ "$mode" = screen ] && extra+=(--screen)
      rm -rf "$work/run.h5" "$work/run.h5.journal"
      measure "compare_${mode}_${way}" lineage env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_RANK -u PMI_SIZE \
        "$lineage" compare "$work/finetune" "$work/base" --out "$work/run.h5" -q "${extra[@]}"
    done
  done
done
rm -rf "$work/run.h5" "$work/run.h5.journal"
numpy_out=$("$py" "$root/bench/peak_anon.py" python3 "$py" "$root/bench/numpy_reference.py" \
  "$work/finetune" "$work/base" "$numpy_gb" 2>"$work/numpy.err")
echo "numpy $numpy_out $(grep '^wall=' "$work/numpy.err")" >>"$results"
[ "${CLEAN:-0}" = 1 ] && rm -rf "$work/base" "$work/finetune" "$work/geometry"

# ---- 6. the table --------------------------------------------------------------------------------
machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
"$py" - "$doc" "$bytes" "$plain" "$results" "$machine" "$commit" "$gb" "$numpy_gb" "${LABEL:-}" "$lineage" \
  "$screen" "$rounds" <<'PY'
import datetime, re, statistics, sys
doc, total, plain, results, machine, commit, gb, numpy_gb, label, binary, screen, rounds = sys.argv[1:]
total = int(total)
# Rates in GB/s of wall time and in GB per CPU-second (user + system): on a shared machine the
# second is the steadier one; the 2-rank speed-up can only be read from the first.
bw = {}
for l in plain.splitlines():
    if l.strip():
        name, _, wall, cpu = l.split()
        bw[name] = (total / float(wall) / 1e9, total / float(cpu) / 1e9)
# Each kind of run: the median of its rounds' wall and CPU times, the largest peak memory.
runs = {}
for line in open(results):
    key, *kv = line.split()
    runs.setdefault(key, []).append({k: float(v) for k, v in (x.split("=") for x in kv)})
r = {key: {k: (max if k == "peak_anon_mb" else statistics.median)([x[k] for x in rs]) for k in rs[0]}
     for key, rs in runs.items()}
# The machine's read bandwidth is its fastest plain pass over these bytes (mmap + MAP_POPULATE on
# most machines; pread where page-table updates cost more, as on some virtual machines), in wall
# time and in CPU time each (the fastest by one need not be by the other): the references the
# fractions below are of, so that no fraction flatters lineage.
plain_names = ("mmap_populate", "pread_4MB", "mmap_first_touch", "pread_4MB_readahead")
ref_wall_name = max(plain_names, key=lambda n: bw[n][0])
ref_cpu_name = max(plain_names, key=lambda n: bw[n][1])
ref = (bw[ref_wall_name][0], bw[ref_cpu_name][1])
np_r = r["numpy"]
numpy_rate = (np_r["bytes"] / np_r["seconds"] / 1e9, np_r["bytes"] / np_r["cpu_seconds"] / 1e9)
rows = []
for name in plain_names:
    rows.append((f"plain summing pass, {name.replace('_', ' ')}", bw[name], "", ""))
    if f"{name}_2proc" in bw:  # two processes at once, each half of every file: the machine's 2-rank ceiling
        rows.append((f"plain summing pass, {name.replace('_', ' ')}, 2 processes at once (half of every file each)",
                     bw[f"{name}_2proc"], f"{bw[name + '_2proc'][0] / bw[name][0]:.2f}x", ""))
arith = {}
for l in plain.splitlines():
    f = l.split()
    if len(f) == 4 and f[0].startswith("arith_"):
        arith[f[0]] = float(f[1])
def rate(key):
    return (total / r[key]["wall"] / 1e9, total / r[key]["cpu"] / 1e9)
for mode, what in (("all", "all statistics, baselines, null (defaults)"),
                   ("pass", "the pass alone (--no-baselines --null-permutations 0)"),
                   ("screen", "a screening run (--screen: hashes and moments alone)")):
    for ranks in (1, 2, "alone"):
        key = f"compare_{mode}_{ranks}"
        extra = f"{rate(key)[0] / rate(f'compare_{mode}_1')[0]:.2f}x" if ranks == 2 else ""
        who = ("1 process without mpirun" if ranks == "alone" else
               f"{ranks} rank{'s' if ranks > 1 else ''} (mpirun)")
        rows.append((f"`lineage compare`, {who}, {what}", rate(key), extra, f"{r[key]['peak_anon_mb']:.0f}"))
for way, how in (("copy", "units copied (--read-units copy)"),
                 ("map", "units read through the mapping (--read-units map)")):
    for mode, what in (("pass", "the pass alone"), ("screen", "a screening run")):
        key = f"compare_{mode}_{way}"
        rows.append((f"`lineage compare`, 1 process without mpirun, {what}, {how}", rate(key), "",
                     f"{r[key]['peak_anon_mb']:.0f}"))
rows.append((f"numpy reference (bench/numpy_reference.py, first {numpy_gb} GB per model)", numpy_rate, "",
             f"{np_r['peak_anon_mb']:.0f}"))
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
out = [f"### {date}, commit {commit}{' (' + label + ')' if label else ''}", "",
       f"Machine: {machine}. Command: `scripts/bench-compare.sh WORKDIR {gb}` (binary `{binary}`). "
       f"Pair: {total / 1e9:.2f} GB read in all (both models). `lineage compare`: median of {rounds} "
       f"alternated round{'s' if int(rounds) > 1 else ''}, the largest peak.", "",
       f"| what | GB/s wall | GB per CPU-s | fraction of the fastest plain pass (wall: "
       f"{ref_wall_name.replace('_', ' ')} / CPU: {ref_cpu_name.replace('_', ' ')}) | x numpy (wall / CPU) "
       "| 2 ranks (or processes) / 1 (wall) | peak anon MB per process |",
       "|---|---|---|---|---|---|---|"]
for name, g, extra, mem in rows:
    out.append(f"| {name} | {g[0]:.2f} | {g[1]:.2f} | {g[0] / ref[0]:.3f} / {g[1] / ref[1]:.3f} "
               f"| {g[0] / numpy_rate[0]:.1f} / {g[1] / numpy_rate[1]:.1f} | {extra} | {mem} |")
if "arith_1proc" in arith and "arith_2proc" in arith:
    out += ["", f"Arithmetic alone (bench_read_bandwidth's products and sums over 16 KiB in L1, no memory traffic): "
            f"{arith['arith_1proc']:.1f} billion a second in one process, {arith['arith_2proc']:.1f} in two at once "
            f"({arith['arith_2proc'] / arith['arith_1proc']:.2f}x). With the plain passes' 2-process rows, the most "
            "2 ranks can gain over 1 on this machine."]
# bench_screen_pass: "<method> <GB/s> GB/s wall <s> s cpu <s> s (check <x>)" per round; medians.
walls = {}
for l in screen.splitlines():
    f = l.split()
    if len(f) >= 5:
        walls.setdefault(f[0], []).append(float(f[4]))
if "plain" in walls:
    base = statistics.median(walls["plain"])
    what = {"hash": "XXH3 of each side", "cosine_f64": "the five sums of the centred cosine, double lanes",
            "screen_f64": "both in one loop per 512 KiB chunk (least work of such a mode)",
            "screen_f64_zmm": "the same, one conversion instruction per eight floats (AVX-512)",
            "screen_f64_ymm": "the same, the sums in four-lane double vectors (AVX2's registers hold them)",
            "screen_f32": "the same with the sums in float lanes within 4,096 elements",
            "screen_f32_128": "the same within 128 elements",
            "screen_pread": "screen_f64 with each chunk copied by pread, as the compare pass reads"}
    out += ["", "Hashes plus centred cosine alone, least work (`bench_screen_pass`, first shard of each model, "
            "mapped with MAP_POPULATE; median wall of 3 alternated rounds; the least work of `--screen`):", "",
            "| method | wall s | fraction of its plain pass |", "|---|---|---|"]
    for name, w in walls.items():
        m = statistics.median(w)
        out.append(f"| {name}: {what.get(name, 'plain summing pass')} | {m:.3f} | {base / m:.2f} |")
block = "\n".join(out) + "\n"
print(block)
if doc != "-":
    text = open(doc).read()
    begin, end = "<!-- bench-compare:begin -->\n", "<!-- bench-compare:end -->"
    if begin not in text:
        text += f"\n## End-to-end against the read bandwidth and numpy (`scripts/bench-compare.sh`)\n\n{begin}{end}\n"
    i = text.index(begin) + len(begin)
    text = text[:i] + block + "\n" + text[i:]
    open(doc, "w").write(text)
PY
