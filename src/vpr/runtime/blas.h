// The BLAS this process actually loaded (Debian switches libblas.so.3 between the
// reference BLAS, OpenBLAS and others with update-alternatives): LibTorch's matmuls,
// FAISS's exact search and PCA all run on it, so which one it is decides their speed.
#pragma once

#include <string>

namespace vpr {

struct BlasInfo {
  // The real file that provides sgemm_, symlinks resolved, e.g.
  // /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3; empty when none is loaded.
  std::string path;
  // "OpenBLAS 0.3.21 ... (pthread)" / "reference BLAS (netlib)" / "unknown BLAS".
  std::string name;
  // The name the dynamic loader knows it by (for dlopen).
  std::string loaded_as;
  // netlib's reference implementation: correct, and 5-30x slower than an optimised one.
  bool reference = false;
};

const BlasInfo& LoadedBlas();

// Sets OpenBLAS's own thread pool (its pthread build ignores OpenMP's setting); no-op
// for other libraries.
void SetBlasThreads(int threads);

// Logs a warning, once per process, when the reference BLAS is loaded, saying how to fix it.
void WarnIfReferenceBlas();

}  // namespace vpr
