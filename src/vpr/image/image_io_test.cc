#include "vpr/image/image_io.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"

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
    EXPECT_NE(std::string(e.what()).find("cannot decode"), std::string::npos) << e.what();
  }
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

}  // namespace
}  // namespace vpr
