// On a terminal, progress is one line redrawn in place (count, bar, rate, ETA) instead of a
// log line every few seconds; log messages print above it.
#pragma once

#include <string>

#include "vpr/util/progress.h"

namespace vpr {

// Installs the bar when stderr is a terminal and info messages are shown; otherwise
// progress stays log lines (files, pipes, CI logs).
void UseTerminalProgressWhereUseful();

// The bar's text for `update` in `columns` characters, without control codes.
std::string ProgressLine(const ProgressUpdate& update, int columns);

}  // namespace vpr
