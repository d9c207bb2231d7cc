// libFuzzer harness: MAT files (our v5 parser; v7.3 through matio) and the dbStruct
// readers on top. Build with -DVPR_FUZZ=ON (README, "Fuzzing"); ctest replays its corpus.
#include <cstddef>
#include <cstdint>

#include "fuzz_file.h"
#include "vpr/data/load_dataset.h"
#include "vpr/util/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vpr::LoadMatDataset(vpr::FuzzInputFile(data, size), "/fuzz-root");
  } catch (const vpr::Error&) {
  }
  return 0;
}
