#include "vpr/io/npz.h"

#include <gtest/gtest.h>
#include <zip.h>

#include <cstring>
#include <filesystem>

#include "vpr/test_config.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

// A .npy file's bytes: version 1.0 header with `descr` and `shape`, then `data`.
std::string NpyBytes(const std::string& descr, const std::string& shape, const std::string& data) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }\n";
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>(dict.size() >> 8));
  return out + dict + data;
}

template <typename T>
std::string Raw(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) out.append(reinterpret_cast<const char*>(&v), sizeof(T));
  return out;
}

struct Member {
  std::string name, bytes;
  bool deflate;
};

// Writes a zip the way np.savez (stored) and np.savez_compressed (deflated) do.
void WriteZip(const std::string& path, const std::vector<Member>& members) {
  fs::remove(path);
  int code = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  ASSERT_NE(z, nullptr);
  for (const auto& m : members) {
    zip_source_t* src = zip_source_buffer(z, m.bytes.data(), m.bytes.size(), 0);
    zip_int64_t index = zip_file_add(z, m.name.c_str(), src, ZIP_FL_OVERWRITE);
    ASSERT_GE(index, 0);
    zip_set_file_compression(z, index, m.deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  ASSERT_EQ(zip_close(z), 0);  // the buffers are read here, so they must outlive the loop
}

std::string TempPath(const std::string& name) {
  return (fs::temp_directory_path() / ("vpr_npz_test_" + name)).string();
}

TEST(Npz, ReadsStoredAndDeflatedMembersExactly) {
  std::string path = TempPath("mixed.npz");
  std::string utm = Raw<double>({584825.9611881467, 4476945.610746089, 1.5, -2.25});
  std::string repeated(1000, '\0');  // compressible, so deflate really changes the bytes
  WriteZip(path, {{"utm.npy", NpyBytes("<f8", "(2, 2)", utm), false},
                  {"thr.npy", NpyBytes("<i8", "()", Raw<int64_t>({25})), true},
                  {"zeros.npy", NpyBytes("|u1", "(1000,)", repeated), true},
                  {"readme.txt", "not an array", false}});
  auto arrays = ReadNpz(path);
  ASSERT_EQ(arrays.size(), 3u);
  const NpyMatrix& u = arrays.at("utm");
  EXPECT_EQ(u.rows, 2);
  EXPECT_EQ(u.cols, 2);
  EXPECT_EQ(u.dtype, "<f8");
  EXPECT_EQ(u.At(0), 584825.9611881467);  // exact: float32 would round to 584825.9375
  EXPECT_EQ(u.At(1), 4476945.610746089);
  EXPECT_EQ(u.At(3), -2.25);
  const NpyMatrix& t = arrays.at("thr");
  EXPECT_TRUE(t.shape.empty());
  EXPECT_EQ(t.rows * t.cols, 1);
  EXPECT_EQ(t.At(0), 25.0);
  EXPECT_EQ(arrays.at("zeros").cols, 1000);
  EXPECT_EQ(arrays.at("zeros").At(999), 0.0);
}

TEST(Npz, ObjectMemberIsRejectedNamingIt) {
  std::string path = TempPath("object.npz");
  WriteZip(path, {{"names.npy", NpyBytes("|O", "(2,)", std::string(16, '\0')), false}});
  std::string error = ThrownMessage([&] { ReadNpz(path); });
  EXPECT_NE(error.find("names.npy"), std::string::npos) << error;
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("dtype '|O'"), std::string::npos) << error;
  EXPECT_NE(error.find("numeric"), std::string::npos) << error;
}

TEST(Npz, NotAZipIsRejectedNamingTheFile) {
  std::string path = TempPath("bad.npz");
  WriteFileAtomic(path, std::string("this is not a zip archive at all"));
  std::string error = ThrownMessage([&] { ReadNpz(path); });
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("zip"), std::string::npos) << error;
  EXPECT_NE(ThrownMessage([&] { ReadNpz(TempPath("missing.npz")); }), "");
}

TEST(Npz, ReadsPatchNetVladPitts30k) {
  fs::path file = fs::path(VPR_SHARED_DIR) / "data/gt/patchnetvlad/pitts30k_test.npz";
  if (!fs::exists(file)) GTEST_SKIP() << "real data absent: " << file << " (../shared/data is not on this machine)";
  auto arrays = ReadNpz(file.string());
  ASSERT_EQ(arrays.size(), 3u);
  EXPECT_EQ(arrays.at("utmDb").shape, (std::vector<int64_t>{10000, 2}));
  EXPECT_EQ(arrays.at("utmQ").shape, (std::vector<int64_t>{6816, 2}));
  EXPECT_EQ(arrays.at("utmDb").At(0), 584825.9611881467);  // np.load(...)['utmDb'][0].tolist()
  EXPECT_EQ(arrays.at("utmDb").At(1), 4476945.610746089);
  EXPECT_EQ(arrays.at("utmQ").At(2 * 6815 + 1), 4477141.51105614);
  EXPECT_EQ(arrays.at("posDistThr").At(0), 25.0);
  EXPECT_TRUE(arrays.at("posDistThr").shape.empty());
}

}  // namespace
}  // namespace vpr
