// `vpr train`: triplet fine-tuning with hard-negative mining (train/trainer.h).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "vpr/app/eval.h"
#include "vpr/cli/commands.h"
#include "vpr/cli/flags.h"
#include "vpr/cli/parse_flags.h"
#include "vpr/data/load_dataset.h"
#include "vpr/dist/process_group.h"
#include "vpr/eval/dataset_doctor.h"
#include "vpr/train/trainer.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace {

// --resume RUN_DIR replays the run's stored command line, followed by the arguments given
// now (later ones win: --epochs 40 extends a run, --threads changes the machine).
std::vector<std::string> ExpandResume(int argc, char** argv, bool* resume) {
  std::vector<std::string> args;
  std::string run_dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--resume" && i + 1 < argc) run_dir = argv[++i];
    else if (a.rfind("--resume=", 0) == 0) run_dir = a.substr(9);
    else args.push_back(a);
  }
  *resume = !run_dir.empty();
  if (!*resume) return args;
  std::filesystem::path flags_path = std::filesystem::path(run_dir) / "flags.json";
  VPR_CHECK(std::filesystem::exists(flags_path), "--resume ", run_dir, ": no flags.json there; pass the --out folder ",
            "of a run started by vpr train");
  std::ifstream in(flags_path);
  nlohmann::json flags = nlohmann::json::parse(in, nullptr, false);
  VPR_CHECK(!flags.is_discarded() && flags.contains("command_line"), "'", flags_path.string(),
            "' has no command_line: it was not written by vpr train");
  std::vector<std::string> stored = flags["command_line"].get<std::vector<std::string>>();
  stored.insert(stored.end(), {"--out", run_dir});
  stored.insert(stored.end(), args.begin(), args.end());
  return stored;
}

// The command line flags.json keeps, without the launch's rank and rendezvous: a resume
// takes those from its own launch (RANK of this process, not of the one that stored it).
std::vector<std::string> WithoutLaunchFlags(const std::vector<std::string>& args) {
  const std::vector<std::string> launch = {"--rank", "--world-size", "--master", "--dist-timeout"};
  std::vector<std::string> kept;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string name = args[i].substr(0, args[i].find('='));
    if (std::find(launch.begin(), launch.end(), name) == launch.end()) {
      kept.push_back(args[i]);
    } else if (name == args[i]) {
      ++i;  // its value
    }
  }
  return kept;
}

struct ValidationFlags {
  DatasetSource source;
  void Bind(CLI::App& app) {
    app.add_option("--val-dataset", source.file, "validation set file (formats as --dataset)");
    app.add_option("--val-root", source.root, "folder the validation set's image names are relative to");
    app.add_option("--val-db", source.database_dir, "validation, frame-aligned form: database images folder");
    app.add_option("--val-queries", source.query_dir, "validation, frame-aligned form: query images folder");
    app.add_option("--val-frame-tolerance", source.frame_tolerance, "validation, frame-aligned form: tolerance");
    app.add_option("--val-radius", source.radius, "validation positive radius in metres (0 = the file's)");
  }
  bool Given() const { return !source.file.empty() || !source.database_dir.empty() || !source.query_dir.empty(); }
};

void BindTrainOptions(CLI::App& app, TrainOptions& o, std::string& recall_at) {
  app.add_option("--epochs", o.epochs, "last epoch (with --resume: raise it to train longer)")->capture_default_str();
  app.add_option("--train-blocks", o.train_blocks,
                 "last encoder blocks trained besides NetVLAD: 1 = VGG16 conv5, MobileNetV2 features[14:17] (cut 17), "
                 "ResNet the last layer; 0 = NetVLAD only")
      ->capture_default_str();
  app.add_option("--optimizer", o.optimizer, "sgd | adam (any case: pytorch-NetVlad's --optim SGD|ADAM)")
      ->capture_default_str()
      ->transform(CLI::IsMember({"sgd", "adam"}, CLI::ignore_case));
  app.add_option("--lr", o.lr, "learning rate")->capture_default_str();
  app.add_option("--momentum", o.momentum, "SGD momentum")->capture_default_str();
  app.add_option("--weight-decay", o.weight_decay, "weight decay")->capture_default_str();
  app.add_option("--lr-step", o.lr_step, "epochs between learning-rate steps")->capture_default_str();
  app.add_option("--lr-gamma", o.lr_gamma, "learning-rate factor per step")->capture_default_str();
  app.add_option("--accumulate", o.accumulate, "tuples per optimizer step (pytorch-NetVlad's batchSize)")
      ->capture_default_str();
  app.add_option("--clip-grad-norm", o.clip_grad_norm, "largest gradient L2 norm (0 = off)")->capture_default_str();
  app.add_option("--mining", o.mining.mode, "hard (NetVLAD) | random (one random negative)")
      ->capture_default_str()
      ->check(CLI::IsMember({"hard", "random"}));
  app.add_option("--negatives", o.mining.negatives_kept, "hardest violating negatives per tuple")->capture_default_str();
  app.add_option("--negatives-sampled", o.mining.negatives_sampled, "negatives drawn per query before picking")
      ->capture_default_str();
  app.add_option("--negative-radius", o.mining.negative_radius,
                 "negatives only beyond this distance, in the set's units (0 = the positive radius)")
      ->capture_default_str();
  app.add_option("--margin", o.mining.margin, "triplet margin on L2 distances (sqrt(0.1) as pytorch-NetVlad)")
      ->capture_default_str();
  app.add_option("--cache-refresh", o.cache_refresh, "training queries between descriptor-cache refreshes")
      ->capture_default_str();
  app.add_option("--feature-cache-mb", o.feature_cache_mb,
                 "memory (MiB) for the frozen layers' output per image, reused by every tuple (0 = recompute)")
      ->capture_default_str();
  app.add_option("--checkpoint-every", o.checkpoint_every,
                 "save the training state mid-epoch after this many queries, at the next cache refresh (0 = epoch "
                 "ends only); --resume continues from the last save")
      ->capture_default_str();
  app.add_option("--patience", o.patience, "stop after this many epochs without a better recall (0 = never)")
      ->capture_default_str();
  app.add_option("--batch-size", o.extract.batch_size, "images per forward pass of the cache and validation")
      ->capture_default_str();
  app.add_option("--recall-at", recall_at, "validation recall@N, comma-separated")->capture_default_str();
  app.add_option("--select-recall-at", o.select_recall_at, "the best checkpoint has the highest recall@N of this N")
      ->capture_default_str();
}

}  // namespace

int RunTrainCommand(int argc, char** argv) {
  CLI::App app("Fine-tune a NetVLAD model with the triplet loss and hard-negative mining, as pytorch-NetVlad:\n"
               "for each training query the positive is its nearest database image (in descriptor space)\n"
               "within the non-trivial radius, the negatives the hardest margin-violating ones beyond the\n"
               "positive radius. Validates every epoch (as `vpr eval`), writes OUT/checkpoints/\n"
               "checkpoint.pth.tar (latest), model_best.pth.tar (best recall), train_state.pt (resume),\n"
               "flags.json and metrics.jsonl. --resume OUT continues an interrupted run exactly.",
               "vpr train");
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  bool resume = false;
  std::vector<std::string> args = ExpandResume(argc, argv, &resume);
  std::string model_path, resume_dir, recall_at = "1,5,10,20";
  ModelFlagBinding model_flags;
  ImageFlagBinding image_flags;
  DatasetFlagBinding dataset_flags;
  ValidationFlags val_flags;
  TrainOptions options;
  model_flags.flags.seed = options.seed;
  app.add_option("--model", model_path, "starting checkpoint (e.g. from vpr cluster), run folder, or backbone file")
      ->required();
  app.add_option("--out", options.out_dir, "run folder")->required();
  double train_positive_radius = 0;
  app.add_option("--train-positive-radius", train_positive_radius,
                 "training positives only within this distance, in the set's units (pytorch-NetVlad's "
                 "nonTrivPosDistSqThr as a distance, 10 m to Pittsburgh's 25; negatives stay beyond the positive "
                 "radius); 0 = the file's, else the positive radius")
      ->capture_default_str();
  app.add_option("--resume", resume_dir, "continue the run in this folder (its stored options, then those given now)");
  dataset_flags.Bind(app);
  val_flags.Bind(app);
  BindTrainOptions(app, options, recall_at);
  model_flags.Bind(app);
  app.get_option("--seed")->description("seed of the query order, negative sampling and any fresh NetVLAD centroids");
  image_flags.Bind(app);
  BindRuntimeFlags(app, options.extract.runtime);
  DistFlagBinding dist_flags;
  dist_flags.Bind(app);
  if (!ParseFlags(app, args)) return kExitOk;
  const DistOptions dist = dist_flags.Resolve();

  options.resume = resume;
  options.seed = model_flags.flags.seed;
  options.extract.resize = image_flags.Resolve();
  options.recall_at = ParseRecallAt(recall_at);
  options.extra_flags = {{"command_line", WithoutLaunchFlags(args)}};
  options.Check();
  const ModelFlags flags = model_flags.Resolve();
  CheckWritable((std::filesystem::path(options.out_dir) / "flags.json").string(), "--out");
  Dataset train = LoadDataset(dataset_flags.Resolve());
  CheckDatasetBeforeUse(train);
  if (train_positive_radius > 0) {
    train.SetTrainingPositiveRadius(train_positive_radius);
    Log().info("train: positives within {} {}, negatives beyond {}", train_positive_radius, train.position_unit,
               train.positive_radius);
  }
  std::optional<Dataset> val;
  if (val_flags.Given()) {
    val_flags.source.Check();
    val = LoadDataset(val_flags.source);
    CheckDatasetBeforeUse(*val);
  } else {
    Log().warn("train: no validation set (--val-dataset or --val-db/--val-queries): the best checkpoint is the one "
               "with the lowest training loss");
  }
  LoadedModel loaded = LoadModel(model_path, flags);
  image_flags.AdoptCheckpointSize(loaded, &options.extract.resize);
  if (loaded.kind == "backbone" && loaded.model->options().IsNetVLAD())
    Log().warn("train: '{}' has no NetVLAD centroids (random ones are used); run `vpr cluster` first", model_path);
  // Every rank trains the same model on the same sets; rank 0 writes the run folder.
  std::unique_ptr<ProcessGroup> group = dist.enabled() ? std::make_unique<ProcessGroup>(dist) : nullptr;
  TrainResult result = Train(loaded.model, train, val ? &*val : nullptr, options, group.get());
  if (group && group->rank() != 0) {
    Log().info("train: rank {} of {} done; rank 0 wrote {}", group->rank(), group->size(), options.out_dir);
    return 0;
  }
  Log().info("train: best epoch {} (score {:.4f}){}; model: {}/checkpoints/model_best.pth.tar", result.best_epoch,
             result.best_score, result.stopped_early ? ", stopped early" : "", options.out_dir);
  return 0;
}

}  // namespace vpr
