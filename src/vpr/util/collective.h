// What processes working together can do, for the code that splits work across them
// (vpr train) without knowing how they talk: vpr::ProcessGroup (dist/, c10d over Gloo)
// implements it. Kept here, below both, so that train and dist stay independent layers.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vpr {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank's bytes, in rank order, on every rank (sizes may differ). `what` names the
  // operation in the error when a rank does not take part within the group's timeout.
  virtual std::vector<std::string> AllGather(const std::string& bytes, const std::string& what) = 0;
  // Element-wise sum over the ranks, in place; every rank gets the same bits.
  virtual void AllReduceSum(float* data, int64_t n, const std::string& what) = 0;
  virtual void AllReduceSum(double* data, int64_t n, const std::string& what) = 0;
  virtual void Barrier(const std::string& what) = 0;
};

// [begin, end) of n items for `rank` of `world`: contiguous, sizes differing by at most one.
inline std::pair<int64_t, int64_t> Shard(int64_t n, int rank, int world) {
  return {n * rank / world, n * (rank + 1) / world};
}

}  // namespace vpr
