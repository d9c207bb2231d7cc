// A bound on what a library may allocate while it parses a file we do not trust.
#pragma once

#include <sys/resource.h>

#include <cstddef>

namespace vpr {

// While alive, caps the process's address space (RLIMIT_AS) at what it maps now plus
// `extra_bytes`: a library that sizes its buffers from a corrupt header (FAISS's
// read_index resizes vectors to the counts it reads) gets std::bad_alloc instead of the
// machine's memory. The cap is process-wide: use it where no other thread allocates (in a
// child process: util/child_process.h). Does nothing under
// AddressSanitizer, whose shadow memory needs terabytes of address space.
class ScopedAddressSpaceCap {
 public:
  explicit ScopedAddressSpaceCap(size_t extra_bytes);
  ~ScopedAddressSpaceCap();
  ScopedAddressSpaceCap(const ScopedAddressSpaceCap&) = delete;
  ScopedAddressSpaceCap& operator=(const ScopedAddressSpaceCap&) = delete;

 private:
  rlimit previous_{};
  bool active_ = false;
};

}  // namespace vpr
