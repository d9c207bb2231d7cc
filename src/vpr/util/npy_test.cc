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

// A version 1.0 .npy with the given header fields and raw data.
std::string NpyBytes(const std::string& descr, const std::string& shape, const std::string& data) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }\n";
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(dict.size()));
  out.push_back('\0');
  return out + dict + data;
}

TEST(Npy, Float64KeepsExactValuesBesideFloat32Data) {
  double v[] = {4476945.610746089, -0.125};
  NpyMatrix m = ReadNpyBytes(NpyBytes("<f8", "(2,)", std::string(reinterpret_cast<char*>(v), sizeof v)), "mem");
  EXPECT_EQ(m.dtype, "<f8");
  EXPECT_EQ(m.rows, 1);
  EXPECT_EQ(m.cols, 2);
  EXPECT_EQ(m.At(0), 4476945.610746089);
  EXPECT_EQ(m.data[0], static_cast<float>(4476945.610746089));
  EXPECT_EQ(m.At(1), -0.125);
}

TEST(Npy, ZeroDimensionalIntegerIsOneByOne) {
  int64_t v = -42;
  NpyMatrix m = ReadNpyBytes(NpyBytes("<i8", "()", std::string(reinterpret_cast<char*>(&v), 8)), "mem");
  EXPECT_TRUE(m.shape.empty());
  EXPECT_EQ(m.rows, 1);
  EXPECT_EQ(m.cols, 1);
  EXPECT_EQ(m.At(0), -42.0);
  EXPECT_EQ(m.data[0], -42.0f);
}

TEST(Npy, SmallIntegersAndBoolsConvert) {
  uint8_t b[] = {1, 0, 1};
  NpyMatrix m = ReadNpyBytes(NpyBytes("|b1", "(3,)", std::string(reinterpret_cast<char*>(b), 3)), "mem");
  EXPECT_EQ(m.values, (std::vector<double>{1, 0, 1}));
  int16_t s[] = {-300, 7};
  m = ReadNpyBytes(NpyBytes("<i2", "(2, 1)", std::string(reinterpret_cast<char*>(s), 4)), "mem");
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.values, (std::vector<double>{-300, 7}));
}

TEST(Npy, Float32HasNoSeparateValues) {
  float v[] = {1.5f, 2.5f};
  NpyMatrix m = ReadNpyBytes(NpyBytes("<f4", "(1, 2)", std::string(reinterpret_cast<char*>(v), 8)), "mem");
  EXPECT_TRUE(m.values.empty());
  EXPECT_EQ(m.At(1), 2.5);
}

TEST(Npy, UnsupportedDtypesNameTheSourceAndTheFix) {
  std::string error;
  try {
    ReadNpyBytes(NpyBytes("<U10", "(2,)", std::string(80, '\0')), "member 'names.npy'");
  } catch (const Error& e) {
    error = e.what();
  }
  EXPECT_NE(error.find("member 'names.npy'"), std::string::npos) << error;
  EXPECT_NE(error.find("numeric"), std::string::npos) << error;
  EXPECT_THROW(ReadNpyBytes(NpyBytes(">f8", "(1,)", std::string(8, '\0')), "mem"), Error);
  EXPECT_THROW(ReadNpyBytes(NpyBytes("<f2", "(1,)", std::string(2, '\0')), "mem"), Error);
}

}  // namespace
}  // namespace vpr
