// Re-ranking of a retrieval shortlist by geometric verification (vpr eval --rerank N):
// each query's top N database images are matched with local features and RANSAC
// (vpr::GeometricVerifier), and those retrieval cannot tell apart from its top-1 are
// reordered by their inliers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vpr/app/extract.h"
#include "vpr/geometric_verifier.h"
#include "vpr/index/knn.h"

namespace vpr {

// What verification may reorder. Gardens Point frames 3-20 away from the right one still
// see the same buildings and often have more inliers than it: verification says "same
// scene", not "nearest frame", and reordering all of a long shortlist by inliers lost
// R@1 (night 79.5 -> 78.0, day_left 92.0 -> 86.5 at N=20). The distance does tell near
// from far, so only the candidates retrieval cannot tell apart from its top-1 move.
struct RerankOptions {
  // Candidates verified per query (N of --rerank).
  int depth = 3;
  // Only candidates whose retrieval distance is within this much of the top-1's (squared
  // L2 of the unit descriptors, 0-4; 4 = the whole top N) are reordered by verification;
  // the rest keep their ranks. Gardens Point, 320 px, N=20: night R@1 82.5, day_left 96.0
  // (0.1: 81.0 / 95.0, 0.2: 82.5 / 96.5, 0.3: 81.0 / 92.0; the top-1's nearest rival is
  // a median 0.04-0.05 behind it, the 5th 0.12-0.20).
  double margin = 0.15;
  // The retrieval distances are inner products (--metric ip: larger is closer) of unit
  // descriptors, compared as the squared L2 distance they imply (2 - 2 ip).
  bool inner_product = false;
  VerifierOptions verifier;
  void Check() const;  // throws vpr::UsageError naming the flag and its range
};

// The order rule: the candidates within `margin` of the top-1's distance (a prefix of the
// retrieval order; `distances` are squared L2, nearest first) are reordered by
// RerankOrder(verifications) below; the others follow in their retrieval order. Returns
// the permutation: new rank r holds old rank order[r].
std::vector<int> RerankOrder(const std::vector<Verification>& verifications, const std::vector<float>& distances,
                             double margin);

// Verified candidates first, by inliers (most first; ties keep their retrieval order),
// then the unverified ones in their retrieval order: a candidate that RANSAC could not
// verify is weak evidence against it, not a score, so it stays where retrieval put it
// relative to the other unverified ones. With no distance margin: every candidate moves.
std::vector<int> RerankOrder(const std::vector<Verification>& verifications);

struct RerankStats {
  int depth = 0;                  // N: candidates verified per query
  int64_t within_margin = 0;      // candidates that verification could reorder (top-1 included)
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

// Reorders the first options.depth ranks of every row of *knn by RerankOrder (ids and
// distances move together; ids are indices into `database`, rows into `queries`). Local
// features are computed once per image on `threads` workers, only for the database images
// some query has in its top depth; they are held in memory for the run (about 40 KB per
// image with ORB at 1000 keypoints, 0.5 MB with SIFT). Unreadable images are reported in
// the stats, not thrown.
RerankStats RerankByVerification(const std::vector<std::string>& database, const std::vector<std::string>& queries,
                                 KnnResult* knn, const RerankOptions& options, int threads);

}  // namespace vpr
