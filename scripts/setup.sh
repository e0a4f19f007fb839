#!/usr/bin/env bash
# Installs every Debian package lrpbench needs (idempotent) and builds it in Release.
# Usage: scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config git
  libtorch-dev libopenblas0-pthread
  libopencv-dev libopencv-contrib-dev libeigen3-dev libboost-dev libpagmo-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  libsqlite3-dev libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-15 libfuzzer-15-dev
  gnuplot-nox
  libopenmpi-dev openmpi-bin
  dataset-fashion-mnist darknet
  python3-torch python3-torchvision python3-numpy python3-onnx
  clang-format
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

if [ "${1:-}" != "--no-build" ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j "$(nproc)"
fi
