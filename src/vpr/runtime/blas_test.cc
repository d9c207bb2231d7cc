#include "vpr/runtime/blas.h"

#include <gtest/gtest.h>

#include "vpr/runtime/cpu_features.h"

namespace vpr {
namespace {

// LibTorch links libblas.so.3: the loaded library is found by the symbol it provides, and
// named by that library itself (not by another OpenBLAS that liblapack may bring).
TEST(Blas, TheLoadedLibraryIsFoundAndNamed) {
  const BlasInfo& blas = LoadedBlas();
  ASSERT_FALSE(blas.path.empty());
  EXPECT_EQ(blas.reference, blas.name == "reference BLAS (netlib)");
  if (blas.path.find("openblas") != std::string::npos) {
    EXPECT_EQ(blas.name.rfind("OpenBLAS", 0), 0u) << blas.name;
    EXPECT_FALSE(blas.reference);
  }
  SetBlasThreads(1);  // harmless whatever the library
}

TEST(CpuFeatures, LineNamesEveryFeatureAndImplications) {
  const CpuFeatures& f = HostCpuFeatures();
  const std::string line = f.Line();
  for (const char* name : {"avx2", "avx512f", "avx512_bf16", "amx_bf16"}) EXPECT_NE(line.find(name), std::string::npos);
  if (f.avx512_bf16) EXPECT_TRUE(f.avx512f);
  EXPECT_EQ(f.native_bf16(), f.avx512_bf16 || f.amx_bf16);
}

}  // namespace
}  // namespace vpr
