#include "vpr/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "vpr/app/eval.h"
#include "vpr/model/model_io.h"
#include "vpr/train/frozen_features.h"
#include "vpr/train/mining_cache.h"
#include "vpr/train/run_dir.h"
#include "vpr/train/triplet_loss.h"
#include "vpr/util/check.h"
#include "vpr/util/fingerprint.h"
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
  nlohmann::json j = {{"epoch", epoch},
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
  if (allreduce_seconds > 0) j["allreduce_seconds"] = allreduce_seconds;
  return j;
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
  Trainer(VprModel& model, const Dataset& train, const Dataset* val, const TrainOptions& options, Collective* group)
      : model_(model), train_(train), val_(val), options_(options), group_(group), run_(options.out_dir),
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
    // Each rank its own file: ranks may share the run folder (one machine, shared storage).
    const std::string cache = leader() ? run_.CachePath()
                                       : fmt::format("{}.rank{}.f32", run_.CachePath().substr(0, run_.CachePath().size() - 4),
                                                     rank());
    MappedDescriptorStore store(cache, num_db + static_cast<int64_t>(train_.queries.size()),
                                model_->options().DescriptorDim());
    TrainResult result;
    for (int epoch = state_.epoch + 1; epoch <= options_.epochs; ++epoch) {
      EpochMetrics m = RunEpoch(epoch, store);
      if (val_ && leader()) m.recall = Validate(epoch);
      if (val_) m.recall = FromLeader(m.recall, fmt::format("waiting for rank 0 to validate epoch {}", epoch));
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
    // Nobody leaves before rank 0 has written the last files (a launcher sees all done).
    if (group_) group_->Barrier("waiting for rank 0 to save the run");
    return result;
  }

  int rank() const { return group_ ? group_->rank() : 0; }
  int world() const { return group_ ? group_->size() : 1; }
  bool leader() const { return rank() == 0; }

  // Rank 0's recall on every rank (the others do not validate), which also holds them
  // until rank 0 is done.
  std::map<int, double> FromLeader(const std::map<int, double>& recall, const std::string& what) {
    if (world() == 1) return recall;
    nlohmann::json mine = nlohmann::json::array();
    for (const auto& [n, v] : recall) mine.push_back({n, v});
    const std::vector<std::string> all = group_->AllGather(leader() ? mine.dump() : "[]", what);
    std::map<int, double> out;
    for (const auto& item : nlohmann::json::parse(all[0])) out[item.at(0).get<int>()] = item.at(1).get<double>();
    return out;
  }

  // Every rank must start from the same point (the same run folder read, or none): a
  // rank resuming elsewhere would silently train another model.
  void CheckSameStart() {
    if (world() == 1) return;
    std::ostringstream rng;
    rng << rng_;
    Fingerprint f;
    f.Add(rng.str());
    for (const auto& p : params_) {
      const at::Tensor weights = p.detach().cpu().contiguous();
      f.Add(weights.data_ptr(), static_cast<size_t>(weights.numel() * weights.element_size()));
    }
    const std::string mine = fmt::format("epoch {} + {} queries, weights and RNG {}", state_.epoch,
                                         state_.queries_done, f.Hex());
    const std::vector<std::string> all = group_->AllGather(mine, "comparing the ranks' starting points");
    for (int r = 1; r < world(); ++r)
      VPR_CHECK(all[r] == all[0], "rank ", r, " starts from ", all[r], " but rank 0 from ", all[0],
                ": every rank must get the same --model, --seed and options, and with --resume read the same run "
                "folder (shared storage, or a copy of rank 0's at the same path)");
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
      if (leader()) run_.TrimMetrics(state_.epoch);
      Log().info("train: resuming '{}' after epoch {}{} (best score {:.4f} at epoch {})", run_.dir(), state_.epoch,
                 state_.queries_done > 0 ? fmt::format(" and {} queries of epoch {}", state_.queries_done,
                                                       state_.epoch + 1)
                                         : "",
                 state_.best_score, state_.best_epoch);
      CheckSameStart();
      return;
    }
    VPR_CHECK(options_.resume || !run_.HasState(), "'", run_.dir(), "' already holds a training run: continue it with --resume ",
              run_.dir(), " or choose another --out");
    nlohmann::json flags = options_.ToJson();
    const ModelOptions& mo = model_->options();
    flags.update({{"arch", mo.backbone.arch}, {"pooling", mo.pooling}, {"num_clusters", mo.netvlad.num_clusters},
                  {"vladv2", mo.netvlad.vladv2}, {"vpr", mo.ToJson()}});
    flags.update(options_.extra_flags);
    CheckSameStart();
    if (!leader()) {
      if (val_ && options_.validate_start) FromLeader({}, "waiting for rank 0 to validate the starting model");
      return;
    }
    flags["world_size"] = world();
    run_.WriteFlags(flags);
    std::remove(run_.MetricsPath().c_str());
    if (val_ && options_.validate_start) {
      EpochMetrics start;
      start.recall = FromLeader(Validate(0), "sending the starting model's recall");
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
        if (leader()) SaveMidEpoch(epoch, order, done, m, seconds_before + SecondsSince(start));
        since_save = 0;
      }
    }
    m.seconds = seconds_before + SecondsSince(start);
    m.loss = m.steps > 0 ? loss_sum_ / m.steps : 0.0;
    m.images_per_s = step_seconds_ > 0 ? step_images_ / step_seconds_ : 0.0;
    m.allreduce_seconds = reduce_seconds_;
    Log().info("train epoch {}: frozen-layer features of {} images kept ({:.0f} MiB), {} reused, {} computed, {} "
               "recomputed for lack of --feature-cache-mb", epoch, features_.kept_images(),
               features_.kept_bytes() / 1048576.0, features_.hits(), features_.misses(), features_.over_budget());
    Log().info("train epoch {}/{}: loss {:.5f}, {} steps, {} tuples, skipped {} (no positive {}, no negative {}, "
               "no violating negative {}), {:.1f} images/s, {}, {} threads, {}", epoch, options_.epochs, m.loss, m.steps,
               m.mining.tuples, m.mining.skipped(), m.mining.no_positive, m.mining.no_negative,
               m.mining.no_violating_negative, m.images_per_s, Duration(m.seconds), torch::get_num_threads(),
               PrecisionName(precision_));
    if (group_)
      Log().info("train epoch {}: rank {} of {}, {:.2f} s of {:.2f} s stepping in the gradient all-reduce ({:.1f}%)",
                 epoch, rank(), world(), reduce_seconds_, step_seconds_,
                 step_seconds_ > 0 ? 100 * reduce_seconds_ / step_seconds_ : 0.0);
    loss_sum_ = step_images_ = step_seconds_ = reduce_seconds_ = 0;
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
    const std::string label = fmt::format("train epoch {}: mining cache", epoch);
    if (world() == 1) {
      RefreshDescriptors(model_, features_, images, rows, store, label, options_.extract.batch_size);
      return;
    }
    // Whole batches per rank, cut where one process cuts them: the same batches give the
    // same bits, so every rank mines from what one process would.
    const int64_t n = static_cast<int64_t>(images.size()), batch = options_.extract.batch_size;
    std::vector<std::pair<int64_t, int64_t>> spans;
    for (int r = 0; r < world(); ++r) {
      const auto [b, e] = Shard((n + batch - 1) / batch, r, world());
      spans.emplace_back(std::min(n, b * batch), std::min(n, e * batch));
    }
    const auto [begin, end] = spans[rank()];
    RefreshDescriptors(model_, features_, std::vector<std::string>(images.begin() + begin, images.begin() + end),
                       std::vector<int64_t>(rows.begin() + begin, rows.begin() + end), store, label,
                       options_.extract.batch_size);
    ShareRows(rows, spans, store, label);
  }

  // Every rank's refreshed rows into every rank's store, in pieces of at most 64 MiB a rank.
  void ShareRows(const std::vector<int64_t>& rows, const std::vector<std::pair<int64_t, int64_t>>& spans,
                 MappedDescriptorStore& store, const std::string& label) {
    const size_t row_bytes = static_cast<size_t>(store.dim()) * sizeof(float);
    const int64_t piece = std::max<int64_t>(1, (int64_t{64} << 20) / static_cast<int64_t>(row_bytes));
    int64_t longest = 0;
    for (const auto& [b, e] : spans) longest = std::max(longest, e - b);
    for (int64_t offset = 0; offset < longest; offset += piece) {
      auto part = [&](int r) {
        const int64_t b = std::min(spans[r].second, spans[r].first + offset);
        return std::make_pair(b, std::min(spans[r].second, b + piece));
      };
      const auto [b, e] = part(rank());
      std::string bytes(static_cast<size_t>(e - b) * row_bytes, '\0');
      for (int64_t i = b; i < e; ++i) std::memcpy(&bytes[(i - b) * row_bytes], store.row(rows[i]), row_bytes);
      const std::vector<std::string> all = group_->AllGather(bytes, "gathering the " + label);
      for (int r = 0; r < world(); ++r) {
        if (r == rank()) continue;
        const auto [rb, re] = part(r);
        VPR_CHECK(all[r].size() == static_cast<size_t>(re - rb) * row_bytes, "rank ", r, " sent ", all[r].size(),
                  " bytes of descriptors for ", re - rb, " rows of ", store.dim(), " floats: the ranks run different "
                  "models or training sets");
        for (int64_t i = rb; i < re; ++i) std::memcpy(store.row(rows[i]), &all[r][(i - rb) * row_bytes], row_bytes);
      }
    }
  }

  void TrainSubset(const std::vector<int64_t>& queries, MappedDescriptorStore& store, int epoch, EpochMetrics& m) {
    SetTrainingMode(model_);
    const std::vector<std::pair<MineOutcome, TrainingTuple>> mined = MineSubset(queries, store);
    std::vector<TrainingTuple> pending;
    for (const auto& [outcome, tuple] : mined) {
      m.mining.Add(outcome);
      if (outcome == MineOutcome::kTuple) pending.push_back(tuple);
      if (pending.size() == static_cast<size_t>(options_.accumulate)) Step(pending, epoch, m);
      ++progress_.done;
      ReportProgress(epoch, m);
    }
    if (!pending.empty()) Step(pending, epoch, m);
  }

  // Every query's outcome and tuple, in order, on every rank. Each rank mines its share,
  // drawing what one process draws there (the others' draws skipped); steps never touch
  // the RNG, the store or the negative cache, so mining first changes nothing.
  std::vector<std::pair<MineOutcome, TrainingTuple>> MineSubset(const std::vector<int64_t>& queries,
                                                                MappedDescriptorStore& store) {
    const int64_t num_db = static_cast<int64_t>(train_.database.size()), n = static_cast<int64_t>(queries.size());
    const auto [begin, end] = Shard(n, rank(), world());
    auto skip = [&](int64_t from, int64_t to) {
      uint64_t draws = 0;
      for (int64_t i = from; i < to; ++i) draws += miner_.Draws(queries[i]);
      rng_.discard(draws);
    };
    skip(0, begin);
    std::vector<std::pair<MineOutcome, TrainingTuple>> mined;
    for (int64_t i = begin; i < end; ++i) {
      TrainingTuple tuple;
      const int64_t q = queries[i];
      const MineOutcome outcome = miner_.Mine(q, store.row(num_db + q), store.row(0), store.dim(), rng_, &tuple);
      mined.emplace_back(outcome, std::move(tuple));
    }
    skip(end, n);
    if (world() == 1) return mined;
    nlohmann::json mine = nlohmann::json::array();
    for (const auto& [outcome, t] : mined)
      mine.push_back({static_cast<int>(outcome), t.query, t.positive, t.negatives});
    const std::vector<uint8_t> packed = nlohmann::json::to_msgpack(mine);
    const std::vector<std::string> all =
        group_->AllGather(std::string(packed.begin(), packed.end()), "gathering the mined tuples");
    mined.clear();
    for (int r = 0; r < world(); ++r) {
      for (const auto& item : nlohmann::json::from_msgpack(all[r])) {
        TrainingTuple t{item.at(1).get<int64_t>(), item.at(2).get<int64_t>(), item.at(3).get<std::vector<int64_t>>()};
        const auto outcome = static_cast<MineOutcome>(item.at(0).get<int>());
        if (outcome == MineOutcome::kTuple) miner_.Adopt(t);
        mined.emplace_back(outcome, std::move(t));
      }
    }
    VPR_CHECK(static_cast<int64_t>(mined.size()) == n, "the ranks mined ", mined.size(), " queries of a subset of ", n,
              ": they run different training sets or options");
    return mined;
  }

  // One optimizer step over the tuples: gradients accumulated tuple by tuple, the loss
  // normalised by all negatives of the step, as pytorch-NetVlad's batch loss. Each rank
  // takes its contiguous share of the tuples; the summed gradients are the whole step's.
  void Step(std::vector<TrainingTuple>& tuples, int epoch, EpochMetrics& m) {
    auto start = std::chrono::steady_clock::now();
    int64_t negatives = 0;
    for (const auto& t : tuples) negatives += static_cast<int64_t>(t.negatives.size());
    optimizer_->zero_grad();
    double step_loss = 0, images_before = step_images_;
    const auto [begin, end] = Shard(static_cast<int64_t>(tuples.size()), rank(), world());
    for (int64_t i = begin; i < end; ++i) {
      const TrainingTuple& t = tuples[i];
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
    if (world() > 1) SumOverRanks(&step_loss, images_before, epoch, m.steps + 1);
    if (options_.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params_, options_.clip_grad_norm);
    optimizer_->step();
    ++m.steps;
    loss_sum_ += step_loss;
    step_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    tuples.clear();
  }

  // Gradients, loss and image count summed over the ranks: one flat buffer, one all-reduce.
  void SumOverRanks(double* step_loss, double images_before, int epoch, int64_t step) {
    const std::string what = fmt::format("summing the gradients of epoch {}, step {}", epoch, step);
    std::vector<at::Tensor> grads;
    for (auto& p : params_) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);  // a rank with no tuple this step
      grads.push_back(p.grad().reshape({-1}));
    }
    at::Tensor flat = torch::cat(grads).to(at::kCPU, at::kFloat).contiguous();
    const auto reduce_start = std::chrono::steady_clock::now();
    group_->AllReduceSum(flat.data_ptr<float>(), flat.numel(), what);
    double totals[2] = {*step_loss, step_images_ - images_before};
    group_->AllReduceSum(totals, 2, what);
    reduce_seconds_ += SecondsSince(reduce_start);
    int64_t offset = 0;
    for (auto& p : params_) {
      p.mutable_grad().copy_(flat.slice(0, offset, offset + p.numel()).view_as(p));
      offset += p.numel();
    }
    *step_loss = totals[0];
    step_images_ = images_before + totals[1];
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
    const Scores scores = RunEval(model_, *val_, eval).report.scores;
    std::string recall;
    for (const auto& [n, r] : scores.recall) recall += fmt::format(" R@{} {:.1f}", n, 100 * r);
    Log().info("train: epoch {} validation recall (%):{}", epoch, recall);
    return scores.recall;
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
    if (!leader()) return improved;  // rank 0 writes; the same state is on every rank
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
  Collective* group_;  // null when alone
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
  double reduce_seconds_ = 0;  // in the gradient all-reduce (the communication of a step)
};

}  // namespace

TrainResult Train(VprModel& model, const Dataset& train, const Dataset* val, const TrainOptions& options,
                  Collective* group) {
  options.Check();
  train.Check();
  if (val) val->Check();
  VPR_CHECK(!train.queries.empty() && !train.database.empty(), "the training set needs queries and database images");
  Trainer trainer(model, train, val, options, group && group->size() > 1 ? group : nullptr);
  return trainer.Run();
}

}  // namespace vpr
