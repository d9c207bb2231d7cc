#include "vpr/util/progress.h"

#include "vpr/util/logging.h"

namespace vpr {
namespace {

struct SinkSetting {
  ProgressSink sink;
  double interval_s = 0.2;
};
SinkSetting& Sink() {
  static SinkSetting setting;
  return setting;
}

}  // namespace

void SetProgressSink(ProgressSink sink, double interval_s) { Sink() = {std::move(sink), interval_s}; }

Progress::Progress(std::string label, int64_t total, std::string unit, double report_every_s)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      report_every_s_(report_every_s),
      start_(std::chrono::steady_clock::now()),
      last_report_(start_) {}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::rate() const {
  double t = elapsed_s();
  return t > 0 ? done_ / t : 0.0;
}

ProgressUpdate Progress::Update(bool finished) const {
  double r = rate();
  double eta = total_ > 0 && r > 0 ? (total_ - done_) / r : 0.0;
  return {label_, unit_, done_, total_, r, eta, finished};
}

void Progress::Add(int64_t n) {
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  const SinkSetting& sink = Sink();
  double every = sink.sink ? sink.interval_s : report_every_s_;
  if (std::chrono::duration<double>(now - last_report_).count() < every) return;
  last_report_ = now;
  const ProgressUpdate u = Update(false);
  if (sink.sink) {
    sink.sink(u);
    return;
  }
  if (total_ > 0) {
    Log().info("{}: {}/{} {} ({:.1f}%), {:.2f} {}/s, ETA {:.0f}s", label_, done_, total_, unit_,
               100.0 * done_ / total_, u.rate, unit_, u.eta_s);
  } else {
    Log().info("{}: {} {}, {:.2f} {}/s", label_, done_, unit_, u.rate, unit_);
  }
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  if (Sink().sink) Sink().sink(Update(true));
  Log().info("{}: done, {} {} in {:.1f}s ({:.2f} {}/s)", label_, done_, unit_, elapsed_s(), rate(),
             unit_);
}

}  // namespace vpr
