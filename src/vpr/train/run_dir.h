// A training run's folder, in pytorch-NetVlad's layout:
//   flags.json                       the run's options (pytorch-NetVlad names + "vpr_train")
//   checkpoints/checkpoint.pth.tar   latest model: {epoch, state_dict, recalls, best_score, optimizer, vpr}
//   checkpoints/model_best.pth.tar   best model by the validation recall
//   checkpoints/train_state.pt       all a resume needs (weights, optimizer with momentum
//                                    buffers, epoch, best score, RNG, negative cache), one file
//   metrics.jsonl                    one JSON line per epoch
//   cache/descriptors.f32            the mining descriptor cache (memory-mapped)
//   val/epoch_N/                     `vpr eval` outputs of each validation
// Every file is written atomically (temporary + rename).
#pragma once

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vpr/model/vpr_model.h"

namespace vpr {

// What, besides weights and optimizer, a resume restores.
struct TrainState {
  int epoch = 0;  // epochs completed
  double best_score = -1e300;
  int best_epoch = 0;
  int epochs_without_improvement = 0;
  nlohmann::json recalls = nlohmann::json::object();  // of the last validation
  std::string rng;  // std::mt19937_64 state, as its operator<< writes it
  std::vector<std::vector<int64_t>> negative_cache;
  // A save in the middle of epoch `epoch + 1`: the queries of its order already trained
  // (0 = saved at the end of `epoch`), the order, and the epoch's metrics so far.
  int64_t queries_done = 0;
  std::vector<int64_t> order;
  nlohmann::json partial = nlohmann::json::object();
};

class RunDir {
 public:
  explicit RunDir(std::string dir);
  const std::string& dir() const { return dir_; }
  std::string CheckpointPath() const;  // checkpoints/checkpoint.pth.tar
  std::string BestPath() const;        // checkpoints/model_best.pth.tar
  std::string StatePath() const;       // checkpoints/train_state.pt
  std::string MetricsPath() const;     // metrics.jsonl
  std::string CachePath() const;       // cache/descriptors.f32
  std::string ValDir(int epoch) const; // val/epoch_N
  bool HasState() const;

  void WriteFlags(const nlohmann::json& flags) const;
  // Appends one line (a whole line per write, so a kill leaves whole lines).
  void AppendMetrics(const nlohmann::json& line) const;
  // Drops lines of epochs after `epoch` (written before a kill, their state never saved).
  void TrimMetrics(int epoch) const;

  void SaveState(const TrainState& state, VprModel& model, torch::optim::Optimizer& optimizer) const;
  // Restores weights and optimizer in place; returns the rest.
  TrainState LoadState(VprModel& model, torch::optim::Optimizer& optimizer) const;

 private:
  std::string dir_;
};

}  // namespace vpr
