#include "vpr/app/extract.h"

#include <torch/torch.h>

#include <chrono>
#include <future>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"
#include "vpr/util/npy.h"
#include "vpr/util/progress.h"

namespace vpr {

void RuntimeOptions::Check() const {
  VPR_CHECK(threads >= 0, "--threads must be >= 0 (0 = all cores), got ", threads);
  VPR_CHECK(device == "cpu" || device.rfind("cuda", 0) == 0, "unknown --device '", device, "': use cpu or cuda");
}

at::Device RuntimeOptions::Apply() const {
  Check();
  if (threads > 0) torch::set_num_threads(threads);
  at::Device dev(device);
  VPR_CHECK(!dev.is_cuda() || torch::cuda::is_available(), "--device ", device,
            " requested but this build of LibTorch has no CUDA or no GPU is visible; use --device cpu");
  return dev;
}

void ExtractOptions::Check() const {
  VPR_CHECK(batch_size > 0, "--batch-size must be positive, got ", batch_size);
  resize.Check();
  runtime.Check();
}

nlohmann::json ExtractResult::Summary() const {
  nlohmann::json failed = nlohmann::json::array();
  for (const auto& f : failures) failed.push_back({{"path", f.path}, {"reason", f.reason}});
  return {{"images", total()},
          {"described", paths.size()},
          {"failed", failures.size()},
          {"failures", failed},
          {"dim", descriptors.defined() && descriptors.dim() == 2 ? descriptors.size(1) : 0},
          {"seconds", seconds},
          {"images_per_s", seconds > 0 ? paths.size() / seconds : 0.0}};
}

namespace {

// One image of the input: decoded pixels, or the reason it could not be decoded.
struct Item {
  std::string name;
  at::Tensor image;
  std::string error;
};

// Sources of items: decoding from files or handing over in-memory tensors.
using ItemSource = std::function<Item(size_t index)>;

std::vector<Item> LoadRange(const ItemSource& source, size_t begin, size_t end) {
  std::vector<Item> items;
  for (size_t i = begin; i < end; ++i) items.push_back(source(i));
  return items;
}

class Extractor {
 public:
  Extractor(VprModel& model, const ExtractOptions& options, size_t total)
      : model_(model), options_(options), device_(options.runtime.Apply()),
        progress_(options.label, static_cast<int64_t>(total)) {
    model_->to(device_);
    model_->eval();
  }

  // Runs items in batches of equal-sized images; failures are recorded, not thrown.
  void Run(std::vector<Item>& items) {
    size_t i = 0;
    while (i < items.size()) {
      if (!items[i].error.empty()) {
        Fail(items[i].name, items[i].error);
        ++i;
        continue;
      }
      size_t j = i + 1;
      while (j < items.size() && j - i < static_cast<size_t>(options_.batch_size) && items[j].error.empty() &&
             items[j].image.sizes() == items[i].image.sizes())
        ++j;
      Forward(items, i, j);
      i = j;
    }
  }

  ExtractResult Finish(double seconds) {
    progress_.Finish();
    result_.seconds = seconds;
    result_.descriptors = rows_.empty() ? at::empty({0, model_->options().DescriptorDim()})
                                        : at::cat(rows_, 0);
    if (!result_.failures.empty()) {
      Log().warn("{} of {} images could not be described:", result_.failures.size(), result_.total());
      for (const auto& f : result_.failures) Log().warn("  {}: {}", f.path, f.reason);
    }
    return std::move(result_);
  }

 private:
  void Forward(std::vector<Item>& items, size_t begin, size_t end) {
    std::vector<at::Tensor> batch;
    for (size_t k = begin; k < end; ++k) batch.push_back(items[k].image);
    try {
      torch::NoGradGuard no_grad;
      at::Tensor out = model_->forward(at::stack(batch).to(device_)).to(at::kCPU);
      rows_.push_back(out);
      for (size_t k = begin; k < end; ++k) result_.paths.push_back(items[k].name);
      progress_.Add(static_cast<int64_t>(end - begin));
    } catch (const std::exception& e) {
      if (end - begin > 1) {  // find which image is at fault
        for (size_t k = begin; k < end; ++k) Forward(items, k, k + 1);
        return;
      }
      std::string what = e.what();
      Fail(items[begin].name, "model failed: " + what.substr(0, what.find('\n')));
    }
  }

  void Fail(const std::string& name, const std::string& reason) {
    Log().warn("skipping '{}': {}", name, reason);
    result_.failures.push_back({name, reason});
    progress_.Add(1);
  }

  VprModel& model_;
  const ExtractOptions& options_;
  at::Device device_;
  Progress progress_;
  std::vector<at::Tensor> rows_;
  ExtractResult result_;
};

ExtractResult RunExtraction(VprModel& model, size_t total, const ItemSource& source, const ExtractOptions& options) {
  options.Check();
  auto start = std::chrono::steady_clock::now();
  Extractor extractor(model, options, total);
  // Decode the next chunk on another thread while the model runs on this one.
  const size_t chunk = static_cast<size_t>(options.batch_size) * 2;
  std::future<std::vector<Item>> next = std::async(std::launch::async, LoadRange, source, 0, std::min(chunk, total));
  for (size_t begin = 0; begin < total; begin += chunk) {
    std::vector<Item> items = next.get();
    size_t next_begin = begin + chunk;
    if (next_begin < total)
      next = std::async(std::launch::async, LoadRange, source, next_begin, std::min(next_begin + chunk, total));
    extractor.Run(items);
  }
  return extractor.Finish(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace

ExtractResult ExtractDescriptors(VprModel& model, const std::vector<std::string>& paths,
                                 const ExtractOptions& options) {
  ItemSource source = [&](size_t i) {
    Item item{paths[i], {}, {}};
    try {
      item.image = ResizeImage(LoadImageRgb(paths[i]), options.resize);
    } catch (const std::exception& e) {
      item.error = e.what();
    }
    return item;
  };
  return RunExtraction(model, paths.size(), source, options);
}

ExtractResult ExtractDescriptors(VprModel& model, const std::vector<at::Tensor>& images,
                                 const std::vector<std::string>& names, const ExtractOptions& options) {
  VPR_CHECK(images.size() == names.size(), "got ", images.size(), " images but ", names.size(), " names");
  ItemSource source = [&](size_t i) { return Item{names[i], ResizeImage(images[i], options.resize), {}}; };
  return RunExtraction(model, images.size(), source, options);
}

std::string NamesPathFor(const std::string& npy_path) {
  std::string base = npy_path;
  if (base.size() > 4 && base.compare(base.size() - 4, 4, ".npy") == 0) base.resize(base.size() - 4);
  return base + ".names.txt";
}

void WriteDescriptors(const std::string& npy_path, const ExtractResult& result) {
  at::Tensor d = result.descriptors.to(at::kFloat).contiguous();
  WriteNpy(npy_path, d.data_ptr<float>(), d.size(0), d.size(1));
  std::string names;
  for (const auto& p : result.paths) names += p + "\n";
  WriteFileAtomic(NamesPathFor(npy_path), names);
}

}  // namespace vpr
