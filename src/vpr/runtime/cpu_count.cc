#include "vpr/runtime/cpu_count.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace vpr {
namespace {

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The process's cgroup v2 folder ("0::/user.slice/..." in /proc/self/cgroup).
std::string OwnCgroupV2Dir() {
  std::istringstream lines(ReadSmallFile("/proc/self/cgroup"));
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("0::", 0) == 0) return "/sys/fs/cgroup" + line.substr(3);
  return "/sys/fs/cgroup";
}

// The tightest quota on the way from the process's cgroup up to the root; 0 = none.
double CgroupQuotaCpus() {
  double best = 0;
  for (std::string dir = OwnCgroupV2Dir(); dir.rfind("/sys/fs/cgroup", 0) == 0;) {
    double q = CgroupV2QuotaCpus(ReadSmallFile(dir + "/cpu.max"));
    if (q > 0 && (best == 0 || q < best)) best = q;
    if (dir == "/sys/fs/cgroup") break;
    dir = dir.substr(0, dir.find_last_of('/'));
  }
  // cgroup v1
  std::istringstream quota(ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"));
  std::istringstream period(ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
  double q = 0, p = 0;
  if ((quota >> q) && (period >> p) && q > 0 && p > 0 && (best == 0 || q / p < best)) best = q / p;
  return best;
}

}  // namespace

double CgroupV2QuotaCpus(const std::string& cpu_max) {
  std::istringstream in(cpu_max);
  std::string quota;
  double period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) return 0;
  try {
    double q = std::stod(quota);
    return q > 0 ? q / period : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

int UsableCpuCount() {
  int cpus = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus <= 0) cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  double quota = CgroupQuotaCpus();
  if (quota > 0) cpus = std::min(cpus, static_cast<int>(std::ceil(quota - 1e-9)));
  return std::max(1, cpus);
}

}  // namespace vpr
