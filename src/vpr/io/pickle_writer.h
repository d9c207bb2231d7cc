// Writes checkpoints as torch.save does (a zip of data.pkl and one record per tensor
// storage), with only what torch.load(weights_only=True) accepts: dicts, lists,
// strings, numbers, bools, None and tensors rebuilt by torch._utils._rebuild_tensor_v2.
// (torch::pickle_save writes typed containers through restore_type_tag, which
// weights_only, the default of torch.load since PyTorch 2.6, refuses.)
#pragma once

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace vpr {

// The bytes of a torch.save zip file holding the dict
// {"state_dict": OrderedDict(name -> tensor), <entries of info>}. info: a JSON object of
// numbers, strings, bools, null and nested arrays/objects; tensors: CPU and contiguous.
std::string TorchZipBytes(const std::vector<std::pair<std::string, at::Tensor>>& state_dict,
                          const nlohmann::json& info);

}  // namespace vpr
