// NumPy .npz archives (np.savez / np.savez_compressed): a zip of .npy members.
#pragma once

#include <map>
#include <string>

#include "vpr/util/npy.h"

namespace vpr {

// Every "*.npy" member of the archive, keyed by its name without ".npy" (the key
// np.load gives it); stored and deflated members both read. Throws vpr::Error naming
// the file (and member) when it is not a zip archive or a member is not a numeric .npy.
std::map<std::string, NpyMatrix> ReadNpz(const std::string& path);

}  // namespace vpr
