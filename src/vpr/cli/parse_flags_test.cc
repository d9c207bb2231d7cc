#include "vpr/cli/parse_flags.h"

#include <gtest/gtest.h>

#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace {

struct Parsed {
  int clusters = 0;
  int epochs = 0;
  int accumulate = 0;
  int batch_size = 0;
  double weight_decay = 0.0;
  std::string device = "cuda";
  std::string backbone;
};

// Parses `args` with a command having a few of vpr train's flags.
Parsed Parse(std::vector<std::string> args, bool* ran = nullptr) {
  Parsed p;
  CLI::App app("test", "vpr test");
  app.add_option("--clusters", p.clusters);
  app.add_option("--epochs", p.epochs);
  app.add_option("--accumulate", p.accumulate);
  app.add_option("--batch-size", p.batch_size);
  app.add_option("--weight-decay", p.weight_decay);
  app.add_option("--device", p.device);
  app.add_option("--backbone", p.backbone);
  args.insert(args.begin(), "vpr test");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  bool ok = ParseFlags(app, static_cast<int>(argv.size()), argv.data());
  if (ran) *ran = ok;
  return p;
}

std::string UsageMessage(const std::vector<std::string>& args) {
  try {
    Parse(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no UsageError)";
}

TEST(ParseFlags, PytorchNetVladNamesMapToOurs) {
  Parsed p = Parse({"--num_clusters", "16", "--arch=vgg16", "--nEpochs", "3", "--batchSize", "4", "--nocuda",
                    "--weightDecay", "0.01"});
  EXPECT_EQ(p.clusters, 16);
  EXPECT_EQ(p.backbone, "vgg16");
  EXPECT_EQ(p.epochs, 3);
  EXPECT_EQ(p.accumulate, 4);  // their batchSize is triplets per step
  EXPECT_EQ(p.device, "cpu");
  EXPECT_DOUBLE_EQ(p.weight_decay, 0.01);
}

TEST(ParseFlags, SnakeCaseOfOurOwnFlagsIsAccepted) { EXPECT_EQ(Parse({"--batch_size", "8"}).batch_size, 8); }

TEST(ParseFlags, UnknownFlagsGetTheClosestName) {
  EXPECT_EQ(UsageMessage({"--cluster", "4"}), "unknown option --cluster; did you mean --clusters?");
  EXPECT_EQ(UsageMessage({"--epcohs", "4"}), "unknown option --epcohs; did you mean --epochs?");
  EXPECT_EQ(UsageMessage({"--frobnicate"}), "unknown option --frobnicate");
  EXPECT_NE(UsageMessage({"--clusters", "many"}).find("--clusters"), std::string::npos);
}

TEST(ParseFlags, HelpReturnsFalseAndLogLevelsApply) {
  bool ran = true;
  testing::internal::CaptureStdout();
  Parse({"--help"}, &ran);
  std::string help = testing::internal::GetCapturedStdout();
  EXPECT_FALSE(ran);
  EXPECT_NE(help.find("--log-level"), std::string::npos) << help;
  EXPECT_NE(help.find("--quiet"), std::string::npos) << help;
  Parse({"--quiet"}, &ran);
  EXPECT_TRUE(ran);
  EXPECT_FALSE(Log().should_log(spdlog::level::info));
  Parse({"--log-level", "debug"});
  EXPECT_TRUE(Log().should_log(spdlog::level::debug));
  SetLogLevel("info");
  EXPECT_NE(UsageMessage({"--log-level", "loud"}).find("--log-level"), std::string::npos);
}

TEST(ClosestName, PrefixesAndSmallTyposOnly) {
  std::vector<std::string> commands = {"cluster", "demo", "doctor", "eval", "extract", "train", "index", "search"};
  EXPECT_EQ(ClosestName("evl", commands), "eval");
  EXPECT_EQ(ClosestName("extrct", commands), "extract");
  EXPECT_EQ(ClosestName("doc", commands), "doctor");
  EXPECT_EQ(ClosestName("serach", commands), "search");
  EXPECT_EQ(ClosestName("benchmark", commands), "");
}

}  // namespace
}  // namespace vpr
