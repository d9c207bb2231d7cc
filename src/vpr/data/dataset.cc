#include "vpr/data/dataset.h"

#include <filesystem>

#include "vpr/image/image_list.h"
#include "vpr/util/check.h"

namespace vpr {
namespace fs = std::filesystem;

namespace {

void CheckExplicitPositives(const Dataset& d) {
  VPR_CHECK(d.explicit_positives.size() == d.queries.size(), "dataset '", d.kind, "': positive lists for ",
            d.explicit_positives.size(), " queries, but there are ", d.queries.size(), " query images");
  VPR_CHECK(d.database_positions.empty() && d.query_positions.empty() && d.positive_radius == 0, "dataset '", d.kind,
            "': listed positives exclude positions and a radius");
  const int64_t n_db = static_cast<int64_t>(d.database.size());
  for (size_t q = 0; q < d.explicit_positives.size(); ++q) {
    const auto& list = d.explicit_positives[q];
    for (size_t i = 0; i < list.size(); ++i)
      VPR_CHECK(list[i] >= 0 && list[i] < n_db && (i == 0 || list[i - 1] < list[i]), "dataset '", d.kind,
                "': the positives of query ", q, " must be sorted, unique database indices below ", n_db);
  }
}

}  // namespace

void Dataset::Check() const {
  if (HasExplicitPositives()) {
    CheckExplicitPositives(*this);
  } else {
    VPR_CHECK(database_positions.size() == 2 * database.size() && query_positions.size() == 2 * queries.size(),
              "dataset '", kind, "': positions must be n x 2 for ", database.size(), " database and ", queries.size(),
              " query images");
  }
  VPR_CHECK(database_names.size() == database.size() && query_names.size() == queries.size(),
            "dataset '", kind, "': one name per image is needed");
  VPR_CHECK(positive_radius >= 0, "the positive radius must be non-negative, got ", positive_radius);
}

void Dataset::SetTrainingPositiveRadius(double radius) {
  VPR_CHECK(!HasExplicitPositives(), "a training positive radius needs positions, but dataset '", kind,
            "' lists the positives of each query: leave --train-positive-radius out");
  VPR_CHECK(radius > 0 && radius <= positive_radius, "the training positive radius must be in (0, ", positive_radius,
            "] ", position_unit, " (the positive radius, where negatives start), got ", radius);
  non_trivial_radius = radius;
}

nlohmann::json Dataset::ToJson() const {
  nlohmann::json out = info;
  out["kind"] = kind;
  out["root"] = root;
  out["num_database"] = database.size();
  out["num_queries"] = queries.size();
  if (HasExplicitPositives()) {
    out["positives"] = "listed";
    return out;
  }
  out["positive_radius"] = positive_radius;
  out["position_unit"] = position_unit;
  if (non_trivial_radius > 0) out["non_trivial_radius"] = non_trivial_radius;
  return out;
}

namespace {

// The sorted images of one folder; a clear error when it is not a folder or has none.
std::vector<std::string> FolderImages(const std::string& dir, const char* role) {
  VPR_CHECK(fs::is_directory(dir), "the ", role, " folder '", dir, "' does not exist or is not a folder");
  try {
    return CollectImages({dir});
  } catch (const Error& e) {
    VPR_THROW("the ", role, " folder '", dir, "' has no images: ", e.what());
  }
}

// The deepest folder holding both, so that names like "day_left/Image000.jpg" say which set.
fs::path CommonRoot(const fs::path& a, const fs::path& b) {
  fs::path root;
  auto ia = a.begin(), ib = b.begin();
  for (; ia != a.end() && ib != b.end() && *ia == *ib; ++ia, ++ib) root /= *ia;
  return root;
}

std::vector<std::string> RelativeNames(const std::vector<std::string>& paths, const fs::path& root) {
  std::vector<std::string> names;
  for (const auto& p : paths) names.push_back(fs::absolute(p).lexically_normal().lexically_relative(root).string());
  return names;
}

std::vector<double> FramePositions(size_t n) {
  std::vector<double> positions;
  for (size_t i = 0; i < n; ++i) positions.insert(positions.end(), {static_cast<double>(i), 0.0});
  return positions;
}

}  // namespace

Dataset LoadFolderPair(const std::string& database_dir, const std::string& query_dir) {
  Dataset d;
  d.database = FolderImages(database_dir, "database");
  d.queries = FolderImages(query_dir, "query");
  fs::path root = CommonRoot(fs::absolute(database_dir).lexically_normal(), fs::absolute(query_dir).lexically_normal());
  d.root = root.string();
  d.database_names = RelativeNames(d.database, root);
  d.query_names = RelativeNames(d.queries, root);
  return d;
}

Dataset LoadFrameAlignedDataset(const std::string& database_dir, const std::string& query_dir, int tolerance) {
  VPR_CHECK(tolerance >= 0, "--frame-tolerance must be >= 0 frames, got ", tolerance);
  Dataset d = LoadFolderPair(database_dir, query_dir);
  d.kind = "frame_aligned";
  VPR_CHECK(d.database.size() == d.queries.size(), "frame-aligned folders must hold one image per frame each, but the ",
            "database folder '", database_dir, "' has ", d.database.size(), " images and the query folder '",
            query_dir, "' has ", d.queries.size(), ": remove the extra images or use matching folders");
  d.database_positions = FramePositions(d.database.size());
  d.query_positions = FramePositions(d.queries.size());
  d.positive_radius = tolerance;
  d.position_unit = "frames";
  d.info = {{"database_dir", database_dir}, {"query_dir", query_dir}, {"frame_tolerance", tolerance}};
  d.Check();
  return d;
}

}  // namespace vpr
