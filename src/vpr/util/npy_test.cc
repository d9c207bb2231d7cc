#include "vpr/util/npy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"

namespace vpr {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("vpr_npy_test_" + name)).string();
}

TEST(Npy, RoundTripKeepsShapeAndValues) {
  std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 1e-7f, 42.0f};
  std::string path = TempPath("rt.npy");
  WriteNpy(path, values.data(), 2, 3);
  NpyMatrix m = ReadNpy(path);
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 3);
  EXPECT_EQ(m.data, values);
  // Header is padded so that the data starts at a multiple of 64 bytes.
  EXPECT_EQ((std::filesystem::file_size(path) - values.size() * 4) % 64, 0u);
}

TEST(Npy, TruncatedFileIsRejectedWithSizes) {
  std::vector<float> values(100, 1.0f);
  std::string path = TempPath("trunc.npy");
  WriteNpy(path, values.data(), 10, 10);
  std::string bytes = ReadFileBytes(path);
  WriteFileAtomic(path, bytes.substr(0, bytes.size() - 8));
  try {
    ReadNpy(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

TEST(Npy, NotNpyIsRejected) {
  std::string path = TempPath("bad.npy");
  WriteFileAtomic(path, std::string("hello world, not numpy"));
  EXPECT_THROW(ReadNpy(path), Error);
}

}  // namespace
}  // namespace vpr
