#include "vpr/app/version_report.h"

#include <faiss/Index.h>
#include <opencv2/core/version.hpp>
#include <torch/torch.h>

#include <regex>

#include "vpr/runtime/blas.h"
#include "vpr/runtime/cpu_count.h"
#include "vpr/runtime/cpu_features.h"

namespace vpr {

std::string OneDnnVersion() {
  std::smatch m;
  const std::string config = at::show_config();
  if (std::regex_search(config, m, std::regex(R"((?:oneDNN|MKL-DNN)[^\n]*?v(\d+\.\d+(?:\.\d+)?))"))) return m[1].str();
  return "";
}

nlohmann::json VersionReport(const std::string& vpr_version, const RuntimeOptions& runtime) {
  static const int libtorch_default = torch::get_num_threads();  // before anything sets it
  runtime.Apply();
  const CpuFeatures& cpu = HostCpuFeatures();
  const BlasInfo& blas = LoadedBlas();
  return {{"vpr", vpr_version},
          {"libtorch", TORCH_VERSION},
          {"cuda", torch::cuda::is_available()},
          {"onednn", OneDnnVersion()},
          {"faiss", std::to_string(FAISS_VERSION_MAJOR) + "." + std::to_string(FAISS_VERSION_MINOR) + "." +
                        std::to_string(FAISS_VERSION_PATCH)},
          {"opencv", CV_VERSION},
          {"blas", {{"name", blas.name}, {"path", blas.path}, {"reference", blas.reference}}},
          {"threads", {{"used", torch::get_num_threads()}, {"usable_cpus", UsableCpuCount()},
                       {"libtorch_default", libtorch_default}}},
          {"cpu", {{"model", cpu.model}, {"avx2", cpu.avx2}, {"avx512f", cpu.avx512f},
                   {"avx512_bf16", cpu.avx512_bf16}, {"amx_bf16", cpu.amx_bf16}, {"line", cpu.Line()}}},
          {"precision_auto", cpu.native_bf16() ? "bf16" : "fp32"}};
}

std::string FormatVersionReport(const nlohmann::json& r) {
  const auto& t = r["threads"];
  std::string s = "vpr " + r["vpr"].get<std::string>() + "\n";
  s += "LibTorch " + r["libtorch"].get<std::string>() + " (CUDA " + (r["cuda"].get<bool>() ? "available" : "not available") +
       "), oneDNN " + (r["onednn"].get<std::string>().empty() ? "absent" : r["onednn"].get<std::string>()) + "\n";
  s += "FAISS " + r["faiss"].get<std::string>() + ", OpenCV " + r["opencv"].get<std::string>() + "\n";
  s += "BLAS: " + r["blas"]["name"].get<std::string>() + " (" + r["blas"]["path"].get<std::string>() + ")" +
       (r["blas"]["reference"].get<bool>() ? "  <- slow: run scripts/install_deps.sh" : "") + "\n";
  s += "threads: " + std::to_string(t["used"].get<int>()) + " (usable CPUs " + std::to_string(t["usable_cpus"].get<int>()) +
       ", LibTorch's own guess " + std::to_string(t["libtorch_default"].get<int>()) + ")\n";
  s += "CPU: " + r["cpu"]["line"].get<std::string>() + "\n";
  s += "--precision auto: " + r["precision_auto"].get<std::string>() + "\n";
  return s;
}

}  // namespace vpr
