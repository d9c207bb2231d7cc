// Every dataset format behind one call: the file's extension (or the folder's layout)
// picks the reader; the frame-aligned form takes two folders and a tolerance, a
// VPR-Bench .npy two folders its indices refer to.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vpr/data/dataset.h"

namespace vpr {

// Where a dataset comes from: `file` (with `root` for its images), the frame-aligned
// pair `database_dir` + `query_dir` + `frame_tolerance`, or a VPR-Bench `file` (.npy)
// with `database_dir` + `query_dir`.
struct DatasetSource {
  // .mat / .db (NetVLAD dbStruct, HEAPUtil cell layout; MAT v5 or v7.3), .npz
  // (Patch-NetVLAD ground truth beside its *_imageNames_*.txt), .csv, a folder with
  // database/ and queries/ holding @UTM_east@UTM_north@...@.jpg images, or a VPR-Bench
  // .npy (needs database_dir and query_dir).
  std::string file;
  // Folder the image names of `file` are relative to (default: the file's folder).
  std::string root;
  // Frame-aligned and VPR-Bench forms.
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

// One row of a VPR-Bench ground-truth file, as stored: a query index and the database
// indices that match it (-1 marks a query without a match, e.g. Gardens Point TN).
struct VprBenchRow {
  int64_t query = 0;
  std::vector<int64_t> refs;
};
// The rows of a VPR-Bench .npy: an object array (N, 2) of [query, [ref, ...]] rows (numpy
// pickles it) or an integer array (N, 2) of [query, ref] rows. Throws vpr::Error naming
// the file and row on anything else, on a negative or repeated query, and on a negative
// reference other than -1.
std::vector<VprBenchRow> ReadVprBenchGroundTruth(const std::string& file);
// VPR-Bench ground truth over two folders: query index i is the i-th image of
// `query_dir` (sorted by path, recursive), database index j the j-th of `database_dir`.
// References past the database are dropped (Dataset::positives_outside_database);
// queries the file does not list have no positive; declared_queries is the file's row
// count. Throws vpr::Error for a query index past the query images.
Dataset LoadVprBenchDataset(const std::string& gt_file, const std::string& database_dir, const std::string& query_dir);

}  // namespace vpr
