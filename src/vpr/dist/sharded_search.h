// `vpr search --database DB.npy` over several processes: each rank reads and searches
// only its contiguous share of the database rows (whole blocks of index/sharded_knn.h),
// and rank 0 merges the top-k lists into exactly what one process finds.
#pragma once

#include <cstdint>
#include <string>

#include "vpr/index/sharded_knn.h"
#include "vpr/util/collective.h"

namespace vpr {

// Every rank calls it with the same file and queries (checked). On rank 0 the result is
// the whole database's top-k (as ExactKnnL2Rows over every row); on the others, their share's.
KnnResult ShardedExactSearch(const std::string& database_npy, const float* queries, int64_t n_q, int64_t dim,
                             int64_t k, Collective& group);

}  // namespace vpr
