// libFuzzer harness: .npz archives (libzip, then each member's .npy).
#include <cstddef>
#include <cstdint>

#include "fuzz_file.h"
#include "vpr/io/npz.h"
#include "vpr/util/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vpr::ReadNpz(vpr::FuzzInputFile(data, size));
  } catch (const vpr::Error&) {
  }
  return 0;
}
