// libFuzzer harness: the pickle reader and the torch file parser (zip and legacy).
// Build with -DVPR_FUZZ=ON (README, "Fuzzing"); ctest replays its corpus.
// LibTorch 1.13's PyTorchStreamReader leaks miniz's state (about 1 kB) when its
// constructor throws; scripts/fuzz.sh suppresses that leak, which is in libtorch.
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
