#include "vpr/runtime/cpu_features.h"

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace vpr {
namespace {

#if defined(__x86_64__) || defined(__i386__)
// XCR0: which register states the OS saves; AVX-512 needs opmask + ZMM (bits 5-7).
unsigned long long Xcr0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

CpuFeatures Detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (__get_cpuid_max(0x80000000, nullptr) >= 0x80000004) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      __cpuid(0x80000002 + i, a, b, c, d);
      std::memcpy(brand + 16 * i, &a, 4);
      std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4);
      std::memcpy(brand + 16 * i + 12, &d, 4);
    }
    f.model = brand;
    while (!f.model.empty() && f.model.front() == ' ') f.model.erase(0, 1);
  }
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return f;
  const unsigned long long xcr0 = Xcr0();
  const bool os_avx = (xcr0 & 0x6) == 0x6, os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;  // XTILECFG + XTILEDATA
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = os_avx && (b & (1u << 5));
  f.avx512f = os_avx512 && (b & (1u << 16));
  f.amx_bf16 = os_amx && (d & (1u << 22));
  const unsigned subleaves = a;
  if (subleaves >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512_bf16 = f.avx512f && (a & (1u << 5));
  }
  return f;
}
#else
CpuFeatures Detect() { return {}; }
#endif

}  // namespace

std::string CpuFeatures::Line() const {
  auto flag = [](bool on, const char* name) { return std::string(on ? " " : " -") + name; };
  return (model.empty() ? std::string("unknown CPU") : model) + ":" + flag(avx2, "avx2") + flag(avx512f, "avx512f") +
         flag(avx512_bf16, "avx512_bf16") + flag(amx_bf16, "amx_bf16");
}

const CpuFeatures& HostCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

}  // namespace vpr
