// A NetVLAD model that turns images into global descriptors, frame by frame.
#pragma once

#include <opencv2/core/mat.hpp>

#include <memory>
#include <string>
#include <vector>

#include "vpr/error.h"

namespace vpr {

struct RecognizerOptions {
  // A checkpoint (vpr, pytorch-NetVlad, Patch-NetVLAD; .pth/.pth.tar), a pytorch-NetVlad
  // run folder, or a torchvision backbone file (then NetVLAD has random centroids).
  std::string model;
  // Resize so that the longer side has this many pixels; 0 with no resize_height = the
  // size the checkpoint records (vpr cluster / train / pca), else native size.
  int max_side = 0;
  // Fixed output size (both > 0), instead of max_side.
  int resize_height = 0;
  int resize_width = 0;
  // "fp32" (exactly PyTorch's numbers), "bf16" (backbone in bf16 on CPUs with
  // AVX512_BF16/AMX), "fp16" (CUDA) or "auto".
  std::string precision = "fp32";
  // CPU threads of the network; 0 = every CPU the process may use. Process-wide: the
  // last recognizer constructed sets it.
  int threads = 0;
  // "cpu" or "cuda[:N]".
  std::string device = "cpu";
};

// Thread-safety: Describe may be called from one thread at a time per recognizer (it
// already uses every core); use one recognizer per thread to describe concurrently.
class PlaceRecognizer {
 public:
  // Loads the model; throws vpr::Error naming the file and what is wrong with it.
  explicit PlaceRecognizer(const RecognizerOptions& options);
  ~PlaceRecognizer();
  PlaceRecognizer(PlaceRecognizer&&) noexcept;
  PlaceRecognizer& operator=(PlaceRecognizer&&) noexcept;

  // The L2-normalised descriptor (dim() values) of an 8-bit BGR or grayscale image, as
  // cv::imread gives it (BGRA is accepted, alpha dropped).
  std::vector<float> Describe(const cv::Mat& image) const;
  // The descriptors of several images, in order (batched when they have the same size).
  std::vector<std::vector<float>> Describe(const std::vector<cv::Mat>& images) const;

  int dim() const;
  // "mobilenet_v2 cut 17 (160-d) + NetVLAD K=64 vladv1 -> 10240-d, ..." and the image size.
  std::string Describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpr
