// Reading FAISS indexes from files we do not trust.
#pragma once

#include <faiss/Index.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace vpr {

// Calls `read` (a faiss::read_index over `bytes` bytes of `what`) once in a child process
// under an address-space cap, then here. FAISS's reader trusts its input: a corrupt count
// resizes vectors to it and a zero PQ size divides by zero (SIGFPE, found by
// faiss_index_fuzz); in the child neither can reach this process. The child also checks
// the metric and searches once over every code. Throws vpr::Error
// naming `what` and ending with `advice` when the bytes are not a readable index.
std::unique_ptr<faiss::Index> ReadUntrustedFaissIndex(const std::function<faiss::Index*()>& read, size_t bytes,
                                                      const std::string& what, const std::string& advice);

}  // namespace vpr
