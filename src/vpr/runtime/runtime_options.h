// Where and how the network runs: device, CPU threads, precision.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "vpr/runtime/precision.h"

namespace vpr {

struct RuntimeOptions {
  // cpu or cuda (cuda:N for a given GPU).
  std::string device = "cpu";
  // CPU threads of LibTorch, OpenMP (FAISS) and OpenBLAS; 0 = every CPU this process may
  // use (its affinity mask, capped by the cgroup CPU quota), not LibTorch's guess of the
  // physical cores (1 on some VMs).
  int threads = 0;
  // fp32 (exactly what PyTorch computes), bf16, fp16 (CUDA) or auto (bf16 where the
  // hardware computes in bf16, else fp32); see precision.h.
  std::string precision = "fp32";

  void Check() const;
  // The thread count `threads` stands for.
  int ResolvedThreads() const;
  // Sets the thread count everywhere, warns once when the reference BLAS is loaded, and
  // returns the device (throws when CUDA is asked for and unavailable).
  at::Device Apply() const;
  // The precision on `device` (logs what auto chose, once per process).
  Precision ResolvedPrecision(const at::Device& device) const;
};

// LibTorch operations called on this thread from now on run on this thread alone, for
// helper threads (image decoding) that run beside the compute threads: a parallel
// region of their own would put a second team of OpenMP threads on the same cores. Call
// it once per long-lived thread (WorkerPool's init): LibTorch's first use of a new thread
// recreates its thread pools.
void RunSeriallyOnThisThread();

}  // namespace vpr
