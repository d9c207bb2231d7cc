#include "vpr/image/image_io.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <filesystem>
#include <regex>

#include "vpr/util/check.h"

namespace vpr {

void ResizeOptions::Check() const {
  VPR_CHECK(height >= 0 && width >= 0 && max_side >= 0, "image sizes must be positive, got --resize ",
            height, "x", width, " --max-side ", max_side);
  VPR_CHECK((height > 0) == (width > 0), "--resize needs both height and width, e.g. 480x640");
  VPR_CHECK(!(height > 0 && max_side > 0), "--resize and --max-side are exclusive: pick one");
}

void ResizeOptions::ParseFixed(const std::string& text) {
  std::smatch m;
  VPR_CHECK(std::regex_match(text, m, std::regex(R"((\d+)[xX](\d+))")), "--resize expects HEIGHTxWIDTH such as 480x640, got '", text, "'");
  height = std::stoi(m[1].str());
  width = std::stoi(m[2].str());
  VPR_CHECK(height > 0 && width > 0, "--resize sizes must be positive, got '", text, "'");
}

std::pair<int, int> ResizeOptions::OutputSize(int in_h, int in_w) const {
  if (height > 0) return {height, width};
  if (max_side > 0) {
    double scale = static_cast<double>(max_side) / std::max(in_h, in_w);
    return {std::max(1, static_cast<int>(std::floor(in_h * scale + 0.5))),
            std::max(1, static_cast<int>(std::floor(in_w * scale + 0.5)))};
  }
  return {in_h, in_w};
}

at::Tensor MatToRgbTensor(const cv::Mat& image) {
  VPR_CHECK(!image.empty(), "empty image");
  VPR_CHECK(image.depth() == CV_8U || image.depth() == CV_16U, "unsupported pixel depth ",
            image.depth(), " (8-bit or 16-bit images only)");
  cv::Mat rgb;
  switch (image.channels()) {
    case 1: cv::cvtColor(image, rgb, cv::COLOR_GRAY2RGB); break;
    case 3: cv::cvtColor(image, rgb, cv::COLOR_BGR2RGB); break;
    case 4: cv::cvtColor(image, rgb, cv::COLOR_BGRA2RGB); break;  // alpha dropped, as PIL's convert
    default: VPR_THROW("unsupported channel count ", image.channels());
  }
  double scale = image.depth() == CV_16U ? 1.0 / 65535.0 : 1.0 / 255.0;
  cv::Mat f32;
  rgb.convertTo(f32, CV_32FC3, scale);
  at::Tensor hwc = at::from_blob(f32.data, {f32.rows, f32.cols, 3}, at::kFloat);
  return hwc.permute({2, 0, 1}).contiguous();  // copies out of the Mat's buffer
}

at::Tensor LoadImageRgb(const std::string& path) {
  VPR_CHECK(std::filesystem::is_regular_file(path), "'", path, "': no such file");
  // IMREAD_COLOR applies EXIF orientation and expands grayscale; ANYDEPTH keeps 16 bits.
  cv::Mat image;
  try {
    image = cv::imread(path, cv::IMREAD_COLOR | cv::IMREAD_ANYDEPTH);
  } catch (const cv::Exception& e) {
    VPR_THROW("'", path, "': cannot decode image: ", e.what());
  }
  VPR_CHECK(!image.empty(), "'", path, "': cannot decode image (corrupt, truncated or not an image)");
  return MatToRgbTensor(image);
}

at::Tensor ResizeImage(const at::Tensor& chw, const ResizeOptions& options) {
  if (!options.enabled()) return chw;
  auto [h, w] = options.OutputSize(chw.size(1), chw.size(2));
  if (h == chw.size(1) && w == chw.size(2)) return chw;
  return at::_upsample_bilinear2d_aa(chw.unsqueeze(0), {h, w}, /*align_corners=*/false)
      .squeeze(0);
}

}  // namespace vpr
