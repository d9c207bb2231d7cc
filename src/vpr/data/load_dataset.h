// Every dataset format behind one call: the file's extension (or the folder's layout)
// picks the reader; the frame-aligned form takes two folders and a tolerance.
#pragma once

#include <string>

#include "vpr/data/dataset.h"

namespace vpr {

// Where a dataset comes from: either `file` (with `root` for its images) or the
// frame-aligned pair `database_dir` + `query_dir` + `frame_tolerance`.
struct DatasetSource {
  // .mat / .db (NetVLAD dbStruct, HEAPUtil cell layout; MAT v5 or v7.3), .npz
  // (Patch-NetVLAD ground truth beside its *_imageNames_*.txt), .csv, or a folder with
  // database/ and queries/ holding @UTM_east@UTM_north@...@.jpg images.
  std::string file;
  // Folder the image names of `file` are relative to (default: the file's folder).
  std::string root;
  // Frame-aligned form.
  std::string database_dir;
  std::string query_dir;
  int frame_tolerance = -1;
  // Positive radius in metres overriding the file's; 0 keeps the file's (or 25 m for
  // CSV and @UTM@ folders, which carry none; deep-visual-geo-localization-benchmark's value).
  double radius = 0.0;
  // Throws vpr::Error unless exactly one form is complete.
  void Check() const;
};

Dataset LoadDataset(const DatasetSource& source);

// The individual readers; LoadDataset dispatches to them.
Dataset LoadMatDataset(const std::string& file, const std::string& root);
Dataset LoadNpzDataset(const std::string& file, const std::string& root);
Dataset LoadUtmFolderDataset(const std::string& dir);
Dataset LoadCsvDataset(const std::string& file, const std::string& root);

}  // namespace vpr
