// The CPU features that decide which kernels vpr can use (oneDNN's bf16 paths need
// AVX512_BF16 or AMX), read once with cpuid.
#pragma once

#include <string>

namespace vpr {

struct CpuFeatures {
  std::string model;  // brand string, e.g. "Intel(R) Xeon(R) Platinum 8480+"
  bool avx2 = false;
  bool avx512f = false;
  bool avx512_bf16 = false;
  bool amx_bf16 = false;
  // bf16 arithmetic in hardware (AVX512_BF16 or AMX): where --precision auto picks bf16.
  bool native_bf16() const { return avx512_bf16 || amx_bf16; }
  // "Intel(R) Xeon(R) Processor: avx2 avx512f avx512_bf16 amx_bf16" (absent ones as -name).
  std::string Line() const;
};

// This machine's features (all false on non-x86 CPUs).
const CpuFeatures& HostCpuFeatures();

}  // namespace vpr
