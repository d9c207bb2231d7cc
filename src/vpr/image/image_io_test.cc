#include "vpr/image/image_io.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

std::string TempPath(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "vpr_image_io_test";
  fs::create_directories(dir);
  return (dir / name).string();
}

TEST(ImageIo, SixteenBitGrayScalesToUnitRangeOnAllChannels) {
  cv::Mat gray(4, 5, CV_16UC1, cv::Scalar(0));
  gray.at<uint16_t>(1, 2) = 65535;
  gray.at<uint16_t>(3, 4) = 1000;
  std::string path = TempPath("gray16.png");
  ASSERT_TRUE(cv::imwrite(path, gray));
  at::Tensor t = LoadImageRgb(path);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 4, 5}));
  for (int c = 0; c < 3; ++c) {
    EXPECT_FLOAT_EQ(t[c][1][2].item<float>(), 1.0f);
    EXPECT_NEAR(t[c][3][4].item<float>(), 1000.0 / 65535.0, 1e-7);
  }
}

TEST(ImageIo, ColourComesOutAsRgbAndAlphaIsDropped) {
  cv::Mat bgra(2, 3, CV_8UC4, cv::Scalar(10, 20, 30, 0));  // B, G, R, fully transparent
  std::string path = TempPath("bgra.png");
  ASSERT_TRUE(cv::imwrite(path, bgra));
  at::Tensor t = LoadImageRgb(path);
  ASSERT_EQ(t.size(0), 3);
  EXPECT_NEAR(t[0][0][0].item<float>(), 30 / 255.0, 1e-7);  // red first
  EXPECT_NEAR(t[2][0][0].item<float>(), 10 / 255.0, 1e-7);
}

TEST(ImageIo, CorruptAndMissingFilesNameThePathAndReason) {
  std::string path = TempPath("corrupt.jpg");
  WriteFileAtomic(path, std::string("\xff\xd8\xff\xe0 not really a jpeg"));
  try {
    LoadImageRgb(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("header is corrupt"), std::string::npos) << e.what();
  }
  WriteFileAtomic(path, std::string("\x89PNG\r\n\x1a\n not really a png: no IHDR"));
  EXPECT_NE(ThrownMessage([&] { LoadImageRgb(path); }).find("header is corrupt"), std::string::npos);
  WriteFileAtomic(path, std::string("neither a jpeg nor a png"));
  EXPECT_NE(ThrownMessage([&] { LoadImageRgb(path); }).find("not a JPEG, PNG, BMP, WebP, PNM or TIFF"),
            std::string::npos);
  EXPECT_THROW(LoadImageRgb(TempPath("absent.png")), Error);
}

TEST(ImageIo, ResizeOptionsParseAndCheck) {
  ResizeOptions fixed;
  fixed.ParseFixed("480x640");
  EXPECT_EQ(fixed.height, 480);
  EXPECT_EQ(fixed.width, 640);
  EXPECT_EQ(fixed.OutputSize(100, 200), std::make_pair(480, 640));
  EXPECT_THROW(fixed.ParseFixed("640"), Error);
  EXPECT_THROW(fixed.ParseFixed("0x10"), Error);
  ResizeOptions side;
  side.max_side = 320;
  EXPECT_EQ(side.OutputSize(540, 960), std::make_pair(180, 320));
  EXPECT_EQ(side.OutputSize(101, 50), std::make_pair(320, 158));  // 158.4 rounds down
  fixed.max_side = 100;
  EXPECT_THROW(fixed.Check(), Error);  // both modes at once
}

TEST(ImageIo, ResizeIsANoOpWhenDisabledOrSameSize) {
  at::Tensor t = at::rand({3, 10, 12});
  EXPECT_TRUE(ResizeImage(t, {}).is_same(t));
  ResizeOptions same;
  same.height = 10;
  same.width = 12;
  EXPECT_TRUE(ResizeImage(t, same).is_same(t));
  ResizeOptions half;
  half.max_side = 6;
  EXPECT_EQ(ResizeImage(t, half).sizes(), (std::vector<int64_t>{3, 5, 6}));
}

// A smooth 960x540 scene with edges, as a JPEG.
std::string WriteTestJpeg(const std::string& name) {
  cv::Mat image(540, 960, CV_8UC3);
  for (int y = 0; y < image.rows; ++y)
    for (int x = 0; x < image.cols; ++x)
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 255 / 960, y * 255 / 540, ((x / 40 + y / 40) % 2) * 200);
  std::string path = TempPath(name);
  EXPECT_TRUE(cv::imwrite(path, image, {cv::IMWRITE_JPEG_QUALITY, 95}));
  return path;
}

TEST(ImageIo, JpegSizeReadsTheFrameHeaderAndRejectsOtherBytes) {
  int w = 0, h = 0;
  ASSERT_TRUE(JpegSize(ReadFileBytes(WriteTestJpeg("size.jpg")), &w, &h));
  EXPECT_EQ(w, 960);
  EXPECT_EQ(h, 540);
  EXPECT_FALSE(JpegSize("", &w, &h));
  // Stray bytes between segments: libjpeg skips them to the next marker and so must we,
  // or a huge frame behind them escapes the pixel cap.
  std::string stray = ReadFileBytes(WriteTestJpeg("stray.jpg"));
  stray.insert(2 + 2 + ((static_cast<unsigned char>(stray[4]) << 8) | static_cast<unsigned char>(stray[5])), "junk");
  ASSERT_TRUE(JpegSize(stray, &w, &h));
  EXPECT_EQ(w, 960);
  EXPECT_FALSE(JpegSize("\xff\xd8\xff", &w, &h));          // truncated
  EXPECT_FALSE(JpegSize("\x89PNG\r\n\x1a\n....", &w, &h));  // not a JPEG
  EXPECT_FALSE(JpegSize(std::string("\xff\xd8\xff\xda\x00\x02", 6), &w, &h));  // scan before any frame
}

TEST(ImageIo, JpegReductionIsTheLargestThatStaysTwiceTheOutput) {
  ResizeOptions side;
  side.max_side = 320;  // 960x540 -> 320x180: 1/2 gives 480x270, less than twice
  EXPECT_EQ(JpegReduction(960, 540, side), 1);
  side.max_side = 160;  // -> 160x90: 1/2 gives 480x270, 1/4 would give 240x135
  EXPECT_EQ(JpegReduction(960, 540, side), 2);
  side.max_side = 60;  // -> 60x34: 1/8 gives 120x68
  EXPECT_EQ(JpegReduction(960, 540, side), 8);
  ResizeOptions fixed;
  fixed.ParseFixed("120x200");
  EXPECT_EQ(JpegReduction(960, 540, fixed), 2);
  side.reduced_decode = false;
  EXPECT_EQ(JpegReduction(960, 540, side), 1);
  EXPECT_EQ(JpegReduction(960, 540, ResizeOptions{}), 1);
}

// --full-decode is exactly the full decode then the resize; the reduced decode has the
// same size and nearly the same pixels.
TEST(ImageIo, ReducedDecodeHasTheSizeAndNearlyThePixelsOfTheFullDecode) {
  const std::string path = WriteTestJpeg("reduce.jpg");
  ResizeOptions options;
  options.max_side = 160;
  options.reduced_decode = false;
  at::Tensor full = LoadResizedImage(path, options);
  EXPECT_TRUE(at::equal(full, ResizeImage(LoadImageRgb(path), options)));
  options.reduced_decode = true;
  at::Tensor reduced = LoadResizedImage(path, options);
  ASSERT_EQ(reduced.sizes(), full.sizes());
  EXPECT_EQ(reduced.size(2), 160);
  EXPECT_LT((reduced - full).abs().mean().item<double>(), 0.01);
  EXPECT_LT((reduced - full).abs().max().item<double>(), 0.3);  // only at the sharp edges
}

// libjpeg only warns on a file cut short and decodes grey rows; such a file must fail.
TEST(ImageIo, TruncatedJpegAndPngFailButTrailingBytesAfterTheEndAreFine) {
  const std::string jpeg = ReadFileBytes(WriteTestJpeg("whole.jpg"));
  EXPECT_TRUE(ImageComplete(jpeg));
  for (size_t cut : {jpeg.size() / 2, jpeg.size() - 2, size_t{700}}) {
    EXPECT_FALSE(ImageComplete(jpeg.substr(0, cut))) << cut;
    const std::string path = TempPath("cut.jpg");
    WriteFileAtomic(path, jpeg.substr(0, cut));
    EXPECT_NE(ThrownMessage([&] { LoadImageRgb(path); }).find("cut short"), std::string::npos) << cut;
  }
  EXPECT_TRUE(ImageComplete(jpeg + std::string(100, '\0')));  // padding some cameras append

  std::vector<unsigned char> png;
  ASSERT_TRUE(cv::imencode(".png", cv::Mat(60, 80, CV_8UC3, cv::Scalar(1, 2, 3)), png));
  const std::string png_bytes(png.begin(), png.end());
  EXPECT_TRUE(ImageComplete(png_bytes));
  EXPECT_FALSE(ImageComplete(png_bytes.substr(0, png_bytes.size() - 12)));  // IEND gone
  EXPECT_FALSE(ImageComplete(png_bytes.substr(0, png_bytes.size() / 2)));
}

// A few hundred bytes may declare 20000 x 20000 pixels: refused before decoding.
TEST(ImageIo, AnImageDeclaringMorePixelsThanTheCapIsRefusedBeforeDecoding) {
  std::vector<unsigned char> png;
  ASSERT_TRUE(cv::imencode(".png", cv::Mat(8, 8, CV_8UC3, cv::Scalar(0)), png));
  std::string bytes(png.begin(), png.end());
  int w = 0, h = 0;
  ASSERT_TRUE(PngSize(bytes, &w, &h));
  EXPECT_EQ(w, 8);
  for (int i = 0; i < 2; ++i) {  // width and height := 20000, big-endian
    bytes[16 + 4 * i] = 0;
    bytes[17 + 4 * i] = 0;
    bytes[18 + 4 * i] = static_cast<char>(20000 >> 8);
    bytes[19 + 4 * i] = static_cast<char>(20000 & 0xFF);
  }
  const std::string path = TempPath("huge.png");
  WriteFileAtomic(path, bytes);
  ResizeOptions options;
  options.max_side = 160;
  const std::string error = ThrownMessage([&] { LoadResizedImage(path, options); });
  EXPECT_NE(error.find("20000 x 20000"), std::string::npos) << error;
  EXPECT_NE(error.find("--max-pixels"), std::string::npos) << error;
  EXPECT_NE(error.find(path), std::string::npos) << error;

  const std::string jpeg = WriteTestJpeg("capped.jpg");  // 960 x 540
  options.max_pixels = 480 * 270 - 1;  // decoded at 1/2 for 160 px: 480 x 270
  EXPECT_NE(ThrownMessage([&] { LoadResizedImage(jpeg, options); }).find("MP an image may decode to"),
            std::string::npos);
  options.max_pixels = 480 * 270;
  EXPECT_EQ(LoadResizedImage(jpeg, options).size(2), 160);
  options.reduced_decode = false;  // decoded whole: counted whole
  EXPECT_NE(ThrownMessage([&] { LoadResizedImage(jpeg, options); }).find("--max-pixels"), std::string::npos);
  // A progressive JPEG holds its coefficients at full size: counted whole even when reduced.
  const std::string progressive = TempPath("progressive.jpg");
  ASSERT_TRUE(cv::imwrite(progressive, cv::imread(jpeg), {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
  options.reduced_decode = true;
  EXPECT_NE(ThrownMessage([&] { LoadResizedImage(progressive, options); }).find("--max-pixels"), std::string::npos);
}

// Formats other than JPEG are box-reduced before the float copy, as JPEGs decode reduced.
TEST(ImageIo, LargePngsAreReducedBeforeConversionWithNearlyTheSamePixels) {
  const std::string jpeg = WriteTestJpeg("source.jpg");
  const std::string png = TempPath("large.png");
  ASSERT_TRUE(cv::imwrite(png, cv::imread(jpeg)));
  ResizeOptions options;
  options.max_side = 160;
  options.reduced_decode = false;
  at::Tensor full = LoadResizedImage(png, options);
  EXPECT_TRUE(at::equal(full, ResizeImage(LoadImageRgb(png), options)));
  options.reduced_decode = true;
  at::Tensor reduced = LoadResizedImage(png, options);
  ASSERT_EQ(reduced.sizes(), full.sizes());
  EXPECT_LT((reduced - full).abs().mean().item<double>(), 0.01);
}

// The pixel cap reads the size of every format it can before decoding.
TEST(ImageIo, DeclaredImageSizeReadsJpegPngBmpWebpPnmAndTiffHeaders) {
  const cv::Mat image(37, 53, CV_8UC3, cv::Scalar(10, 20, 30));
  for (const char* ext : {".jpg", ".png", ".bmp", ".webp", ".ppm", ".tiff"}) {
    std::vector<unsigned char> encoded;
    ASSERT_TRUE(cv::imencode(ext, image, encoded)) << ext;
    int64_t w = 0, h = 0;
    ASSERT_TRUE(DeclaredImageSize(std::string(encoded.begin(), encoded.end()), &w, &h)) << ext;
    EXPECT_EQ(w, 53) << ext;
    EXPECT_EQ(h, 37) << ext;
  }
  int64_t w = 0, h = 0;
  EXPECT_FALSE(DeclaredImageSize("not an image", &w, &h));
}

}  // namespace
}  // namespace vpr
