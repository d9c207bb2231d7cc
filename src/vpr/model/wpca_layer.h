// The WPCA layer of a model: put a fitted PCA-whitening (index/pca.h) into a copy of a
// model, what Patch-NetVLAD's add_pca.py does, or take it out again.
#pragma once

#include <ATen/ATen.h>

#include "vpr/index/pca.h"
#include "vpr/model/vpr_model.h"

namespace vpr {

// A copy of `model` (same weights; options.wpca_dim = out_dim) whose WPCA.0 layer has
// `weight` (out_dim x K*D, or out_dim x K*D x 1 x 1) and `bias` (out_dim). A WPCA layer
// already in `model` is replaced. The copy is on the CPU, in eval mode.
VprModel SetWpca(VprModel& model, const at::Tensor& weight, const at::Tensor& bias);
VprModel SetWpca(VprModel& model, const Wpca& wpca);

// A copy of `model` without its WPCA layer: what produces the K*D-d descriptors to fit on.
VprModel WithoutWpca(VprModel& model);

}  // namespace vpr
