#include "vpr/model/backbone.h"

#include <algorithm>

#include "vpr/util/check.h"

namespace vpr {
namespace nn = torch::nn;

const std::vector<std::string>& SupportedArchs() {
  static const std::vector<std::string> kArchs = {"vgg16", "mobilenet_v2", "resnet18", "resnet50"};
  return kArchs;
}

namespace {

int MaxCut(const std::string& arch) {
  if (arch == "vgg16") return 31;
  if (arch == "mobilenet_v2") return 19;
  return 8;  // resnets: conv1 bn1 relu maxpool layer1..4
}

int DefaultCut(const std::string& arch) {
  if (arch == "vgg16") return 29;
  if (arch == "mobilenet_v2") return 17;
  return 8;
}

// A Sequential that can itself sit inside a Sequential (LibTorch's forward is a
// template, which AnyModule cannot hold).
class StackImpl : public nn::SequentialImpl {
 public:
  using SequentialImpl::SequentialImpl;
  torch::Tensor forward(torch::Tensor x) { return SequentialImpl::forward(x); }
};
TORCH_MODULE(Stack);

nn::Sequential TakeFirst(const nn::Sequential& seq, int n) {
  nn::Sequential out;
  for (auto it = seq->begin(); it != seq->begin() + n; ++it) out->push_back(*it);
  return out;
}

// ---- VGG16 -----------------------------------------------------------------
nn::Sequential MakeVgg16(int cut) {
  const int kCfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
  nn::Sequential seq;
  int64_t in = 3;
  for (int c : kCfg) {
    if (c == 0) {
      seq->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)));
    } else {
      seq->push_back(nn::Conv2d(nn::Conv2dOptions(in, c, 3).padding(1)));
      seq->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));  // as torchvision: a copy less per layer
      in = c;
    }
  }
  return TakeFirst(seq, cut);
}

// ---- MobileNetV2 -----------------------------------------------------------
// Conv + BatchNorm (+ ReLU6), children named 0 and 1 as torchvision's
// Conv2dNormActivation; with tf_same, stride-2 convolutions pad like TensorFlow's SAME.
class ConvBnActImpl : public nn::Module {
 public:
  ConvBnActImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups, bool act,
                bool tf_same)
      : kernel_(kernel), stride_(stride), act_(act), tf_same_(tf_same && stride > 1) {
    conv_ = register_module("0", nn::Conv2d(nn::Conv2dOptions(in, out, kernel)
                                                .stride(stride)
                                                .padding(tf_same_ ? 0 : (kernel - 1) / 2)
                                                .groups(groups)
                                                .bias(false)));
    bn_ = register_module("1", nn::BatchNorm2d(out));
  }
  torch::Tensor forward(torch::Tensor x) {
    if (tf_same_) x = PadSame(x);
    x = bn_->forward(conv_->forward(x));
    return act_ ? x.clamp_(0.0, 6.0) : x;  // in place, as torchvision's ReLU6(inplace=True)
  }

 private:
  torch::Tensor PadSame(const torch::Tensor& x) const {
    auto pad = [&](int64_t size) {
      int64_t out = (size + stride_ - 1) / stride_;
      return std::max<int64_t>((out - 1) * stride_ + kernel_ - size, 0);
    };
    int64_t ph = pad(x.size(2)), pw = pad(x.size(3));
    return torch::constant_pad_nd(x, {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2});
  }
  int64_t kernel_, stride_;
  bool act_, tf_same_;
  nn::Conv2d conv_{nullptr};
  nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(ConvBnAct);

class InvertedResidualImpl : public nn::Module {
 public:
  InvertedResidualImpl(int64_t in, int64_t out, int64_t stride, int64_t expand, bool tf_same)
      : residual_(stride == 1 && in == out) {
    int64_t hidden = in * expand;
    nn::Sequential conv;
    if (expand != 1) conv->push_back(ConvBnAct(in, hidden, 1, 1, 1, true, tf_same));
    conv->push_back(ConvBnAct(hidden, hidden, 3, stride, hidden, true, tf_same));
    conv->push_back(nn::Conv2d(nn::Conv2dOptions(hidden, out, 1).bias(false)));
    conv->push_back(nn::BatchNorm2d(out));
    conv_ = register_module("conv", conv);
  }
  torch::Tensor forward(torch::Tensor x) {
    return residual_ ? x + conv_->forward(x) : conv_->forward(x);
  }

 private:
  bool residual_;
  nn::Sequential conv_{nullptr};
};
TORCH_MODULE(InvertedResidual);

struct MobileNetStage {
  int64_t expand, channels, repeats, stride;
};
constexpr MobileNetStage kMobileNetV2Stages[] = {
    {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};

// Output channels of every torchvision features[i] (i = 0..18).
std::vector<int64_t> MobileNetV2Channels() {
  std::vector<int64_t> ch = {32};
  for (const auto& s : kMobileNetV2Stages)
    for (int r = 0; r < s.repeats; ++r) ch.push_back(s.channels);
  ch.push_back(1280);
  return ch;
}

nn::Sequential MakeMobileNetV2(int cut, bool tf_same) {
  nn::Sequential seq;
  seq->push_back(ConvBnAct(3, 32, 3, 2, 1, true, tf_same));
  int64_t in = 32;
  for (const auto& s : kMobileNetV2Stages) {
    for (int r = 0; r < s.repeats && static_cast<int>(seq->size()) < cut; ++r) {
      seq->push_back(InvertedResidual(in, s.channels, r == 0 ? s.stride : 1, s.expand, tf_same));
      in = s.channels;
    }
  }
  if (cut == 19) seq->push_back(ConvBnAct(320, 1280, 1, 1, 1, true, tf_same));
  return seq;
}

// ---- ResNet ----------------------------------------------------------------
nn::Conv2d Conv(int64_t in, int64_t out, int64_t k, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}

// torchvision's BasicBlock (expansion 1) and Bottleneck (expansion 4, stride on the 3x3).
class ResBlockImpl : public nn::Module {
 public:
  ResBlockImpl(int64_t in, int64_t planes, int64_t stride, bool bottleneck) {
    int64_t out = bottleneck ? planes * 4 : planes;
    if (bottleneck) {
      convs_ = {Conv(in, planes, 1, 1), Conv(planes, planes, 3, stride), Conv(planes, out, 1, 1)};
      bns_ = {nn::BatchNorm2d(planes), nn::BatchNorm2d(planes), nn::BatchNorm2d(out)};
    } else {
      convs_ = {Conv(in, planes, 3, stride), Conv(planes, planes, 3, 1)};
      bns_ = {nn::BatchNorm2d(planes), nn::BatchNorm2d(planes)};
    }
    for (size_t i = 0; i < convs_.size(); ++i) {
      register_module("conv" + std::to_string(i + 1), convs_[i]);
      register_module("bn" + std::to_string(i + 1), bns_[i]);
    }
    if (stride != 1 || in != out) {
      downsample_ = register_module("downsample", nn::Sequential(Conv(in, out, 1, stride), nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor y = x;
    for (size_t i = 0; i < convs_.size(); ++i) {
      y = bns_[i]->forward(convs_[i]->forward(y));
      if (i + 1 < convs_.size()) y.relu_();
    }
    return (y + (downsample_ ? downsample_->forward(x) : x)).relu_();
  }

 private:
  std::vector<nn::Conv2d> convs_;
  std::vector<nn::BatchNorm2d> bns_;
  nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(ResBlock);

nn::Sequential MakeResNet(const std::string& arch, int cut) {
  bool bottleneck = arch == "resnet50";
  const int64_t blocks[4] = {bottleneck ? 3 : 2, bottleneck ? 4 : 2, bottleneck ? 6 : 2, bottleneck ? 3 : 2};
  nn::Sequential seq;
  seq->push_back(Conv(3, 64, 7, 2));
  seq->push_back(nn::BatchNorm2d(64));
  seq->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
  seq->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  int64_t in = 64;
  for (int layer = 0; layer < 4 && static_cast<int>(seq->size()) < cut; ++layer) {
    int64_t planes = 64 << layer;
    Stack stage;
    for (int b = 0; b < blocks[layer]; ++b) {
      stage->push_back(ResBlock(in, planes, (b == 0 && layer > 0) ? 2 : 1, bottleneck));
      in = bottleneck ? planes * 4 : planes;
    }
    seq->push_back(stage);
  }
  return TakeFirst(seq, cut);
}

}  // namespace

void BackboneOptions::Check() const {
  const auto& archs = SupportedArchs();
  VPR_CHECK_USAGE(std::find(archs.begin(), archs.end(), arch) != archs.end(), "unknown backbone '", arch,
            "': use vgg16, mobilenet_v2, resnet18 or resnet50");
  VPR_CHECK_USAGE(cut >= 0 && cut <= MaxCut(arch), "--cut ", cut, " is out of range for ", arch, " (1..",
            MaxCut(arch), ", 0 = default ", DefaultCut(arch), ")");
  VPR_CHECK_USAGE(!tf_padding || arch == "mobilenet_v2", "--tf-padding applies to mobilenet_v2 only, not ", arch);
}

int BackboneOptions::ResolvedCut() const { return cut > 0 ? cut : DefaultCut(arch); }

int64_t BackboneOptions::OutputDim() const {
  Check();
  int c = ResolvedCut();
  if (arch == "mobilenet_v2") return MobileNetV2Channels()[c - 1];
  if (arch == "vgg16") {
    const int64_t kVggChannels[] = {64, 64, 64, 64, 64, 128, 128, 128, 128, 128, 256, 256, 256, 256, 256, 256,
                                    256, 512, 512, 512, 512, 512, 512, 512, 512, 512, 512, 512, 512, 512, 512};
    return kVggChannels[c - 1];
  }
  int64_t expansion = arch == "resnet50" ? 4 : 1;
  return c <= 4 ? 64 : (64 << (c - 5)) * expansion;
}

namespace {

// torchvision's initialisation (He normal, fan-out; zero biases; BatchNorm at identity).
// LibTorch's default (uniform weights, uniform biases) lets the biases dominate after a
// few layers, which leaves an untrained network nearly blind.
void InitLikeTorchvision(nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    }
  }
}

}  // namespace

torch::nn::Sequential MakeEncoder(const BackboneOptions& options) {
  options.Check();
  int cut = options.ResolvedCut();
  nn::Sequential encoder = options.arch == "vgg16"          ? MakeVgg16(cut)
                           : options.arch == "mobilenet_v2" ? MakeMobileNetV2(cut, options.tf_padding)
                                                            : MakeResNet(options.arch, cut);
  InitLikeTorchvision(*encoder);
  return encoder;
}

std::string TorchvisionKeyToEncoderKey(const BackboneOptions& options, const std::string& key) {
  int cut = options.ResolvedCut();
  auto dot = key.find('.');
  if (dot == std::string::npos) return "";
  std::string head = key.substr(0, dot), rest = key.substr(dot + 1);
  int index = -1;
  if (options.arch == "vgg16" || options.arch == "mobilenet_v2") {
    if (head != "features") return "";
    auto dot2 = rest.find('.');
    if (dot2 == std::string::npos) return "";
    index = std::stoi(rest.substr(0, dot2));
    rest = rest.substr(dot2 + 1);
  } else if (head == "conv1") {
    index = 0;
  } else if (head == "bn1") {
    index = 1;
  } else if (head.size() == 6 && head.rfind("layer", 0) == 0) {
    index = 3 + (head[5] - '0');
  }
  if (index < 0 || index >= cut) return "";
  return std::to_string(index) + "." + rest;
}

}  // namespace vpr
