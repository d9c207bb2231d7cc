// Reading and writing the files torch.save / torch.load use.
#pragma once

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "vpr/io/pickle.h"

namespace vpr {

// Ordered parameter/buffer name -> tensor, as a PyTorch state_dict.
using StateDict = std::vector<std::pair<std::string, at::Tensor>>;

struct TorchFile {
  PyValuePtr root;     // the object that was saved
  std::string format;  // "zip" (PyTorch >= 1.6) or "legacy" (earlier releases)
};

// Loads a file written by torch.save in the zip or the legacy (non-zip) format.
// Tensors come back on the CPU, whatever device they were saved from.
// Throws vpr::Error naming the file and what is wrong (not a torch file, truncated,
// legacy tar format, missing storage record, ...).
TorchFile LoadTorchFile(const std::string& path);

// The same for a whole file already in memory; `name_for_errors` stands for the path in
// messages. Used by tests and the fuzzer; LoadTorchFile avoids reading zip files whole.
TorchFile LoadTorchBytes(const std::string& bytes, const std::string& name_for_errors);

// The state_dict inside a loaded file: root["state_dict"] (also "model_state_dict",
// "model", "net" when they hold a dict of tensors) or the root itself when it is a
// dict of tensors. "module." (DataParallel) is removed wherever it occurs in a key.
// Throws vpr::Error naming the file and the top-level keys found when there is none.
StateDict ExtractStateDict(const TorchFile& file, const std::string& path_for_errors);

// The root's top-level entries that are plain scalars or strings (epoch, best_score,
// arch, ...) and the "vpr" and "resize" dicts vpr writes (model options, image size): what a
// checkpoint says about itself. Numpy scalars count as numbers.
nlohmann::json CheckpointInfo(const TorchFile& file);

// Writes a checkpoint in the zip format, atomically: a dict
// {"state_dict": {name: tensor, ...}, <entries of `info`>} where `info` is a JSON
// object of numbers, strings, bools and nested objects/arrays. torch.load in Python
// reads it, and LoadTorchFile reads it back.
void SaveCheckpoint(const std::string& path, const StateDict& state_dict,
                    const nlohmann::json& info);

}  // namespace vpr
