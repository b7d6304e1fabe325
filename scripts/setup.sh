#!/usr/bin/env bash
# The one place that installs what moecheck builds and tests with (Debian 12
# packages; the CUDA toolkit for device code is not among them). The README's
# first command and .ci/run call it. Idempotent: it installs only the
# packages that are missing and says which; with none missing it changes
# nothing and needs neither root nor the network.
set -euo pipefail

# One package a line, so that additions merge cleanly.
packages=(
  cmake
  make
  g++
  pkg-config
  git
  python3
  libgtest-dev
  libgmock-dev
  librapidcheck-dev
  libboost-dev
  libmpfr-dev
  libgmp-dev
  nlohmann-json3-dev
  libcli11-dev
  libomp-dev
  clang
  libclang-rt-14-dev
  chromium
  python3-torch
)

installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]; }

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "setup: needs a Debian 12 system (dpkg-query and apt-get); install these by other means: ${packages[*]}" >&2
  exit 2
fi
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages are installed; nothing to do"
  exit 0
fi
echo "setup: installing ${#missing[@]} of ${#packages[@]} packages: ${missing[*]}"
sudo=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: not root and no sudo: run it as root" >&2; exit 2; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
echo "setup: installed ${missing[*]}"
