// Numeric precision of the network: fp32 (what PyTorch computes, the default) or a
// 16-bit float for the backbone (bf16 on CPUs with native bf16, through oneDNN; bf16 or
// fp16 on CUDA). NetVLAD's normalisation, soft-assignment and residual sums stay fp32.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace vpr {

enum class Precision { kFp32, kBf16, kFp16 };

const char* PrecisionName(Precision precision);

// The values --precision takes.
inline constexpr const char* kPrecisionFlagValues = "fp32 | bf16 | fp16 | auto";

// Checks a --precision value (fp32, bf16, fp16, auto); throws vpr::Error naming the flag.
void CheckPrecisionFlag(const std::string& flag, const std::string& device);

// The precision `flag` means on `device`: auto = bf16 where the hardware computes in bf16
// (CPUs with AVX512_BF16 or AMX; CUDA GPUs that support it), else fp32. bf16 on a CPU
// without it is honoured (oneDNN emulates it, slower than fp32) with a warning; fp16 is
// for CUDA only.
Precision ResolvePrecision(const std::string& flag, const at::Device& device);

// The 16-bit type of a reduced precision (kFloat for fp32).
at::ScalarType ComputeType(Precision precision);

// Mixed precision for training while alive: LibTorch's autocast on the device type, with
// ComputeType(precision) for convolutions and matmuls and fp32 weights kept. Nothing for fp32.
class AutocastScope {
 public:
  AutocastScope(Precision precision, at::DeviceType device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  at::DeviceType device_;
  bool was_enabled_ = false;
  at::ScalarType was_type_ = at::kFloat;
};

// Autocast off while alive (the part of the network that must stay fp32), restored after.
class AutocastOff {
 public:
  AutocastOff();
  ~AutocastOff();
  AutocastOff(const AutocastOff&) = delete;
  AutocastOff& operator=(const AutocastOff&) = delete;

 private:
  bool cpu_ = false, cuda_ = false;
};

}  // namespace vpr
