// libFuzzer harness for the pickle reader and the torch file parser (not built by CMake).
// Build and run from the repository root:
//   clang++-14 -std=c++17 -g -O1 -fsanitize=fuzzer,address -Isrc -I/usr/include/torch/csrc/api/include -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL src/vpr/io/pickle_fuzz.cc src/vpr/io/pickle.cc src/vpr/io/torch_file.cc src/vpr/util/atomic_file.cc src/vpr/util/logging.cc -ltorch -ltorch_cpu -lc10 -lspdlog -lfmt -o /tmp/pickle_fuzz
//   echo leak:libtorch_cpu.so > /tmp/lsan.supp
//   LSAN_OPTIONS=suppressions=/tmp/lsan.supp ASAN_OPTIONS=allocator_may_return_null=1 /tmp/pickle_fuzz -max_total_time=60 -rss_limit_mb=4096 -max_len=16384 /tmp/pickle_corpus
// allocator_may_return_null: a corrupt zip directory can ask miniz for a huge record,
// which LibTorch's allocator then reports as an error instead of ASan aborting.
// The suppression: LibTorch 1.13's PyTorchStreamReader leaks miniz's state (about 1 kB)
// when its constructor throws (e.g. no "version" record); that is in libtorch, not here.
// Seed the corpus with a few torch.save files (zip and legacy) and pickle.dumps outputs.
#include <cstddef>
#include <cstdint>
#include <string>

#include "vpr/io/pickle.h"
#include "vpr/io/torch_file.h"
#include "vpr/util/check.h"

namespace {

// Hands out a small float storage for any persistent id, so tensor rebuilding is fuzzed too.
vpr::PyValuePtr FakeStorage(const vpr::PyValuePtr&) {
  auto storage = std::make_shared<vpr::PyValue>();
  storage->kind = vpr::PyValue::Kind::kStorage;
  storage->tensor = at::zeros({16});
  return storage;
}

void Exercise(const vpr::PyValuePtr& value) {
  value->Describe();
  vpr::TorchFile file{value, "fuzz"};
  vpr::CheckpointInfo(file);
  try {
    vpr::ExtractStateDict(file, "fuzz");
  } catch (const vpr::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  try {
    size_t consumed = 0;
    Exercise(vpr::Unpickle(bytes, size, &consumed, FakeStorage));
  } catch (const vpr::Error&) {
  }
  try {
    Exercise(vpr::LoadTorchBytes(std::string(bytes, size), "fuzz").root);
  } catch (const vpr::Error&) {
  }
  return 0;
}
