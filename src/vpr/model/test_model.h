// A tiny seeded model shared by the tests: VGG16 cut after conv1_2 (64-d) +
// NetVLAD K=4 with random centroids. Fast on any machine.
#pragma once

#include "vpr/model/vpr_model.h"

namespace vpr {

inline VprModel TinyTestModel(uint64_t seed = 9) {
  torch::manual_seed(seed);
  ModelOptions options;
  options.backbone.cut = 4;
  options.netvlad.num_clusters = 4;
  VprModel model(options);
  model->pool->InitRandom();
  return model;
}

}  // namespace vpr
