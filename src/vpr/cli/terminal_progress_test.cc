#include "vpr/cli/terminal_progress.h"

#include <gtest/gtest.h>

namespace vpr {
namespace {

TEST(ProgressLine, BarCountRateAndEtaFitTheWidth) {
  ProgressUpdate u{"extract", "images", 50, 200, 40.0, 3.75, false};
  std::string line = ProgressLine(u, 80);
  EXPECT_EQ(line.size(), 80u) << line;
  EXPECT_EQ(line.rfind("extract: [", 0), 0u) << line;
  EXPECT_NE(line.find(" 50/200 images  25% 40.0 images/s ETA 0:04"), std::string::npos) << line;
  size_t open = line.find('['), close = line.find(']');
  std::string bar = line.substr(open + 1, close - open - 1);
  EXPECT_EQ(std::count(bar.begin(), bar.end(), '#'), static_cast<long>(bar.size() / 4)) << bar;
}

TEST(ProgressLine, UnknownTotalAndNarrowTerminals) {
  EXPECT_EQ(ProgressLine({"index add", "vectors", 1000, 0, 250.0, 0.0, false}, 80),
            "index add: 1000 vectors, 250.0 vectors/s");
  std::string narrow = ProgressLine({"extract", "images", 1, 3, 1.0, 3725.0, false}, 40);
  EXPECT_LE(narrow.size(), 40u) << narrow;
  EXPECT_EQ(narrow.find('['), std::string::npos) << narrow;
  EXPECT_NE(ProgressLine({"train", "queries", 1, 3, 0.001, 7325.0, false}, 200).find("ETA 2:02:05"),
            std::string::npos);
}

}  // namespace
}  // namespace vpr
