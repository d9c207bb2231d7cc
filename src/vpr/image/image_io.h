// Image input: decoding with OpenCV into the float RGB tensors the model reads.
#pragma once

#include <ATen/ATen.h>
#include <opencv2/core.hpp>

#include <string>

namespace vpr {

// How images are resized before the model. Default: native size.
struct ResizeOptions {
  // The largest output side accepted (--resize, --max-side).
  static constexpr int kMaxSide = 16384;
  // Fixed output size; both 0 = not fixed. Set from "--resize HxW".
  int height = 0;
  int width = 0;
  // Scale so that the longer side is this many pixels, keeping the aspect ratio; 0 = off.
  int max_side = 0;
  // Decode a JPEG at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, IMREAD_REDUCED_*) when
  // that is still at least twice the output size, then resize as always: a 12-megapixel
  // photo for a 640-px model decodes several times faster, with nearly the same
  // descriptors (README, "Decoding"). false (--full-decode) decodes at full size, as PIL.
  bool reduced_decode = true;
  // Images that would decode to more pixels than this are refused before decoding (a
  // 300 KB PNG can hold 10000 x 10000); a JPEG counts at the reduced scale it decodes
  // at, so a 100-MP photo for a 640-px model passes. 64 MP: about 200 MB decoded.
  int64_t max_pixels = 64'000'000;

  bool enabled() const { return height > 0 || max_side > 0; }
  // Throws vpr::Error when both modes are set or a size is negative, half-given or too large.
  void Check() const;
  // Parses "480x640" (height x width) into height/width; throws on anything else.
  void ParseFixed(const std::string& text);
  // Output size for an input of in_h x in_w.
  std::pair<int, int> OutputSize(int in_h, int in_w) const;
  // "480x640", "max side 320" or "native size".
  std::string Describe() const;
  // The same output size rule (decoding settings aside).
  bool SameSize(const ResizeOptions& other) const {
    return height == other.height && width == other.width && max_side == other.max_side;
  }
};

// Decodes the file at `path` (JPEG, PNG, BMP, WebP, PNM or TIFF, through OpenCV; grayscale,
// 16-bit and alpha accepted; EXIF orientation applied; alpha dropped) into a float32
// tensor 3 x H x W, RGB, values in [0, 1]. Throws vpr::Error naming the path and why.
at::Tensor LoadImageRgb(const std::string& path);

// The same checked decode as an 8-bit BGR cv::Mat, as cv::imread gives it (for the
// public API, which takes cv::Mat; 16-bit images are scaled to 8 bits).
cv::Mat LoadImageBgr(const std::string& path);

// The same checked decode of an image already in memory (an upload): `what` names it in
// errors; refused before decoding when over max_pixels, cut short or not a format above.
cv::Mat DecodeImageBgr(const std::string& bytes, const std::string& what, int64_t max_pixels);

// LoadImageRgb and ResizeImage in one, decoding JPEGs at a reduced scale where
// `options` allows (reduced_decode); the result has the size ResizeImage gives.
at::Tensor LoadResizedImage(const std::string& path, const ResizeOptions& options);

// Width and height a JPEG's frame header declares; false when `bytes` are not a JPEG
// or hold no frame header before the scan. *progressive: a progressive frame, whose
// coefficients libjpeg holds at full size whatever the output scale.
bool JpegSize(const std::string& bytes, int* width, int* height, bool* progressive = nullptr);

// Width and height a PNG's IHDR declares; false when `bytes` are not a PNG.
bool PngSize(const std::string& bytes, int* width, int* height);

// The size the header of a JPEG, PNG, BMP, WebP, PNM or TIFF file declares; false for
// other formats, which vpr does not decode.
bool DeclaredImageSize(const std::string& bytes, int64_t* width, int64_t* height);

// Whether a JPEG's markers lead from its start to its end-of-image marker, or a PNG's
// chunks to IEND: a file cut short (libjpeg only warns, and decodes grey rows) is false.
// Other formats: true (their decoders fail on truncation).
bool ImageComplete(const std::string& bytes);

// The largest libjpeg reduction (1, 2, 4 or 8) of a width x height JPEG whose result is
// still twice the output size of `options` (1 when resizing is off or reduced_decode is false).
int JpegReduction(int width, int height, const ResizeOptions& options);

// The same conversion for an image already in memory (8- or 16-bit, 1, 3 or 4
// channels in OpenCV's BGR(A) order).
at::Tensor MatToRgbTensor(const cv::Mat& image);

// Bilinear resize with antialiasing (as torchvision's Resize on tensors) of a
// 3 x H x W tensor; returns the input unchanged when `options` is not enabled.
at::Tensor ResizeImage(const at::Tensor& chw, const ResizeOptions& options);

}  // namespace vpr
