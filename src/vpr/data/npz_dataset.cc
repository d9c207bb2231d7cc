// LoadNpzDataset: Patch-NetVLAD's ground truth, X.npz (utmDb, utmQ: N x 2; posDistThr)
// with the image names in X_imageNames_index.txt and X_imageNames_query.txt beside it.
#include <cmath>
#include <filesystem>

#include "vpr/data/dataset_files.h"
#include "vpr/data/load_dataset.h"
#include "vpr/io/npz.h"
#include "vpr/util/check.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

std::string ShapeText(const NpyMatrix& m) {
  std::string out;
  for (int64_t s : m.shape) out += (out.empty() ? "" : " x ") + std::to_string(s);
  return out.empty() ? "() (a scalar)" : out;
}

std::string Keys(const std::map<std::string, NpyMatrix>& arrays) {
  std::string out;
  for (const auto& [k, v] : arrays) out += (out.empty() ? "" : ", ") + k;
  return out.empty() ? "(none)" : out;
}

const NpyMatrix* Find(const std::map<std::string, NpyMatrix>& arrays, const std::string& key) {
  auto it = arrays.find(key);
  return it == arrays.end() ? nullptr : &it->second;
}

const NpyMatrix& Require(const std::map<std::string, NpyMatrix>& arrays, const std::string& key,
                         const std::string& file) {
  const NpyMatrix* m = Find(arrays, key);
  VPR_CHECK(m != nullptr, "'", file, "' has no array '", key, "'; its arrays are: ", Keys(arrays),
            ". Patch-NetVLAD ground truth holds utmDb, utmQ (N x 2) and posDistThr");
  return *m;
}

double Scalar(const NpyMatrix& m, const std::string& key, const std::string& file) {
  VPR_CHECK(m.rows * m.cols == 1, "'", file, "': ", key, " must be a single number, found shape ", ShapeText(m));
  return m.At(0);
}

// N x 2 row-major positions, checked against the number of names in the list.
std::vector<double> Positions(const NpyMatrix& m, const std::string& key, const std::string& file, size_t names,
                              const std::string& list) {
  bool ok = m.shape.size() == 2 && m.cols == 2 && static_cast<size_t>(m.rows) == names;
  VPR_CHECK(ok, "'", file, "': ", key, " has shape ", ShapeText(m), " but '", list, "' lists ", names,
            " images; one (easting, northing) row per image is needed (", names,
            " x 2): the dataset cannot be built, use the list and the .npz of the same dataset");
  std::vector<double> out(2 * names);
  for (size_t i = 0; i < out.size(); ++i) out[i] = m.At(static_cast<int64_t>(i));
  return out;
}

// "<prefix>_imageNames_<role>.txt" beside the file: prefix is the stem ("nordland") or the
// stem without its split suffix ("pitts30k_test" -> "pitts30k"), whichever has a list.
std::string NameListPrefix(const fs::path& file) {
  std::string stem = file.stem().string();
  std::vector<std::string> prefixes = {stem};
  if (size_t cut = stem.rfind('_'); cut != std::string::npos && cut > 0) prefixes.push_back(stem.substr(0, cut));
  for (const auto& p : prefixes)
    for (const char* role : {"index", "query"})
      if (fs::exists(file.parent_path() / (p + "_imageNames_" + role + ".txt"))) return p;
  return prefixes.back();
}

std::string NameList(const fs::path& file, const std::string& prefix, const std::string& role) {
  fs::path list = file.parent_path() / (prefix + "_imageNames_" + role + ".txt");
  VPR_CHECK(
      fs::is_regular_file(list), "the ", role == "index" ? "database" : "query", " image list '", list.string(),
      "' of '", file.string(), "' is missing: Patch-NetVLAD's ground truth is X.npz (or X_test.npz) ",
      "with X_imageNames_index.txt (database) and X_imageNames_query.txt (queries) beside it; put both lists there");
  return list.string();
}

}  // namespace

Dataset LoadNpzDataset(const std::string& file, const std::string& root) {
  VPR_CHECK(fs::is_regular_file(file), "Patch-NetVLAD ground truth '", file, "' does not exist or is not a file");
  std::map<std::string, NpyMatrix> arrays = ReadNpz(file);
  std::string prefix = NameListPrefix(file);
  std::string db_list = NameList(file, prefix, "index"), q_list = NameList(file, prefix, "query");
  Dataset d;
  d.kind = "patchnetvlad_npz";
  d.root = NamesRoot(file, root);
  d.database_names = ReadNameList(db_list, "database image list");
  d.query_names = ReadNameList(q_list, "query image list");
  d.database_positions = Positions(Require(arrays, "utmDb", file), "utmDb", file, d.database_names.size(), db_list);
  d.query_positions = Positions(Require(arrays, "utmQ", file), "utmQ", file, d.query_names.size(), q_list);
  if (const NpyMatrix* m = Find(arrays, "posDistThr")) {
    d.positive_radius = Scalar(*m, "posDistThr", file);
  } else if (const NpyMatrix* sq = Find(arrays, "posDistSqThr")) {
    d.positive_radius = std::sqrt(Scalar(*sq, "posDistSqThr", file));
  } else {
    Require(arrays, "posDistThr", file);  // throws, listing the arrays found
  }
  if (const NpyMatrix* m = Find(arrays, "nonTrivPosDistSqThr"))
    d.non_trivial_radius = std::sqrt(Scalar(*m, "nonTrivPosDistSqThr", file));
  d.database = UnderRoot(d.root, d.database_names);
  d.queries = UnderRoot(d.root, d.query_names);
  d.position_unit = "m";
  d.info = {{"file", file}, {"database_list", db_list}, {"query_list", q_list}};
  d.Check();
  return d;
}

}  // namespace vpr
