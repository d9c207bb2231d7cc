// Processes that work together, the PyTorch way: ranks from torchrun's environment
// (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK) or flags, rendezvous through
// c10d's TCPStore, collectives over Gloo (LibTorch's own ProcessGroupGloo).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vpr/util/collective.h"

namespace vpr {

struct DistOptions {
  int rank = 0;                           // this process, 0..world_size-1 (RANK)
  int world_size = 1;                     // processes in the group; 1 = not distributed (WORLD_SIZE)
  std::string master_addr = "127.0.0.1";  // where rank 0 listens for the rendezvous (MASTER_ADDR)
  int master_port = 29500;                // (MASTER_PORT)
  int local_rank = 0;                     // rank on this machine (LOCAL_RANK; informational)
  // A collective or the rendezvous that waits longer than this fails (a rank died or is
  // unreachable) instead of hanging.
  int timeout_s = 300;

  // The torchrun variables that are set, over the defaults above.
  static DistOptions FromEnvironment();
  // "HOST:PORT" into master_addr and master_port; throws vpr::UsageError on anything else.
  void ParseMaster(const std::string& host_port);
  bool enabled() const { return world_size > 1; }
  void Check() const;  // throws vpr::UsageError naming the flag or variable and its range
};

// One group of processes; every rank must construct it (the rendezvous waits for all).
class ProcessGroup : public Collective {
 public:
  explicit ProcessGroup(const DistOptions& options);
  ~ProcessGroup() override;
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const override;
  int size() const override;
  // Every rank's bytes, in rank order, on every rank (sizes may differ). Throws
  // vpr::Error naming the operation when a rank does not take part within the timeout.
  std::vector<std::string> AllGather(const std::string& bytes, const std::string& what) override;
  // Gloo's ring all-reduce, in chunks of at most 16M elements (bounded extra memory).
  void AllReduceSum(float* data, int64_t n, const std::string& what) override;
  void AllReduceSum(double* data, int64_t n, const std::string& what) override;
  void Barrier(const std::string& what) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpr
