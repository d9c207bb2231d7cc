#include "vpr/runtime/cpu_count.h"

#include <gtest/gtest.h>
#include <sched.h>

namespace vpr {
namespace {

TEST(CpuCount, CgroupV2QuotaIsQuotaOverPeriod) {
  EXPECT_DOUBLE_EQ(CgroupV2QuotaCpus("150000 100000\n"), 1.5);
  EXPECT_DOUBLE_EQ(CgroupV2QuotaCpus("200000 100000"), 2.0);
  EXPECT_EQ(CgroupV2QuotaCpus("max 100000\n"), 0.0);
  EXPECT_EQ(CgroupV2QuotaCpus(""), 0.0);
  EXPECT_EQ(CgroupV2QuotaCpus("garbage"), 0.0);
  EXPECT_EQ(CgroupV2QuotaCpus("100 0"), 0.0);
}

// The default thread count follows the affinity mask (taskset), not the machine's cores.
TEST(CpuCount, FollowsTheAffinityMask) {
  cpu_set_t original;
  ASSERT_EQ(sched_getaffinity(0, sizeof original, &original), 0);
  const int all = UsableCpuCount();
  EXPECT_GE(all, 1);
  EXPECT_LE(all, CPU_COUNT(&original));
  int first = 0;
  while (!CPU_ISSET(first, &original)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  EXPECT_EQ(UsableCpuCount(), 1);
  ASSERT_EQ(sched_setaffinity(0, sizeof original, &original), 0);
  EXPECT_EQ(UsableCpuCount(), all);
}

}  // namespace
}  // namespace vpr
