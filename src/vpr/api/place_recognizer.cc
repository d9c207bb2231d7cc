// The public recognizer over the model loader and the extractor: the same descriptors as
// `vpr extract` for the same image, model and size.
#include "vpr/place_recognizer.h"

#include "vpr/app/extract.h"
#include "vpr/image/image_io.h"
#include "vpr/model/model_io.h"
#include "vpr/util/check.h"

namespace vpr {

struct PlaceRecognizer::Impl {
  LoadedModel loaded;
  ExtractOptions extract;
};

namespace {

ExtractOptions ExtractOptionsFor(const RecognizerOptions& o, const LoadedModel& loaded) {
  ExtractOptions e;
  e.log_progress = false;
  e.runtime.precision = o.precision;
  e.runtime.threads = o.threads;
  e.runtime.device = o.device;
  e.resize.max_side = o.max_side;
  e.resize.height = o.resize_height;
  e.resize.width = o.resize_width;
  e.resize.reduced_decode = false;  // images arrive decoded
  if (!e.resize.enabled())
    if (std::optional<ResizeOptions> recorded = RecordedResize(loaded.info)) {
      e.resize.height = recorded->height;
      e.resize.width = recorded->width;
      e.resize.max_side = recorded->max_side;
    }
  e.Check();
  return e;
}

}  // namespace

PlaceRecognizer::PlaceRecognizer(const RecognizerOptions& options) : impl_(std::make_unique<Impl>()) {
  VPR_CHECK_USAGE(!options.model.empty(), "RecognizerOptions::model is empty: give a checkpoint or backbone file");
  impl_->loaded = LoadModel(options.model, ModelFlags{});
  impl_->extract = ExtractOptionsFor(options, impl_->loaded);
  // The inference copy of the encoder (channels-last, in the chosen precision) is made once
  // here and kept: ExtractDescriptors uses a prepared model as it is. Made per Describe, it
  // took a MobileNetV2 frame at 240x320 from 31 ms to 45.
  VprModel& model = impl_->loaded.model;
  const at::Device device = impl_->extract.runtime.Apply();
  model->to(device);
  model->eval();
  model->PrepareInference(impl_->extract.runtime.ResolvedPrecision(device));
}

PlaceRecognizer::~PlaceRecognizer() = default;
PlaceRecognizer::PlaceRecognizer(PlaceRecognizer&&) noexcept = default;
PlaceRecognizer& PlaceRecognizer::operator=(PlaceRecognizer&&) noexcept = default;

std::vector<float> PlaceRecognizer::Describe(const cv::Mat& image) const {
  return Describe(std::vector<cv::Mat>{image}).front();
}

std::vector<std::vector<float>> PlaceRecognizer::Describe(const std::vector<cv::Mat>& images) const {
  std::vector<at::Tensor> tensors;
  std::vector<std::string> names;
  for (size_t i = 0; i < images.size(); ++i) {
    VPR_CHECK(!images[i].empty(), "image ", i, " of ", images.size(), " is empty (did cv::imread fail?)");
    tensors.push_back(MatToRgbTensor(images[i]));
    names.push_back("image " + std::to_string(i));
  }
  ExtractResult result = ExtractDescriptors(impl_->loaded.model, tensors, names, impl_->extract);
  VPR_CHECK(result.failures.empty(), "cannot describe ", result.failures.front().path, ": ",
            result.failures.front().reason);
  at::Tensor rows = result.descriptors.to(at::kFloat).contiguous();
  std::vector<std::vector<float>> out(static_cast<size_t>(rows.size(0)));
  for (int64_t r = 0; r < rows.size(0); ++r) {
    const float* row = rows[r].data_ptr<float>();
    out[static_cast<size_t>(r)].assign(row, row + rows.size(1));
  }
  return out;
}

int PlaceRecognizer::dim() const { return static_cast<int>(impl_->loaded.model->options().DescriptorDim()); }

std::string PlaceRecognizer::Describe() const {
  return impl_->loaded.model->options().Describe() + ", images at " + impl_->extract.resize.Describe();
}

}  // namespace vpr
