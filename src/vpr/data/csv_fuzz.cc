// libFuzzer harness: CSV ground truth (path,easting,northing | path,lat,lon; split).
#include <cstddef>
#include <cstdint>

#include "fuzz_file.h"
#include "vpr/data/load_dataset.h"
#include "vpr/util/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    vpr::LoadCsvDataset(vpr::FuzzInputFile(data, size), "/fuzz-root");
  } catch (const vpr::Error&) {
  }
  return 0;
}
