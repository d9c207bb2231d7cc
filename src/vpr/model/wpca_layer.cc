#include "vpr/model/wpca_layer.h"

#include "vpr/model/model_io.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace {

// A new model with options.wpca_dim = wpca_dim holding every weight of `model` but
// its WPCA layer, plus `extra` tensors (the new WPCA layer's).
VprModel CopyWithWpcaDim(VprModel& model, int64_t wpca_dim, const StateDict& extra) {
  ModelOptions options = model->options();
  options.wpca_dim = wpca_dim;
  VprModel out(options);
  StateDict state;
  for (auto& [key, value] : ModelStateDict(*model))
    if (key.rfind("WPCA.", 0) != 0) state.emplace_back(key, value);
  state.insert(state.end(), extra.begin(), extra.end());
  LoadStateDict(*out, state, "the WPCA update");
  out->eval();
  return out;
}

}  // namespace

VprModel SetWpca(VprModel& model, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t in = model->options().PooledDim();
  VPR_CHECK((weight.dim() == 2 || (weight.dim() == 4 && weight.size(2) == 1 && weight.size(3) == 1)) &&
                weight.size(1) == in,
            "the WPCA weight must be out x K*D (K*D = ", in, " for this model), got ", weight.sizes());
  const int64_t out = weight.size(0);
  VPR_CHECK(bias.dim() == 1 && bias.size(0) == out, "the WPCA bias must have ", out, " values, got ", bias.sizes());
  if (model->options().wpca_dim > 0)
    Log().info("replacing the model's {}-d WPCA layer by a {}-d one", model->options().wpca_dim, out);
  at::Tensor w = weight.detach().to(at::kCPU, at::kFloat).reshape({out, in, 1, 1}).contiguous();
  at::Tensor b = bias.detach().to(at::kCPU, at::kFloat).contiguous();
  return CopyWithWpcaDim(model, out, {{"WPCA.0.weight", w}, {"WPCA.0.bias", b}});
}

VprModel SetWpca(VprModel& model, const Wpca& wpca) {
  at::Tensor w = at::from_blob(const_cast<float*>(wpca.weight.data()), {wpca.out_dim, wpca.in_dim}, at::kFloat);
  at::Tensor b = at::from_blob(const_cast<float*>(wpca.bias.data()), {wpca.out_dim}, at::kFloat);
  return SetWpca(model, w.clone(), b.clone());
}

VprModel WithoutWpca(VprModel& model) { return CopyWithWpcaDim(model, 0, {}); }

}  // namespace vpr

