#include "vpr/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "vpr/app/eval.h"
#include "vpr/model/model_io.h"
#include "vpr/train/frozen_features.h"
#include "vpr/train/mining_cache.h"
#include "vpr/train/run_dir.h"
#include "vpr/train/triplet_loss.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {

void TrainOptions::Check() const {
  VPR_CHECK_USAGE(!out_dir.empty(), "--out must name the run folder");
  VPR_CHECK_USAGE(epochs >= 1, "--epochs must be >= 1, got ", epochs);
  VPR_CHECK_USAGE(train_blocks >= 0, "--train-blocks must be >= 0 (0 = NetVLAD only), got ", train_blocks);
  VPR_CHECK_USAGE(optimizer == "sgd" || optimizer == "adam", "unknown --optimizer '", optimizer, "': use sgd or adam");
  VPR_CHECK_USAGE(lr > 0 && std::isfinite(lr), "--lr must be positive, got ", lr);
  VPR_CHECK_USAGE(momentum >= 0 && momentum < 1, "--momentum must be in [0, 1), got ", momentum);
  VPR_CHECK_USAGE(weight_decay >= 0, "--weight-decay must be >= 0, got ", weight_decay);
  VPR_CHECK_USAGE(lr_step >= 1, "--lr-step must be >= 1 epoch, got ", lr_step);
  VPR_CHECK_USAGE(checkpoint_every >= 0, "--checkpoint-every must be >= 0 queries (0 = at epoch ends only), got ",
            checkpoint_every);
  VPR_CHECK_USAGE(lr_gamma > 0 && lr_gamma <= 1, "--lr-gamma must be in (0, 1], got ", lr_gamma);
  VPR_CHECK_USAGE(accumulate >= 1, "--accumulate must be >= 1 tuple per step, got ", accumulate);
  VPR_CHECK_USAGE(clip_grad_norm >= 0, "--clip-grad-norm must be >= 0 (0 = off), got ", clip_grad_norm);
  VPR_CHECK_USAGE(cache_refresh >= 1, "--cache-refresh must be >= 1 query, got ", cache_refresh);
  VPR_CHECK_USAGE(feature_cache_mb >= 0, "--feature-cache-mb must be >= 0 (0 = keep none), got ", feature_cache_mb);
  VPR_CHECK_USAGE(patience >= 0, "--patience must be >= 0 (0 = never stop early), got ", patience);
  VPR_CHECK_USAGE(std::find(recall_at.begin(), recall_at.end(), select_recall_at) != recall_at.end(),
            "the best checkpoint is chosen by recall@", select_recall_at, ", which is not among --recall-at");
  mining.Check();
  extract.Check();
}

nlohmann::json TrainOptions::ToJson() const {
  return {{"optim", optimizer == "sgd" ? "SGD" : "ADAM"},
          {"lr", lr},
          {"lrStep", lr_step},
          {"lrGamma", lr_gamma},
          {"weightDecay", weight_decay},
          {"momentum", momentum},
          {"margin", mining.margin * mining.margin},  // pytorch-NetVlad stores the squared margin
          {"nEpochs", epochs},
          {"batchSize", accumulate},
          {"cacheRefreshRate", cache_refresh},
          {"patience", patience},
          {"seed", seed},
          {"vpr_train",
           {{"train_blocks", train_blocks},
            {"clip_grad_norm", clip_grad_norm},
            {"mining", mining.mode},
            {"negatives_sampled", mining.negatives_sampled},
            {"negatives_kept", mining.negatives_kept},
            {"feature_cache_mb", feature_cache_mb},
            {"margin_l2", mining.margin},
            {"negative_radius", mining.negative_radius},
            {"recall_at", recall_at},
            {"select_recall_at", select_recall_at},
            {"batch_size", extract.batch_size},
            {"max_side", extract.resize.max_side},
            {"device", extract.runtime.device}}}};
}

nlohmann::json EpochMetrics::ToJson() const {
  nlohmann::json r = nlohmann::json::object();
  for (const auto& [n, v] : recall) r[std::to_string(n)] = v;
  return {{"epoch", epoch},
          {"loss", epoch == 0 ? nlohmann::json() : nlohmann::json(loss)},  // epoch 0: the start, not trained
          {"lr", lr},
          {"steps", steps},
          {"tuples", mining.tuples},
          {"skipped_no_positive", mining.no_positive},
          {"skipped_no_negative", mining.no_negative},
          {"skipped_no_violating_negative", mining.no_violating_negative},
          {"images_per_s", images_per_s},
          {"seconds", seconds},
          {"recall_at", r}};
}

int FirstTrainedEncoderLayer(const BackboneOptions& backbone, int train_blocks) {
  // Where each block (stage) of the torchvision layout starts, as encoder indices.
  std::vector<int> starts;
  if (backbone.arch == "vgg16") starts = {0, 5, 10, 17, 24};
  else if (backbone.arch == "mobilenet_v2") starts = {0, 1, 2, 4, 7, 11, 14, 17, 18};
  else starts = {0, 4, 5, 6, 7};  // resnets: stem, layer1..layer4
  const int cut = backbone.ResolvedCut();
  starts.erase(std::remove_if(starts.begin(), starts.end(), [&](int s) { return s >= cut; }), starts.end());
  if (train_blocks == 0) return cut;
  if (train_blocks >= static_cast<int>(starts.size())) return 0;
  return starts[starts.size() - train_blocks];
}

std::vector<torch::Tensor> SetTrainableParameters(VprModel& model, int train_blocks) {
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  const int first = FirstTrainedEncoderLayer(model->options().backbone, train_blocks);
  const auto children = model->encoder->children();
  for (size_t i = first; i < children.size(); ++i)
    for (auto& p : children[i]->parameters()) p.set_requires_grad(true);
  if (model->pool)
    for (auto& p : model->pool->parameters()) p.set_requires_grad(true);
  std::vector<torch::Tensor> trained;
  for (auto& p : model->parameters())
    if (p.requires_grad()) trained.push_back(p);
  return trained;
}

void SetTrainingMode(VprModel& model) {
  model->train();
  for (auto& module : model->modules())
    if (module->as<torch::nn::BatchNorm2d>()) module->eval();
}

double LearningRateAt(const TrainOptions& options, int epoch) {
  return options.lr * std::pow(options.lr_gamma, epoch / options.lr_step);
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const TrainOptions& options, std::vector<torch::Tensor> params) {
  VPR_CHECK(!params.empty(), "nothing to train: no parameter is trainable");
  if (options.optimizer == "adam")
    return std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(LearningRateAt(options, 1)).weight_decay(options.weight_decay));
  return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(LearningRateAt(options, 1))
                                                         .momentum(options.momentum)
                                                         .weight_decay(options.weight_decay));
}

torch::Tensor ForwardImages(VprModel& model, const std::vector<at::Tensor>& images, const at::Device& device) {
  bool same = std::all_of(images.begin(), images.end(), [&](const at::Tensor& t) { return t.sizes() == images[0].sizes(); });
  if (same) return model->forward(at::stack(images).to(device));
  std::vector<torch::Tensor> rows;
  for (const auto& image : images) rows.push_back(model->forward(image.unsqueeze(0).to(device)));
  return torch::cat(rows, 0);
}

namespace {

void SetLearningRate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

std::string Duration(double s) {
  int total = static_cast<int>(s + 0.5);
  if (total >= 3600) return fmt::format("{}h{:02}m", total / 3600, total / 60 % 60);
  return fmt::format("{}m{:02}s", total / 60, total % 60);
}

class Trainer {
 public:
  Trainer(VprModel& model, const Dataset& train, const Dataset* val, const TrainOptions& options)
      : model_(model), train_(train), val_(val), options_(options), run_(options.out_dir),
        device_(options.extract.runtime.Apply()), precision_(options.extract.runtime.ResolvedPrecision(device_)),
        miner_(FindTupleCandidates(train, options.mining.negative_radius), options.mining), rng_(options.seed),
        features_(model_, FirstTrainedEncoderLayer(model_->options().backbone, options.train_blocks),
                  options.extract.resize, device_, options.feature_cache_mb << 20) {
    model_->to(device_);
    params_ = SetTrainableParameters(model_, options_.train_blocks);
    optimizer_ = MakeOptimizer(options_, params_);
    int64_t count = 0;
    for (const auto& p : params_) count += p.numel();
    Log().info("train: {} parameters trained (encoder from layer {} of {}, NetVLAD); {} queries, {} database images; "
               "{} threads, {}{}", count, FirstTrainedEncoderLayer(model_->options().backbone, options_.train_blocks),
               model_->encoder->size(), train_.queries.size(), train_.database.size(), torch::get_num_threads(),
               PrecisionName(precision_), precision_ == Precision::kFp32 ? "" : " mixed precision (fp32 weights and loss)");
  }

  TrainResult Run() {
    Start();
    const int64_t num_db = static_cast<int64_t>(train_.database.size());
    MappedDescriptorStore store(run_.CachePath(), num_db + static_cast<int64_t>(train_.queries.size()),
                                model_->options().DescriptorDim());
    TrainResult result;
    for (int epoch = state_.epoch + 1; epoch <= options_.epochs; ++epoch) {
      EpochMetrics m = RunEpoch(epoch, store);
      if (val_) m.recall = Validate(epoch);
      Finish(epoch, m);
      result.epochs.push_back(m);
      if (options_.patience > 0 && state_.epochs_without_improvement > options_.patience) {
        Log().info("train: no better validation score for {} epochs: stopping early (--patience {})",
                   state_.epochs_without_improvement, options_.patience);
        result.stopped_early = true;
        break;
      }
    }
    result.best_epoch = state_.best_epoch;
    result.best_score = state_.best_score;
    return result;
  }

 private:
  void Start() {
    if (options_.resume && !run_.HasState()) {
      Log().warn("train: '{}' holds no saved state yet (stopped before its first save): starting it from the "
                 "beginning", run_.dir());
    } else if (options_.resume) {
      state_ = run_.LoadState(model_, *optimizer_);
      std::istringstream(state_.rng) >> rng_;
      miner_.set_negative_cache(state_.negative_cache);
      run_.TrimMetrics(state_.epoch);
      Log().info("train: resuming '{}' after epoch {}{} (best score {:.4f} at epoch {})", run_.dir(), state_.epoch,
                 state_.queries_done > 0 ? fmt::format(" and {} queries of epoch {}", state_.queries_done,
                                                       state_.epoch + 1)
                                         : "",
                 state_.best_score, state_.best_epoch);
      return;
    }
    VPR_CHECK(options_.resume || !run_.HasState(), "'", run_.dir(), "' already holds a training run: continue it with --resume ",
              run_.dir(), " or choose another --out");
    nlohmann::json flags = options_.ToJson();
    const ModelOptions& mo = model_->options();
    flags.update({{"arch", mo.backbone.arch}, {"pooling", mo.pooling}, {"num_clusters", mo.netvlad.num_clusters},
                  {"vladv2", mo.netvlad.vladv2}, {"vpr", mo.ToJson()}});
    flags.update(options_.extra_flags);
    run_.WriteFlags(flags);
    std::remove(run_.MetricsPath().c_str());
    if (val_ && options_.validate_start) {
      EpochMetrics start;
      start.recall = Validate(0);
      start.lr = LearningRateAt(options_, 1);
      run_.AppendMetrics(start.ToJson());
    }
  }

  EpochMetrics RunEpoch(int epoch, MappedDescriptorStore& store) {
    EpochMetrics m;
    m.epoch = epoch;
    m.lr = LearningRateAt(options_, epoch);
    SetLearningRate(*optimizer_, m.lr);
    auto start = std::chrono::steady_clock::now();
    std::vector<int64_t> order;
    size_t first = 0;
    double seconds_before = 0;
    if (state_.queries_done > 0) {  // resuming a mid-epoch save: its order, position and metrics so far
      order = state_.order;
      first = static_cast<size_t>(state_.queries_done);
      seconds_before = RestorePartial(state_.partial, m);
      state_.queries_done = 0;
      state_.order.clear();
    } else {
      order = ShuffledQueries();
    }
    const size_t subset = static_cast<size_t>(options_.cache_refresh);
    progress_ = ProgressState{order.size(), first, start, start};
    size_t since_save = 0;
    for (size_t begin = first; begin < order.size(); begin += subset) {
      std::vector<int64_t> queries(order.begin() + begin, order.begin() + std::min(order.size(), begin + subset));
      Refresh(queries, store, epoch);
      TrainSubset(queries, store, epoch, m);
      since_save += queries.size();
      const size_t done = begin + queries.size();
      if (options_.checkpoint_every > 0 && since_save >= static_cast<size_t>(options_.checkpoint_every) &&
          done < order.size()) {
        SaveMidEpoch(epoch, order, done, m, seconds_before + SecondsSince(start));
        since_save = 0;
      }
    }
    m.seconds = seconds_before + SecondsSince(start);
    m.loss = m.steps > 0 ? loss_sum_ / m.steps : 0.0;
    m.images_per_s = step_seconds_ > 0 ? step_images_ / step_seconds_ : 0.0;
    Log().info("train epoch {}: frozen-layer features of {} images kept ({:.0f} MiB), {} reused, {} computed, {} "
               "recomputed for lack of --feature-cache-mb", epoch, features_.kept_images(),
               features_.kept_bytes() / 1048576.0, features_.hits(), features_.misses(), features_.over_budget());
    Log().info("train epoch {}/{}: loss {:.5f}, {} steps, {} tuples, skipped {} (no positive {}, no negative {}, "
               "no violating negative {}), {:.1f} images/s, {}, {} threads, {}", epoch, options_.epochs, m.loss, m.steps,
               m.mining.tuples, m.mining.skipped(), m.mining.no_positive, m.mining.no_negative,
               m.mining.no_violating_negative, m.images_per_s, Duration(m.seconds), torch::get_num_threads(),
               PrecisionName(precision_));
    loss_sum_ = step_images_ = step_seconds_ = 0;
    return m;
  }

  static double SecondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  // The whole state at a cache refresh in the middle of `epoch`: a resume continues at
  // query `done` of `order` exactly as this run would (the next refresh recomputes
  // the mining cache from the saved weights). checkpoint.pth.tar stays the last epoch's.
  void SaveMidEpoch(int epoch, const std::vector<int64_t>& order, size_t done, const EpochMetrics& m, double seconds) {
    TrainState s = state_;
    s.queries_done = static_cast<int64_t>(done);
    s.order = order;
    s.partial = {{"steps", m.steps},
                 {"tuples", m.mining.tuples},
                 {"no_positive", m.mining.no_positive},
                 {"no_negative", m.mining.no_negative},
                 {"no_violating_negative", m.mining.no_violating_negative},
                 {"loss_sum", loss_sum_},
                 {"step_images", step_images_},
                 {"step_seconds", step_seconds_},
                 {"seconds", seconds}};
    std::ostringstream rng;
    rng << rng_;
    s.rng = rng.str();
    s.negative_cache = miner_.negative_cache();
    run_.SaveState(s, model_, *optimizer_);
    Log().info("train epoch {}: state saved after {}/{} queries (--checkpoint-every {})", epoch, done, order.size(),
               options_.checkpoint_every);
  }

  // The metrics of a mid-epoch save, back into m and the step accumulators; returns the
  // seconds the epoch had run.
  double RestorePartial(const nlohmann::json& p, EpochMetrics& m) {
    m.steps = p.at("steps").get<int64_t>();
    m.mining.tuples = p.at("tuples").get<int64_t>();
    m.mining.no_positive = p.at("no_positive").get<int64_t>();
    m.mining.no_negative = p.at("no_negative").get<int64_t>();
    m.mining.no_violating_negative = p.at("no_violating_negative").get<int64_t>();
    loss_sum_ = p.at("loss_sum").get<double>();
    step_images_ = p.at("step_images").get<double>();
    step_seconds_ = p.at("step_seconds").get<double>();
    return p.at("seconds").get<double>();
  }

  std::vector<int64_t> ShuffledQueries() {
    std::vector<int64_t> order(train_.queries.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng_() % i]);
    return order;
  }

  // Database and the subset's queries, described by the current weights.
  void Refresh(const std::vector<int64_t>& queries, MappedDescriptorStore& store, int epoch) {
    const int64_t num_db = static_cast<int64_t>(train_.database.size());
    std::vector<std::string> images = train_.database;
    std::vector<int64_t> rows(num_db);
    for (int64_t j = 0; j < num_db; ++j) rows[j] = j;
    for (int64_t q : queries) {
      images.push_back(train_.queries[q]);
      rows.push_back(num_db + q);
    }
    AutocastScope mixed(precision_, device_.type());
    RefreshDescriptors(model_, features_, images, rows, store, fmt::format("train epoch {}: mining cache", epoch),
                       options_.extract.batch_size);
  }

  void TrainSubset(const std::vector<int64_t>& queries, MappedDescriptorStore& store, int epoch, EpochMetrics& m) {
    SetTrainingMode(model_);
    const int64_t num_db = static_cast<int64_t>(train_.database.size());
    std::vector<TrainingTuple> pending;
    for (int64_t q : queries) {
      TrainingTuple tuple;
      MineOutcome outcome = miner_.Mine(q, store.row(num_db + q), store.row(0), store.dim(), rng_, &tuple);
      m.mining.Add(outcome);
      if (outcome == MineOutcome::kTuple) pending.push_back(std::move(tuple));
      if (pending.size() == static_cast<size_t>(options_.accumulate)) Step(pending, epoch, m);
      ++progress_.done;
      ReportProgress(epoch, m);
    }
    if (!pending.empty()) Step(pending, epoch, m);
  }

  // One optimizer step over the tuples: gradients accumulated tuple by tuple, the loss
  // normalised by all negatives of the step, as pytorch-NetVlad's batch loss.
  void Step(std::vector<TrainingTuple>& tuples, int epoch, EpochMetrics& m) {
    auto start = std::chrono::steady_clock::now();
    int64_t negatives = 0;
    for (const auto& t : tuples) negatives += static_cast<int64_t>(t.negatives.size());
    optimizer_->zero_grad();
    double step_loss = 0;
    for (const auto& t : tuples) {
      std::vector<std::string> images = {train_.queries[t.query], train_.database[t.positive]};
      for (int64_t n : t.negatives) images.push_back(train_.database[n]);
      torch::Tensor descriptors;
      {
        AutocastScope mixed(precision_, device_.type());  // the forward only, as PyTorch advises
        descriptors = DescribeImages(model_, features_, images);
      }
      torch::Tensor loss = TupleTripletLossSum(descriptors, options_.mining.margin) / static_cast<double>(negatives);
      double value = loss.item<double>();
      VPR_CHECK(std::isfinite(value), "training diverged: the loss is ", value, " at epoch ", epoch, ", step ",
                m.steps + 1, " (query ", train_.queries[t.query], "); lower --lr or set --clip-grad-norm, and resume "
                "from the last checkpoint with --resume");
      loss.backward();
      step_loss += value;
      step_images_ += static_cast<double>(images.size());
    }
    if (options_.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params_, options_.clip_grad_norm);
    optimizer_->step();
    ++m.steps;
    loss_sum_ += step_loss;
    step_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    tuples.clear();
  }

  void ReportProgress(int epoch, const EpochMetrics& m) {
    auto now = std::chrono::steady_clock::now();
    bool last = progress_.done == progress_.total;
    if (!last && std::chrono::duration<double>(now - progress_.last).count() < 10.0) return;
    progress_.last = now;
    double elapsed = std::chrono::duration<double>(now - progress_.start).count();
    double eta = progress_.done > 0 ? elapsed * (progress_.total - progress_.done) / progress_.done : 0.0;
    Log().info("train epoch {}/{}: {}/{} queries, {} steps, loss {:.5f}, {:.1f} images/s, ETA {}", epoch,
               options_.epochs, progress_.done, progress_.total, m.steps, m.steps ? loss_sum_ / m.steps : 0.0,
               step_seconds_ > 0 ? step_images_ / step_seconds_ : 0.0, Duration(eta));
  }

  std::map<int, double> Validate(int epoch) {
    EvalOptions eval;
    eval.out_dir = run_.ValDir(epoch);
    eval.recall_at = options_.recall_at;
    eval.top_k = *std::max_element(options_.recall_at.begin(), options_.recall_at.end());
    eval.extract = options_.extract;
    eval.model_file = epoch == 0 ? "start" : run_.CheckpointPath();
    eval.cache_dir.clear();
    Log().info("train: validating epoch {} on {} queries", epoch, val_->queries.size());
    return RunEval(model_, *val_, eval).recall;
  }

  // Scores the epoch, saves state, checkpoints and metrics; returns whether it is the best.
  bool Finish(int epoch, const EpochMetrics& m) {
    double score = val_ ? m.recall.at(options_.select_recall_at) : -m.loss;
    bool improved = score > state_.best_score;
    state_.epoch = epoch;
    if (improved) {
      state_.best_score = score;
      state_.best_epoch = epoch;
      state_.epochs_without_improvement = 0;
    } else {
      ++state_.epochs_without_improvement;
    }
    state_.recalls = m.ToJson()["recall_at"];
    std::ostringstream rng;
    rng << rng_;
    state_.rng = rng.str();
    state_.negative_cache = miner_.negative_cache();
    nlohmann::json line = m.ToJson();
    line["best_epoch"] = state_.best_epoch;
    nlohmann::json info = {{"epoch", epoch},
                           {"resize", ResizeRecord(options_.extract.resize)},
                           {"recalls", state_.recalls},
                           {"best_score", state_.best_score},
                           {"optimizer", {{"type", options_.optimizer}, {"lr", m.lr}, {"momentum", options_.momentum},
                                          {"weight_decay", options_.weight_decay},
                                          {"state", "checkpoints/train_state.pt"}}}};
    // The state last: a kill before it leaves the previous state, and the resume redoes
    // this epoch bit-identically, writing these same files again.
    SaveModel(run_.CheckpointPath(), model_, info);
    if (improved) SaveModel(run_.BestPath(), model_, info);
    run_.AppendMetrics(line);
    run_.SaveState(state_, model_, *optimizer_);
    Log().info("train: epoch {} saved to {}{}", epoch, run_.CheckpointPath(),
               improved ? fmt::format(" and, best so far (score {:.4f}), {}", score, run_.BestPath()) : "");
    return improved;
  }

  struct ProgressState {
    size_t total = 0, done = 0;
    std::chrono::steady_clock::time_point start, last;
  };

  VprModel& model_;
  const Dataset& train_;
  const Dataset* val_;
  const TrainOptions& options_;
  RunDir run_;
  at::Device device_;
  Precision precision_;  // of the forward passes; weights, gradients and loss stay fp32
  TupleMiner miner_;
  std::mt19937_64 rng_;
  FrozenFeatureCache features_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  TrainState state_;
  ProgressState progress_;
  double loss_sum_ = 0, step_images_ = 0, step_seconds_ = 0;
};

}  // namespace

TrainResult Train(VprModel& model, const Dataset& train, const Dataset* val, const TrainOptions& options) {
  options.Check();
  train.Check();
  if (val) val->Check();
  VPR_CHECK(!train.queries.empty() && !train.database.empty(), "the training set needs queries and database images");
  Trainer trainer(model, train, val, options);
  return trainer.Run();
}

}  // namespace vpr
