// Exact k-NN over a database split into contiguous row ranges (one per process), with a
// merge that gives exactly what the whole database gives: distances are computed over
// fixed blocks of rows aligned to global row numbers, so a row's distance never depends
// on where the split falls, and every list is ordered by distance, then id.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "vpr/index/knn.h"

namespace vpr {

// Rows per distance block: the unit a database is split in.
constexpr int64_t kKnnBlockRows = 256;

// [begin, end) rows of n for `rank` of `world`, in whole blocks.
std::pair<int64_t, int64_t> KnnShard(int64_t n, int rank, int world);

// Exact squared-L2 top-k of each query over database rows [first_row, first_row + n_db)
// (database points at row first_row; first_row must be a multiple of kKnnBlockRows).
// Ids are global rows; lists sorted by (distance, id), padded with -1 / +inf. n_db may be 0.
KnnResult ExactKnnL2Rows(const float* database, int64_t first_row, int64_t n_db, const float* queries, int64_t n_q,
                         int64_t dim, int64_t k);

// The top-k by (distance, id) of the union of `parts` (each over the same queries).
KnnResult MergeKnn(const std::vector<KnnResult>& parts, int64_t k);

}  // namespace vpr
