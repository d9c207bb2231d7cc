// A place-recognition benchmark: database and query images with positions, and the
// radius within which a database image counts as the same place as a query; or, where
// the ground truth lists the matches of each query (VPR-Bench), those lists.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vpr {

struct Dataset {
  // Kind of ground truth, e.g. "frame_aligned"; recorded in metrics.
  std::string kind;
  // Image paths as found on disk; index i is image i everywhere (positions, predictions).
  std::vector<std::string> database;
  std::vector<std::string> queries;
  // Short names for outputs (hloc pairs, predictions): paths relative to `root`.
  std::vector<std::string> database_names;
  std::vector<std::string> query_names;
  // Common folder of both image sets.
  std::string root;
  // Positions, n x 2 row-major, in the unit of positive_radius (metres, or frames).
  std::vector<double> database_positions;
  std::vector<double> query_positions;
  // Database j is a positive of query q when their positions are at most this far apart.
  double positive_radius = 0.0;
  // Training: the positive of a tuple is chosen among database images this close
  // (NetVLAD's sqrt(nonTrivPosDistSqThr)); 0 means "use positive_radius".
  double non_trivial_radius = 0.0;
  // Unit of positions and radii: "m" (UTM easting/northing) or "frames".
  std::string position_unit = "m";
  // Ground truth as lists instead of positions: explicit_positives[q] holds the database
  // indices correct for query q, sorted and unique. Empty: positives come from positions
  // and positive_radius; non-empty: there are no positions (and no radius).
  std::vector<std::vector<int64_t>> explicit_positives;
  // (query, database index) pairs the lists named outside the database: dropped from
  // explicit_positives; `vpr doctor` warns about them.
  std::vector<std::pair<int64_t, int64_t>> positives_outside_database;
  // Counts the file declares (numDb/numImages, numQ/numQueries, a VPR-Bench file's rows);
  // -1 when it declares none.
  // `vpr doctor` reports a disagreement with the lists as fatal.
  int64_t declared_database = -1;
  int64_t declared_queries = -1;
  // Where the images came from and how positives are defined, for metrics.json.
  nlohmann::json info;

  bool HasExplicitPositives() const { return !explicit_positives.empty(); }
  // Throws vpr::Error when the fields disagree in size (or a listed positive is not a
  // sorted, unique database index).
  void Check() const;
  // info plus the counts and the radius.
  nlohmann::json ToJson() const;
  // non_trivial_radius, or positive_radius when the file gives none.
  double TrainingPositiveRadius() const { return non_trivial_radius > 0 ? non_trivial_radius : positive_radius; }
  // Sets non_trivial_radius (--train-positive-radius). Below positive_radius it leaves a
  // band of images that are neither training positives nor negatives, so near-duplicates
  // of the positive are never pushed away. Throws vpr::Error when radius is not in
  // (0, positive_radius] or the positives are listed.
  void SetTrainingPositiveRadius(double radius);
};

// The images of two folders (each sorted by path, recursive) as database and queries,
// named relative to the deepest folder holding both; no ground truth yet. Throws
// vpr::Error when a folder is missing or holds no image.
Dataset LoadFolderPair(const std::string& database_dir, const std::string& query_dir);

// Two traversals of the same route with one image per frame (Gardens Point, Nordland):
// the i-th image of `database_dir` (sorted by path, recursive) shows the same place as
// the i-th image of `query_dir`. Query i matches database j when |i - j| <= tolerance;
// positions are (frame index, 0). Throws vpr::Error when a folder is missing or empty or
// the two hold different numbers of images.
Dataset LoadFrameAlignedDataset(const std::string& database_dir, const std::string& query_dir, int tolerance);

}  // namespace vpr
