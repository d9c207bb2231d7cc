#!/usr/bin/env bash
# Installs the Debian 12 packages vpr needs that are missing; idempotent.
#   scripts/install_deps.sh          build and run (LibTorch, FAISS, OpenCV, ...)
#   scripts/install_deps.sh --tests  also the test oracle (python3-torch, -torchvision)
#   scripts/install_deps.sh --fuzz   also clang and libFuzzer (scripts/fuzz.sh)
set -euo pipefail

packages=(cmake g++ make pkg-config libtorch-dev libfaiss-dev libopencv-dev libmatio-dev
          libcli11-dev libspdlog-dev nlohmann-json3-dev libcpp-httplib-dev libgtest-dev
          libbenchmark-dev libzip-dev zlib1g-dev libgeographiclib-dev
          libgloo-dev  # the Gloo headers LibTorch's c10d headers include (distributed runs)
          libopenblas0-openmp)  # optimised BLAS for LibTorch, FAISS and PCA (README, "BLAS")
if [[ "${1:-}" == "--tests" ]]; then
  packages+=(python3 python3-torch python3-torchvision python3-numpy python3-pil python3-scipy python3-faiss
             strace time  # kill injection at renames, peak memory (tests/reliability_test.cc)
             chromium     # renders report.html and drives the vpr serve viewer headless
             curl)        # the README's vpr serve examples
fi
if [[ "${1:-}" == "--fuzz" ]]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install_deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
