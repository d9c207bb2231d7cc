#include "vpr/runtime/precision.h"

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include "vpr/runtime/cpu_features.h"
#include "vpr/runtime/runtime_options.h"
#include "vpr/util/check.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {

TEST(Precision, FlagValuesAreCheckedWithTheirAllowedValues) {
  EXPECT_NE(ThrownMessage([] { CheckPrecisionFlag("half", "cpu"); }).find("fp32 | bf16 | fp16 | auto"), std::string::npos);
  EXPECT_NE(ThrownMessage([] { CheckPrecisionFlag("fp16", "cpu"); }).find("--device cuda"), std::string::npos);
  EXPECT_EQ(ThrownMessage([] { CheckPrecisionFlag("fp16", "cuda:0"); }), "");
  RuntimeOptions runtime;
  runtime.threads = -1;
  EXPECT_NE(ThrownMessage([&] { runtime.Check(); }).find("--threads must be in [0, 4096]"), std::string::npos);
}

TEST(Precision, AutoIsBf16ExactlyWhereTheCpuHasIt) {
  const at::Device cpu(at::kCPU);
  EXPECT_EQ(ResolvePrecision("fp32", cpu), Precision::kFp32);
  EXPECT_EQ(ResolvePrecision("bf16", cpu), Precision::kBf16);
  EXPECT_EQ(ResolvePrecision("auto", cpu), HostCpuFeatures().native_bf16() ? Precision::kBf16 : Precision::kFp32);
  EXPECT_EQ(ComputeType(Precision::kBf16), at::kBFloat16);
  EXPECT_EQ(ComputeType(Precision::kFp32), at::kFloat);
}

TEST(Precision, AutocastScopeEnablesAndRestoresAndOffNests) {
  at::Tensor a = at::rand({4, 4}), b = at::rand({4, 4});
  EXPECT_EQ(at::mm(a, b).scalar_type(), at::kFloat);
  {
    AutocastScope fp32(Precision::kFp32, at::kCPU);  // nothing
    EXPECT_EQ(at::mm(a, b).scalar_type(), at::kFloat);
  }
  {
    AutocastScope mixed(Precision::kBf16, at::kCPU);
    EXPECT_EQ(at::mm(a, b).scalar_type(), at::kBFloat16);
    {
      AutocastOff off;
      EXPECT_EQ(at::mm(a, b).scalar_type(), at::kFloat);
    }
    EXPECT_EQ(at::mm(a, b).scalar_type(), at::kBFloat16);
  }
  EXPECT_EQ(at::mm(a, b).scalar_type(), at::kFloat);
}

}  // namespace
}  // namespace vpr
