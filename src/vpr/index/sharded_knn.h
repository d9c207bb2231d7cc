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

class NpyReader;

// What ExactKnnL2Npy holds of the database at a time when not told otherwise.
constexpr int64_t kExactSearchChunkBytes = int64_t{256} << 20;

// ExactKnnL2Rows over rows [begin, end) of a descriptor .npy (begin a multiple of
// kKnnBlockRows), read chunk_rows at a time (rounded down to whole blocks; 0: as many as
// fit in kExactSearchChunkBytes). Memory is bounded by the chunk, not by the database (a
// million 32768-d rows are 131 GB), and the lists equal a search over the rows loaded whole.
KnnResult ExactKnnL2Npy(NpyReader& database, int64_t begin, int64_t end, const float* queries, int64_t n_q, int64_t k,
                        int64_t chunk_rows = 0);

// The top-k by (distance, id) of the union of `parts` (each over the same queries).
KnnResult MergeKnn(const std::vector<KnnResult>& parts, int64_t k);

}  // namespace vpr
