#include "vpr/util/fingerprint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace vpr {
namespace {

TEST(Fingerprint, FirstLaneIsStandardFnv1a64) {
  // Published FNV-1a 64 test vectors.
  EXPECT_EQ(Fingerprint().Add("a", 1).Hex().substr(0, 16), "af63dc4c8601ec8c");
  EXPECT_EQ(Fingerprint().Add("foobar", 6).Hex().substr(0, 16), "85944171f73967e8");
}

TEST(Fingerprint, StringsAreLengthPrefixed) {
  EXPECT_NE(Fingerprint().Add(std::string("ab")).Add(std::string("c")).Hex(),
            Fingerprint().Add(std::string("a")).Add(std::string("bc")).Hex());
  EXPECT_EQ(Fingerprint().Add(std::string("ab")).Hex(), Fingerprint().Add(std::string("ab")).Hex());
  EXPECT_EQ(Fingerprint().Hex().size(), 32u);
}

TEST(Fingerprint, FilesChangeWithContentSizeOrOrder) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "vpr_fingerprint_test";
  fs::create_directories(dir);
  std::string a = (dir / "a.jpg").string(), b = (dir / "b.jpg").string();
  std::ofstream(a) << "one";
  std::ofstream(b) << "two";
  std::string before = FingerprintFiles({a, b});
  EXPECT_EQ(before, FingerprintFiles({a, b}));
  EXPECT_NE(before, FingerprintFiles({b, a}));
  std::ofstream(b) << "three!";
  EXPECT_NE(before, FingerprintFiles({a, b}));
  fs::remove(b);
  EXPECT_NE(before, FingerprintFiles({a, b}));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vpr
