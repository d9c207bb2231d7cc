// libFuzzer harness: .npy headers and data, whole (ReadNpyBytes, ReadDescriptorMatrix)
// and streamed (NpyReader).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_file.h"
#include "vpr/util/check.h"
#include "vpr/util/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    vpr::ReadNpyBytes(bytes, "fuzz");
  } catch (const vpr::Error&) {
  }
  const std::string path = vpr::FuzzInputFile(data, size);
  try {
    vpr::ReadDescriptorMatrix(path, "--fuzz");
  } catch (const vpr::Error&) {
  }
  try {
    vpr::NpyReader reader(path);
    std::vector<float> row(static_cast<size_t>(reader.cols()));
    for (int64_t r = 0; r < std::min<int64_t>(reader.rows(), 4096); ++r) reader.ReadRows(r, 1, row.data());
  } catch (const vpr::Error&) {
  }
  return 0;
}
