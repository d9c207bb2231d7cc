#include "vpr/runtime/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <mutex>

#include "vpr/runtime/cpu_features.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace {

// LibTorch 2.4 replaced the per-device autocast functions with ones taking the device.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool AutocastEnabled(at::DeviceType d) { return at::autocast::is_autocast_enabled(d); }
void SetAutocast(at::DeviceType d, bool on) { at::autocast::set_autocast_enabled(d, on); }
at::ScalarType AutocastType(at::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
void SetAutocastType(at::DeviceType d, at::ScalarType t) { at::autocast::set_autocast_dtype(d, t); }
#else
bool AutocastEnabled(at::DeviceType d) {
  return d == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void SetAutocast(at::DeviceType d, bool on) {
  if (d == at::kCUDA) at::autocast::set_enabled(on);
  else at::autocast::set_cpu_enabled(on);
}
at::ScalarType AutocastType(at::DeviceType d) {
  return d == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void SetAutocastType(at::DeviceType d, at::ScalarType t) {
  if (d == at::kCUDA) at::autocast::set_autocast_gpu_dtype(t);
  else at::autocast::set_autocast_cpu_dtype(t);
}
#endif

bool CudaHasBf16() {
  // Compute capability 8 (Ampere) and later compute in bf16; the property lives in the
  // CUDA headers, so test a tiny bf16 matmul instead.
  try {
    auto a = at::ones({2, 2}, at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16));
    at::matmul(a, a);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

const char* PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kBf16: return "bf16";
    case Precision::kFp16: return "fp16";
    default: return "fp32";
  }
}

void CheckPrecisionFlag(const std::string& flag, const std::string& device) {
  VPR_CHECK(flag == "fp32" || flag == "bf16" || flag == "fp16" || flag == "auto", "unknown --precision '", flag,
            "': use ", kPrecisionFlagValues);
  VPR_CHECK(flag != "fp16" || device.rfind("cuda", 0) == 0,
            "--precision fp16 needs --device cuda; on the CPU use bf16 (or auto)");
}

Precision ResolvePrecision(const std::string& flag, const at::Device& device) {
  CheckPrecisionFlag(flag, device.is_cuda() ? "cuda" : "cpu");
  if (flag == "fp32") return Precision::kFp32;
  if (flag == "fp16") return Precision::kFp16;
  const bool native = device.is_cuda() ? CudaHasBf16() : HostCpuFeatures().native_bf16();
  if (flag == "auto") {
    Precision chosen = native ? Precision::kBf16 : Precision::kFp32;
    static std::once_flag said;  // every extraction resolves it; say it once
    std::call_once(said, [&] {
      Log().info("--precision auto: {} ({})", PrecisionName(chosen),
               device.is_cuda() ? (native ? "the GPU computes in bf16" : "the GPU has no bf16")
                                : (native ? "the CPU has AVX512_BF16/AMX" : "the CPU has no native bf16"));
    });
    return chosen;
  }
  static std::once_flag warned;
  if (!native)
    std::call_once(warned, [&] {
      Log().warn("--precision bf16 on a {} without native bf16: it is emulated and slower than fp32",
                 device.is_cuda() ? "GPU" : "CPU");
    });
  return Precision::kBf16;
}

at::ScalarType ComputeType(Precision precision) {
  switch (precision) {
    case Precision::kBf16: return at::kBFloat16;
    case Precision::kFp16: return at::kHalf;
    default: return at::kFloat;
  }
}

AutocastScope::AutocastScope(Precision precision, at::DeviceType device) : device_(device) {
  if (precision == Precision::kFp32) return;
  active_ = true;
  was_enabled_ = AutocastEnabled(device);
  was_type_ = AutocastType(device);
  SetAutocastType(device, ComputeType(precision));
  SetAutocast(device, true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetAutocast(device_, was_enabled_);
  SetAutocastType(device_, was_type_);
}

AutocastOff::AutocastOff() : cpu_(AutocastEnabled(at::kCPU)), cuda_(AutocastEnabled(at::kCUDA)) {
  if (cpu_) SetAutocast(at::kCPU, false);
  if (cuda_) SetAutocast(at::kCUDA, false);
}

AutocastOff::~AutocastOff() {
  if (cpu_) SetAutocast(at::kCPU, true);
  if (cuda_) SetAutocast(at::kCUDA, true);
}

}  // namespace vpr
