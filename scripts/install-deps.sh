#!/usr/bin/env bash
# Installs the Debian 12 packages adamgn needs to build and test, skipping those already present
# (slurm-wlm and munge: the job-array test, tests/CMakeLists.txt; ccache: the portable variant
# that `ctest` builds beside the default one recompiles only the files that differ).
set -euo pipefail
packages=(g++ make cmake git libeigen3-dev libcli11-dev nlohmann-json3-dev libomp-dev doctest-dev
          liblapacke-dev libopenblas-dev slurm-wlm munge ccache)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
