#include "vpr/app/extract.h"

#include <torch/torch.h>

#include <chrono>
#include <deque>
#include <future>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"
#include "vpr/util/npy.h"
#include "vpr/util/progress.h"
#include "vpr/util/worker_pool.h"

namespace vpr {

void ExtractOptions::Check() const {
  VPR_CHECK_USAGE(batch_size > 0 && batch_size <= 4096, "--batch-size must be in [1, 4096], got ", batch_size);
  VPR_CHECK_USAGE(decode_threads >= 0 && decode_threads <= 256, "--decode-threads must be in [0, 256] (0 = the compute threads decode), got ",
            decode_threads);
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
          {"dim", dim},
          {"seconds", seconds},
          {"images_per_s", seconds > 0 ? paths.size() / seconds : 0.0},
          {"threads", threads},
          {"precision", precision}};
}

namespace {

// One image of the input: decoded pixels, or the reason it could not be decoded.
struct Item {
  size_t index = 0;  // position in the input
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
    Precision precision = options.runtime.ResolvedPrecision(device_);
    if (model_->inference_prepared()) {
      // Prepared by the caller, who keeps the copy across calls (PlaceRecognizer, frame by
      // frame): made per call, a MobileNetV2 frame at 240x320 took 45 ms instead of 30.
      VPR_CHECK(model_->inference_precision() == precision && !model_->is_training(),
                "internal: the model was prepared for inference in ", PrecisionName(model_->inference_precision()),
                (model_->is_training() ? " (training mode)" : ""), " but this extraction runs in ",
                PrecisionName(precision));
    } else {
      model_->to(device_);
      model_->eval();
      model_->PrepareInference(precision);
      owns_inference_copy_ = true;
    }
    result_.precision = PrecisionName(precision);
    result_.threads = torch::get_num_threads();
    result_.dim = model_->options().DescriptorDim();
  }
  ~Extractor() {
    if (owns_inference_copy_) model_->ReleaseInference();
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
    if (options_.log_progress) progress_.Finish();
    result_.seconds = seconds;
    result_.descriptors = rows_.empty() ? at::empty({0, result_.dim}) : at::cat(rows_, 0);
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
      std::vector<std::string> names;
      for (size_t k = begin; k < end; ++k) {
        names.push_back(items[k].name);
        result_.indices.push_back(static_cast<int64_t>(items[k].index));
      }
      if (options_.on_rows) options_.on_rows(out, names);
      else rows_.push_back(out);
      result_.paths.insert(result_.paths.end(), names.begin(), names.end());
      if (options_.log_progress) progress_.Add(static_cast<int64_t>(end - begin));
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
    if (options_.log_progress) progress_.Add(1);
  }

  VprModel& model_;
  const ExtractOptions& options_;
  at::Device device_;
  bool owns_inference_copy_ = false;  // made here, so released here
  Progress progress_;
  std::vector<at::Tensor> rows_;
  ExtractResult result_;
};

// Decoding in the compute threads: each chunk's images are decoded in parallel, one image
// per thread, between forward passes. Nothing competes with the model for the cores.
void DecodeInComputeThreads(Extractor& extractor, size_t total, size_t chunk, const ItemSource& source) {
  for (size_t begin = 0; begin < total; begin += chunk) {
    std::vector<Item> items(std::min(chunk, total - begin));
    at::parallel_for(0, static_cast<int64_t>(items.size()), 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) items[i] = source(begin + i);
    });
    extractor.Run(items);
  }
}

// Decoding on dedicated threads, chunks in order, ahead of the model.
void DecodeAhead(Extractor& extractor, size_t total, size_t chunk, const ItemSource& source, int threads) {
  WorkerPool decoders(threads, RunSeriallyOnThisThread);  // across images, not inside one
  std::deque<std::future<std::vector<Item>>> decoding;
  size_t next_begin = 0;
  auto fill = [&] {
    for (; decoding.size() < static_cast<size_t>(threads) + 1 && next_begin < total; next_begin += chunk) {
      const size_t b = next_begin, e = std::min(next_begin + chunk, total);
      decoding.push_back(decoders.Submit([&source, b, e] { return LoadRange(source, b, e); }));
    }
  };
  fill();
  while (!decoding.empty()) {
    std::vector<Item> items = decoding.front().get();
    decoding.pop_front();
    fill();
    extractor.Run(items);
  }
}

ExtractResult RunExtraction(VprModel& model, size_t total, const ItemSource& source, const ExtractOptions& options) {
  options.Check();
  auto start = std::chrono::steady_clock::now();
  Extractor extractor(model, options, total);
  const size_t chunk = static_cast<size_t>(options.batch_size) * 2;
  if (options.decode_threads == 0)
    DecodeInComputeThreads(extractor, total, std::max<size_t>(chunk, torch::get_num_threads()), source);
  else
    DecodeAhead(extractor, total, chunk, source, options.decode_threads);
  return extractor.Finish(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace

ExtractResult ExtractDescriptors(VprModel& model, const std::vector<std::string>& paths,
                                 const ExtractOptions& options) {
  ItemSource source = [&](size_t i) {
    Item item{i, paths[i], {}, {}};
    try {
      item.image = LoadResizedImage(paths[i], options.resize);
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
  ItemSource source = [&](size_t i) { return Item{i, names[i], ResizeImage(images[i], options.resize), {}}; };
  return RunExtraction(model, images.size(), source, options);
}

std::string NamesPathFor(const std::string& npy_path) {
  std::string base = npy_path;
  if (base.size() > 4 && base.compare(base.size() - 4, 4, ".npy") == 0) base.resize(base.size() - 4);
  return base + ".names.txt";
}

namespace {

std::string NamesText(const std::vector<std::string>& paths) {
  std::string names;
  for (const auto& p : paths) names += p + "\n";
  return names;
}

}  // namespace

void WriteDescriptors(const std::string& npy_path, const ExtractResult& result) {
  at::Tensor d = result.descriptors.to(at::kFloat).contiguous();
  FileSet set;  // a reader never sees new descriptors beside the previous run's names
  set.Write(npy_path, NpyBytes(d.data_ptr<float>(), d.size(0), d.size(1)));
  set.Write(NamesPathFor(npy_path), NamesText(result.paths));
  set.Commit();
}

ExtractResult ExtractToNpy(VprModel& model, const std::vector<std::string>& paths, const ExtractOptions& options,
                           const std::string& npy_path) {
  NpyWriter writer(npy_path, model->options().DescriptorDim());
  ExtractOptions streaming = options;
  streaming.on_rows = [&writer](const at::Tensor& rows, const std::vector<std::string>&) {
    at::Tensor c = rows.to(at::kFloat).contiguous();
    writer.Append(c.data_ptr<float>(), c.size(0));
  };
  ExtractResult result = ExtractDescriptors(model, paths, streaming);
  FileSet set;  // a reader never sees new descriptors beside the previous run's names
  writer.CommitInto(set);
  set.Write(NamesPathFor(npy_path), NamesText(result.paths));
  set.Commit();
  return result;
}

}  // namespace vpr
