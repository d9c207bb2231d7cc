// Descriptor extraction: images -> global descriptors, batch by batch, with progress.
// A corrupt or unreadable image is logged, counted and skipped; it never aborts the run.
#pragma once

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "vpr/image/image_io.h"
#include "vpr/model/vpr_model.h"

namespace vpr {

struct RuntimeOptions {
  // cpu or cuda (cuda:N for a given GPU).
  std::string device = "cpu";
  // Intra-op threads of LibTorch; 0 = its default (one per physical core as it detects them:
  // 1 on some VMs, where setting this speeds things up).
  int threads = 0;
  void Check() const;
  // Applies the thread count and returns the device (throws when CUDA is unavailable).
  at::Device Apply() const;
};

struct ExtractOptions {
  // Images per forward pass; only images of the same (resized) size share a batch.
  int batch_size = 4;
  ResizeOptions resize;
  RuntimeOptions runtime;
  // Progress line label.
  std::string label = "extract";
  void Check() const;
};

struct ExtractFailure {
  std::string path;
  std::string reason;
};

struct ExtractResult {
  at::Tensor descriptors;          // float32, (paths.size()) x dim, on the CPU
  std::vector<std::string> paths;  // the images that have a descriptor, in input order
  std::vector<ExtractFailure> failures;
  double seconds = 0.0;
  int64_t total() const { return static_cast<int64_t>(paths.size() + failures.size()); }
  // {"images", "described", "failed", "failures": [{path, reason}], "dim", "seconds", "images_per_s"}
  nlohmann::json Summary() const;
};

// Runs `model` (moved to the device and set to eval) over the images at `paths`.
ExtractResult ExtractDescriptors(VprModel& model, const std::vector<std::string>& paths,
                                 const ExtractOptions& options);

// The same for images already decoded (3 x H x W, RGB in [0,1]); `names` label them.
ExtractResult ExtractDescriptors(VprModel& model, const std::vector<at::Tensor>& images,
                                 const std::vector<std::string>& names, const ExtractOptions& options);

// Writes descriptors as FILE.npy (float32 N x dim) and the ordered image paths, one per
// line, as FILE.names.txt beside it (".npy" replaced; row i of the array is line i).
void WriteDescriptors(const std::string& npy_path, const ExtractResult& result);

// The names-file path that goes with a descriptor file.
std::string NamesPathFor(const std::string& npy_path);

}  // namespace vpr
