// libFuzzer harness: VPR-Bench ground truth (.npy object arrays of [query, [refs]] rows,
// integer arrays of [query, ref] rows).
#include <cstddef>
#include <cstdint>

#include "fuzz_file.h"
#include "vpr/data/load_dataset.h"
#include "vpr/util/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vpr::ReadVprBenchGroundTruth(vpr::FuzzInputFile(data, size));
  } catch (const vpr::Error&) {
  }
  return 0;
}
