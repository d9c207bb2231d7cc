// For harnesses of readers that take a path: the input as a file that lives in memory.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace vpr {

// A path (/proc/self/fd/N of a memfd) whose content is data[0, size).
inline std::string FuzzInputFile(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("vpr_fuzz_input", 0);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return "/nonexistent";
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace vpr
