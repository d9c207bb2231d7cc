// Image input: decoding with OpenCV into the float RGB tensors the model reads.
#pragma once

#include <ATen/ATen.h>
#include <opencv2/core.hpp>

#include <string>

namespace vpr {

// How images are resized before the model. Default: native size.
struct ResizeOptions {
  // Fixed output size; both 0 = not fixed. Set from "--resize HxW".
  int height = 0;
  int width = 0;
  // Scale so that the longer side is this many pixels, keeping the aspect ratio; 0 = off.
  int max_side = 0;

  bool enabled() const { return height > 0 || max_side > 0; }
  // Throws vpr::Error when both modes are set or a size is negative/half-given.
  void Check() const;
  // Parses "480x640" (height x width) into height/width; throws on anything else.
  void ParseFixed(const std::string& text);
  // Output size for an input of in_h x in_w.
  std::pair<int, int> OutputSize(int in_h, int in_w) const;
};

// Decodes the file at `path` (JPEG, PNG, TIFF, ... as OpenCV reads it; grayscale,
// 16-bit and alpha accepted; EXIF orientation applied; alpha dropped) into a float32
// tensor 3 x H x W, RGB, values in [0, 1]. Throws vpr::Error naming the path and why.
at::Tensor LoadImageRgb(const std::string& path);

// The same conversion for an image already in memory (8- or 16-bit, 1, 3 or 4
// channels in OpenCV's BGR(A) order).
at::Tensor MatToRgbTensor(const cv::Mat& image);

// Bilinear resize with antialiasing (as torchvision's Resize on tensors) of a
// 3 x H x W tensor; returns the input unchanged when `options` is not enabled.
at::Tensor ResizeImage(const at::Tensor& chw, const ResizeOptions& options);

}  // namespace vpr
