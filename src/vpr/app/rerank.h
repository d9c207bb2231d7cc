// Re-ranking of a retrieval shortlist by geometric verification (vpr eval --rerank N):
// each query's top N database images are matched with local features and RANSAC
// (vpr::GeometricVerifier) and reordered by their inliers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vpr/app/extract.h"
#include "vpr/geometric_verifier.h"
#include "vpr/index/knn.h"

namespace vpr {

// The order rule: the verified candidates first, by inliers (most first; ties keep their
// retrieval order), then the unverified ones in their retrieval order. A candidate that
// RANSAC could not verify is weak evidence against it, not a score: it stays where
// retrieval put it relative to the other unverified ones. Returns the permutation:
// new rank r holds old rank order[r].
std::vector<int> RerankOrder(const std::vector<Verification>& verifications);

struct RerankStats {
  int depth = 0;                  // N: candidates verified per query
  int64_t queries_reranked = 0;   // queries with a readable image and at least one candidate
  int64_t pairs = 0;              // query-candidate pairs verified
  int64_t verified_pairs = 0;     // ... of which verified
  int64_t top1_changed = 0;       // queries whose first database image changed
  int64_t database_described = 0; // database images whose local features were computed (once each)
  int64_t queries_described = 0;
  double extract_ms = 0;          // mean per image (one thread's time)
  double verify_ms = 0;           // mean per pair (one thread's time)
  double seconds = 0;             // wall clock of the whole re-ranking
  std::vector<ExtractFailure> failures;  // images that could not be read (their pairs are unverified)
  // Per query, the inliers of its candidates in the new order (empty for a query not
  // re-ranked; only the first `depth` ranks).
  std::vector<std::vector<int>> inliers;
};

// Reorders the first `depth` ranks of every row of *knn (ids and distances move together;
// ids are indices into `database`, rows into `queries`). Local features are computed once
// per image on `threads` workers, only for the database images some query has in its top
// `depth`; they are held in memory for the run (about 40 KB per image with ORB at 1000
// keypoints, 0.5 MB with SIFT). Unreadable images are reported in the stats, not thrown.
RerankStats RerankByVerification(const std::vector<std::string>& database, const std::vector<std::string>& queries,
                                 KnnResult* knn, int depth, const VerifierOptions& options, int threads);

}  // namespace vpr
