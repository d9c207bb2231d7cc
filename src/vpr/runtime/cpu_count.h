// How many CPUs this process may really use: the affinity mask (taskset, cpusets) and the
// cgroup CPU quota (containers, systemd), not the physical cores LibTorch guesses.
#pragma once

#include <string>

namespace vpr {

// The CPUs in the affinity mask, capped by the cgroup quota (rounded up); at least 1.
int UsableCpuCount();

// The quota in CPUs from the text of cgroup v2's cpu.max ("max 100000" = none, "150000
// 100000" = 1.5); 0 when there is no quota or the text cannot be parsed.
double CgroupV2QuotaCpus(const std::string& cpu_max);

}  // namespace vpr
