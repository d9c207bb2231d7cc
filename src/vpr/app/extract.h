// Descriptor extraction: images -> global descriptors, batch by batch, with progress.
// A corrupt or unreadable image is logged, counted and skipped; it never aborts the run.
#pragma once

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "vpr/image/image_io.h"
#include "vpr/model/vpr_model.h"
#include "vpr/runtime/runtime_options.h"

namespace vpr {

struct ExtractOptions {
  // Images per forward pass; only images of the same (resized) size share a batch. On the
  // CPU one image per pass is fastest (2 threads, OpenBLAS: MobileNetV2 240x320 fp32 49.8
  // images/s at 1 against 35.9 at 4; VGG16 480x640 1.14 against 1.06); raise it on CUDA.
  int batch_size = 1;
  ResizeOptions resize;
  RuntimeOptions runtime;
  // 0: images are decoded by the compute threads, one image per thread, between forward
  // passes (nothing competes with the model for the cores: the fastest on machines the
  // model keeps busy); N: N dedicated threads decode ahead of the model, overlapped with it.
  int decode_threads = 0;
  // Progress line label.
  std::string label = "extract";
  // false: no progress or closing line (a library describing frame by frame).
  bool log_progress = true;
  // When set, each batch's descriptors (float32 rows, CPU) and image paths are handed
  // here in input order instead of being kept: memory stays bounded by the batch (vpr
  // extract streams them into the .npy). ExtractResult::descriptors is then 0 x dim.
  std::function<void(const at::Tensor& rows, const std::vector<std::string>& paths)> on_rows;
  void Check() const;
};

struct ExtractFailure {
  std::string path;
  std::string reason;
};

struct ExtractResult {
  at::Tensor descriptors;          // float32, (paths.size()) x dim, on the CPU
  std::vector<std::string> paths;  // the images that have a descriptor, in input order
  std::vector<int64_t> indices;    // ... and their positions in the input (ascending)
  std::vector<ExtractFailure> failures;
  double seconds = 0.0;
  int64_t dim = 0;
  int threads = 0;                 // CPU threads the network ran with
  std::string precision = "fp32";  // precision it ran in (what "auto" chose)
  int64_t total() const { return static_cast<int64_t>(paths.size() + failures.size()); }
  // {"images", "described", "failed", "failures": [{path, reason}], "dim", "seconds", "images_per_s",
  //  "threads", "precision"}
  nlohmann::json Summary() const;
};

// Runs `model` (moved to the device and set to eval) over the images at `paths`. The
// encoder's inference copy (VprModel::PrepareInference) is made for the call and released
// after it, unless the caller has prepared the model already, in the precision `options`
// resolve to: that copy is used and kept (a caller describing frame by frame prepares once).
ExtractResult ExtractDescriptors(VprModel& model, const std::vector<std::string>& paths,
                                 const ExtractOptions& options);

// The same for images already decoded (3 x H x W, RGB in [0,1]); `names` label them.
ExtractResult ExtractDescriptors(VprModel& model, const std::vector<at::Tensor>& images,
                                 const std::vector<std::string>& names, const ExtractOptions& options);

// Writes descriptors as FILE.npy (float32 N x dim) and the ordered image paths, one per
// line, as FILE.names.txt beside it (".npy" replaced; row i of the array is line i).
void WriteDescriptors(const std::string& npy_path, const ExtractResult& result);

// ExtractDescriptors streaming into FILE.npy batch by batch (memory bounded by the batch,
// not N x dim), then FILE.names.txt; the returned result's descriptors are 0 x dim.
// The output is opened before any image is described, so an unwritable path fails first.
ExtractResult ExtractToNpy(VprModel& model, const std::vector<std::string>& paths, const ExtractOptions& options,
                           const std::string& npy_path);

// The names-file path that goes with a descriptor file.
std::string NamesPathFor(const std::string& npy_path);

}  // namespace vpr
