#!/usr/bin/env bash
# Installs everything lineage needs to build, test and run, from Debian 12 packages only.
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools
  libboost-program-options-dev libeigen3-dev libyaml-cpp-dev libgtest-dev
  nlohmann-json3-dev libxxhash-dev zlib1g-dev
  libcurl4-openssl-dev libssl-dev  # remote checkpoints (range reads, lineage fetch) and SHA-256
  nginx  # the remote-checkpoint test serves a model over HTTP with Range support
  python3 python3-h5py python3-numpy procps
  clang-format clang-tidy  # the format and clang-tidy checks of the test command
  chromium  # the report test opens lineage report's page in headless Chromium
  clang libclang-rt-14-dev  # the libFuzzer pass of the test command (scripts/fuzz.sh); GCC builds the rest
  slurm-wlm munge  # lineage submit, and the throw-away cluster of the end-to-end tests
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
