// Training tuples as NetVLAD / pytorch-NetVlad build them: for a query, the positive is
// the database image nearest in descriptor space among those within the non-trivial
// radius; negatives are database images beyond the positive radius, the hardest that
// violate the margin, sampled afresh each time plus the query's earlier hard negatives.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "vpr/data/dataset.h"

namespace vpr {

struct MiningOptions {
  // hard: the hardest margin-violating negatives (NetVLAD); random: one random negative
  // beyond the radius, violating or not (the baseline NetVLAD compares against).
  std::string mode = "hard";
  // Negatives drawn (with replacement) per query among the database images beyond the
  // positive radius, before the cached ones are added (pytorch-NetVlad's nNegSample).
  int negatives_sampled = 1000;
  // Hardest violating negatives kept per tuple (pytorch-NetVlad's nNeg).
  int negatives_kept = 10;
  // Margin on L2 distances: sqrt(0.1), as pytorch-NetVlad's --margin 0.1 used as margin**0.5.
  double margin = std::sqrt(0.1);
  // Negatives only beyond this distance, in the set's units; 0 = the positive radius (as
  // pytorch-NetVlad). Larger values leave out places next to the query that look alike
  // when the two traversals' ground truth is offset (frame-aligned sets).
  double negative_radius = 0.0;
  void Check() const;
};

struct TrainingTuple {
  int64_t query = -1;
  int64_t positive = -1;
  std::vector<int64_t> negatives;  // hardest first
};

// Ground truth of each training query, from positions (or the dataset's listed positives).
struct TupleCandidates {
  int64_t num_database = 0;
  // Database images within Dataset::TrainingPositiveRadius(), sorted: the positive's candidates.
  std::vector<std::vector<int64_t>> positives;
  // Database images within the negative radius, sorted: never negatives.
  std::vector<std::vector<int64_t>> near;
};
// negative_radius: 0 = dataset.positive_radius; else at least that (throws vpr::Error);
// must be 0 when the dataset lists its positives (both lists are then those).
TupleCandidates FindTupleCandidates(const Dataset& dataset, double negative_radius = 0.0);

enum class MineOutcome { kTuple, kNoPositive, kNoNegative, kNoViolatingNegative };

struct MiningStats {
  int64_t tuples = 0;
  int64_t no_positive = 0;
  int64_t no_negative = 0;            // every database image is within the radius
  int64_t no_violating_negative = 0;  // hard mining: all negatives already beyond the margin
  void Add(MineOutcome outcome);
  int64_t skipped() const { return no_positive + no_negative + no_violating_negative; }
};

class TupleMiner {
 public:
  TupleMiner(TupleCandidates candidates, MiningOptions options);

  // Builds query's tuple from descriptors: query_desc (dim floats) and the database
  // (num_database x dim, row-major). Updates the query's negative cache (hard mode).
  // Draws from rng only as the mode needs, so a seed fixes the tuples.
  MineOutcome Mine(int64_t query, const float* query_desc, const float* database, int64_t dim, std::mt19937_64& rng,
                   TrainingTuple* tuple);

  // How many values Mine(query, ...) draws from rng: fixed by the ground truth and the
  // options, never by the descriptors, so a rank that mines a later share of the queries
  // can skip the earlier ones' draws (rng.discard) and draw exactly what one process would.
  uint64_t Draws(int64_t query) const;
  // Records a tuple another rank mined for `query` as Mine would have (its negative cache).
  void Adopt(const TrainingTuple& tuple);

  int64_t num_queries() const { return static_cast<int64_t>(candidates_.positives.size()); }
  const TupleCandidates& candidates() const { return candidates_; }
  // Per query: the hard negatives of its last tuple (empty until mined).
  const std::vector<std::vector<int64_t>>& negative_cache() const { return negative_cache_; }
  void set_negative_cache(std::vector<std::vector<int64_t>> cache);

 private:
  int64_t SampleNegative(int64_t query, std::mt19937_64& rng) const;
  TupleCandidates candidates_;
  MiningOptions options_;
  std::vector<std::vector<int64_t>> negative_cache_;
};

// L2 distance between two float rows of length dim (accumulated in double).
double L2Distance(const float* a, const float* b, int64_t dim);

}  // namespace vpr
