#include "vpr/image/image_list.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "vpr/util/check.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

fs::path FreshDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "vpr_image_list_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void Touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x";
}

std::string ErrorOf(const std::vector<std::string>& inputs) {
  try {
    CollectImages(inputs);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(ImageList, FolderIsScannedRecursivelyAndSortedKeepingOnlyImages) {
  fs::path dir = FreshDir("tree");
  Touch(dir / "b.jpg");
  Touch(dir / "a.PNG");
  Touch(dir / "sub" / "c.jpeg");
  Touch(dir / "notes.txt");
  auto images = CollectImages({dir.string()});
  ASSERT_EQ(images.size(), 3u);
  EXPECT_EQ(images[0], (dir / "a.PNG").string());
  EXPECT_EQ(images[1], (dir / "b.jpg").string());
  EXPECT_EQ(images[2], (dir / "sub" / "c.jpeg").string());
}

TEST(ImageList, ListFileKeepsOrderSkipsCommentsAndResolvesRelativePaths) {
  fs::path dir = FreshDir("list");
  std::ofstream(dir / "list.txt") << "# database\nz.jpg\n\n  /abs/y.png  \nsub/x.jpg\n";
  auto images = CollectImages({(dir / "list.txt").string()});
  ASSERT_EQ(images.size(), 3u);
  EXPECT_EQ(images[0], (dir / "z.jpg").string());
  EXPECT_EQ(images[1], "/abs/y.png");
  EXPECT_EQ(images[2], (dir / "sub" / "x.jpg").string());
}

TEST(ImageList, EmptyOrMissingInputsSayWhatWasExpected) {
  fs::path dir = FreshDir("empty");
  EXPECT_NE(ErrorOf({dir.string()}).find("contains no images"), std::string::npos);
  EXPECT_NE(ErrorOf({(dir / "nope").string()}).find("does not exist"), std::string::npos);
  EXPECT_NE(ErrorOf({}).find("no images given"), std::string::npos);
  std::ofstream(dir / "empty.txt") << "# nothing\n";
  EXPECT_NE(ErrorOf({(dir / "empty.txt").string()}).find("names no images"), std::string::npos);
}

}  // namespace
}  // namespace vpr
