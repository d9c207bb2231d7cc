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
    "@UTM_east@UTM_north@...@.jpg images), the frame-aligned form --db DIR --queries DIR --frame-tolerance N, or "
    "VPR-Bench ground truth --dataset GT.npy --db DIR --queries DIR";

std::string LowerExtension(const std::string& file) {
  std::string ext = fs::path(file).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

bool IsVprBench(const DatasetSource& source) { return !source.file.empty() && LowerExtension(source.file) == ".npy"; }

// --dataset GT.npy --db DIR --queries DIR: the file's indices name the folders' images.
void CheckVprBench(const DatasetSource& s) {
  const std::string& file = s.file;
  std::string missing;
  if (s.database_dir.empty()) missing += " --db DIR";
  if (s.query_dir.empty()) missing += " --queries DIR";
  VPR_CHECK_USAGE(missing.empty(), "--dataset '", file, "' is VPR-Bench ground truth (query and database indices, no image ",
            "names): also pass", missing, ", the folders whose i-th images (sorted by path) the indices refer to");
  VPR_CHECK_USAGE(s.frame_tolerance < 0, "--frame-tolerance does not apply to --dataset '", file,
            "': the file lists the positives of each query; leave it out");
  VPR_CHECK_USAGE(s.root.empty(), "--root does not apply to --dataset '", file,
            "': --db and --queries give the images; leave it out");
  VPR_CHECK_USAGE(s.radius == 0, "--radius does not apply to --dataset '", file,
            "': the file lists the positives of each query; leave it out");
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
            "lat,lon), .npy (VPR-Bench, with --db and --queries) and a folder with database/ and queries/ of "
            "@UTM_east@UTM_north@...@.jpg images");
}

}  // namespace

void DatasetSource::Check() const {
  bool frame_any = !database_dir.empty() || !query_dir.empty() || frame_tolerance >= 0;
  VPR_CHECK_USAGE(!file.empty() || frame_any || !root.empty(), "no dataset given: ", kForms);
  VPR_CHECK_USAGE(radius >= 0, "--radius must be >= 0 metres (0 keeps the file's), got ", radius);
  if (IsVprBench(*this)) return CheckVprBench(*this);
  VPR_CHECK_USAGE(file.empty() || !frame_any, "--dataset '", file,
            "' cannot be combined with --db/--queries/--frame-tolerance (only a VPR-Bench .npy takes --db and "
            "--queries): ", kForms);
  VPR_CHECK_USAGE(!file.empty() || root.empty(), "--root '", root,
            "' needs --dataset FILE (names in FILE are relative to it)");
  if (!file.empty()) return;
  std::string missing;
  if (database_dir.empty()) missing += " --db DIR";
  if (query_dir.empty()) missing += " --queries DIR";
  if (frame_tolerance < 0) missing += " --frame-tolerance N";
  VPR_CHECK_USAGE(missing.empty(),
            "the frame-aligned dataset form needs --db, --queries and --frame-tolerance; missing:", missing,
            " (or give --dataset FILE instead, or --dataset GT.npy with VPR-Bench ground truth for --db and "
            "--queries)");
  VPR_CHECK_USAGE(radius == 0,
            "--radius is in metres and applies to --dataset; the frame-aligned form uses --frame-tolerance");
}

Dataset LoadDataset(const DatasetSource& source) {
  source.Check();
  if (IsVprBench(source)) return LoadVprBenchDataset(source.file, source.database_dir, source.query_dir);
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
