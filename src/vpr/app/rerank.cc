#include "vpr/app/rerank.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <numeric>

#include "vpr/image/image_io.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"
#include "vpr/util/progress.h"
#include "vpr/util/worker_pool.h"

namespace vpr {

void RerankOptions::Check() const {
  VPR_CHECK_USAGE(depth >= 1, "--rerank must be at least 1 to re-rank, got ", depth);
  VPR_CHECK_USAGE(margin >= 0 && margin <= 4, "--rerank-margin must be in [0, 4] (squared L2 distance of unit ",
                  "descriptors behind the top-1; 4 = the whole top N), got ", margin);
  verifier.Check();
}

std::vector<int> RerankOrder(const std::vector<Verification>& verifications) {
  std::vector<int> order(verifications.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    const Verification &va = verifications[a], &vb = verifications[b];
    if (va.verified != vb.verified) return va.verified;
    return va.verified && va.inliers > vb.inliers;  // unverified: retrieval order
  });
  return order;
}

std::vector<int> RerankOrder(const std::vector<Verification>& verifications, const std::vector<float>& distances,
                             double margin) {
  VPR_CHECK(distances.size() == verifications.size(), "internal: ", distances.size(), " distances for ",
            verifications.size(), " verifications");
  size_t near = 0;  // distances are sorted: the candidates within the margin are a prefix
  while (near < distances.size() && distances[near] <= distances[0] + margin) ++near;
  std::vector<int> order = RerankOrder(std::vector<Verification>(verifications.begin(), verifications.begin() + near));
  for (size_t r = near; r < verifications.size(); ++r) order.push_back(static_cast<int>(r));
  return order;
}

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point since) { return std::chrono::duration<double, std::milli>(Clock::now() - since).count(); }

struct Described {
  LocalFeatures features;
  bool ok = false;
  std::string reason;
  double ms = 0;
};

Described Describe(const GeometricVerifier& verifier, const std::string& path) {
  Described d;
  const auto start = Clock::now();
  try {
    d.features = verifier.Extract(LoadImageBgr(path));
    d.ok = true;
  } catch (const std::exception& e) {
    d.reason = e.what();
  }
  d.ms = Ms(start);
  return d;
}

}  // namespace

RerankStats RerankByVerification(const std::vector<std::string>& database, const std::vector<std::string>& queries,
                                 KnnResult* knn, const RerankOptions& options, int threads) {
  options.Check();
  const int depth = options.depth;
  VPR_CHECK(knn->num_queries == static_cast<int64_t>(queries.size()), "internal: ", knn->num_queries,
            " result rows for ", queries.size(), " queries");
  const auto start = Clock::now();
  RerankStats stats;
  stats.depth = depth;
  stats.inliers.resize(queries.size());
  const int64_t n = std::min<int64_t>(depth, knn->k);
  const GeometricVerifier verifier(options.verifier);

  // The database images some query has in its shortlist, and the queries with one.
  std::vector<char> needed(database.size(), 0);
  std::vector<int64_t> rerank_queries;
  for (int64_t q = 0; q < knn->num_queries; ++q) {
    if (knn->id(q, 0) < 0) continue;
    rerank_queries.push_back(q);
    for (int64_t r = 0; r < n && knn->id(q, r) >= 0; ++r) needed[knn->id(q, r)] = 1;
  }
  std::vector<int64_t> db_ids;
  for (size_t i = 0; i < needed.size(); ++i)
    if (needed[i]) db_ids.push_back(static_cast<int64_t>(i));

  WorkerPool pool(std::max(1, threads));
  std::vector<Described> db(database.size()), qf(queries.size());
  {
    Progress progress("eval: verification features", static_cast<int64_t>(db_ids.size() + rerank_queries.size()));
    std::vector<std::future<Described>> futures;
    for (int64_t i : db_ids) futures.push_back(pool.Submit([&, i] { return Describe(verifier, database[i]); }));
    for (int64_t q : rerank_queries) futures.push_back(pool.Submit([&, q] { return Describe(verifier, queries[q]); }));
    double extract_ms = 0;
    for (size_t f = 0; f < futures.size(); ++f) {
      const bool is_db = f < db_ids.size();
      const int64_t index = is_db ? db_ids[f] : rerank_queries[f - db_ids.size()];
      Described& d = (is_db ? db : qf)[index] = futures[f].get();
      extract_ms += d.ms;
      if (!d.ok) stats.failures.push_back({is_db ? database[index] : queries[index], d.reason});
      else ++(is_db ? stats.database_described : stats.queries_described);
      progress.Add();
    }
    progress.Finish();
    const int64_t described = stats.database_described + stats.queries_described;
    stats.extract_ms = described > 0 ? extract_ms / described : 0.0;
  }
  for (const auto& f : stats.failures)
    Log().warn("eval: re-ranking: cannot read '{}' ({}); its pairs count as unverified", f.path, f.reason);

  struct Reranked {
    std::vector<Verification> v;
    double ms = 0;
  };
  Progress progress("eval: re-ranking", static_cast<int64_t>(rerank_queries.size()), "queries");
  std::vector<std::future<Reranked>> futures;
  for (int64_t q : rerank_queries) {
    futures.push_back(pool.Submit([&, q] {
      Reranked out;
      if (!qf[q].ok) return out;
      const auto t0 = Clock::now();
      for (int64_t r = 0; r < n && knn->id(q, r) >= 0; ++r) {
        const Described& d = db[knn->id(q, r)];
        out.v.push_back(d.ok ? verifier.Verify(qf[q].features, d.features) : Verification{});
      }
      out.ms = Ms(t0);
      return out;
    }));
  }
  double verify_ms = 0;
  for (size_t f = 0; f < futures.size(); ++f) {
    const int64_t q = rerank_queries[f];
    const Reranked out = futures[f].get();  // the workers read row q only before this returns
    progress.Add();
    if (out.v.empty()) continue;
    ++stats.queries_reranked;
    stats.pairs += static_cast<int64_t>(out.v.size());
    verify_ms += out.ms;
    std::vector<float> l2;  // squared L2, nearest first
    for (size_t r = 0; r < out.v.size(); ++r) {
      const float d = knn->distance(q, static_cast<int64_t>(r));
      l2.push_back(options.inner_product ? 2 - 2 * d : d);
    }
    const std::vector<int> order = RerankOrder(out.v, l2, options.margin);
    for (float d : l2) stats.within_margin += d <= l2[0] + options.margin;
    std::vector<int64_t> ids(order.size());
    std::vector<float> distances(order.size());
    for (size_t r = 0; r < order.size(); ++r) {
      ids[r] = knn->id(q, order[r]);
      distances[r] = knn->distance(q, order[r]);
      stats.inliers[q].push_back(out.v[order[r]].inliers);
      stats.verified_pairs += out.v[order[r]].verified;
    }
    if (ids[0] != knn->id(q, 0)) ++stats.top1_changed;
    std::copy(ids.begin(), ids.end(), knn->ids.begin() + q * knn->k);
    std::copy(distances.begin(), distances.end(), knn->distances.begin() + q * knn->k);
  }
  progress.Finish();
  stats.verify_ms = stats.pairs > 0 ? verify_ms / stats.pairs : 0.0;
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return stats;
}

}  // namespace vpr
