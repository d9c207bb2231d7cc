// What `vpr version` reports: library versions, the BLAS actually loaded, threads and CPU
// features, i.e. everything that decides how fast (and in which precision) vpr runs here.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "vpr/runtime/runtime_options.h"

namespace vpr {

// {"vpr", "libtorch", "cuda", "onednn", "faiss", "opencv", "blas": {"name", "path", "reference"},
//  "threads": {"used", "usable_cpus", "libtorch_default"}, "cpu": {"model", "avx2", "avx512f",
//  "avx512_bf16", "amx_bf16"}, "precision_auto"}
nlohmann::json VersionReport(const std::string& vpr_version, const RuntimeOptions& runtime);

// The same as the lines `vpr version` prints.
std::string FormatVersionReport(const nlohmann::json& report);

// The oneDNN version in LibTorch's build configuration ("2.6.0"), or "" when it has none.
std::string OneDnnVersion();

}  // namespace vpr
