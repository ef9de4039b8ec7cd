#!/usr/bin/env bash
# An installed lineage works without its source tree: `cmake --install` into a temporary prefix,
# then, in a private mount namespace where the source tree (and the build folder in it) is covered
# by an empty tmpfs, the installed binary finds its data beside itself and runs synth, inventory,
# compare under mpirun and submit --dry-run. CPack's .deb holds the same files.
set -u
lineage=$1
repo=$2
build=$(dirname "$lineage")
py=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
case "$tmp" in "$repo"/*) fail "the temporary folder $tmp lies inside the source tree";; esac

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null || fail "cmake --install"
[ -x "$tmp/prefix/bin/lineage" ] || fail "no bin/lineage"
[ -x "$tmp/prefix/bin/lineage-mpirun" ] || fail "no bin/lineage-mpirun (the checkpointing mpirun launcher)"
for d in families catalog slurm synth-styles; do
  [ -n "$(ls "$tmp/prefix/share/lineage/$d")" ] || fail "share/lineage/$d missing or empty"
done
[ -f "$tmp/prefix/share/doc/lineage/cli.md" ] || fail "docs not installed"

cat > "$tmp/hidden.sh" <<'INNER'
set -u
prefix=$1; tmp=$2; repo=$3
fail() { echo "FAIL (installed copy): $*"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
unset LINEAGE_FAMILIES LINEAGE_CATALOG LINEAGE_SLURM_TEMPLATES
[ -z "$(ls -A "$repo")" ] || fail "the source tree is still visible"
bin=$prefix/bin/lineage
v=$("$bin" --version) || fail "--version"
for d in families catalog slurm synth-styles; do
  grep -q "^$d: $prefix/share/lineage/$d (installed)$" <<<"$v" || fail "$d not found beside the binary: $v"
done
cd "$tmp" || exit 1
"$bin" synth --scenario base --out base >/dev/null || fail "synth base"
"$bin" synth --scenario finetune --base base --out ft >/dev/null || fail "synth finetune"
"$bin" inventory ft | grep -q "qwen2_moe" || fail "inventory"
out=$(mpirun --oversubscribe -np 2 "$bin" compare ft base --out run.h5 -q 2>&1) || fail "compare: $out"
grep -q "overall: derived (finetune" <<<"$out" || fail "compare verdict: $out"
printf 'suspect: ft\nparents: [base]\nout: job.h5\nslurm:\n  tasks_per_node: 2\n' > run.yaml
out=$("$bin" submit run.yaml --dry-run) || fail "submit --dry-run: $out"
grep -q "^srun --mpi=pmix $bin compare --run $tmp/run.yaml --resume" <<<"$out" || fail "sbatch script: $out"
out=$("$bin" submit run.yaml --dry-run --launcher mpirun) || fail "submit --dry-run --launcher mpirun: $out"
grep -q "^$prefix/bin/lineage-mpirun --allow-run-as-root $bin compare --run $tmp/run.yaml --resume" <<<"$out" \
  || fail "sbatch script with --launcher mpirun: $out"
echo "installed copy: ok"
INNER
unshare -m --propagation private bash -c 'mount -t tmpfs tmpfs "$3" && bash "$4" "$1" "$2" "$3"' \
  _ "$tmp/prefix" "$tmp" "$repo" "$tmp/hidden.sh" || fail "installed copy"

# The Debian package: the same files under /usr, with the shared libraries' packages as Depends.
(cd "$build" && cpack -G DEB -B "$tmp/pkg" >/dev/null) || fail "cpack"
deb=$(ls "$tmp"/pkg/lineage_*.deb) || fail "no .deb"
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/lineage ./usr/bin/lineage-mpirun ./usr/share/lineage/families/ ./usr/share/lineage/catalog/ ./usr/share/lineage/slurm/compare.sbatch.in \
         ./usr/share/lineage/synth-styles/qwen2_moe.json; do
  grep -q " $f" <<<"$contents" || fail "$f not in the .deb"
done
dpkg-deb -f "$deb" Depends | grep -q "libhdf5" || fail "Depends lacks the HDF5 library: $(dpkg-deb -f "$deb" Depends)"
echo "install cli: ok"
