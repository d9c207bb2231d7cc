#include "vpr/cli/terminal_progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <spdlog/sinks/sink.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>

#include "vpr/util/logging.h"

namespace vpr {
namespace {

std::string Duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  long t = std::lround(s);
  char text[32];
  if (t >= 3600)
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    std::snprintf(text, sizeof text, "%ld:%02ld", t / 60, t % 60);
  return text;
}

int TerminalColumns() {
  winsize size{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 20) return size.ws_col;
  return 80;
}

// The bar line on stderr; log messages clear it, print, and draw it again.
class TerminalBar {
 public:
  void Show(const ProgressUpdate& update) {
    std::lock_guard<std::mutex> lock(mutex_);
    Clear();
    line_ = update.finished ? "" : ProgressLine(update, TerminalColumns() - 1);
    Draw();
  }
  template <typename Print>
  void PrintAbove(Print print) {
    std::lock_guard<std::mutex> lock(mutex_);
    Clear();
    print();
    Draw();
  }

 private:
  void Clear() {
    if (!line_.empty()) std::fputs("\r\033[K", stderr);
  }
  void Draw() {
    if (line_.empty()) return;
    std::fputs(line_.c_str(), stderr);
    std::fflush(stderr);
  }
  std::mutex mutex_;
  std::string line_;
};

TerminalBar& Bar() {
  static TerminalBar bar;
  return bar;
}

// Wraps the logger's own sink so that each message goes above the bar.
class AboveTheBarSink : public spdlog::sinks::sink {
 public:
  explicit AboveTheBarSink(spdlog::sink_ptr inner) : inner_(std::move(inner)) {}
  void log(const spdlog::details::log_msg& msg) override {
    Bar().PrintAbove([&] {
      inner_->log(msg);
      inner_->flush();
    });
  }
  void flush() override { inner_->flush(); }
  void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    inner_->set_formatter(std::move(formatter));
  }

 private:
  spdlog::sink_ptr inner_;
};

}  // namespace

std::string ProgressLine(const ProgressUpdate& u, int columns) {
  char text[256];
  if (u.total <= 0) {
    std::snprintf(text, sizeof text, "%s: %lld %s, %.1f %s/s", u.label.c_str(), static_cast<long long>(u.done),
                  u.unit.c_str(), u.rate, u.unit.c_str());
    return std::string(text).substr(0, static_cast<size_t>(std::max(columns, 0)));
  }
  double fraction = std::min(1.0, static_cast<double>(u.done) / static_cast<double>(u.total));
  std::snprintf(text, sizeof text, " %lld/%lld %s %3.0f%% %.1f %s/s ETA %s", static_cast<long long>(u.done),
                static_cast<long long>(u.total), u.unit.c_str(), 100 * fraction, u.rate, u.unit.c_str(),
                Duration(u.eta_s).c_str());
  std::string tail = text;
  int width = columns - static_cast<int>(u.label.size() + tail.size()) - 4;  // ": [" and "]"
  if (width < 10) return (u.label + ":" + tail).substr(0, static_cast<size_t>(std::max(columns, 0)));
  int filled = static_cast<int>(fraction * width);
  return u.label + ": [" + std::string(filled, '#') + std::string(width - filled, '.') + "]" + tail;
}

void UseTerminalProgressWhereUseful() {
  if (!isatty(STDERR_FILENO) || !Log().should_log(spdlog::level::info)) return;
  auto& sinks = Log().sinks();
  for (auto& sink : sinks) sink = std::make_shared<AboveTheBarSink>(sink);
  SetProgressSink([](const ProgressUpdate& update) { Bar().Show(update); });
}

}  // namespace vpr
