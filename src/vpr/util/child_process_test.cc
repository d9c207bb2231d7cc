#include "vpr/util/child_process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>

#include "vpr/util/check.h"

namespace vpr {
namespace {

TEST(RunInChildProcess, ReturningIsOk) {
  int touched = 0;
  const ChildOutcome outcome = RunInChildProcess([&] { touched = 1; });
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.failure, "");
  EXPECT_EQ(touched, 0) << "the child's memory is its own";
}

TEST(RunInChildProcess, WhatItThrowsIsTheFailure) {
  const ChildOutcome outcome = RunInChildProcess([] { VPR_THROW("declares ", 12, " GB"); });
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.failure, "declares 12 GB");
}

TEST(RunInChildProcess, ACrashNamesTheSignalAndLeavesTheCallerRunning) {
  const ChildOutcome fpe = RunInChildProcess([] { std::raise(SIGFPE); });
  EXPECT_FALSE(fpe.ok);
  EXPECT_NE(fpe.failure.find("signal FPE"), std::string::npos) << fpe.failure;
  const ChildOutcome segv = RunInChildProcess([] { std::raise(SIGSEGV); });
  EXPECT_NE(segv.failure.find("signal SEGV"), std::string::npos) << segv.failure;
}

TEST(RunInChildProcess, AnExitWithoutAMessageGivesItsStatus) {
  const ChildOutcome outcome = RunInChildProcess([] { _exit(3); });
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.failure, "it ended with exit status 3");
}

}  // namespace
}  // namespace vpr
