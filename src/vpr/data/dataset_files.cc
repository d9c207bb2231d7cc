#include "vpr/data/dataset_files.h"

#include <filesystem>
#include <fstream>

#include "vpr/util/check.h"

namespace vpr {
namespace fs = std::filesystem;

std::string NamesRoot(const std::string& file, const std::string& root) {
  fs::path base = root.empty() ? fs::absolute(file).parent_path() : fs::absolute(root);
  return base.lexically_normal().string();
}

std::vector<std::string> UnderRoot(const std::string& root, const std::vector<std::string>& names) {
  std::vector<std::string> paths;
  paths.reserve(names.size());
  for (const auto& name : names) paths.push_back((fs::path(root) / name).lexically_normal().string());
  return paths;
}

std::vector<std::string> ReadNameList(const std::string& path, const std::string& role) {
  std::ifstream in(path);
  VPR_CHECK(in.good(), "cannot read the ", role, " '", path, "'");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

}  // namespace vpr
