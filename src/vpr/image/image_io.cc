#include "vpr/image/image_io.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include "vpr/util/check.h"

namespace vpr {

void ResizeOptions::Check() const {
  VPR_CHECK_USAGE(height >= 0 && width >= 0 && max_side >= 0, "image sizes must be positive, got --resize ",
            height, "x", width, " --max-side ", max_side);
  VPR_CHECK_USAGE((height > 0) == (width > 0), "--resize needs both height and width, e.g. 480x640");
  VPR_CHECK_USAGE(height <= kMaxSide && width <= kMaxSide && max_side <= kMaxSide, "image sizes must be at most ", kMaxSide,
            " pixels a side, got --resize ", height, "x", width, " --max-side ", max_side);
  VPR_CHECK_USAGE(!(height > 0 && max_side > 0), "--resize and --max-side are exclusive: pick one");
  VPR_CHECK_USAGE(max_pixels >= 1, "--max-pixels must be positive, got ", max_pixels);
}

void ResizeOptions::ParseFixed(const std::string& text) {
  std::smatch m;
  VPR_CHECK_USAGE(std::regex_match(text, m, std::regex(R"((\d+)[xX](\d+))")), "--resize expects HEIGHTxWIDTH such as 480x640, got '", text, "'");
  height = std::stoi(m[1].str());
  width = std::stoi(m[2].str());
  VPR_CHECK_USAGE(height > 0 && width > 0, "--resize sizes must be positive, got '", text, "'");
}

std::string ResizeOptions::Describe() const {
  if (height > 0) return std::to_string(height) + "x" + std::to_string(width);
  if (max_side > 0) return "max side " + std::to_string(max_side);
  return "native size";
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
  VPR_CHECK(image.channels() == 1 || image.channels() == 3 || image.channels() == 4, "unsupported channel count ",
            image.channels());
  double scale = image.depth() == CV_16U ? 1.0 / 65535.0 : 1.0 / 255.0;
  // Plane by plane into the C x H x W tensor: 16 bytes a pixel at the peak instead of 30
  // (a BGR->RGB copy, an interleaved float copy and its transposed copy).
  at::Tensor out = at::empty({3, image.rows, image.cols}, at::kFloat);
  cv::Mat plane;
  for (int c = 0; c < 3; ++c) {
    cv::extractChannel(image, plane, image.channels() == 1 ? 0 : 2 - c);  // BGR(A) -> RGB, alpha dropped
    cv::Mat dst(image.rows, image.cols, CV_32F, out[c].data_ptr<float>());
    plane.convertTo(dst, CV_32F, scale);
  }
  return out;
}

namespace {

std::string ReadImageFile(const std::string& path) {
  VPR_CHECK(std::filesystem::is_regular_file(path), "'", path, "': no such file");
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  VPR_CHECK(in.good() || in.eof(), "'", path, "': cannot read the file");
  return bytes;
}

uint32_t ReadBigEndian32(const std::string& b, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

// Refuses, before any pixel is decoded, an image that would decode to more than
// max_pixels (a JPEG at 1/reduction of its declared size), and a JPEG or PNG cut short.
void CheckBeforeDecoding(const std::string& path, const std::string& bytes, int64_t max_pixels, int reduction = 1) {
  int64_t w = 0, h = 0;
  // Only formats whose header we read reach OpenCV: its DICOM decoder (GDCM) aborted on
  // a fuzzed file, and the others (JPEG 2000, EXR, HDR, ...) are no better hardened.
  VPR_CHECK(DeclaredImageSize(bytes, &w, &h), "'", path,
            "': cannot decode image: not a JPEG, PNG, BMP, WebP, PNM or TIFF file, or its header is corrupt");
  int64_t decoded = 0;
  if (w > 0 && h > 0 &&
      __builtin_mul_overflow((w + reduction - 1) / reduction, (h + reduction - 1) / reduction, &decoded))
    decoded = INT64_MAX;
  VPR_CHECK(decoded <= max_pixels, "'", path, "': ", w, " x ", h, " pixels",
            reduction > 1 ? " (1/" + std::to_string(reduction) + " of it decoded)" : std::string(), " is over the ",
            max_pixels / 1000000, " MP an image may decode to (--max-pixels); refused before decoding");
  VPR_CHECK(ImageComplete(bytes), "'", path,
            "': the file is cut short (no end-of-image marker; the decoder would fill the rest with grey): "
            "copy or download it again");
}

// IMREAD_COLOR applies EXIF orientation and expands grayscale; ANYDEPTH keeps 16 bits.
cv::Mat DecodeMat(const std::string& path, const std::string& bytes, int reduction) {
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
  return image;
}

at::Tensor Decode(const std::string& path, const std::string& bytes, int reduction) {
  return MatToRgbTensor(DecodeMat(path, bytes, reduction));
}

int ReadBigEndian16(const std::string& b, size_t at) {
  return (static_cast<unsigned char>(b[at]) << 8) | static_cast<unsigned char>(b[at + 1]);
}

}  // namespace

bool JpegSize(const std::string& b, int* width, int* height, bool* progressive) {
  if (b.size() < 4 || static_cast<unsigned char>(b[0]) != 0xFF || static_cast<unsigned char>(b[1]) != 0xD8) return false;
  size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (static_cast<unsigned char>(b[pos]) != 0xFF) {  // libjpeg skips stray bytes to the next marker: so do we
      ++pos;
      continue;
    }
    const unsigned marker = static_cast<unsigned char>(b[pos + 1]);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // no length (0: stray, as libjpeg)
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
      if (progressive) *progressive = marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE;
      return *width > 0 && *height > 0;
    }
    pos += 2 + length;
  }
  return false;
}

namespace {

uint32_t ReadLittleEndian(const std::string& b, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

// BMP: BITMAPINFOHEADER width and height (negative height: top-down rows).
bool BmpSize(const std::string& b, int64_t* w, int64_t* h) {
  if (b.size() < 26 || b.compare(0, 2, "BM") != 0) return false;
  *w = std::llabs(static_cast<int32_t>(ReadLittleEndian(b, 18, 4)));
  *h = std::llabs(static_cast<int32_t>(ReadLittleEndian(b, 22, 4)));
  return true;
}

// WebP: the VP8X canvas, or the VP8L / VP8 frame header.
bool WebpSize(const std::string& b, int64_t* w, int64_t* h) {
  if (b.size() < 30 || b.compare(0, 4, "RIFF") != 0 || b.compare(8, 4, "WEBP") != 0) return false;
  if (b.compare(12, 4, "VP8X") == 0) {
    *w = 1 + ReadLittleEndian(b, 24, 3);
    *h = 1 + ReadLittleEndian(b, 27, 3);
  } else if (b.compare(12, 4, "VP8L") == 0) {
    const uint32_t bits = ReadLittleEndian(b, 21, 4);
    *w = 1 + (bits & 0x3FFF);
    *h = 1 + ((bits >> 14) & 0x3FFF);
  } else if (b.compare(12, 4, "VP8 ") == 0) {
    *w = ReadLittleEndian(b, 26, 2) & 0x3FFF;
    *h = ReadLittleEndian(b, 28, 2) & 0x3FFF;
  } else {
    return false;
  }
  return true;
}

// PNM (P1-P6): the width and height after the magic, comments skipped.
bool PnmSize(const std::string& b, int64_t* w, int64_t* h) {
  if (b.size() < 3 || b[0] != 'P' || b[1] < '1' || b[1] > '6') return false;
  size_t pos = 2;
  int64_t values[2] = {0, 0};
  for (int64_t& v : values) {
    while (pos < b.size() && (std::isspace(static_cast<unsigned char>(b[pos])) || b[pos] == '#')) {
      if (b[pos] == '#') pos = b.find('\n', pos);
      if (pos == std::string::npos) return false;
      ++pos;
    }
    size_t digits = 0;
    while (pos < b.size() && std::isdigit(static_cast<unsigned char>(b[pos])) && digits < 10) {
      v = v * 10 + (b[pos++] - '0');
      ++digits;
    }
    if (digits == 0) return false;
  }
  *w = values[0];
  *h = values[1];
  return true;
}

// TIFF: ImageWidth (256) and ImageLength (257) of the first directory.
bool TiffSize(const std::string& b, int64_t* w, int64_t* h) {
  if (b.size() < 8) return false;
  const bool little = b.compare(0, 4, "II*\0", 4) == 0;
  if (!little && b.compare(0, 4, "MM\0*", 4) != 0) return false;
  auto read = [&](size_t at, int bytes) -> uint32_t {
    if (at + bytes > b.size()) return 0;
    return little ? ReadLittleEndian(b, at, bytes) : (bytes == 2 ? ReadBigEndian16(b, at) : ReadBigEndian32(b, at));
  };
  const size_t ifd = read(4, 4);
  const uint32_t entries = read(ifd, 2);
  for (uint32_t i = 0; i < entries && i < 1000; ++i) {
    const size_t e = ifd + 2 + 12 * static_cast<size_t>(i);
    const uint32_t tag = read(e, 2), type = read(e + 2, 2);
    const uint32_t value = type == 3 ? read(e + 8, 2) : read(e + 8, 4);
    if (tag == 256) *w = value;
    if (tag == 257) *h = value;
  }
  return *w > 0 && *h > 0;
}

}  // namespace

bool DeclaredImageSize(const std::string& bytes, int64_t* width, int64_t* height) {
  int w = 0, h = 0;
  if (JpegSize(bytes, &w, &h) || PngSize(bytes, &w, &h)) {
    *width = w;
    *height = h;
    return true;
  }
  return BmpSize(bytes, width, height) || WebpSize(bytes, width, height) || PnmSize(bytes, width, height) ||
         TiffSize(bytes, width, height);
}

bool PngSize(const std::string& b, int* width, int* height) {
  if (b.size() < 24 || b.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) != 0 || b.compare(12, 4, "IHDR") != 0) return false;
  const uint32_t w = ReadBigEndian32(b, 16), h = ReadBigEndian32(b, 20);
  if (w == 0 || h == 0 || w > INT32_MAX || h > INT32_MAX) return false;  // the PNG spec's own limit
  *width = static_cast<int>(w);
  *height = static_cast<int>(h);
  return true;
}

namespace {

// JPEG: markers from SOI, skipping segments by their length and entropy-coded data up
// to the next marker, until EOI. An embedded EXIF thumbnail sits inside APP1 and is skipped.
bool JpegComplete(const std::string& b) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  const size_t n = b.size();
  size_t pos = 2;
  while (pos + 1 < n) {
    const void* ff = std::memchr(p + pos, 0xFF, n - pos - 1);
    if (!ff) return false;
    pos = static_cast<const unsigned char*>(ff) - p;
    const unsigned marker = p[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xD9) return true;
    if (marker == 0x00 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 || marker == 0xD8) {
      pos += 2;  // stuffed byte, restart marker or no-length marker
      continue;
    }
    if (pos + 4 > n) return false;
    const size_t length = ReadBigEndian16(b, pos + 2);
    pos += 2 + length;  // after SOS, the search for 0xFF walks its entropy-coded data
    if (pos > n) return false;
  }
  return false;
}

// PNG: chunk by chunk until IEND.
bool PngComplete(const std::string& b) {
  size_t pos = 8;
  while (pos + 12 <= b.size()) {
    const uint64_t length = ReadBigEndian32(b, pos);
    if (b.compare(pos + 4, 4, "IEND") == 0) return true;
    pos += 12 + length;
  }
  return false;
}

}  // namespace

bool ImageComplete(const std::string& bytes) {
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0xFF && static_cast<unsigned char>(bytes[1]) == 0xD8)
    return JpegComplete(bytes);
  if (bytes.size() >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0) return PngComplete(bytes);
  return true;
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

at::Tensor LoadImageRgb(const std::string& path) {
  const std::string bytes = ReadImageFile(path);
  CheckBeforeDecoding(path, bytes, ResizeOptions{}.max_pixels);
  return Decode(path, bytes, 1);
}

cv::Mat LoadImageBgr(const std::string& path) {
  return DecodeImageBgr(ReadImageFile(path), path, ResizeOptions{}.max_pixels);
}

cv::Mat DecodeImageBgr(const std::string& bytes, const std::string& what, int64_t max_pixels) {
  CheckBeforeDecoding(what, bytes, max_pixels);
  cv::Mat image = DecodeMat(what, bytes, 1);
  if (image.depth() == CV_16U) image.convertTo(image, CV_8U, 1.0 / 257);
  return image;
}

at::Tensor LoadResizedImage(const std::string& path, const ResizeOptions& options) {
  const std::string bytes = ReadImageFile(path);
  int width = 0, height = 0;
  bool progressive = false;
  const bool jpeg = JpegSize(bytes, &width, &height, &progressive);
  const int reduction = jpeg ? JpegReduction(width, height, options) : 1;
  // A progressive JPEG costs its full size in coefficients even when decoded reduced.
  CheckBeforeDecoding(path, bytes, options.max_pixels, progressive ? 1 : reduction);
  cv::Mat image = DecodeMat(path, bytes, reduction);
  if (reduction > 1) {
    // EXIF orientation may have turned the image: a fixed size may not be covered any more.
    auto [out_h, out_w] = options.OutputSize(image.rows, image.cols);
    if (image.rows < 2 * out_h || image.cols < 2 * out_w) {
      CheckBeforeDecoding(path, bytes, options.max_pixels);
      image = DecodeMat(path, bytes, 1);
    }
  } else if (!jpeg) {
    // Other formats decode whole; a large one is box-reduced by the factor a JPEG would
    // decode at, before the float copy (12 bytes a pixel) is made.
    const int r = JpegReduction(image.cols, image.rows, options);
    if (r > 1) {
      cv::Mat reduced;
      cv::resize(image, reduced, cv::Size((image.cols + r - 1) / r, (image.rows + r - 1) / r), 0, 0, cv::INTER_AREA);
      image = reduced;
    }
  }
  return ResizeImage(MatToRgbTensor(image), options);
}

at::Tensor ResizeImage(const at::Tensor& chw, const ResizeOptions& options) {
  if (!options.enabled()) return chw;
  auto [h, w] = options.OutputSize(chw.size(1), chw.size(2));
  if (h == chw.size(1) && w == chw.size(2)) return chw;
  return at::_upsample_bilinear2d_aa(chw.unsqueeze(0), {h, w}, /*align_corners=*/false)
      .squeeze(0);
}

}  // namespace vpr
