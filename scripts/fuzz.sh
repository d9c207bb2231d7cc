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
# Readers that hand sizes to FAISS are fuzzed with UBSan only (build-fuzz-ubsan): their
# guard is an address-space cap (RLIMIT_AS), which ASan's shadow memory rules out.
faiss_readers=" faiss_index_fuzz vprdb_fuzz "
build_dir() { if [[ $faiss_readers == *" $1 "* ]]; then echo build-fuzz-ubsan; else echo build-fuzz; fi; }
for dir in build-fuzz build-fuzz-ubsan; do
  targets=()
  for h in "${harnesses[@]}"; do [[ $(build_dir "$h") == "$dir" ]] && targets+=("vpr_$h"); done
  [[ ${#targets[@]} -eq 0 ]] && continue
  sanitizers=address,undefined
  [[ $dir == build-fuzz-ubsan ]] && sanitizers=undefined
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 -DVPR_FUZZ=ON \
    -DVPR_FUZZ_SANITIZERS="$sanitizers" -DVPR_BUILD_TESTS=OFF -DVPR_BUILD_BENCH=OFF > /dev/null
  cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"
done
# LibTorch 1.13's PyTorchStreamReader leaks miniz's state (about 1 kB) when its
# constructor throws on a corrupt zip; the leak is in libtorch, not in vpr.
mkdir -p build-fuzz
echo "leak:libtorch_cpu.so" > build-fuzz/lsan.supp
for h in "${harnesses[@]}"; do
  mkdir -p "build-fuzz/corpus/$h" "build-fuzz/crashes/$h"
  echo "== $h: ${seconds}s"
  # allocator_may_return_null: a huge request from a corrupt header becomes an
  # exception the reader reports, not an ASan abort; rss_limit: no input may need 2 GB.
  LSAN_OPTIONS="suppressions=$PWD/build-fuzz/lsan.supp" ASAN_OPTIONS=allocator_may_return_null=1 \
    "$(build_dir "$h")/src/vpr/vpr_$h" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=20 \
    -artifact_prefix="build-fuzz/crashes/$h/" -print_final_stats=1 \
    "build-fuzz/corpus/$h" "tests/fuzz/corpus/$h" 2>&1 | tail -n 25
done
