#include "vpr/train/run_dir.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "vpr/io/torch_file.h"
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

// What train_state.pt holds besides tensors, shared by both formats.
nlohmann::json StateJson(const TrainState& state) {
  return {{"format_version", 3},
          {"epoch", state.epoch},
          {"queries_done", state.queries_done},
          {"partial", state.partial},
          {"best_score", state.best_score},
          {"best_epoch", state.best_epoch},
          {"epochs_without_improvement", state.epochs_without_improvement},
          {"recalls", state.recalls},
          {"rng", state.rng}};
}

TrainState StateFromJson(const nlohmann::json& info) {
  TrainState state;
  state.epoch = info.at("epoch").get<int>();
  state.best_score = info.at("best_score").get<double>();
  state.best_epoch = info.at("best_epoch").get<int>();
  state.epochs_without_improvement = info.at("epochs_without_improvement").get<int>();
  state.recalls = info.at("recalls");
  state.rng = info.at("rng").get<std::string>();
  state.queries_done = info.value("queries_done", int64_t{0});
  state.partial = info.value("partial", nlohmann::json::object());
  return state;
}

torch::Tensor Int64s(const std::vector<int64_t>& values) {
  return torch::tensor(values.empty() ? std::vector<int64_t>{} : values, torch::kInt64);
}

std::vector<int64_t> ToVector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kInt64).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// The negative cache as two tensors: per-query counts and concatenated indices.
std::pair<torch::Tensor, torch::Tensor> PackNegativeCache(const std::vector<std::vector<int64_t>>& cache) {
  std::vector<int64_t> flat, counts;
  for (const auto& list : cache) {
    counts.push_back(static_cast<int64_t>(list.size()));
    flat.insert(flat.end(), list.begin(), list.end());
  }
  return {Int64s(counts), Int64s(flat)};
}

std::vector<std::vector<int64_t>> UnpackNegativeCache(const torch::Tensor& counts, const torch::Tensor& indices) {
  const std::vector<int64_t> c = ToVector(counts), f = ToVector(indices);
  std::vector<std::vector<int64_t>> cache(c.size());
  size_t at = 0;
  for (size_t q = 0; q < cache.size(); ++q) {
    VPR_CHECK(c[q] >= 0 && at + static_cast<size_t>(c[q]) <= f.size(), "the negative cache in the train state is truncated");
    cache[q].assign(f.begin() + at, f.begin() + at + c[q]);
    at += c[q];
  }
  return cache;
}

std::vector<torch::Tensor> OptimizedParameters(torch::optim::Optimizer& optimizer) {
  std::vector<torch::Tensor> params;
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) params.push_back(p);
  return params;
}

std::string StateKey(const torch::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

// SGD momentum buffers or Adam moments as "optimizer.<i>.<name>", Adam's step counts in info.
void PackOptimizer(torch::optim::Optimizer& optimizer, StateDict& out, nlohmann::json& info) {
  std::vector<torch::Tensor> params = OptimizedParameters(optimizer);
  nlohmann::json steps = nlohmann::json::array();
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string prefix = "optimizer." + std::to_string(i) + ".";
    auto it = optimizer.state().find(StateKey(params[i]));
    if (it == optimizer.state().end()) {
      steps.push_back(nullptr);
      continue;
    }
    if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(it->second.get())) {
      if (sgd->momentum_buffer().defined()) out.emplace_back(prefix + "momentum_buffer", sgd->momentum_buffer());
      steps.push_back(nullptr);
    } else if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(it->second.get())) {
      out.emplace_back(prefix + "exp_avg", adam->exp_avg());
      out.emplace_back(prefix + "exp_avg_sq", adam->exp_avg_sq());
      if (adam->max_exp_avg_sq().defined()) out.emplace_back(prefix + "max_exp_avg_sq", adam->max_exp_avg_sq());
      steps.push_back(adam->step());
    } else {
      VPR_THROW("internal: cannot save the state of this optimizer");
    }
  }
  info["optimizer_steps"] = steps;
}

void UnpackOptimizer(torch::optim::Optimizer& optimizer, const std::map<std::string, torch::Tensor>& tensors,
                     const nlohmann::json& info, const std::string& path) {
  std::vector<torch::Tensor> params = OptimizedParameters(optimizer);
  const nlohmann::json& steps = info.at("optimizer_steps");
  VPR_CHECK(steps.size() == params.size(), "cannot resume from '", path, "': it holds the optimizer state of ",
            steps.size(), " parameters but ", params.size(), " are trained (was the run started with another "
            "--train-blocks or model?)");
  const bool adam = dynamic_cast<torch::optim::Adam*>(&optimizer) != nullptr;
  auto tensor = [&](size_t i, const char* name) {
    auto it = tensors.find("optimizer." + std::to_string(i) + "." + name);
    return it == tensors.end() ? torch::Tensor() : it->second.to(params[i].device()).clone();
  };
  optimizer.state().clear();
  for (size_t i = 0; i < params.size(); ++i) {
    if (adam && !steps[i].is_null()) {
      auto s = std::make_unique<torch::optim::AdamParamState>();
      s->step(steps[i].get<int64_t>());
      s->exp_avg(tensor(i, "exp_avg"));
      s->exp_avg_sq(tensor(i, "exp_avg_sq"));
      s->max_exp_avg_sq(tensor(i, "max_exp_avg_sq"));
      VPR_CHECK(s->exp_avg().defined() && s->exp_avg_sq().defined(), "cannot resume from '", path,
                "': the Adam moments of parameter ", i, " are missing (was the run started with --optimizer sgd?)");
      optimizer.state()[StateKey(params[i])] = std::move(s);
    } else if (!adam) {
      torch::Tensor buffer = tensor(i, "momentum_buffer");
      if (!buffer.defined()) continue;
      auto s = std::make_unique<torch::optim::SGDParamState>();
      s->momentum_buffer(buffer);
      optimizer.state()[StateKey(params[i])] = std::move(s);
    }
  }
}

// Runs saved before format 3 (a TorchScript archive LibTorch wrote): still resumable.
TrainState LoadArchiveState(const std::string& path, VprModel& model, torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive archive, model_archive, optimizer_archive;
  try {
    archive.load_from(path);
    archive.read("model", model_archive);
    archive.read("optimizer", optimizer_archive);
    model->load(model_archive);
    optimizer.load(optimizer_archive);
  } catch (const c10::Error& e) {
    std::string what = e.what();
    VPR_THROW("cannot resume from '", path, "': ", what.substr(0, what.find('\n')),
              " (was the run started with another model or --train-blocks/--optimizer?)");
  }
  c10::IValue json_value;
  archive.read("state_json", json_value);
  TrainState state = StateFromJson(nlohmann::json::parse(json_value.toStringRef()));
  torch::Tensor counts, flat;
  archive.read("negative_counts", counts);
  archive.read("negative_indices", flat);
  state.negative_cache = UnpackNegativeCache(counts, flat);
  if (state.queries_done > 0) {
    torch::Tensor order;
    archive.read("epoch_order", order);
    state.order = ToVector(order);
  }
  return state;
}

}  // namespace

// A checkpoint as torch.save writes it (torch.load(weights_only=True) opens it): the
// tensors in "state_dict" (model.*, optimizer.<i>.*, the negative cache, the epoch's
// order) and the rest as JSON text under "vpr_train_state".
void RunDir::SaveState(const TrainState& state, VprModel& model, torch::optim::Optimizer& optimizer) const {
  StateDict tensors;
  for (const auto& p : model->named_parameters()) tensors.emplace_back("model." + p.key(), p.value().detach());
  for (const auto& b : model->named_buffers()) tensors.emplace_back("model." + b.key(), b.value().detach());
  nlohmann::json info = StateJson(state);
  PackOptimizer(optimizer, tensors, info);
  auto [counts, flat] = PackNegativeCache(state.negative_cache);
  tensors.emplace_back("negative_counts", counts);
  tensors.emplace_back("negative_indices", flat);
  tensors.emplace_back("epoch_order", Int64s(state.order));
  SaveCheckpoint(StatePath(), tensors, {{"vpr_train_state", info.dump()}});
}

TrainState RunDir::LoadState(VprModel& model, torch::optim::Optimizer& optimizer) const {
  VPR_CHECK(HasState(), "'", StatePath(), "' does not exist: --resume needs a run folder written by vpr train");
  const std::string path = StatePath();
  std::optional<TorchFile> file;
  try {
    file = LoadTorchFile(path);
  } catch (const Error&) {  // not a torch.save file: the older TorchScript archive
  }
  const nlohmann::json checkpoint = file ? CheckpointInfo(*file) : nlohmann::json::object();
  if (!checkpoint.contains("vpr_train_state")) return LoadArchiveState(path, model, optimizer);
  const nlohmann::json info = nlohmann::json::parse(checkpoint.at("vpr_train_state").get<std::string>());
  VPR_CHECK(info.at("format_version").get<int>() == 3, "'", path, "' has train state format ",
            info.at("format_version"), "; this vpr reads 3");
  std::map<std::string, torch::Tensor> tensors;
  for (auto& [name, t] : ExtractStateDict(*file, path)) tensors[name] = t;
  {
    torch::NoGradGuard no_grad;
    auto restore = [&](const std::string& name, torch::Tensor target) {
      auto it = tensors.find("model." + name);
      VPR_CHECK(it != tensors.end() && it->second.sizes() == target.sizes(), "cannot resume from '", path,
                "': model tensor '", name, "' is ", it == tensors.end() ? "missing" : "of another shape",
                " (was the run started with another model?)");
      target.copy_(it->second);
    };
    for (auto& p : model->named_parameters()) restore(p.key(), p.value());
    for (auto& b : model->named_buffers()) restore(b.key(), b.value());
  }
  UnpackOptimizer(optimizer, tensors, info, path);
  TrainState state = StateFromJson(info);
  state.negative_cache = UnpackNegativeCache(tensors.at("negative_counts"), tensors.at("negative_indices"));
  if (state.queries_done > 0) state.order = ToVector(tensors.at("epoch_order"));
  return state;
}

}  // namespace vpr
