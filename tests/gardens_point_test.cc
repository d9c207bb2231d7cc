// Done-when of the evaluation issue: `vpr eval` on Gardens Point, with a model whose
// NetVLAD centroids the Python reference computed (tests/oracle/gardens_point_reference.py:
// MobileNetV2 features[:17] from ../shared/data/weights, K=64, faiss k-means, vladv1
// init), finds the same hits at every N as torchvision + faiss.IndexFlatL2.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "vpr/test_config.h"
#include "vpr/util/atomic_file.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

int Vpr(const std::string& args, std::string* output) {
  std::string cmd = std::string(VPR_BINARY_DIR) + "/vpr " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) output->append(buf.data(), n);
  return WEXITSTATUS(pclose(pipe));
}

class GardensPointReference : public ::testing::TestWithParam<const char*> {};

TEST_P(GardensPointReference, VprEvalFindsTheSameHitsAsPython) {
  const fs::path ref_dir = fs::path(VPR_BINARY_DIR) / "gardens_point_ref";
  const json ref = json::parse(ReadFileBytes((ref_dir / "reference.json").string()));
  if (ref.contains("skipped")) GTEST_SKIP() << ref["skipped"].get<std::string>();
  const std::string queries = GetParam();
  const fs::path gp = fs::path(VPR_SHARED_DIR) / "data" / "gardens_point";
  const fs::path out = fs::path(VPR_BINARY_DIR) / "test_scratch" / "gardens_point" / queries;
  std::string args = "eval --model " + (ref_dir / "model.pth").string() + " --db " + (gp / "day_right").string() +
                     " --queries " + (gp / queries).string() + " --frame-tolerance 2 --out " + out.string() +
                     " --cache-dir " + (fs::path(VPR_BINARY_DIR) / "test_scratch" / "gardens_point_cache").string();
  if (!ref["max_side"].is_null()) args += " --max-side " + ref["max_side"].dump();
  std::string output;
  ASSERT_EQ(Vpr(args, &output), 0) << output;
  const json metrics = json::parse(ReadFileBytes((out / "metrics.json").string()));
  const json& expected = ref["queries"][queries];
  std::cout << queries << ": vpr hits " << metrics["hits_at"].dump() << ", python hits " << expected["hits_at"].dump()
            << "\n";
  for (const auto& [n, hits] : expected["hits_at"].items())
    EXPECT_EQ(metrics["hits_at"][n], hits) << "recall@" << n << " of " << queries;
  // And the same top-1 database image for (nearly) every query: the descriptors agree,
  // not only the counts. A near tie may flip under float rounding.
  const json predictions = json::parse(ReadFileBytes((out / "predictions.json").string()));
  int same = 0;
  for (size_t q = 0; q < expected["top1"].size(); ++q)
    same += predictions["queries"][q]["top_k_ids"][0] == expected["top1"][q];
  EXPECT_GE(same, static_cast<int>(expected["top1"].size()) - 2);
}

INSTANTIATE_TEST_SUITE_P(Queries, GardensPointReference, ::testing::Values("day_left", "night_right"));

}  // namespace
}  // namespace vpr
