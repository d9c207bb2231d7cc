// libFuzzer harness: image headers (JPEG frame, PNG IHDR), the truncation check and the
// decode + resize path (OpenCV), with a small pixel cap to keep each run fast.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_file.h"
#include "vpr/image/image_io.h"
#include "vpr/util/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  int width = 0, height = 0;
  vpr::JpegSize(bytes, &width, &height);
  vpr::PngSize(bytes, &width, &height);
  int64_t w = 0, h = 0;
  vpr::DeclaredImageSize(bytes, &w, &h);
  vpr::ImageComplete(bytes);
  vpr::ResizeOptions options;
  options.max_side = 64;
  options.max_pixels = 4'000'000;
  try {
    vpr::LoadResizedImage(vpr::FuzzInputFile(data, size), options);
  } catch (const vpr::Error&) {
  }
  return 0;
}
