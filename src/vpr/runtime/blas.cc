#include "vpr/runtime/blas.h"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

#include "vpr/util/logging.h"

namespace vpr {
namespace {

BlasInfo Detect() {
  BlasInfo info;
  Dl_info dl{};
  void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");  // resolved the way LibTorch's and FAISS's calls are
  if (sgemm && dladdr(sgemm, &dl) && dl.dli_fname) {
    info.loaded_as = dl.dli_fname;
    std::error_code ec;
    auto real = std::filesystem::canonical(dl.dli_fname, ec);
    info.path = ec ? dl.dli_fname : real.string();
  }
  // Ask the library that provides sgemm_ itself: liblapack.so.3 may be OpenBLAS's while
  // libblas.so.3 is the reference one.
  void* lib = info.path.empty() ? nullptr : dlopen(dl.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  using ConfigFn = char* (*)();
  using ParallelFn = int (*)();
  auto config = lib ? reinterpret_cast<ConfigFn>(dlsym(lib, "openblas_get_config")) : nullptr;
  if (config) {
    info.name = std::string(config());
    auto parallel = reinterpret_cast<ParallelFn>(dlsym(lib, "openblas_get_parallel"));
    const int mode = parallel ? parallel() : -1;  // 0 serial, 1 pthreads, 2 OpenMP
    info.name += mode == 0 ? " (serial)" : mode == 1 ? " (pthread)" : mode == 2 ? " (OpenMP)" : "";
  } else if (info.path.find("/blas/") != std::string::npos || info.path.find("libblas.so") != std::string::npos) {
    info.name = "reference BLAS (netlib)";
    info.reference = true;
  } else {
    info.name = info.path.empty() ? "no BLAS loaded" : "unknown BLAS";
  }
  if (lib) dlclose(lib);
  return info;
}

}  // namespace

const BlasInfo& LoadedBlas() {
  static const BlasInfo info = Detect();
  return info;
}

void SetBlasThreads(int threads) {
  using SetFn = void (*)(int);
  // The BLAS's own copy, and whichever another library (OpenBLAS's liblapack) brings.
  void* lib = LoadedBlas().loaded_as.empty() ? nullptr : dlopen(LoadedBlas().loaded_as.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  for (void* handle : {lib, RTLD_DEFAULT})
    if (auto set = handle ? reinterpret_cast<SetFn>(dlsym(handle, "openblas_set_num_threads")) : nullptr) set(threads);
  if (lib) dlclose(lib);
}

void WarnIfReferenceBlas() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!LoadedBlas().reference) return;
    Log().warn("the reference BLAS is loaded ({}): matrix products, exact search and PCA run several times slower; "
               "install OpenBLAS (scripts/install_deps.sh does, or: apt-get install libopenblas0-openmp)",
               LoadedBlas().path);
  });
}

}  // namespace vpr
