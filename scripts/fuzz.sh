#!/usr/bin/env bash
# Builds the libFuzzer harnesses (src/vpr/*/*_fuzz.cc) with clang, ASan and UBSan in
# build-fuzz/, then fuzzes each for SECONDS (default 60), starting from the saved corpus
# tests/fuzz/corpus/<harness>/. New inputs go to build-fuzz/corpus/<harness>/, crashes
# to build-fuzz/crashes/<harness>/; copy a crash into the saved corpus once it is fixed,
# so that ctest replays it from then on.
#   scripts/fuzz.sh [SECONDS] [HARNESS...]     e.g. scripts/fuzz.sh 1800 mat_fuzz npy_fuzz
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
scripts/install_deps.sh --fuzz
harnesses=("$@")
if [[ ${#harnesses[@]} -eq 0 ]]; then
  for f in src/vpr/*/*_fuzz.cc; do harnesses+=("$(basename "$f" .cc)"); done
fi
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 -DVPR_FUZZ=ON \
  -DVPR_BUILD_TESTS=OFF -DVPR_BUILD_BENCH=OFF > /dev/null
cmake --build build-fuzz -j "$(nproc)" --target "${harnesses[@]/#/vpr_}"
# LibTorch 1.13's PyTorchStreamReader leaks miniz's state (about 1 kB) when its
# constructor throws on a corrupt zip; the leak is in libtorch, not in vpr.
echo "leak:libtorch_cpu.so" > build-fuzz/lsan.supp
for h in "${harnesses[@]}"; do
  mkdir -p "build-fuzz/corpus/$h" "build-fuzz/crashes/$h"
  echo "== $h: ${seconds}s"
  # allocator_may_return_null: a huge request from a corrupt header becomes an
  # exception the reader reports, not an ASan abort; rss_limit: no input may need 2 GB.
  # FAISS sizes vectors from the file; outside ASan an address-space cap turns that into
  # std::bad_alloc, here max_allocation_size_mb does.
  asan=allocator_may_return_null=1 extra=()
  if [[ $h == faiss_index_fuzz || $h == vprdb_fuzz ]]; then asan+=:max_allocation_size_mb=1024 extra=(-malloc_limit_mb=4096); fi
  LSAN_OPTIONS="suppressions=$PWD/build-fuzz/lsan.supp" ASAN_OPTIONS=$asan \
    "build-fuzz/src/vpr/vpr_$h" "${extra[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=20 \
    -artifact_prefix="build-fuzz/crashes/$h/" -print_final_stats=1 \
    "build-fuzz/corpus/$h" "tests/fuzz/corpus/$h" 2>&1 | tail -n 25
done
