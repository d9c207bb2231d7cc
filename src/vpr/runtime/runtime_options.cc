#include "vpr/runtime/runtime_options.h"

#include <torch/cuda.h>
#include <ATen/Parallel.h>
#include <torch/utils.h>

#include <dlfcn.h>

#include "vpr/runtime/blas.h"
#include "vpr/runtime/cpu_count.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {

void RuntimeOptions::Check() const {
  VPR_CHECK_USAGE(threads >= 0 && threads <= 4096, "--threads must be in [0, 4096] (0 = every usable CPU), got ", threads);
  VPR_CHECK_USAGE(device == "cpu" || device.rfind("cuda", 0) == 0, "unknown --device '", device, "': use cpu or cuda[:N]");
  CheckPrecisionFlag(precision, device);
}

int RuntimeOptions::ResolvedThreads() const { return threads > 0 ? threads : UsableCpuCount(); }

at::Device RuntimeOptions::Apply() const {
  Check();
  const int n = ResolvedThreads();
  if (torch::get_num_threads() != n) torch::set_num_threads(n);
  SetBlasThreads(n);
  WarnIfReferenceBlas();
  at::Device dev(device);
  VPR_CHECK(!dev.is_cuda() || torch::cuda::is_available(), "--device ", device,
            " requested but this build of LibTorch has no CUDA or no GPU is visible; use --device cpu");
  return dev;
}

void RunSeriallyOnThisThread() {
  // OpenMP's thread count is a per-thread setting: the compute threads keep theirs. Looked
  // up at run time: LibTorch brings the OpenMP runtime, and compiling with -fopenmp here
  // would invalidate the shared precompiled header.
  at::internal::lazy_init_num_threads();  // LibTorch's own per-thread set-up first, or it undoes this
  using SetThreadsFn = void (*)(int);
  static const auto set = reinterpret_cast<SetThreadsFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (set) set(1);
}

Precision RuntimeOptions::ResolvedPrecision(const at::Device& dev) const { return ResolvePrecision(precision, dev); }

}  // namespace vpr
