#include "vpr/image/image_io.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
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

namespace {

std::string ReadImageFile(const std::string& path) {
  VPR_CHECK(std::filesystem::is_regular_file(path), "'", path, "': no such file");
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  VPR_CHECK(in.good() || in.eof(), "'", path, "': cannot read the file");
  return bytes;
}

// IMREAD_COLOR applies EXIF orientation and expands grayscale; ANYDEPTH keeps 16 bits.
at::Tensor Decode(const std::string& path, const std::string& bytes, int reduction) {
  int flags = cv::IMREAD_COLOR | cv::IMREAD_ANYDEPTH;
  if (reduction == 2) flags = cv::IMREAD_REDUCED_COLOR_2;
  if (reduction == 4) flags = cv::IMREAD_REDUCED_COLOR_4;
  if (reduction == 8) flags = cv::IMREAD_REDUCED_COLOR_8;
  cv::Mat image;
  try {
    image = cv::imdecode(cv::_InputArray(bytes.data(), static_cast<int>(bytes.size())), flags);
  } catch (const cv::Exception& e) {
    VPR_THROW("'", path, "': cannot decode image: ", e.what());
  }
  VPR_CHECK(!image.empty(), "'", path, "': cannot decode image (corrupt, truncated or not an image)");
  return MatToRgbTensor(image);
}

int ReadBigEndian16(const std::string& b, size_t at) {
  return (static_cast<unsigned char>(b[at]) << 8) | static_cast<unsigned char>(b[at + 1]);
}

}  // namespace

bool JpegSize(const std::string& b, int* width, int* height) {
  if (b.size() < 4 || static_cast<unsigned char>(b[0]) != 0xFF || static_cast<unsigned char>(b[1]) != 0xD8) return false;
  size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (static_cast<unsigned char>(b[pos]) != 0xFF) return false;
    const unsigned marker = static_cast<unsigned char>(b[pos + 1]);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // no length field
      pos += 2;
      continue;
    }
    if (marker == 0xD9 || marker == 0xDA) return false;  // end or scan before any frame header
    const size_t length = ReadBigEndian16(b, pos + 2);
    const bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (frame) {
      if (length < 7 || pos + 9 > b.size()) return false;
      *height = ReadBigEndian16(b, pos + 5);
      *width = ReadBigEndian16(b, pos + 7);
      return *width > 0 && *height > 0;
    }
    pos += 2 + length;
  }
  return false;
}

int JpegReduction(int width, int height, const ResizeOptions& options) {
  if (!options.enabled() || !options.reduced_decode) return 1;
  auto [out_h, out_w] = options.OutputSize(height, width);
  // Only where the image is far larger than the output: the reduced decode must still be
  // at least twice the output size, so the antialiased resize does the last 2x or more.
  for (int r : {8, 4, 2}) {
    const int h = (height + r - 1) / r, w = (width + r - 1) / r;  // libjpeg rounds up
    if (h >= 2 * out_h && w >= 2 * out_w) return r;
  }
  return 1;
}

at::Tensor LoadImageRgb(const std::string& path) { return Decode(path, ReadImageFile(path), 1); }

at::Tensor LoadResizedImage(const std::string& path, const ResizeOptions& options) {
  const std::string bytes = ReadImageFile(path);
  int width = 0, height = 0;
  const int reduction = JpegSize(bytes, &width, &height) ? JpegReduction(width, height, options) : 1;
  at::Tensor image = Decode(path, bytes, reduction);
  if (reduction > 1) {
    // EXIF orientation may have turned the image: a fixed size may not be covered any more.
    auto [out_h, out_w] = options.OutputSize(image.size(1), image.size(2));
    if (image.size(1) < 2 * out_h || image.size(2) < 2 * out_w) image = Decode(path, bytes, 1);
  }
  return ResizeImage(image, options);
}

at::Tensor ResizeImage(const at::Tensor& chw, const ResizeOptions& options) {
  if (!options.enabled()) return chw;
  auto [h, w] = options.OutputSize(chw.size(1), chw.size(2));
  if (h == chw.size(1) && w == chw.size(2)) return chw;
  return at::_upsample_bilinear2d_aa(chw.unsqueeze(0), {h, w}, /*align_corners=*/false)
      .squeeze(0);
}

}  // namespace vpr
