// Loading models from the checkpoints people have, and saving them so PyTorch reads them.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "vpr/image/image_io.h"
#include "vpr/io/torch_file.h"
#include "vpr/model/vpr_model.h"

namespace vpr {

// What the user said on the command line about the model. Unset fields are inferred
// from the file; set fields that contradict the file are errors.
struct ModelFlags {
  // --backbone: vgg16 | mobilenet_v2 | resnet18 | resnet50 ("" = infer).
  std::string arch;
  // --cut: encoder layers kept (0 = infer, or the arch's default for backbone files).
  int cut = 0;
  // --clusters: K (0 = infer; 64 for a backbone-only file).
  int64_t clusters = 0;
  // --vladv2 (unset = infer; false for a backbone-only file).
  std::optional<bool> vladv2;
  // --normalize imagenet|tf ("" = what a vpr checkpoint says, else imagenet).
  std::string normalize;
  // --tf-padding (unset = what a vpr checkpoint says, else off).
  std::optional<bool> tf_padding;
  // --pooling netvlad|avg|max ("" = what the file says, else netvlad).
  std::string pooling;
  // Seed of fresh NetVLAD centroids for backbone-only files.
  uint64_t seed = 0;
  // Throws vpr::Error naming the flag when a value is out of range.
  void Check() const;
};

struct LoadedModel {
  VprModel model{nullptr};
  std::string path;    // the file actually read (a run folder resolves to its checkpoint)
  std::string format;  // "zip" or "legacy"
  std::string kind;    // "netvlad" (full model) or "backbone" (torchvision weights, fresh NetVLAD)
  nlohmann::json info;  // what the file says about itself (epoch, best_score, vpr options...)
};

// Loads a full NetVLAD checkpoint (vpr, pytorch-NetVlad, HEAPUtil, Patch-NetVLAD; zip
// or legacy; "module." prefixes stripped), a pytorch-NetVlad run folder
// (checkpoints/model_best.pth.tar or checkpoint.pth.tar, flags.json beside), or a
// torchvision backbone state_dict (features.* / conv1.* keys) with a fresh NetVLAD.
// Infers arch, cut, K, D, vladv1/v2 and WPCA from keys and shapes and logs what it
// found. Missing, unexpected or wrong-shaped keys and contradicting flags throw
// vpr::Error listing them. The model is returned in eval mode on the CPU.
LoadedModel LoadModel(const std::string& path, const ModelFlags& flags);

// Infers the model options from a state_dict (keys without "module."); `info` is the
// file's own description ("vpr" entry or flags.json), used for what keys cannot show.
ModelOptions InferModelOptions(const StateDict& state, const nlohmann::json& info,
                               const ModelFlags& flags);

// Copies `state` into `model`, strictly: throws vpr::Error listing missing,
// unexpected and wrong-shaped keys ("num_batches_tracked" may be missing, as in
// files from PyTorch < 0.4.1).
void LoadStateDict(torch::nn::Module& model, const StateDict& state, const std::string& source);

// The model's parameters and buffers as a state_dict, on the CPU.
StateDict ModelStateDict(torch::nn::Module& model);

// Writes a zip-format checkpoint {"state_dict": ..., "vpr": options, <extra>} atomically.
void SaveModel(const std::string& path, VprModel& model, const nlohmann::json& extra = {});

// The image size a checkpoint was made at, as its info's "resize" entry ({"height",
// "width", "max_side"}; all 0 = native size): vpr cluster, train and pca record it so that
// the commands using the checkpoint run at that size by default.
nlohmann::json ResizeRecord(const ResizeOptions& resize);
// The size `info` records, or nullopt when it records none (files from other tools).
std::optional<ResizeOptions> RecordedResize(const nlohmann::json& info);

}  // namespace vpr
