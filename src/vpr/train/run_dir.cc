#include "vpr/train/run_dir.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"

namespace vpr {
namespace fs = std::filesystem;

RunDir::RunDir(std::string dir) : dir_(std::move(dir)) {
  VPR_CHECK(!dir_.empty(), "--out must name the run folder");
}

std::string RunDir::CheckpointPath() const { return (fs::path(dir_) / "checkpoints" / "checkpoint.pth.tar").string(); }
std::string RunDir::BestPath() const { return (fs::path(dir_) / "checkpoints" / "model_best.pth.tar").string(); }
std::string RunDir::StatePath() const { return (fs::path(dir_) / "checkpoints" / "train_state.pt").string(); }
std::string RunDir::MetricsPath() const { return (fs::path(dir_) / "metrics.jsonl").string(); }
std::string RunDir::CachePath() const { return (fs::path(dir_) / "cache" / "descriptors.f32").string(); }
std::string RunDir::ValDir(int epoch) const {
  return (fs::path(dir_) / "val" / ("epoch_" + std::to_string(epoch))).string();
}
bool RunDir::HasState() const { return fs::exists(StatePath()); }

void RunDir::WriteFlags(const nlohmann::json& flags) const {
  WriteFileAtomic((fs::path(dir_) / "flags.json").string(), flags.dump(2) + "\n");
}

void RunDir::AppendMetrics(const nlohmann::json& line) const {
  fs::create_directories(dir_);
  std::ofstream out(MetricsPath(), std::ios::app);
  out << line.dump() + "\n" << std::flush;
  VPR_CHECK(out.good(), "cannot append to '", MetricsPath(), "' (disk full or read-only?)");
}

void RunDir::TrimMetrics(int epoch) const {
  if (!fs::exists(MetricsPath())) return;
  std::istringstream in(ReadFileBytes(MetricsPath()));
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("epoch", 0) <= epoch) kept += line + "\n";
  }
  WriteFileAtomic(MetricsPath(), kept);
}

namespace {

// The negative cache as two tensors: concatenated indices and per-query counts.
void WriteNegativeCache(torch::serialize::OutputArchive& archive, const std::vector<std::vector<int64_t>>& cache) {
  std::vector<int64_t> flat, counts;
  for (const auto& list : cache) {
    counts.push_back(static_cast<int64_t>(list.size()));
    flat.insert(flat.end(), list.begin(), list.end());
  }
  archive.write("negative_counts", torch::tensor(counts, torch::kInt64));
  archive.write("negative_indices", torch::tensor(flat.empty() ? std::vector<int64_t>{} : flat, torch::kInt64));
}

std::vector<std::vector<int64_t>> ReadNegativeCache(torch::serialize::InputArchive& archive) {
  torch::Tensor counts, flat;
  archive.read("negative_counts", counts);
  archive.read("negative_indices", flat);
  std::vector<std::vector<int64_t>> cache(counts.numel());
  const int64_t* c = counts.data_ptr<int64_t>();
  const int64_t* f = flat.numel() ? flat.data_ptr<int64_t>() : nullptr;
  int64_t at = 0;
  for (size_t q = 0; q < cache.size(); ++q) {
    VPR_CHECK(at + c[q] <= flat.numel(), "the negative cache in the train state is truncated");
    cache[q].assign(f + at, f + at + c[q]);
    at += c[q];
  }
  return cache;
}

}  // namespace

void RunDir::SaveState(const TrainState& state, VprModel& model, torch::optim::Optimizer& optimizer) const {
  torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
  model->save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  nlohmann::json info = {{"format_version", 2},       {"epoch", state.epoch},
                         {"queries_done", state.queries_done}, {"partial", state.partial},
                         {"best_score", state.best_score}, {"best_epoch", state.best_epoch},
                         {"epochs_without_improvement", state.epochs_without_improvement},
                         {"recalls", state.recalls},   {"rng", state.rng}};
  archive.write("state_json", c10::IValue(info.dump()));
  WriteNegativeCache(archive, state.negative_cache);
  archive.write("epoch_order", torch::tensor(state.order.empty() ? std::vector<int64_t>{} : state.order, torch::kInt64));
  std::ostringstream bytes;
  archive.save_to(bytes);
  WriteFileAtomic(StatePath(), bytes.str());
}

TrainState RunDir::LoadState(VprModel& model, torch::optim::Optimizer& optimizer) const {
  VPR_CHECK(HasState(), "'", StatePath(), "' does not exist: --resume needs a run folder written by vpr train ",
            "(one that finished at least one epoch)");
  torch::serialize::InputArchive archive, model_archive, optimizer_archive;
  try {
    archive.load_from(StatePath());
    archive.read("model", model_archive);
    archive.read("optimizer", optimizer_archive);
    model->load(model_archive);
    optimizer.load(optimizer_archive);
  } catch (const c10::Error& e) {
    std::string what = e.what();
    VPR_THROW("cannot resume from '", StatePath(), "': ", what.substr(0, what.find('\n')),
              " (was the run started with another model or --train-blocks/--optimizer?)");
  }
  c10::IValue json_value;
  archive.read("state_json", json_value);
  nlohmann::json info = nlohmann::json::parse(json_value.toStringRef());
  TrainState state;
  state.epoch = info.at("epoch").get<int>();
  state.best_score = info.at("best_score").get<double>();
  state.best_epoch = info.at("best_epoch").get<int>();
  state.epochs_without_improvement = info.at("epochs_without_improvement").get<int>();
  state.recalls = info.at("recalls");
  state.rng = info.at("rng").get<std::string>();
  state.negative_cache = ReadNegativeCache(archive);
  state.queries_done = info.value("queries_done", int64_t{0});
  state.partial = info.value("partial", nlohmann::json::object());
  if (state.queries_done > 0) {
    torch::Tensor order;
    archive.read("epoch_order", order);
    state.order.assign(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + order.numel());
  }
  return state;
}

}  // namespace vpr
