// `vpr extract` over several processes: each rank describes its contiguous share of the
// images, and rank 0 gathers the descriptors, names and failures in input order, so that
// it writes exactly the files one process writes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "vpr/app/extract.h"
#include "vpr/dist/process_group.h"

namespace vpr {

// Every rank calls it with the same paths. On rank 0 the result holds every image (as
// ExtractDescriptors over all of them gives, seconds = the slowest rank's); on the other
// ranks, only their own share.
ExtractResult ShardedExtract(VprModel& model, const std::vector<std::string>& paths, const ExtractOptions& options,
                             ProcessGroup& group);

}  // namespace vpr
