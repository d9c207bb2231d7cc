// LoadUtmFolderDataset: deep-visual-geo-localization-benchmark's layout, dir/database/
// and dir/queries/ with images named @UTM_east@UTM_north@...@.jpg.
#include <filesystem>

#include "vpr/data/load_dataset.h"
#include "vpr/image/image_list.h"
#include "vpr/util/check.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

// The benchmark has no radius in its files; 25 m is the one its evaluation uses.
constexpr double kDefaultRadius = 25.0;

std::vector<std::string> SplitAt(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at; (at = s.find('@', start)) != std::string::npos; start = at + 1)
    parts.push_back(s.substr(start, at - start));
  parts.push_back(s.substr(start));
  return parts;
}

bool ParseNumber(const std::string& s, double* out) {
  if (s.empty()) return false;
  size_t used = 0;
  try {
    *out = std::stod(s, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == s.size();
}

// (easting, northing) from fields 1 and 2 of the file name split by '@'.
void AppendUtm(const std::string& path, std::vector<double>& positions) {
  std::string name = fs::path(path).filename().string();
  std::vector<std::string> fields = SplitAt(name);
  double east = 0, north = 0;
  bool ok = fields.size() >= 3 && ParseNumber(fields[1], &east) && ParseNumber(fields[2], &north);
  VPR_CHECK(ok, "image '", path,
            "' has no UTM position in its name: names must look like "
            "@UTM_east@UTM_north@...@.jpg (e.g. @0543256.96@4178906.12@10@S@.jpg); rename it or remove it");
  positions.insert(positions.end(), {east, north});
}

std::vector<std::string> SetImages(const fs::path& dir, const char* sub) {
  fs::path folder = dir / sub;
  VPR_CHECK(fs::is_directory(folder), "'", dir.string(), "' has no '", sub, "' folder: a UTM-named dataset folder ",
            "holds database/ and queries/ with @UTM_east@UTM_north@...@.jpg images");
  try {
    return CollectImages({folder.string()});
  } catch (const Error& e) {
    VPR_THROW("the ", sub, " folder '", folder.string(), "' has no images: ", e.what());
  }
}

std::vector<std::string> Relative(const std::vector<std::string>& paths, const fs::path& root) {
  std::vector<std::string> out;
  for (const auto& p : paths) out.push_back(fs::absolute(p).lexically_normal().lexically_relative(root).string());
  return out;
}

}  // namespace

Dataset LoadUtmFolderDataset(const std::string& dir) {
  VPR_CHECK(fs::is_directory(dir), "dataset folder '", dir, "' does not exist or is not a folder");
  fs::path root = fs::absolute(dir).lexically_normal();
  if (root.filename().empty()) root = root.parent_path();  // "dir/" -> "dir"
  Dataset d;
  d.kind = "utm_folders";
  d.root = root.string();
  d.database = SetImages(root, "database");
  d.queries = SetImages(root, "queries");
  for (const auto& p : d.database) AppendUtm(p, d.database_positions);
  for (const auto& p : d.queries) AppendUtm(p, d.query_positions);
  d.database_names = Relative(d.database, root);
  d.query_names = Relative(d.queries, root);
  d.positive_radius = kDefaultRadius;
  d.position_unit = "m";
  d.info = {{"dir", dir}, {"names", "@UTM_east@UTM_north@...@"}};
  d.Check();
  return d;
}

}  // namespace vpr
