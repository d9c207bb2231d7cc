#include "vpr/util/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>

#include "vpr/util/check.h"

namespace vpr {

spdlog::logger& Log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_color_mt("vpr");
    l->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    if (const char* level = std::getenv("VPR_LOG_LEVEL"); level && *level) l->set_level(spdlog::level::from_str(level));
    return l;
  }();
  return *logger;
}

void SetLogLevel(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  VPR_CHECK(parsed != spdlog::level::off || level == "off", "unknown log level '", level,
            "': use trace, debug, info, warn, error or off");
  Log().set_level(parsed);
}

}  // namespace vpr
