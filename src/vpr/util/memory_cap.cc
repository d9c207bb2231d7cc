#include "vpr/util/memory_cap.h"

#include <unistd.h>

#include <fstream>

namespace vpr {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// Bytes of address space mapped now (/proc/self/statm, first field), 0 when unknown.
size_t MappedBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0;
  statm >> pages;
  return pages * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

ScopedAddressSpaceCap::ScopedAddressSpaceCap(size_t extra_bytes) {
  if (kAddressSanitizer || getrlimit(RLIMIT_AS, &previous_) != 0) return;
  const size_t mapped = MappedBytes();
  if (mapped == 0) return;
  rlimit capped = previous_;
  const rlim_t want = static_cast<rlim_t>(mapped + extra_bytes);
  if (previous_.rlim_cur != RLIM_INFINITY && previous_.rlim_cur <= want) return;  // already tighter
  capped.rlim_cur = want;
  active_ = setrlimit(RLIMIT_AS, &capped) == 0;
}

ScopedAddressSpaceCap::~ScopedAddressSpaceCap() {
  if (active_) setrlimit(RLIMIT_AS, &previous_);
}

}  // namespace vpr
