#include "vpr/model/vpr_model.h"

#include "vpr/util/check.h"

namespace vpr {

void ModelOptions::Resolve() {
  backbone.Check();
  netvlad.dim = backbone.OutputDim();
  Check();
}

void ModelOptions::Check() const {
  backbone.Check();
  netvlad.Check();
  VPR_CHECK_USAGE(netvlad.dim == backbone.OutputDim(), "NetVLAD dim ", netvlad.dim, " does not match the ",
            backbone.arch, " encoder's ", backbone.OutputDim(), " channels");
  VPR_CHECK_USAGE(normalize == "imagenet" || normalize == "tf", "unknown --normalize '", normalize,
            "': use imagenet (torchvision mean/std) or tf (mean = std = 0.5)");
  VPR_CHECK_USAGE(pooling == "netvlad" || pooling == "avg" || pooling == "max", "unknown --pooling '", pooling,
            "': use netvlad, avg (global average pooling) or max (global max pooling)");
  VPR_CHECK_USAGE(wpca_dim >= 0 && wpca_dim <= PooledDim(), "WPCA dimension ", wpca_dim,
            " must be between 0 and the pooled dimension ", PooledDim());
}

int64_t ModelOptions::PooledDim() const { return IsNetVLAD() ? netvlad.num_clusters * netvlad.dim : netvlad.dim; }

int64_t ModelOptions::DescriptorDim() const { return wpca_dim > 0 ? wpca_dim : PooledDim(); }

std::string ModelOptions::Describe() const {
  std::string s = backbone.arch + " cut " + std::to_string(backbone.ResolvedCut()) + " (" +
                  std::to_string(netvlad.dim) + "-d" + (backbone.tf_padding ? ", TF padding" : "") +
                  ") + " +
                  (IsNetVLAD() ? "NetVLAD K=" + std::to_string(netvlad.num_clusters) +
                                     (netvlad.vladv2 ? " vladv2" : " vladv1")
                               : "global " + pooling + " pooling");
  if (wpca_dim > 0) s += " + WPCA";
  return s + " -> " + std::to_string(DescriptorDim()) + "-d, normalize " + normalize;
}

nlohmann::json ModelOptions::ToJson() const {
  return {{"format_version", 1},
          {"arch", backbone.arch},
          {"cut", backbone.ResolvedCut()},
          {"tf_padding", backbone.tf_padding},
          {"pooling", pooling},
          {"num_clusters", netvlad.num_clusters},
          {"dim", netvlad.dim},
          {"vladv2", netvlad.vladv2},
          {"normalize", normalize},
          {"wpca_dim", wpca_dim}};
}

VprModelImpl::VprModelImpl(ModelOptions options) : options_(std::move(options)) {
  options_.Resolve();
  encoder = register_module("encoder", MakeEncoder(options_.backbone));
  if (options_.IsNetVLAD()) pool = register_module("pool", NetVLAD(options_.netvlad));
  if (options_.wpca_dim > 0) {
    int64_t in = options_.PooledDim();
    wpca = register_module("WPCA", torch::nn::Sequential(torch::nn::Conv2d(
                                       torch::nn::Conv2dOptions(in, options_.wpca_dim, 1))));
  }
  bool tf = options_.normalize == "tf";
  mean_ = tf ? torch::tensor({0.5f, 0.5f, 0.5f}) : torch::tensor({0.485f, 0.456f, 0.406f});
  std_ = tf ? torch::tensor({0.5f, 0.5f, 0.5f}) : torch::tensor({0.229f, 0.224f, 0.225f});
  mean_ = mean_.view({1, 3, 1, 1});
  std_ = std_.view({1, 3, 1, 1});
}

torch::Tensor VprModelImpl::EncoderPrefix(torch::Tensor images, int64_t end) {
  VPR_CHECK(images.dim() == 4 && images.size(1) == 3, "the model expects N x 3 x H x W images, got ",
            images.sizes());
  VPR_CHECK(end >= 0 && end <= static_cast<int64_t>(encoder->size()), "internal: encoder prefix end ", end,
            " outside [0, ", encoder->size(), "]");
  torch::Tensor x = (images - mean_.to(images.device())) / std_.to(images.device());
  if (inference_encoder_) x = x.to(ComputeType(precision_)).contiguous(at::MemoryFormat::ChannelsLast);
  return RunLayers(x, 0, end);
}

torch::Tensor VprModelImpl::DescribeFrom(torch::Tensor x, int64_t begin) {
  VPR_CHECK(begin >= 0 && begin <= static_cast<int64_t>(encoder->size()), "internal: encoder layer ", begin,
            " outside [0, ", encoder->size(), "]");
  x = RunLayers(x, begin, static_cast<int64_t>(encoder->size()));
  if (x.scalar_type() != at::kFloat || !x.is_contiguous()) x = x.to(at::kFloat).contiguous();
  AutocastOff fp32;  // soft-assignment, residual sums and normalisations in fp32
  namespace F = torch::nn::functional;
  torch::Tensor pooled;
  if (pool) pooled = pool->forward(x);
  else if (options_.pooling == "avg") pooled = F::normalize(x.mean({2, 3}), F::NormalizeFuncOptions().dim(1));
  else pooled = F::normalize(x.amax({2, 3}), F::NormalizeFuncOptions().dim(1));
  if (!wpca) return pooled;
  torch::Tensor reduced = wpca->forward(pooled.unsqueeze(-1).unsqueeze(-1)).flatten(1);
  return F::normalize(reduced, F::NormalizeFuncOptions().dim(-1));
}

torch::Tensor VprModelImpl::RunLayers(torch::Tensor x, int64_t begin, int64_t end) {
  auto& layers = inference_encoder_ ? inference_encoder_ : encoder;
  for (auto it = layers->begin() + begin; it != layers->begin() + end; ++it) x = it->forward(x);
  return x;
}

torch::Tensor VprModelImpl::LocalFeatures(torch::Tensor images) {
  return EncoderPrefix(images, static_cast<int64_t>(encoder->size())).to(at::kFloat).contiguous();
}

void VprModelImpl::ReleaseInference() {
  precision_ = Precision::kFp32;
  inference_encoder_ = nullptr;
}

void VprModelImpl::PrepareInference(Precision precision) {
  ReleaseInference();
  precision_ = precision;
  torch::NoGradGuard no_grad;
  const at::Tensor first = encoder->parameters().front();
  inference_encoder_ = MakeEncoder(options_.backbone);
  inference_encoder_->eval();
  auto weights = encoder->named_parameters();
  auto buffers = encoder->named_buffers();
  auto convert = [&](const at::Tensor& from) {
    if (!from.is_floating_point()) return from.detach().to(first.device());  // num_batches_tracked
    at::Tensor t = from.detach().to(first.device(), ComputeType(precision));
    return t.dim() == 4 ? t.contiguous(at::MemoryFormat::ChannelsLast) : t.contiguous();
  };
  for (auto& p : inference_encoder_->named_parameters()) {
    p.value().set_data(convert(weights[p.key()]));
    p.value().set_requires_grad(false);
  }
  for (auto& b : inference_encoder_->named_buffers()) b.value().set_data(convert(buffers[b.key()]));
}

torch::Tensor VprModelImpl::forward(torch::Tensor images) {
  const auto all = static_cast<int64_t>(encoder->size());
  return DescribeFrom(EncoderPrefix(images, all), all);
}

}  // namespace vpr
