// `vpr train`: NetVLAD triplet fine-tuning with hard-negative mining, as pytorch-NetVlad
// trains: per epoch the training queries are shuffled and split into subsets; before
// each subset the descriptors of the database and of the subset's queries are refreshed
// in a memory-mapped cache; each query's tuple is mined from that cache (tuple_mining.h);
// tuples are forwarded and back-propagated (BatchNorm in eval mode) with the triplet
// loss, `accumulate` tuples per optimizer step; every epoch validates through RunEval,
// writes checkpoints and a metrics line, and may stop early.
#pragma once

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vpr/app/extract.h"
#include "vpr/data/dataset.h"
#include "vpr/model/vpr_model.h"
#include "vpr/train/tuple_mining.h"
#include "vpr/util/collective.h"

namespace vpr {

struct TrainOptions {
  // Run folder (see run_dir.h).
  std::string out_dir;
  // Continue the run in out_dir from its last completed epoch (weights, optimizer
  // state, epoch, best score, RNG and negative cache restored: the same run results).
  bool resume = false;
  // Last epoch (pytorch-NetVlad's nEpochs).
  int epochs = 30;
  // Last encoder blocks trained, besides NetVLAD: 1 = VGG16 conv5_1..conv5_3, MobileNetV2
  // the last stage of the cut (features[14:17] for cut 17), ResNet the last layer kept;
  // 0 = NetVLAD only; larger values add earlier blocks. Everything before stays frozen.
  int train_blocks = 1;
  // sgd or adam.
  std::string optimizer = "sgd";
  // pytorch-NetVlad's defaults: lr 1e-4, momentum 0.9 (SGD), weight decay 1e-3.
  double lr = 1e-4;
  double momentum = 0.9;
  double weight_decay = 1e-3;
  // Step schedule: lr * gamma^floor(epoch / lr_step), epochs counted from 1 (pytorch-NetVlad's
  // StepLR(lrStep=5, lrGamma=0.5) stepped with the epoch number).
  int lr_step = 5;
  double lr_gamma = 0.5;
  // Tuples per optimizer step (pytorch-NetVlad's batchSize 4); each tuple runs forward and
  // backward alone, so memory holds one tuple; the loss is normalised by the step's negatives.
  int accumulate = 4;
  // Largest gradient L2 norm (0 = no clipping).
  double clip_grad_norm = 0.0;
  MiningOptions mining;
  // Training queries between descriptor-cache refreshes (pytorch-NetVlad's cacheRefreshRate).
  int cache_refresh = 1000;
  // Save the whole training state (train_state.pt) mid-epoch once this many queries
  // have been trained since the last save, at the next cache refresh (the state is
  // only complete there); epoch ends always save. A kill loses at most this much work.
  // 0 = at epoch ends only.
  int checkpoint_every = 1000;
  // Host memory (MiB) for the outputs of the frozen layers, kept per image so tuples and
  // refreshes run only the trained layers (frozen_features.h); images beyond it are
  // recomputed at each use. 0 = keep none.
  int64_t feature_cache_mb = 4096;
  // Stop after this many epochs without a better validation score (0 = never).
  int patience = 10;
  // Seed of the query order and negative sampling.
  uint64_t seed = 123;
  // Resize, batch size (cache refresh and validation) and device.
  ExtractOptions extract;
  // Validation recall@N; the best checkpoint is chosen by recall@select_recall_at.
  std::vector<int> recall_at = {1, 5, 10, 20};
  int select_recall_at = 5;
  // Validate the starting model too (epoch 0 in metrics.jsonl; never "best").
  bool validate_start = true;
  // Extra entries of flags.json (the CLI stores its command line there).
  nlohmann::json extra_flags = nlohmann::json::object();
  void Check() const;
  // pytorch-NetVlad-named flags plus "vpr_train" with every option.
  nlohmann::json ToJson() const;
};

struct EpochMetrics {
  int epoch = 0;
  double loss = 0.0;  // mean of the step losses
  double lr = 0.0;
  int64_t steps = 0;
  MiningStats mining;
  double images_per_s = 0.0;  // images through forward + backward per second of stepping
  double seconds = 0.0;
  double allreduce_seconds = 0.0;  // of this rank in the gradient all-reduce (several ranks)
  std::map<int, double> recall;  // empty without a validation set
  nlohmann::json ToJson() const;
};

struct TrainResult {
  std::vector<EpochMetrics> epochs;  // the epochs run by this call
  int best_epoch = 0;
  double best_score = 0.0;
  bool stopped_early = false;
};

// Trains `model` (moved to options.extract.runtime's device) on `train`, validating on
// `val` when not null. Throws vpr::Error on a NaN or infinite loss, naming the step.
//
// Data-parallel when `group` has several ranks (every rank calls it with the same
// arguments): every rank draws the same query order; each mines a contiguous share of
// each cache subset's queries (skipping the others' random draws, TupleMiner::Draws) and
// the tuples are gathered, so every rank holds the same steps; each computes a contiguous
// share of a step's tuples, the loss normalised by the whole step's negatives, and the
// gradients are summed over the ranks, so the step is the one-process step up to float
// rounding. Cache refreshes are split in whole batches and gathered. Rank 0 alone
// validates and writes the run folder; the others wait for it (keep --dist-timeout above
// the validation time) and keep their mining cache in cache/descriptors.rankN.f32.
TrainResult Train(VprModel& model, const Dataset& train, const Dataset* val, const TrainOptions& options,
                  Collective* group = nullptr);

// Index of the first encoder layer trained for `train_blocks` last blocks (the encoder's
// length when 0: NetVLAD only).
int FirstTrainedEncoderLayer(const BackboneOptions& backbone, int train_blocks);

// Freezes every parameter, then unfreezes the last train_blocks encoder blocks and NetVLAD.
// Returns the trained parameters, in the model's order.
std::vector<torch::Tensor> SetTrainableParameters(VprModel& model, int train_blocks);

// Training mode with every BatchNorm in eval mode (running statistics used and kept:
// the folded-BN MobileNetV2 weights require it, and tuples are too small for batch stats).
void SetTrainingMode(VprModel& model);

// The optimizer of the options over `params`, learning rate for epoch 1.
std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const TrainOptions& options, std::vector<torch::Tensor> params);

// lr * gamma^floor(epoch / lr_step).
double LearningRateAt(const TrainOptions& options, int epoch);

// Forward of a tuple's images (3 x H x W in [0,1]): one batch when they share a size.
torch::Tensor ForwardImages(VprModel& model, const std::vector<at::Tensor>& images, const at::Device& device);

}  // namespace vpr
