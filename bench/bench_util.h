// Small helpers shared by the benchmarks: percentiles of timed samples and the machine line
// (CPU features, loaded BLAS) each benchmark prints first.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <vector>

#include "vpr/runtime/blas.h"
#include "vpr/runtime/cpu_features.h"

namespace vpr_bench {

// The p-quantile (p in [0, 1]) of `v`, nearest rank from below; 0 for no samples.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

inline double Mean(const std::vector<double>& v) {
  double sum = 0.0;
  for (double x : v) sum += x;
  return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
}

// "CPU <features>" and "BLAS <name> (<path>)".
inline void PrintMachine() {
  std::printf("CPU %s\nBLAS %s (%s)\n", vpr::HostCpuFeatures().Line().c_str(), vpr::LoadedBlas().name.c_str(),
              vpr::LoadedBlas().path.c_str());
}

}  // namespace vpr_bench
