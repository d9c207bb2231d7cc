#include "vpr/model/model_io.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace fs = std::filesystem;

namespace {

bool HasKey(const StateDict& state, const std::string& key) {
  for (const auto& [k, v] : state)
    if (k == key) return true;
  return false;
}

const at::Tensor* Find(const StateDict& state, const std::string& key) {
  for (const auto& [k, v] : state)
    if (k == key) return &v;
  return nullptr;
}

bool AnyKeyStartsWith(const StateDict& state, const std::string& prefix) {
  for (const auto& [k, v] : state)
    if (k.rfind(prefix, 0) == 0) return true;
  return false;
}

// Largest i among keys "<prefix><i>.*", or -1.
int MaxIndex(const StateDict& state, const std::string& prefix) {
  int best = -1;
  std::regex re("^" + std::regex_replace(prefix, std::regex(R"(\.)"), R"(\.)") + R"((\d+)\.)");
  std::smatch m;
  for (const auto& [k, v] : state)
    if (std::regex_search(k, m, re)) best = std::max(best, std::stoi(m[1].str()));
  return best;
}

std::string InferArch(const StateDict& state, const std::string& prefix) {
  if (HasKey(state, prefix + "0.0.weight") && AnyKeyStartsWith(state, prefix + "1.conv.")) return "mobilenet_v2";
  if (AnyKeyStartsWith(state, prefix + "4.0.conv3.")) return "resnet50";
  if (AnyKeyStartsWith(state, prefix + "4.0.conv1.")) return "resnet18";
  if (const at::Tensor* w = Find(state, prefix + "0.weight"); w && w->dim() == 4 && w->size(2) == 7)
    return "resnet18";  // stem only: cannot tell 18 from 50
  if (HasKey(state, prefix + "0.weight")) return "vgg16";
  return "";
}

// The cut is the highest encoder index + 1, unless the user or the file says more: layers
// without weights (VGG's last ReLU and max-pool) after the last weighted one are invisible.
int InferCut(const StateDict& state, const nlohmann::json& info, int flag_cut) {
  int min_cut = MaxIndex(state, "encoder.") + 1;
  int cut = flag_cut > 0 ? flag_cut : info.value("cut", min_cut);
  VPR_CHECK(cut >= min_cut, "cut ", cut, " is too short: the checkpoint has weights for encoder.", min_cut - 1);
  return cut;
}

template <typename T>
void CheckAgrees(const char* flag, const T& given, const T& found, bool given_set, const std::string& why) {
  VPR_CHECK(!given_set || given == found, flag, " ", given, " contradicts the checkpoint, which has ",
            found, " (", why, "); drop the flag or use the matching checkpoint");
}

nlohmann::json ReadRunFlags(const fs::path& run) {
  fs::path flags_path = run / "flags.json";
  if (!fs::exists(flags_path)) return {};
  std::ifstream in(flags_path);
  nlohmann::json flags;
  try {
    in >> flags;
  } catch (const std::exception& e) {
    VPR_THROW("'", flags_path.string(), "' is not valid JSON: ", e.what());
  }
  return flags;
}

// A run folder of pytorch-NetVlad resolves to its best (else latest) checkpoint.
std::string ResolveCheckpointPath(const std::string& path, nlohmann::json* run_flags) {
  if (!fs::is_directory(path)) return path;
  for (const char* name : {"checkpoints/model_best.pth.tar", "checkpoints/checkpoint.pth.tar",
                           "model_best.pth.tar", "checkpoint.pth.tar"}) {
    fs::path candidate = fs::path(path) / name;
    if (fs::exists(candidate)) {
      *run_flags = ReadRunFlags(fs::path(path));
      return candidate.string();
    }
  }
  VPR_THROW("'", path, "' is a folder without checkpoints/model_best.pth.tar or checkpoints/checkpoint.pth.tar; "
            "pass a checkpoint file or a pytorch-NetVlad run folder");
}

// flags.json of pytorch-NetVlad, mapped to the "vpr" info names.
nlohmann::json InfoFromRunFlags(const nlohmann::json& flags) {
  nlohmann::json info = nlohmann::json::object();
  if (flags.contains("pooling")) {
    std::string pooling = flags["pooling"].get<std::string>();
    VPR_CHECK(pooling == "netvlad" || pooling == "avg" || pooling == "max", "flags.json says pooling '", pooling,
              "': vpr supports netvlad, avg and max");
    info["pooling"] = pooling;
  }
  if (flags.contains("arch")) info["arch"] = flags["arch"];
  if (flags.contains("num_clusters")) info["num_clusters"] = flags["num_clusters"];
  if (flags.contains("vladv2")) info["vladv2"] = flags["vladv2"];
  return info;
}

}  // namespace

ModelOptions InferModelOptions(const StateDict& state, const nlohmann::json& info, const ModelFlags& flags) {
  ModelOptions options;
  std::string arch = InferArch(state, "encoder.");
  VPR_CHECK(!arch.empty(), "cannot recognise the backbone: no encoder.0.* weights (found keys such as '",
            state.empty() ? std::string("<none>") : state.front().first, "')");
  if (arch == "resnet18" && info.value("arch", "") == "resnet50") arch = "resnet50";
  if (info.contains("arch")) CheckAgrees("the file's own arch", info["arch"].get<std::string>(), arch, true, "from encoder keys");
  CheckAgrees("--backbone", flags.arch, arch, !flags.arch.empty(), "from encoder keys");
  options.backbone.arch = arch;
  int cut = InferCut(state, info, flags.cut);
  options.backbone.cut = cut;
  options.backbone.tf_padding = flags.tf_padding.value_or(info.value("tf_padding", false));

  const at::Tensor* centroids = Find(state, "pool.centroids");
  std::string pooling = !flags.pooling.empty() ? flags.pooling : info.value("pooling", centroids ? "netvlad" : "");
  VPR_CHECK(!pooling.empty(), "no NetVLAD layer (pool.centroids is missing) and no pooling recorded: pass "
            "--pooling avg or --pooling max for a model that pools globally");
  options.pooling = pooling;
  if (pooling == "netvlad") {
    VPR_CHECK(centroids && centroids->dim() == 2, "no NetVLAD layer: pool.centroids is missing or not K x D");
    int64_t k = centroids->size(0);
    CheckAgrees("--clusters", flags.clusters, k, flags.clusters > 0, "pool.centroids has K rows");
    options.netvlad.num_clusters = k;
    bool vladv2 = HasKey(state, "pool.conv.bias");
    CheckAgrees("--vladv2", flags.vladv2.value_or(vladv2), vladv2, flags.vladv2.has_value(),
                "vladv2 <=> pool.conv.bias present");
    options.netvlad.vladv2 = vladv2;
  } else {
    VPR_CHECK(!centroids, "--pooling ", pooling, " asked for, but the checkpoint has a NetVLAD layer "
              "(pool.centroids); global pooling applies to backbone files and avg/max models");
  }
  if (const at::Tensor* w = Find(state, "WPCA.0.weight")) options.wpca_dim = w->size(0);
  std::string file_norm = info.value("normalize", "");
  VPR_CHECK(flags.normalize.empty() || file_norm.empty() || flags.normalize == file_norm, "--normalize ",
            flags.normalize, " contradicts the checkpoint, which was saved with normalize ", file_norm);
  options.normalize = !flags.normalize.empty() ? flags.normalize : (file_norm.empty() ? "imagenet" : file_norm);
  options.Resolve();
  VPR_CHECK(!centroids || centroids->size(1) == options.netvlad.dim, "pool.centroids is ", centroids->sizes(),
            " but the ", arch, " encoder (cut ", cut, ") gives ", options.netvlad.dim, "-d features");
  return options;
}

StateDict ModelStateDict(torch::nn::Module& model) {
  StateDict out;
  for (const auto& item : model.named_parameters()) out.emplace_back(item.key(), item.value().detach().cpu());
  for (const auto& item : model.named_buffers()) out.emplace_back(item.key(), item.value().detach().cpu());
  return out;
}

void LoadStateDict(torch::nn::Module& model, const StateDict& state, const std::string& source) {
  std::map<std::string, at::Tensor> targets;
  for (const auto& item : model.named_parameters()) targets[item.key()] = item.value();
  for (const auto& item : model.named_buffers()) targets[item.key()] = item.value();
  std::vector<std::string> unexpected, wrong_shape;
  std::set<std::string> seen;
  for (const auto& [key, value] : state) {
    auto it = targets.find(key);
    if (it == targets.end()) {
      unexpected.push_back(key);
    } else if (it->second.sizes() != value.sizes()) {
      std::ostringstream s;
      s << key << " (file " << value.sizes() << ", model " << it->second.sizes() << ")";
      wrong_shape.push_back(s.str());
    } else {
      seen.insert(key);
    }
  }
  std::vector<std::string> missing;
  for (const auto& [key, value] : targets)
    if (!seen.count(key) && key.find("num_batches_tracked") == std::string::npos &&
        std::find_if(wrong_shape.begin(), wrong_shape.end(),
                     [&k = key](const std::string& w) { return w.rfind(k + " ", 0) == 0; }) == wrong_shape.end())
      missing.push_back(key);
  auto list = [](const std::vector<std::string>& keys) {
    std::string s;
    for (size_t i = 0; i < keys.size() && i < 12; ++i) s += (i ? ", " : "") + keys[i];
    if (keys.size() > 12) s += ", ... (" + std::to_string(keys.size()) + " in all)";
    return s;
  };
  std::string problems;
  if (!missing.empty()) problems += "\n  missing keys: " + list(missing);
  if (!unexpected.empty()) problems += "\n  unexpected keys: " + list(unexpected);
  if (!wrong_shape.empty()) problems += "\n  wrong shapes: " + list(wrong_shape);
  VPR_CHECK(problems.empty(), "'", source, "' does not fit the model:", problems);
  torch::NoGradGuard no_grad;
  for (const auto& [key, value] : state) targets[key].copy_(value.to(targets[key].dtype()));
}

namespace {

LoadedModel LoadBackboneFile(const std::string& path, const StateDict& state, const ModelFlags& flags,
                             const std::string& format) {
  std::string arch = flags.arch;
  if (arch.empty()) {
    if (HasKey(state, "features.0.0.weight")) arch = "mobilenet_v2";
    else if (HasKey(state, "features.0.weight")) arch = "vgg16";
    else if (AnyKeyStartsWith(state, "layer1.0.conv3.")) arch = "resnet50";
    else if (HasKey(state, "conv1.weight")) arch = "resnet18";
  }
  VPR_CHECK(!arch.empty(), "'", path, "' is neither a NetVLAD checkpoint (encoder.*/pool.* keys) nor a torchvision "
            "backbone (features.* or conv1.* keys); first key is '", state.empty() ? "<none>" : state.front().first, "'");
  ModelOptions options;
  options.backbone.arch = arch;
  options.backbone.cut = flags.cut;
  options.backbone.tf_padding = flags.tf_padding.value_or(false);
  options.netvlad.num_clusters = flags.clusters > 0 ? flags.clusters : 64;
  options.netvlad.vladv2 = flags.vladv2.value_or(false);
  options.normalize = flags.normalize.empty() ? "imagenet" : flags.normalize;
  options.pooling = flags.pooling.empty() ? "netvlad" : flags.pooling;
  options.Resolve();

  StateDict encoder_state;
  size_t ignored = 0;
  for (const auto& [key, value] : state) {
    std::string mapped = TorchvisionKeyToEncoderKey(options.backbone, key);
    if (mapped.empty()) ++ignored;
    else encoder_state.emplace_back(mapped, value);
  }
  LoadedModel loaded{VprModel(options), path, format, "backbone", nlohmann::json::object()};
  LoadStateDict(*loaded.model->encoder, encoder_state, path);
  if (!options.IsNetVLAD()) {
    Log().info("'{}': torchvision {} backbone ({} tensors used, {} outside the cut ignored), global {} pooling", path,
               arch, encoder_state.size(), ignored, options.pooling);
    return loaded;
  }
  torch::manual_seed(flags.seed);
  loaded.model->pool->InitRandom();
  Log().info("'{}': torchvision {} backbone ({} tensors used, {} outside the cut ignored); NetVLAD K={} has "
             "random centroids until `vpr cluster` sets them", path, arch, encoder_state.size(), ignored,
             options.netvlad.num_clusters);
  return loaded;
}

}  // namespace

void ModelFlags::Check() const {
  VPR_CHECK_USAGE(clusters >= 0 && clusters <= 65536, "--clusters must be in [0, 65536] (0 = inferred), got ", clusters);
  VPR_CHECK_USAGE(cut >= 0 && cut <= 100, "--cut must be in [0, 100] (0 = inferred), got ", cut);
}

namespace {

// NaN or infinite weights give NaN descriptors for every image: refuse them at load.
void CheckFinite(const StateDict& state, const std::string& file) {
  for (const auto& [name, tensor] : state) {
    if (!tensor.is_floating_point()) continue;
    const int64_t bad = (~at::isfinite(tensor)).sum().item<int64_t>();
    VPR_CHECK(bad == 0, "model '", file, "': tensor '", name, "' holds ", bad, " NaN or infinite values of ",
              tensor.numel(), "; the checkpoint is corrupt or its training diverged: use an earlier checkpoint");
  }
}

}  // namespace

LoadedModel LoadModel(const std::string& path, const ModelFlags& flags) {
  flags.Check();
  VPR_CHECK(fs::exists(path), "model '", path, "' does not exist (expected a .pth/.pth.tar file or a run folder)");
  nlohmann::json run_flags;
  std::string file = ResolveCheckpointPath(path, &run_flags);
  TorchFile torch_file = LoadTorchFile(file);
  StateDict state = ExtractStateDict(torch_file, file);
  CheckFinite(state, file);
  nlohmann::json file_info = CheckpointInfo(torch_file);
  if (!AnyKeyStartsWith(state, "encoder.")) return LoadBackboneFile(file, state, flags, torch_file.format);

  nlohmann::json info = InfoFromRunFlags(run_flags);
  if (file_info.contains("vpr") && file_info["vpr"].is_object()) info.update(file_info["vpr"]);
  ModelOptions options = InferModelOptions(state, info, flags);
  LoadedModel loaded{VprModel(options), file, torch_file.format, "netvlad", file_info};
  LoadStateDict(*loaded.model, state, file);
  loaded.model->eval();
  Log().info("'{}' ({} format): {}", file, torch_file.format, options.Describe());
  return loaded;
}

nlohmann::json ResizeRecord(const ResizeOptions& resize) {
  return {{"height", resize.height}, {"width", resize.width}, {"max_side", resize.max_side}};
}

std::optional<ResizeOptions> RecordedResize(const nlohmann::json& info) {
  if (!info.is_object() || !info.contains("resize") || !info["resize"].is_object()) return std::nullopt;
  const nlohmann::json& r = info["resize"];
  ResizeOptions resize;
  try {
    resize.height = r.value("height", 0);
    resize.width = r.value("width", 0);
    resize.max_side = r.value("max_side", 0);
    resize.Check();
  } catch (const std::exception& e) {
    Log().warn("the checkpoint's recorded image size {} is unusable ({}); ignoring it", r.dump(), e.what());
    return std::nullopt;
  }
  return resize;
}

void SaveModel(const std::string& path, VprModel& model, const nlohmann::json& extra) {
  nlohmann::json info = extra.is_object() ? extra : nlohmann::json::object();
  info["vpr"] = model->options().ToJson();
  SaveCheckpoint(path, ModelStateDict(*model), info);
}

}  // namespace vpr
