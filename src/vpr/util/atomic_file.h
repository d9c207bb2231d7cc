// Files we write appear whole or not at all: written to a temporary beside the
// target, flushed, then renamed over it.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace vpr {

// Calls write(stream) on a temporary file next to `path`, then renames it to `path`.
// Creates missing parent folders. Throws vpr::Error naming the path on failure.
void WriteFileAtomic(const std::string& path, const std::function<void(std::ostream&)>& write);

// Convenience for a whole buffer.
void WriteFileAtomic(const std::string& path, const std::string& bytes);

// Reads a whole file; throws vpr::Error naming the path when it cannot.
std::string ReadFileBytes(const std::string& path);

}  // namespace vpr
