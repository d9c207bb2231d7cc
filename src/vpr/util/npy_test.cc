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

TEST(Npy, WriterStreamsRowsAndCommitsTheCountInTheHeader) {
  std::string path = TempPath("stream.npy");
  std::filesystem::remove(path);
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {7, 8, 9};
  {
    NpyWriter writer(path, 3);
    writer.Append(a.data(), 2);
    writer.Append(b.data(), 1);
    EXPECT_FALSE(std::filesystem::exists(path));  // nothing visible before Commit
    writer.Commit();
  }
  NpyMatrix m = ReadNpy(path);
  EXPECT_EQ(m.rows, 3);
  EXPECT_EQ(m.cols, 3);
  EXPECT_EQ(m.data, (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ((std::filesystem::file_size(path) - 9 * 4) % 64, 0u);
}

TEST(Npy, WriterWithoutCommitLeavesTheOldFileAndNoTemporary) {
  std::string dir = TempPath("stream_dir");
  std::filesystem::remove_all(dir);
  std::string path = dir + "/d.npy";
  std::vector<float> old = {5, 6};
  WriteNpy(path, old.data(), 1, 2);
  {
    NpyWriter writer(path, 2);
    writer.Append(old.data(), 1);
  }  // an exception or early return: no Commit
  EXPECT_EQ(ReadNpy(path).data, old);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) entries += e.is_regular_file();
  EXPECT_EQ(entries, 1);
  try {
    NpyWriter unwritable("/proc/no_such_dir/x.npy", 2);
    ADD_FAILURE() << "an unwritable path must fail before any work";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("x.npy"), std::string::npos) << e.what();
  }
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
