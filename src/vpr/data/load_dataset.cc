#include "vpr/data/load_dataset.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace fs = std::filesystem;

namespace {

constexpr char kForms[] =
    "give --dataset FILE [--root DIR] (.mat/.db, .npz, .csv, or a folder with database/ and queries/ of "
    "@UTM_east@UTM_north@...@.jpg images), or the frame-aligned form --db DIR --queries DIR --frame-tolerance N";

std::string LowerExtension(const std::string& file) {
  std::string ext = fs::path(file).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

Dataset LoadFile(const DatasetSource& source) {
  const std::string& file = source.file;
  VPR_CHECK(fs::exists(file), "dataset '", file, "' does not exist; ", kForms);
  if (fs::is_directory(file)) {
    if (!source.root.empty())
      Log().warn("--root '{}' is ignored: the names of a folder dataset are relative to it", source.root);
    return LoadUtmFolderDataset(file);
  }
  std::string ext = LowerExtension(file);
  if (ext == ".mat" || ext == ".db") return LoadMatDataset(file, source.root);
  if (ext == ".npz") return LoadNpzDataset(file, source.root);
  if (ext == ".csv") return LoadCsvDataset(file, source.root);
  VPR_THROW("dataset '", file, "' has an unsupported extension '", ext,
            "': supported are .mat/.db (NetVLAD/seqNet dbStruct or HEAPUtil cell, MAT v5 or v7.3), .npz "
            "(Patch-NetVLAD, with its *_imageNames_index.txt / _query.txt), .csv (path, split, easting,northing or "
            "lat,lon) and a folder with database/ and queries/ of @UTM_east@UTM_north@...@.jpg images");
}

}  // namespace

void DatasetSource::Check() const {
  bool frame_any = !database_dir.empty() || !query_dir.empty() || frame_tolerance >= 0;
  VPR_CHECK(!file.empty() || frame_any || !root.empty(), "no dataset given: ", kForms);
  VPR_CHECK(file.empty() || !frame_any, "--dataset '", file,
            "' cannot be combined with --db/--queries/--frame-tolerance: ", kForms);
  VPR_CHECK(!file.empty() || root.empty(), "--root '", root,
            "' needs --dataset FILE (names in FILE are relative to it)");
  VPR_CHECK(radius >= 0, "--radius must be >= 0 metres (0 keeps the file's), got ", radius);
  if (!file.empty()) return;
  std::string missing;
  if (database_dir.empty()) missing += " --db DIR";
  if (query_dir.empty()) missing += " --queries DIR";
  if (frame_tolerance < 0) missing += " --frame-tolerance N";
  VPR_CHECK(missing.empty(),
            "the frame-aligned dataset form needs --db, --queries and --frame-tolerance; missing:", missing,
            " (or give --dataset FILE instead)");
  VPR_CHECK(radius == 0,
            "--radius is in metres and applies to --dataset; the frame-aligned form uses --frame-tolerance");
}

Dataset LoadDataset(const DatasetSource& source) {
  source.Check();
  if (source.file.empty())
    return LoadFrameAlignedDataset(source.database_dir, source.query_dir, source.frame_tolerance);
  Dataset d = LoadFile(source);
  if (source.radius > 0) {
    d.info["file_positive_radius"] = d.positive_radius;
    d.positive_radius = source.radius;
  }
  return d;
}

}  // namespace vpr
