#!/usr/bin/env bash
# moesim set-up and go, for a fresh Debian 12 machine (run as root, or with sudo available).
# Idempotent: installs only missing packages, reconfigures and rebuilds incrementally.
#
#   bash tools/setup.sh run        install, build, run `moesim` on its embedded default
#   bash tools/setup.sh test       install, build, run the whole test suite (CTest)
#   bash tools/setup.sh sanitize   install, build with ASan+UBSan in build-asan/, run the tests
#   bash tools/setup.sh build      install and build only
#
# Environment: BUILD_DIR (default build), JOBS (default: number of cores),
# MOESIM_CUDA=ON|OFF (default: ON when /usr/local/cuda/bin/nvcc exists), NCCL_ROOT.
set -euo pipefail

mode="${1:-run}"
shift || true
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

packages=(build-essential cmake pkg-config libboost-graph-dev nlohmann-json3-dev libfmt-dev libcli11-dev
          libeigen3-dev libgtest-dev libgmock-dev googletest libbenchmark-dev python3)

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all packages present"
    return
  fi
  echo "setup: installing ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

configure_and_build() {
  local dir="$1"
  shift
  local cuda_args=()
  if [ -n "${MOESIM_CUDA:-}" ]; then cuda_args+=("-DMOESIM_CUDA=${MOESIM_CUDA}"); fi
  if [ -n "${NCCL_ROOT:-}" ]; then cuda_args+=("-DNCCL_ROOT=${NCCL_ROOT}"); fi
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "${cuda_args[@]}" "$@"
  cmake --build "$dir" -j "$jobs"
}

install_packages
case "$mode" in
  run)
    configure_and_build "${BUILD_DIR:-build}"
    "${BUILD_DIR:-build}/tools/moesim" "$@"
    ;;
  test)
    configure_and_build "${BUILD_DIR:-build}"
    ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$jobs" "$@"
    ;;
  sanitize)
    # CUDA code is not instrumented; the simulator and its tests are.
    MOESIM_CUDA=OFF configure_and_build "${BUILD_DIR:-build-asan}" -DMOESIM_SANITIZE=ON -DMOESIM_BUILD_BENCHMARKS=OFF
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir "${BUILD_DIR:-build-asan}" --output-on-failure -j "$jobs" "$@"
    ;;
  build)
    configure_and_build "${BUILD_DIR:-build}"
    ;;
  *)
    echo "usage: bash tools/setup.sh run|test|sanitize|build [args]" >&2
    exit 2
    ;;
esac
