#include "vpr/util/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "vpr/util/check.h"

namespace vpr {

spdlog::logger& Log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_color_mt("vpr");
    l->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
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
