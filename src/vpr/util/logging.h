// The project's single logger. Libraries log through Log(), never printf.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace vpr {

// The shared logger ("vpr"), writing to stderr so stdout stays for results; its level
// starts at $VPR_LOG_LEVEL when set (trace, debug, info, warn, error, off).
spdlog::logger& Log();

// "trace", "debug", "info", "warn", "error", "off".
void SetLogLevel(const std::string& level);

}  // namespace vpr
