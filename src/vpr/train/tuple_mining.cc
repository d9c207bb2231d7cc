#include "vpr/train/tuple_mining.h"

#include <algorithm>

#include "vpr/eval/recall.h"
#include "vpr/util/check.h"

namespace vpr {

void MiningOptions::Check() const {
  VPR_CHECK_USAGE(mode == "hard" || mode == "random", "unknown --mining '", mode, "': use hard or random");
  VPR_CHECK_USAGE(negatives_sampled > 0, "--negatives-sampled must be positive, got ", negatives_sampled);
  VPR_CHECK_USAGE(negatives_kept > 0, "--negatives must be positive, got ", negatives_kept);
  VPR_CHECK_USAGE(margin > 0 && std::isfinite(margin), "--margin must be a positive number, got ", margin);
  VPR_CHECK_USAGE(negative_radius >= 0, "--negative-radius must be >= 0 (0 = the positive radius), got ", negative_radius);
}

void MiningStats::Add(MineOutcome outcome) {
  switch (outcome) {
    case MineOutcome::kTuple: ++tuples; break;
    case MineOutcome::kNoPositive: ++no_positive; break;
    case MineOutcome::kNoNegative: ++no_negative; break;
    case MineOutcome::kNoViolatingNegative: ++no_violating_negative; break;
  }
}

TupleCandidates FindTupleCandidates(const Dataset& dataset, double negative_radius) {
  dataset.Check();
  if (dataset.HasExplicitPositives()) {
    // Listed ground truth has no distances: every listed image is a positive candidate
    // and every other one a possible negative.
    VPR_CHECK(negative_radius == 0, "--negative-radius needs positions, but dataset '", dataset.kind,
              "' lists the positives of each query: leave it out");
    return {static_cast<int64_t>(dataset.database.size()), dataset.explicit_positives, dataset.explicit_positives};
  }
  if (negative_radius == 0) negative_radius = dataset.positive_radius;
  VPR_CHECK(negative_radius >= dataset.positive_radius, "--negative-radius ", negative_radius, " ",
            dataset.position_unit, " is inside the positive radius ", dataset.positive_radius,
            ": positives would become negatives; give at least ", dataset.positive_radius);
  TupleCandidates c;
  c.num_database = static_cast<int64_t>(dataset.database.size());
  c.positives = PositivesWithinRadius(dataset.database_positions, dataset.query_positions,
                                      dataset.TrainingPositiveRadius());
  c.near = PositivesWithinRadius(dataset.database_positions, dataset.query_positions, negative_radius);
  for (auto* lists : {&c.positives, &c.near})
    for (auto& list : *lists) std::sort(list.begin(), list.end());
  return c;
}

double L2Distance(const float* a, const float* b, int64_t dim) {
  double sum = 0;
  for (int64_t i = 0; i < dim; ++i) {
    double d = static_cast<double>(a[i]) - b[i];
    sum += d * d;
  }
  return std::sqrt(sum);
}

TupleMiner::TupleMiner(TupleCandidates candidates, MiningOptions options)
    : candidates_(std::move(candidates)), options_(std::move(options)), negative_cache_(candidates_.positives.size()) {
  options_.Check();
  VPR_CHECK(candidates_.near.size() == candidates_.positives.size(), "internal: candidate lists differ in size");
}

void TupleMiner::set_negative_cache(std::vector<std::vector<int64_t>> cache) {
  VPR_CHECK(cache.size() == negative_cache_.size(), "the negative cache has ", cache.size(), " queries but the ",
            "training set has ", negative_cache_.size(), ": resume with the same training set");
  negative_cache_ = std::move(cache);
}

// Uniform over the database images outside near[query]: the r-th index of the complement.
int64_t TupleMiner::SampleNegative(int64_t query, std::mt19937_64& rng) const {
  const auto& near = candidates_.near[query];
  const uint64_t free = static_cast<uint64_t>(candidates_.num_database) - near.size();
  int64_t index = static_cast<int64_t>(rng() % free);
  for (int64_t n : near) {
    if (n > index) break;
    ++index;
  }
  return index;
}

uint64_t TupleMiner::Draws(int64_t query) const {
  VPR_CHECK(query >= 0 && query < num_queries(), "internal: query ", query, " out of range");
  if (candidates_.positives[query].empty()) return 0;
  if (candidates_.near[query].size() >= static_cast<size_t>(candidates_.num_database)) return 0;
  return options_.mode == "random" ? 1 : static_cast<uint64_t>(options_.negatives_sampled);
}

void TupleMiner::Adopt(const TrainingTuple& tuple) {
  VPR_CHECK(tuple.query >= 0 && tuple.query < num_queries(), "internal: query ", tuple.query, " out of range");
  if (options_.mode == "hard") negative_cache_[tuple.query] = tuple.negatives;
}

MineOutcome TupleMiner::Mine(int64_t query, const float* query_desc, const float* database, int64_t dim,
                             std::mt19937_64& rng, TrainingTuple* tuple) {
  VPR_CHECK(query >= 0 && query < num_queries(), "internal: query ", query, " out of range");
  const auto& positives = candidates_.positives[query];
  if (positives.empty()) return MineOutcome::kNoPositive;
  if (candidates_.near[query].size() >= static_cast<size_t>(candidates_.num_database)) return MineOutcome::kNoNegative;
  auto dist = [&](int64_t j) { return L2Distance(query_desc, database + j * dim, dim); };

  // Positive: the nearest in descriptor space (lowest index on ties).
  int64_t best = positives[0];
  double d_pos = dist(best);
  for (int64_t j : positives) {
    double d = dist(j);
    if (d < d_pos) best = j, d_pos = d;
  }
  tuple->query = query;
  tuple->positive = best;
  tuple->negatives.clear();
  if (options_.mode == "random") {
    tuple->negatives.push_back(SampleNegative(query, rng));
    return MineOutcome::kTuple;
  }

  std::vector<int64_t> sample = negative_cache_[query];
  for (int i = 0; i < options_.negatives_sampled; ++i) sample.push_back(SampleNegative(query, rng));
  std::sort(sample.begin(), sample.end());
  sample.erase(std::unique(sample.begin(), sample.end()), sample.end());
  std::vector<std::pair<double, int64_t>> violating;
  for (int64_t j : sample)
    if (double d = dist(j); d < d_pos + options_.margin) violating.emplace_back(d, j);
  if (violating.empty()) return MineOutcome::kNoViolatingNegative;
  std::sort(violating.begin(), violating.end());
  if (violating.size() > static_cast<size_t>(options_.negatives_kept)) violating.resize(options_.negatives_kept);
  for (const auto& v : violating) tuple->negatives.push_back(v.second);
  negative_cache_[query] = tuple->negatives;
  return MineOutcome::kTuple;
}

}  // namespace vpr
