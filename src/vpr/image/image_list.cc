#include "vpr/image/image_list.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "vpr/util/check.h"

namespace vpr {
namespace fs = std::filesystem;

bool HasImageExtension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const char* kExts[] = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"};
  return std::any_of(std::begin(kExts), std::end(kExts), [&](const char* e) { return ext == e; });
}

namespace {

std::vector<std::string> ScanFolder(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink)) {
    if (entry.is_regular_file() && HasImageExtension(entry.path().string())) {
      found.push_back(entry.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  VPR_CHECK(!found.empty(), "folder '", dir.string(), "' contains no images (looked recursively for .jpg, .png, .bmp, .tif, .webp, .ppm)");
  return found;
}

std::vector<std::string> ReadList(const fs::path& list) {
  std::ifstream in(list);
  VPR_CHECK(in, "cannot read image list '", list.string(), "'");
  std::vector<std::string> found;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    fs::path p(line.substr(start));
    found.push_back((p.is_relative() ? list.parent_path() / p : p).lexically_normal().string());
  }
  VPR_CHECK(!found.empty(), "image list '", list.string(), "' names no images");
  return found;
}

}  // namespace

std::vector<std::string> CollectImages(const std::vector<std::string>& inputs) {
  VPR_CHECK(!inputs.empty(), "no images given: pass a folder, an image or a text file listing images");
  std::vector<std::string> all;
  for (const auto& input : inputs) {
    fs::path p(input);
    VPR_CHECK(fs::exists(p), "'", input, "' does not exist (expected a folder, an image or a list file)");
    std::vector<std::string> part;
    if (fs::is_directory(p)) {
      part = ScanFolder(p);
    } else if (HasImageExtension(input)) {
      part = {input};
    } else {
      part = ReadList(p);
    }
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

}  // namespace vpr
